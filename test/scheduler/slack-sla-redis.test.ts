/**
 * SLA timers on BullMQ against the real Redis, end to end: the bot over Slack's wire format
 * against the fake Slack API and a fresh PostgreSQL database, left alone with second-scale
 * targets. A timer fires and posts once; two bot processes on one Redis and one database post
 * once; after Redis loses everything the reconcile sweep restores every pending timer; a 429 with
 * Retry-After is waited out and the notice arrives.
 *
 * This file uses its own Redis logical database and flushes only that one (FLUSHDB): FLUSHALL
 * would also wipe the queues of the other test files running in parallel. For our keys the two
 * are the same event: Redis has nothing any more.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlackBot, type SlackBotHarness } from '../support/slack-bot';
import { escalatingPolicy, expectAutomaticEscalations, expectScenarioOnce, noticesFor, reportIncident, secondScalePolicy, waitForScenario } from '../support/sla-scenario';

const REDIS_DB = 7;
const REDIS_URL = `redis://127.0.0.1:6379/${REDIS_DB}`;

describe('SLA timers on BullMQ and real Redis', () => {
  let a: SlackBotHarness;
  let b: SlackBotHarness;
  let redis: Redis;
  const prefix = `fbsla${process.pid}`;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    // Fail loudly when Redis is not there: these tests must never be skipped.
    expect(await redis.ping()).toBe('PONG');
    await redis.flushdb();
    // The default 30 s sweep: after a flush, only the marker check can repair in time.
    a = await startSlackBot(secondScalePolicy(), { redisUrl: REDIS_URL, redisPrefix: prefix });
    expect(a.bot.scheduler.kind).toBe('bullmq');
    // A second bot process joins the same deployment: same database, same Redis, same Slack.
    b = await startSlackBot(secondScalePolicy(), { redisUrl: REDIS_URL, redisPrefix: prefix, join: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await redis?.flushdb();
    redis?.disconnect();
  });

  it('two bot processes on one Redis and one database post every notice once, on time', async () => {
    const { number, reportedAt } = await reportIncident(a, 'Mail relay queue growing');
    await waitForScenario(a, number);
    expectScenarioOnce(a, number, reportedAt);
  });

  it('after Redis loses every key, the reconcile sweep restores the pending timers and nothing is missed or doubled', async () => {
    const first = await reportIncident(a, 'Badge readers offline in building C');
    const second = await reportIncident(b, 'Shared drive read-only');
    // Both incidents owe timers now; wait until their jobs are in Redis, then lose everything.
    await a.fake.waitFor(() => noticesFor(a, first.number).card !== undefined && noticesFor(a, second.number).card !== undefined, 5000);
    expect((await redis.keys(`${prefix}:*`)).length).toBeGreaterThan(0);
    await redis.flushdb();
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);

    // Left alone, the bots notice the loss within a second and re-create the timers from the
    // database (next_timer_at)...
    const restored = async () => (await redis.keys(`${prefix}:timers:t-*`)).length;
    const deadline = Date.now() + 5000;
    while ((await restored()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await restored()).toBeGreaterThan(0);

    // ...and every notice still arrives, once.
    await waitForScenario(a, first.number);
    await waitForScenario(a, second.number);
    expectScenarioOnce(a, first.number, first.reportedAt);
    expectScenarioOnce(a, second.number, second.reportedAt);
  });

  it('waits out a 429 with Retry-After on a warning, then delivers it', async () => {
    const { number, reportedAt } = await reportIncident(a, 'Label printer offline');
    // Let the card and the receipt go out first: the next message the bots post is then this
    // incident's response warning (the earlier tests' incidents owe nothing more), so the injected
    // 429 hits it.
    await a.fake.waitFor(() => noticesFor(a, number).card !== undefined && a.messagesIn('U0REP').some((m) => (m.text ?? '').includes(number)), 5000);
    expect(noticesFor(a, number).responseWarn, 'the warning is not out yet').toHaveLength(0);
    a.fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 }, 1);

    await a.fake.waitFor(() => noticesFor(a, number).responseWarn.length === 1, 10_000);
    const calls = a.fake.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.args).includes(number) && JSON.stringify(c.args).includes('has not been accepted'));
    const limited = calls.filter((c) => c.status === 429);
    const delivered = calls.filter((c) => c.status === 200);
    expect(limited).toHaveLength(1);
    expect(delivered).toHaveLength(1);
    // Retried no sooner than Slack asked.
    expect(delivered[0]!.at - limited[0]!.at).toBeGreaterThanOrEqual(1000);
    await waitForScenario(a, number);
    expectScenarioOnce(a, number, reportedAt);
  });

  it('two bot processes escalate by the matrix once per step', async () => {
    const p = `${prefix}esc`;
    const e1 = await startSlackBot(escalatingPolicy(), { redisUrl: REDIS_URL, redisPrefix: p, reconcileEveryMs: 500 });
    const e2 = await startSlackBot(escalatingPolicy(), { redisUrl: REDIS_URL, redisPrefix: p, reconcileEveryMs: 500, join: e1 });
    try {
      await expectAutomaticEscalations(e1, 'Storage array degraded');
    } finally {
      await e2.close();
      await e1.close();
    }
  });
});
