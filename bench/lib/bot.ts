/**
 * Firebell started by test/support/slack-bot.ts `startSlackBot` (real createFirebell, Bolt's HTTP
 * receiver on an ephemeral port, fresh PostgreSQL database, fake Slack Web API), with one difference: logs are produced at `info` (the production default) and counted, not kept in
 * an array at `debug`, so that the test harness's log buffer does not inflate RSS and CPU.
 */
import type { Policy } from '../../src/flows/policy/policy';
import { BOT_TOKEN, SIGNING_SECRET, startSlackBot, type SlackBotHarness } from '../../test/support/slack-bot';
import { countingLoggerWithSecrets, type LogCounts } from './counting-logger';

export { BOT_TOKEN, SIGNING_SECRET };

export type { LogCounts };

/** A logger that serialises like production (JSON, secrets scrubbed) but only counts lines. */
export function countingLogger(level: 'info' | 'warn' = 'info') {
  return countingLoggerWithSecrets(level, [BOT_TOKEN, SIGNING_SECRET]);
}

export type BenchBot = Omit<SlackBotHarness, 'logs'> & { logs: LogCounts };

/** The test harness's bot (real createFirebell over HTTP, fresh PostgreSQL, fake Slack) with a counting logger. */
export async function startBenchBot(policy: Policy): Promise<BenchBot> {
  const { logger, counts } = countingLogger('info');
  // One reporter sends thousands of commands here, standing in for thousands of people: the
  // per-person rate limit would (rightly) stop it, so the benchmark turns it off.
  const h = await startSlackBot(policy, { logger, env: { FIREBELL_RATE_LIMIT: '0' } });
  return { ...h, logs: counts };
}
