/**
 * SLA notices end to end on the embedded scheduler (no Redis): an incident reported over Slack's
 * wire format against the fake Slack API, then left alone with second-scale targets. Warnings,
 * breaches and the matrix's notice arrive once each, not before they are due; the card shows the
 * due times and says when a clock is warned or breached; `/incident sla` shows the clocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personActor } from '../../src/flows/people';
import { personRef, testPolicy } from '../support/policy';
import { startSlackBot, type SlackBotHarness } from '../support/slack-bot';
import { DESK_QUEUE, escalatingPolicy, expectAutomaticEscalations, expectScenarioOnce, noticesFor, reportIncident, secondScalePolicy, waitForScenario } from '../support/sla-scenario';

describe('SLA notices on Slack, embedded scheduler', () => {
  let h: SlackBotHarness;
  beforeAll(async () => {
    h = await startSlackBot(secondScalePolicy());
    expect(h.bot.scheduler.kind).toBe('in-process');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('posts each warning, breach and matrix notice once, on time, and the card says so', async () => {
    const { number, reportedAt } = await reportIncident(h, 'Payroll export fails with a timeout');
    // Before anything is due, the card shows the response due time and no warning.
    await h.fake.waitFor(() => noticesFor(h, number).card !== undefined, 5000);
    const fresh = h.textOf(noticesFor(h, number).card);
    expect(fresh).toMatch(/Response SLA[\s\S]*due /);
    expect(fresh).not.toContain('breached');

    await waitForScenario(h, number);
    const n = expectScenarioOnce(h, number, reportedAt);
    // Nobody accepted: the warnings went into the queue (thread reply, also broadcast).
    const posts = h.fake.callsTo('chat.postMessage').filter((c) => c.args.thread_ts === n.card!.ts);
    expect(posts.length).toBe(n.replies.length);
    expect(posts.every((c) => c.args.reply_broadcast === true || c.args.reply_broadcast === 'true')).toBe(true);
    expect(n.card!.channel).toBe(DESK_QUEUE);
    // The card now says the clocks were breached.
    const card = h.textOf(noticesFor(h, number).card);
    expect(card).toMatch(/Response SLA[\s\S]*breached/);
    expect(card).toMatch(/Resolution SLA[\s\S]*breached/);
    // The timeline records each step once, as automatic.
    const id = (await h.bot.store.getByNumber(number))!.id;
    const automatic = (await h.bot.store.timeline(id)).filter((e) => e.automatic).map((e) => e.event.type);
    expect(automatic).toEqual(['SlaThresholdReached', 'SlaThresholdReached', 'SlaThresholdReached', 'EscalationStepReached', 'SlaThresholdReached']);
  });

  it('/incident sla shows one incident’s clocks, and the caller’s queue at risk', async () => {
    const { number } = await reportIncident(h, 'Printer queue stuck');
    const one = await h.slack.command('U0DESK', `sla ${number}`, { channel: 'C0GENERAL' });
    await h.fake.waitFor((f) => f.responses.some((x) => x.id === one.responseId), 5000);
    const text = h.fake.responses.find((x) => x.id === one.responseId)!.body.text as string;
    expect(text).toContain(`SLA of ${number}`);
    expect(text).toMatch(/Response: (on track|warning sent|breached) · target 3s/);
    expect(text).toContain('Escalation matrix:');
    expect(text).toContain('notify project manager');

    const risk = await h.slack.command('U0DESK', 'sla', { channel: 'C0GENERAL' });
    await h.fake.waitFor((f) => f.responses.some((x) => x.id === risk.responseId), 5000);
    const list = h.fake.responses.find((x) => x.id === risk.responseId)!.body.text as string;
    expect(list).toContain('At risk in your queues');
    expect(list).toContain(number);

    // Someone in no tier is told so instead of an empty list.
    const outsider = await h.slack.command('U0REP', 'sla', { channel: 'C0GENERAL' });
    await h.fake.waitFor((f) => f.responses.some((x) => x.id === outsider.responseId), 5000);
    expect(h.fake.responses.find((x) => x.id === outsider.responseId)!.body.text).toContain('not in any support tier');
    // An unknown number is refused clearly.
    const unknown = await h.slack.command('U0DESK', 'sla INC-99999', { channel: 'C0GENERAL' });
    await h.fake.waitFor((f) => f.responses.some((x) => x.id === unknown.responseId), 5000);
    expect(h.fake.responses.find((x) => x.id === unknown.responseId)!.body.text).toContain('cannot find incident INC-99999');
  });

  it('escalates functionally by the matrix: the card moves to L1, then L2, each once, the reporter told', async () => {
    const e = await startSlackBot(escalatingPolicy());
    try {
      await expectAutomaticEscalations(e, 'Core switch port flapping');
    } finally {
      await e.close();
    }
  });

  it('a wait-until hold resumes by itself and tells the assignee; a resolved incident nobody confirms closes itself and says so', async () => {
    const e = await startSlackBot(testPolicy({ auto_close_after: '2s' }));
    try {
      const { number, id } = await reportIncident(e, 'Scanner on 2F offline');
      const desk = personActor(personRef('zhang.san'));
      const d = e.bot.dispatcher;
      // The setup goes through the dispatcher (the Slack clicks for it are tested elsewhere).
      expect((await d.act(desk, { id }, { type: 'AcceptIncident' }, { platform: 'slack' })).ok).toBe(true);
      const until = new Date(Date.now() + 1500).toISOString();
      expect((await d.act(desk, { id }, { type: 'HoldIncident', reason: 'waiting for the spare part', until }, { platform: 'slack' })).ok).toBe(true);
      await e.fake.waitFor(() => e.messagesIn('U0DESK').some((m) => (m.text ?? '').includes(`${number}`) && (m.text ?? '').includes('the wait is over')), 10_000);
      const resumed = (await e.bot.store.get(id))!;
      expect(resumed.status).toBe('in_progress');
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(until));

      expect((await d.act(desk, { id }, { type: 'ResolveIncident', code: 'fixed', note: 'part replaced' }, { platform: 'slack' })).ok).toBe(true);
      const resolvedAt = Date.parse((await e.bot.store.get(id))!.resolvedAt!);
      await e.fake.waitFor(() => e.messagesIn('U0REP').some((m) => (m.text ?? '').includes(`${number} was closed automatically`)), 10_000);
      const closed = (await e.bot.store.get(id))!;
      expect(closed.status).toBe('closed');
      expect(Date.parse(closed.closedAt!) - resolvedAt).toBeGreaterThanOrEqual(2000);
      const last = (await e.bot.store.timeline(id)).at(-1)!;
      expect(last).toMatchObject({ automatic: true, event: { type: 'IncidentClosed', automatic: true } });
      // The reporter's confirm card turned into the rating card; the queue card says it closed itself.
      await e.fake.waitFor(() => e.messagesIn('U0REP').some((m) => e.textOf(m).includes('How satisfied')), 5000);
      await e.fake.waitFor(() => e.messagesIn('C0DESK').some((m) => e.textOf(m).includes('Closed automatically')), 5000);
    } finally {
      await e.close();
    }
  });
});
