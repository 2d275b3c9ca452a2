/**
 * Operations over the wire (issue 7): /metrics in Prometheus text, the per-person rate limit as a
 * person meets it, request ids on answers and on log lines. The whole bot over HTTP against the
 * fake Slack and a fresh PostgreSQL database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPolicy } from '../support/policy';
import { startSlackBot, type SlackBotHarness } from '../support/slack-bot';

const REPORTER = 'U0REP';

describe('operations: metrics, rate limit, request ids', () => {
  let h: SlackBotHarness;
  let base = '';
  beforeAll(async () => {
    h = await startSlackBot(testPolicy(), { env: { FIREBELL_RATE_LIMIT: '3' } });
    base = h.endpoint.replace('/slack/events', '');
  });
  afterAll(async () => h?.close());

  const reply = async (responseId: string) => {
    await h.fake.waitFor((f) => f.responses.some((r) => r.id === responseId));
    return String(h.fake.responses.find((r) => r.id === responseId)!.body.text ?? '');
  };

  it('refuses a fourth command in a burst from one person, clearly and with nothing filed; others are not affected', async () => {
    const texts: string[] = [];
    for (let i = 1; i <= 4; i++) texts.push(await reply((await h.slack.command(REPORTER, `Printer ${i} jams`)).responseId));
    expect(texts.slice(0, 3).every((t) => /INC-\d+/.test(t))).toBe(true);
    expect(texts[3]).toMatch(/faster than Firebell accepts; nothing was done\. Try again in \d+s\./);
    expect((await h.store.list({ limit: 10 })).map((i) => i.title).sort()).toEqual(['Printer 1 jams', 'Printer 2 jams', 'Printer 3 jams']);
    expect(await reply((await h.slack.command('U0VIP', 'VPN down')).responseId)).toMatch(/INC-\d+/);
    expect(h.logs.some((l) => l.includes('"msg":"rate limited"') && l.includes('reporter.a'))).toBe(true);
  });

  it('serves Prometheus metrics: incidents by status and priority, queue depth, outbox, rate limits, ack latency', async () => {
    await h.bot.scheduler.flush();
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"=,.+]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    // The key user's report is one level up (DOMAIN.md §1).
    expect(value('firebell_incidents{status="new",priority="P3"}')).toBe(3);
    expect(value('firebell_incidents{status="new",priority="P2"}')).toBe(1);
    expect(value('firebell_queue_depth{tier="desk"}')).toBe(4);
    expect(value('firebell_outbox_pending')).toBe(0);
    expect(value('firebell_outbox_lag_seconds')).toBe(0);
    expect(value('firebell_incidents_reported_total')).toBe(4);
    expect(value('firebell_rate_limited_total')).toBe(1);
    expect(value('firebell_outbox_deliveries_total{result="delivered"}')).toBeGreaterThanOrEqual(8);
    // Every Slack request was timed: five commands, all answered within the 3 s Slack allows.
    expect(value('firebell_request_duration_seconds_count{route="slack"}')).toBe(5);
    expect(value('firebell_request_duration_seconds_bucket{route="slack",le="2.5"}')).toBe(5);
    expect(text).toMatch(/^# TYPE firebell_request_duration_seconds histogram$/m);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('answers with a request id, keeps a sane one given by the caller, and puts it on the log lines of that request', async () => {
    const mine = await fetch(`${base}/readyz`, { headers: { 'X-Request-Id': 'lb-7f3a-0001' } });
    expect(mine.headers.get('x-request-id')).toBe('lb-7f3a-0001');
    const junk = await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(junk.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const before = h.logs.length;
    await reply((await h.slack.command('U0VIP', 'status INC-1')).responseId);
    const lines = h.logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    const handled = lines.filter((l) => typeof l.requestId === 'string');
    expect(handled.length).toBeGreaterThan(0);
    expect(new Set(handled.map((l) => l.requestId)).size).toBe(1);
  });
});
