/**
 * Graceful shutdown (issue 7): stop() stops taking requests, finishes the work behind every
 * request it already acknowledged (Slack will not send those again), and drains the outbox of
 * what that work queued, before it lets go of the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPolicy } from '../support/policy';
import { startSlackBot, type SlackBotHarness } from '../support/slack-bot';

describe('graceful shutdown', () => {
  let h: SlackBotHarness;
  beforeAll(async () => {
    // Two at a time behind the acks, so plenty is still waiting when stop() is called.
    h = await startSlackBot(testPolicy(), { env: { FIREBELL_RATE_LIMIT: '0', FIREBELL_WORK_CONCURRENCY: '2' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('finishes every acknowledged report and delivers what it owes before stopping, then takes no more', async () => {
    // Each reply takes Slack 150 ms to take: the work outlasts the outbox's own passes.
    h.fake.responseLatencyMs = 150;
    const titles = Array.from({ length: 30 }, (_, i) => `Shutdown drill ${i + 1}: printer offline`);
    const acks = await Promise.all(titles.map((title) => h.slack.command('U0REP', title, { channel: 'C0GENERAL' })));
    expect(acks.map((a) => a.status)).toEqual(titles.map(() => 200));
    // Acknowledged, and most of the work not done yet.
    const answeredAtStop = acks.filter((a) => h.fake.responses.some((r) => r.id === a.responseId)).length;
    expect(answeredAtStop).toBeLessThan(titles.length);

    await h.bot.stop();

    // Every acknowledged report was worked and answered, none refused for the shutdown.
    for (const a of acks) {
      const reply = h.fake.responses.find((r) => r.id === a.responseId);
      expect(reply?.body.text).toMatch(/^Received: INC-\d+/);
    }
    const incidents = await h.store.list({ limit: 300 });
    expect(incidents.map((i) => i.title).sort()).toEqual([...titles].sort());
    // And everything that work queued went out: one queue card each, nothing owed.
    expect(await h.store.undelivered(300)).toEqual([]);
    for (const i of incidents) {
      expect(h.messagesIn('C0DESK').filter((m) => m.thread_ts === undefined && h.textOf(m).includes(`${i.number} ·`))).toHaveLength(1);
    }
    // Stopped: no more requests are taken.
    await expect(h.slack.command('U0REP', 'After the stop')).rejects.toThrow();
  }, 60_000);
});
