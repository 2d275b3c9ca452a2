/**
 * Firebell wired exactly as test/support/slack-bot.ts `startSlackBot` does (real createFirebell,
 * Bolt's HTTP receiver on an ephemeral port, fresh PostgreSQL database, fake Slack Web API), with
 * one difference: logs are produced at `info` (the production default) and counted, not kept in
 * an array at `debug`, so that the test harness's log buffer does not inflate RSS and CPU.
 */
import { createFirebell, type Firebell } from '../../src/app';
import { loadEnv } from '../../src/config/env';
import { createPostgresStore } from '../../src/db/index';
import type { IncidentStore } from '../../src/flows/ports';
import type { Policy } from '../../src/flows/policy/policy';
import { createLogger } from '../../src/logger';
import { createFakeSlack, type FakeSlack } from '../../test/fakes/slack-api';
import { createTestDatabase, type TestDatabase } from '../../test/support/pg';
import { BOT_TOKEN, SIGNING_SECRET } from '../../test/support/slack-bot';

export { BOT_TOKEN, SIGNING_SECRET };

export interface LogCounts {
  debug: number;
  info: number;
  warn: number;
  error: number;
  /** The first few warn/error lines, for the report. */
  samples: string[];
}

/** A logger that serialises like production (JSON, secrets scrubbed) but only counts lines. */
export function countingLogger(level: 'info' | 'warn' = 'info') {
  const counts: LogCounts = { debug: 0, info: 0, warn: 0, error: 0, samples: [] };
  const logger = createLogger({
    level,
    secrets: [BOT_TOKEN, SIGNING_SECRET],
    write: (line) => {
      const m = /"level":"(debug|info|warn|error)"/.exec(line);
      const lvl = (m?.[1] ?? 'info') as keyof Omit<LogCounts, 'samples'>;
      counts[lvl]++;
      if ((lvl === 'warn' || lvl === 'error') && counts.samples.length < 10) counts.samples.push(line.slice(0, 400));
    },
  });
  return { logger, counts };
}

export interface BenchBot {
  fake: FakeSlack;
  bot: Firebell;
  store: IncidentStore;
  db: TestDatabase;
  endpoint: string;
  logs: LogCounts;
  close(): Promise<void>;
}

export async function startBenchBot(policy: Policy): Promise<BenchBot> {
  const fake = await createFakeSlack();
  const db = await createTestDatabase();
  const store = await createPostgresStore(db.url);
  const { logger, counts } = countingLogger('info');
  const env = loadEnv({
    PORT: '0',
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.url,
    DATABASE_URL: db.url,
  });
  const bot = await createFirebell({
    env,
    policy,
    logger,
    store,
    slackIdentity: { botId: fake.botId, botUserId: fake.botUserId },
    outboxIntervalMs: 50,
  });
  const { port } = await bot.start();
  return {
    fake,
    bot,
    store,
    db,
    endpoint: `http://127.0.0.1:${port}/slack/events`,
    logs: counts,
    async close() {
      await bot.stop();
      await store.close();
      await fake.close();
      await db.drop();
    },
  };
}
