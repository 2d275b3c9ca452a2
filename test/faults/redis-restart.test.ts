/**
 * Redis stopped mid-flow and started again (issue 7): a Redis server of this test's own (so the
 * machine's Redis, which other test files use, is left alone), started without persistence, so
 * a restart is also the loss of every key. While it is down, incidents are reported and their
 * SLA timers come due; the bot is never restarted. Afterwards every notice and every message owed
 * has been posted, each once, none before its time.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, stopRedis } from '../support/own-services';
import { startSlackBot, type SlackBotHarness } from '../support/slack-bot';
import { expectScenarioOnce, noticesFor, reportIncident, secondScalePolicy, waitForScenario } from '../support/sla-scenario';

describe('Redis stopped mid-flow and started again', () => {
  let port = 0;
  let redis: ChildProcess;
  let h: SlackBotHarness;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    h = await startSlackBot(secondScalePolicy(), { redisUrl: `redis://127.0.0.1:${port}/0`, redisPrefix: 'fbfault', reconcileEveryMs: 1000 });
    expect(h.bot.scheduler.kind).toBe('bullmq');
  });
  afterAll(async () => {
    await h?.close();
    if (redis && redis.exitCode === null) await stopRedis(redis);
  });

  it('timers owed before and during the outage fire once, on time or as soon as Redis is back; messages are all delivered once', async () => {
    const before = await reportIncident(h, 'Payroll export fails');
    await h.fake.waitFor(() => noticesFor(h, before.number).card !== undefined, 5000);
    await stopRedis(redis);

    // Down: people keep reporting (the database has it all); timers come due meanwhile.
    const during = await reportIncident(h, 'Badge readers offline');
    await new Promise((r) => setTimeout(r, 2000));
    expect(await h.store.get(during.id)).not.toBeNull();

    redis = await startRedis(port);
    await waitForScenario(h, before.number, 30_000);
    await waitForScenario(h, during.number, 30_000);
    // The second incident's timers all came due after Redis was back: the whole scenario, on time.
    expectScenarioOnce(h, during.number, during.reportedAt);
    // The first one's response warning fell in the outage, with its breach due by the time Redis
    // was back: the breach notice covers it (no stale warning after the breach). Everything else
    // once, none early.
    const n = noticesFor(h, before.number);
    expect(n.responseWarn.length).toBeLessThanOrEqual(1);
    expect(n.responseBreach).toHaveLength(1);
    expect(n.resolutionWarn).toHaveLength(1);
    expect(n.resolutionBreach).toHaveLength(1);
    expect(n.pmDms).toHaveLength(2);
    expect(n.postedAt(n.responseBreach[0]!) - before.reportedAt).toBeGreaterThanOrEqual(3000);
    // Both queue cards and both receipts, once each; nothing left in the outbox.
    for (const n of [before.number, during.number]) expect(h.messagesIn('C0DESK').filter((m) => m.thread_ts === undefined && h.textOf(m).includes(n))).toHaveLength(1);
    await h.bot.scheduler.flush();
    expect(await h.store.undelivered(10)).toEqual([]);
    expect(h.logs.some((l) => l.includes('"level":"warn"') || l.includes('"level":"error"'))).toBe(true);
  }, 90_000);
});
