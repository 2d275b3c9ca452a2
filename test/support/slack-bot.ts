import { loadEnv } from '../../src/config/env';
import { createFirebell, type Firebell } from '../../src/app';
import { createPostgresStore } from '../../src/db/index';
import type { IncidentStore } from '../../src/flows/ports';
import type { Logger } from '../../src/flows/ports';
import type { Policy } from '../../src/flows/policy/policy';
import { createLogger } from '../../src/logger';
import { createFakeSlack, type FakeMessage, type FakeSlack } from '../fakes/slack-api';
import { createTestDatabase, type TestDatabase } from './pg';
import { createSlackClient, type SlackClient } from './slack';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';
export const BOT_TOKEN = 'xoxb-test-token-abcdefghijklmnop';

export interface SlackBotHarness {
  fake: FakeSlack;
  bot: Firebell;
  store: IncidentStore;
  slack: SlackClient;
  db: TestDatabase;
  logs: string[];
  endpoint: string;
  /** Messages the bot posted in a channel (or a user's DM), oldest first. */
  messagesIn(channelOrUser: string): FakeMessage[];
  /** The buttons on a message: Slack action id → value. */
  buttons(message: FakeMessage): { actionId: string; value: string; text: string }[];
  /** Clicks the button whose action id starts with `actionId` on `message`. */
  press(user: string, message: FakeMessage, actionId: string): ReturnType<SlackClient['click']>;
  /** Text of everything in a message (text + all block text), for assertions. */
  textOf(message: FakeMessage | undefined): string;
  close(): Promise<void>;
}

function collectText(node: unknown, out: string[]) {
  if (typeof node === 'string') return;
  if (Array.isArray(node)) {
    for (const n of node) collectText(n, out);
    return;
  }
  if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'text' && typeof v === 'string') out.push(v);
      else collectText(v, out);
    }
  }
}

/**
 * The whole bot over HTTP, against a fresh PostgreSQL database and a fake Slack API: the way the
 * product runs in production, with only Slack itself replaced.
 */
export interface SlackBotOptions {
  logger?: Logger;
  /** Run the BullMQ scheduler on this Redis (default: the in-process scheduler). */
  redisUrl?: string;
  /** BullMQ key prefix (tests give each file its own). */
  redisPrefix?: string;
  /** Join an existing deployment: same fake Slack and database (a second bot process). */
  join?: SlackBotHarness;
  reconcileEveryMs?: number;
  /** More environment (e.g. FIREBELL_RATE_LIMIT). */
  env?: Record<string, string>;
  /** Use this database instead of a fresh one on the machine's PostgreSQL (fault tests). */
  database?: TestDatabase;
}

export async function startSlackBot(policy: Policy, opts: SlackBotOptions = {}): Promise<SlackBotHarness> {
  const joined = opts.join;
  const fake = joined?.fake ?? (await createFakeSlack());
  const db = joined?.db ?? opts.database ?? (await createTestDatabase());
  const store = await createPostgresStore(db.url);
  const logs: string[] = [];
  const env = loadEnv({
    PORT: '0',
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.url,
    DATABASE_URL: db.url,
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
    ...opts.env,
  });
  // Tests keep every line (at debug) to assert on them; the benchmark passes a counting logger.
  const logger = opts.logger ?? createLogger({ level: 'debug', secrets: [BOT_TOKEN, SIGNING_SECRET], write: (l) => logs.push(l) });
  const bot = await createFirebell({
    env,
    policy,
    logger,
    store,
    slackIdentity: { botId: fake.botId, botUserId: fake.botUserId },
    outboxIntervalMs: 50,
    ...(opts.redisPrefix ? { redisPrefix: opts.redisPrefix } : {}),
    ...(opts.reconcileEveryMs ? { reconcileEveryMs: opts.reconcileEveryMs } : {}),
  });
  const { port } = await bot.start();
  const endpoint = `http://127.0.0.1:${port}/slack/events`;
  const slack = createSlackClient({ endpoint, signingSecret: SIGNING_SECRET, fake });

  const messagesIn = (id: string) =>
    [...fake.messages.values()].filter((m) => m.channel === id || m.channel === `D${id}`).sort((a, b) => Number(a.ts) - Number(b.ts));
  const buttons = (m: FakeMessage) =>
    (m.blocks ?? [])
      .filter((b: { type: string }) => b.type === 'actions')
      .flatMap((b: { elements: { action_id: string; value: string; text: { text: string } }[] }) => b.elements)
      .map((e: { action_id: string; value: string; text: { text: string } }) => ({ actionId: e.action_id, value: e.value, text: e.text.text }));
  const textOf = (m: FakeMessage | undefined) => {
    if (!m) return '';
    const out: string[] = [m.text ?? ''];
    collectText(m.blocks ?? [], out);
    return out.join('\n');
  };
  return {
    fake,
    bot,
    store,
    slack,
    db,
    logs,
    endpoint,
    messagesIn,
    buttons,
    textOf,
    press(user, message, actionId) {
      const b = buttons(message).find((x) => x.actionId === actionId || x.actionId.startsWith(`${actionId}#`));
      if (!b) throw new Error(`no ${actionId} button on message; buttons: ${buttons(message).map((x) => x.actionId).join(', ')}`);
      return slack.click(user, { actionId: b.actionId, value: b.value, channel: message.channel, messageTs: message.ts });
    },
    async close() {
      await bot.stop();
      await store.close();
      // A joined bot shares the fake and the database: the first harness owns them.
      if (joined) return;
      await fake.close();
      await db.drop();
    },
  };
}
