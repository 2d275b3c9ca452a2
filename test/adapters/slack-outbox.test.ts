/**
 * Outbound delivery to Slack when Slack pushes back: rate limits (429 + Retry-After), outages
 * (HTTP 500) and permanent refusals (channel_not_found). The whole bot over HTTP against the fake
 * Slack API and a fresh PostgreSQL database, as in slack.e2e.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SlackCall } from '../fakes/slack-api';
import { testPolicy } from '../support/policy';
import { BOT_TOKEN, SIGNING_SECRET, startSlackBot, type SlackBotHarness } from '../support/slack-bot';

const REPORTER = 'U0REP';
const QUEUE = 'C0DESK';

describe('Slack outbox: delivery when Slack pushes back', () => {
  let h: SlackBotHarness;
  /** Index into `fake.calls` where the current test began. */
  let from = 0;

  beforeAll(async () => {
    h = await startSlackBot(testPolicy());
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(async () => {
    // Nothing from an earlier test may still be on its way: each failure injection below must
    // hit the first post of the incident the test reports.
    await h.bot.scheduler.flush();
    from = h.fake.calls.length;
  });

  /** Reports an incident with /incident and returns its number once the reporter has the receipt. */
  async function report(title: string): Promise<{ number: string; id: string }> {
    const r = await h.slack.command(REPORTER, title, { channel: 'C0GENERAL' });
    expect(r.status).toBe(200);
    await h.fake.waitFor((f) => f.responses.some((x) => x.id === r.responseId));
    const number = /INC-\d+/.exec(h.fake.responses.find((x) => x.id === r.responseId)!.body.text)![0];
    const incident = await h.bot.store.getByNumber(number);
    return { number, id: incident!.id };
  }

  /** chat.postMessage calls made since the test began that mention `number`. */
  const postsAbout = (number: string): SlackCall[] =>
    h.fake.calls.slice(from).filter((c) => c.method === 'chat.postMessage' && JSON.stringify(c.args).includes(number));
  const cardsIn = (channel: string, number: string) => h.messagesIn(channel).filter((m) => h.textOf(m).includes(number));
  const receiptDelivered = (number: string) => h.messagesIn(REPORTER).some((m) => (m.text ?? '').includes(number));
  const logged = (msg: string, fragment: string) =>
    h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg && JSON.stringify(l).includes(fragment));

  it('waits out a 429 Retry-After, posts the queue card exactly once, and holds the incident’s DMs behind it', async () => {
    const { fake } = h;
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 }, 1);
    const { number } = await report('Wi-Fi down on floor 2');

    await fake.waitFor(() => cardsIn(QUEUE, number).length === 1, 5000);
    await fake.waitFor(() => receiptDelivered(number));
    await h.bot.scheduler.flush();

    const posts = postsAbout(number);
    const limited = posts.filter((c) => c.status === 429);
    expect(limited).toHaveLength(1);
    expect(limited[0]!.args.channel).toBe(QUEUE);
    const cardPosts = posts.filter((c) => c.args.channel === QUEUE && c.status === 200);
    expect(cardPosts).toHaveLength(1);
    // Retry-After: 1 was honoured.
    expect(cardPosts[0]!.at - limited[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(cardsIn(QUEUE, number)).toHaveLength(1);

    // Per-incident order: nothing about this incident reached the reporter before the card.
    const toReporter = posts.filter((c) => c.args.channel === REPORTER);
    expect(toReporter.length).toBeGreaterThanOrEqual(1);
    for (const c of toReporter) expect(posts.indexOf(c)).toBeGreaterThan(posts.indexOf(cardPosts[0]!));
    expect(posts.indexOf(limited[0]!)).toBe(0);

    expect(logged('outbox delivery will be retried', 'slack rate limited')).toHaveLength(1);
  });

  it('retries a queue card after an HTTP 500 from Slack', async () => {
    const { fake } = h;
    fake.failNext('chat.postMessage', { status: 500 }, 1);
    const { number } = await report('Printer queue stuck on floor 4');

    await fake.waitFor(() => cardsIn(QUEUE, number).length === 1, 8000);
    await fake.waitFor(() => receiptDelivered(number));
    await h.bot.scheduler.flush();

    const toQueue = postsAbout(number).filter((c) => c.args.channel === QUEUE);
    expect(toQueue.map((c) => c.status)).toEqual([500, 200]);
    expect(cardsIn(QUEUE, number)).toHaveLength(1);
    expect(logged('outbox delivery will be retried', 'slack http 500')).toHaveLength(1);
  });

  it('a post Slack made but whose answer was lost is found again by its metadata: one card, and it is the one kept current', async () => {
    const { fake } = h;
    fake.failNext('chat.postMessage', { status: 500, applied: true }, 1);
    const { number, id } = await report('Scanner on floor 2 offline');

    await fake.waitFor(() => cardsIn(QUEUE, number).length === 1, 8000);
    await fake.waitFor(() => receiptDelivered(number));
    await h.bot.scheduler.flush();
    expect(cardsIn(QUEUE, number)).toHaveLength(1);
    const card = cardsIn(QUEUE, number)[0]!;
    expect(card.metadata).toEqual({ event_type: 'firebell_card', event_payload: { tag: `${id}:queue:desk` } });
    expect(logged('card found again after a lost answer', number)).toHaveLength(1);
    // The binding is that card: accepting updates it in place.
    await h.press('U0DESK', card, 'incident.accept');
    await fake.waitFor(() => h.textOf(fake.messages.get(`${QUEUE}:${card.ts}`)).includes('Accepted by'), 8000);
    expect(cardsIn(QUEUE, number)).toHaveLength(1);
  });

  it('parks a card Slack refuses for good, logs it without secrets, and keeps delivering other incidents', async () => {
    const { fake } = h;
    fake.failNext('chat.postMessage', { error: 'channel_not_found' }, 1);
    const lost = await report('VPN refuses new logins');

    // Parked as failed after one attempt: retrying cannot help.
    let parked: Awaited<ReturnType<typeof h.bot.store.undelivered>>[number] | undefined;
    const deadline = Date.now() + 5000;
    while (!parked && Date.now() < deadline) {
      parked = (await h.bot.store.undelivered(10)).find((i) => i.incidentId === lost.id && i.status === 'failed');
      if (!parked) await new Promise((r) => setTimeout(r, 20));
    }
    expect(parked).toBeDefined();
    expect(parked!.effect).toMatchObject({ kind: 'card.sync', platform: 'slack', target: { type: 'channel', id: QUEUE } });
    expect(parked!.lastError).toContain('channel_not_found');
    expect(parked!.attempts).toBe(1);

    // Another incident's card and receipt still go out, and so do the parked incident's later notices.
    const other = await report('Badge reader offline at gate B');
    await fake.waitFor(() => cardsIn(QUEUE, other.number).length === 1);
    await fake.waitFor(() => receiptDelivered(other.number));
    await fake.waitFor(() => receiptDelivered(lost.number));
    await h.bot.scheduler.flush();

    const lostToQueue = postsAbout(lost.number).filter((c) => c.args.channel === QUEUE);
    expect(lostToQueue).toHaveLength(1);
    expect(lostToQueue[0]!.response).toMatchObject({ ok: false, error: 'channel_not_found' });
    expect(cardsIn(QUEUE, lost.number)).toEqual([]);
    const stillOwed = (await h.bot.store.undelivered(10)).filter((i) => i.incidentId === lost.id || i.incidentId === other.id);
    expect(stillOwed.map((i) => [i.incidentId, i.status])).toEqual([[lost.id, 'failed']]);

    const failures = logged('outbox delivery failed for good', 'channel_not_found');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 'error', platform: 'slack', attempts: 1 });

    // Not silent: the incident's timeline says what never arrived, once, and announcing that
    // was not attempted (it would be one more post to the channel that refused).
    const timeline = await h.bot.store.timeline(lost.id);
    const recorded = timeline.filter((e) => e.event.type === 'DeliveryFailed');
    expect(recorded.map((e) => e.event)).toEqual([
      { type: 'DeliveryFailed', platform: 'slack', what: 'card.sync', purpose: 'queue:desk', attempts: 1, error: expect.stringContaining('channel_not_found') },
    ]);
    expect(recorded[0]!.actor).toEqual({ kind: 'system', reason: 'delivery' });
    expect(postsAbout(lost.number).filter((c) => c.args.channel === QUEUE)).toHaveLength(1);
    // Whoever asks for the incident sees it on its card.
    const status = await h.slack.command(REPORTER, `status ${lost.number}`);
    await h.fake.waitFor((f) => f.responses.some((x) => x.id === status.responseId));
    expect(JSON.stringify(h.fake.responses.find((x) => x.id === status.responseId)!.body)).toMatch(/⚠ A card not delivered to Slack .*\(tried 1×\): .*channel_not_found/);
    // And the operators' metric counts it.
    const metrics = await (await fetch(h.endpoint.replace('/slack/events', '/metrics'))).text();
    expect(metrics).toMatch(/^firebell_outbox_failed 1$/m);
    expect(metrics).toMatch(/^firebell_outbox_deliveries_total\{result="failed"\} 1$/m);

    // No secret anywhere in the log, across every test of this file.
    expect(h.logs.length).toBeGreaterThan(0);
    for (const line of h.logs) {
      expect(line).not.toContain(BOT_TOKEN);
      expect(line).not.toContain(SIGNING_SECRET);
    }
  });
});

describe('Slack outbox: a Web API call that never answers', () => {
  let h: SlackBotHarness;

  beforeAll(async () => {
    // A short deadline so the test does not wait the production default (10 s) per stall.
    h = await startSlackBot(testPolicy(), { env: { FIREBELL_API_TIMEOUT_MS: '400' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function report(title: string): Promise<{ number: string; id: string }> {
    const r = await h.slack.command(REPORTER, title, { channel: 'C0GENERAL' });
    await h.fake.waitFor((f) => f.responses.some((x) => x.id === r.responseId));
    const number = /INC-\d+/.exec(h.fake.responses.find((x) => x.id === r.responseId)!.body.text)![0];
    return { number, id: (await h.bot.store.getByNumber(number))!.id };
  }
  /** Waits until the outbox owes nothing (a retry waits out its backoff first). */
  async function drained() {
    const deadline = Date.now() + 15_000;
    while ((await h.bot.store.undelivered(10)).length > 0) {
      if (Date.now() > deadline) throw new Error(`still owed: ${JSON.stringify(await h.bot.store.undelivered(10))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await h.bot.scheduler.flush();
  }
  const about = (number: string) => h.fake.calls.filter((c) => c.method.startsWith('chat.') && JSON.stringify(c.args).includes(number));

  it('gives up on a stalled post at the deadline, retries it, and everything about the incident arrives once, in order', async () => {
    const { fake } = h;
    fake.failNext('chat.postMessage', { hang: true }, 1);
    const { number } = await report('Door controller offline at gate C');
    const cardOf = () => h.messagesIn(QUEUE).find((m) => h.textOf(m).includes(number));
    await fake.waitFor(() => cardOf() !== undefined, 10_000);
    const card = cardOf()!;
    // Work done while the first post was stalled is delivered behind it, not before.
    await h.press('U0DESK', card, 'incident.accept');
    await fake.waitFor(() => h.textOf(fake.messages.get(`${QUEUE}:${card.ts}`)).includes('Accepted by Zhang San'), 10_000);
    await drained();

    const calls = about(number);
    const toQueue = calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === QUEUE && c.args.thread_ts === undefined);
    expect(toQueue.map((c) => c.status)).toEqual([0, 200]);
    // The retry came after the deadline, not before it.
    expect(toQueue[1]!.at - toQueue[0]!.at).toBeGreaterThanOrEqual(400);
    expect(h.messagesIn(QUEUE).filter((m) => m.thread_ts === undefined && h.textOf(m).includes(number))).toHaveLength(1);
    // Order per incident: the card, then the receipt, then the card's update for the accept.
    const delivered = calls.filter((c) => c.status === 200);
    const cardAt = delivered.findIndex((c) => c.method === 'chat.postMessage' && c.args.channel === QUEUE);
    const receiptAt = delivered.findIndex((c) => c.method === 'chat.postMessage' && c.args.channel === REPORTER);
    const updateAt = delivered.findIndex((c) => c.method === 'chat.update');
    expect(cardAt).toBeGreaterThanOrEqual(0);
    expect(receiptAt).toBeGreaterThan(cardAt);
    expect(updateAt).toBeGreaterThan(cardAt);
    expect(h.messagesIn(REPORTER).filter((m) => (m.text ?? '').startsWith(`Received: ${number}`))).toHaveLength(1);
    expect(calls.filter((c) => c.status !== 200 && c.status !== 0)).toEqual([]);
  });

  it('a post Slack made on a stalled connection is found again, not posted twice', async () => {
    const { fake } = h;
    fake.failNext('chat.postMessage', { hang: true, applied: true }, 1);
    const { number } = await report('Badge printer jammed at reception');
    await fake.waitFor(() => fake.calls.some((c) => c.method === 'conversations.history'), 10_000);
    await drained();
    expect(h.messagesIn(QUEUE).filter((m) => m.thread_ts === undefined && h.textOf(m).includes(number))).toHaveLength(1);
    expect(about(number).filter((c) => c.method === 'chat.postMessage' && c.args.channel === QUEUE).map((c) => c.status)).toEqual([0]);
  });

  it('a notice Slack posted but whose answer was lost is found again by its metadata, not sent twice', async () => {
    const { fake } = h;
    const { number } = await report('Label printer offline in the warehouse');
    const cardOf = () => h.messagesIn(QUEUE).find((m) => m.thread_ts === undefined && h.textOf(m).includes(number));
    await fake.waitFor(() => cardOf() !== undefined && h.messagesIn(REPORTER).some((m) => (m.text ?? '').startsWith(`Received: ${number}`)), 10_000);
    await drained();
    const from = fake.calls.length;
    // The next notice (the reporter hears of the accept) is posted, and its answer lost.
    fake.failNext('chat.postMessage', { status: 500, applied: true }, 1);
    await h.press('U0DESK', cardOf()!, 'incident.accept');
    await fake.waitFor(() => fake.calls.slice(from).some((c) => c.method === 'conversations.history' || c.method === 'conversations.replies'), 10_000);
    await drained();
    const lost = fake.calls.slice(from).find((c) => c.method === 'chat.postMessage' && c.status === 500)!;
    expect(lost.args.metadata).toMatchObject({ event_type: 'firebell_notice', event_payload: { key: expect.any(String) } });
    const sameText = [...fake.messages.values()].filter((m) => m.text === lost.args.text);
    expect(sameText).toHaveLength(1);
    // Not posted again after the look-up found it.
    expect(fake.calls.slice(from).filter((c) => c.method === 'chat.postMessage' && c.args.text === lost.args.text)).toHaveLength(1);
    expect(h.logs.some((l) => l.includes('notice found again after a lost answer'))).toBe(true);
  });
});

describe('Slack outbox: one stalled call holds up only its own incident', () => {
  let h: SlackBotHarness;
  beforeAll(async () => {
    h = await startSlackBot(testPolicy(), { env: { FIREBELL_API_TIMEOUT_MS: '4000' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('another incident’s card and receipt go out while the first incident’s post is still stalled', async () => {
    const { fake } = h;
    const report = async (title: string) => {
      const r = await h.slack.command(REPORTER, title, { channel: 'C0GENERAL' });
      await fake.waitFor((f) => f.responses.some((x) => x.id === r.responseId));
      return /INC-\d+/.exec(fake.responses.find((x) => x.id === r.responseId)!.body.text)![0];
    };
    const cards = (n: string) => h.messagesIn(QUEUE).filter((m) => m.thread_ts === undefined && h.textOf(m).includes(`${n} ·`));
    fake.failNext('chat.postMessage', { hang: true }, 1);
    const stalled = await report('Core switch unreachable in building A');
    await fake.waitFor((f) => f.calls.some((c) => c.method === 'chat.postMessage' && c.status === 0), 5000);
    const stalledAt = Date.now();
    const other = await report('Projector broken in room 4.12');
    await fake.waitFor(() => cards(other).length === 1 && h.messagesIn(REPORTER).some((m) => (m.text ?? '').startsWith(`Received: ${other}`)), 3000);
    // Well inside the stalled call's 4 s deadline: the other incident did not wait for it.
    expect(Date.now() - stalledAt).toBeLessThan(3500);
    expect(cards(stalled)).toHaveLength(0);
    // The stalled one is retried after its deadline and arrives, once.
    await fake.waitFor(() => cards(stalled).length === 1, 12_000);
    await h.bot.scheduler.flush();
    expect(cards(stalled)).toHaveLength(1);
    expect(cards(other)).toHaveLength(1);
  });
});
