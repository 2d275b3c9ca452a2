/**
 * The SLA scenario the end-to-end tests share: a policy with second-scale targets, an incident
 * reported over Slack's wire format and then left alone, and readers for what the bot posted.
 */
import { expect } from 'vitest';
import type { FakeMessage } from '../fakes/slack-api';
import { testPolicy } from './policy';
import type { SlackBotHarness } from './slack-bot';

export const DESK_QUEUE = 'C0DESK';
export const REPORTER = 'U0REP';
export const PM = 'U0PM';

/**
 * P3 (the default medium/medium report): response 3 s, resolution 8 s, warnings at 50 %, and a
 * matrix step that notifies the project manager after 5 s. Left alone, an incident gets:
 * 1.5 s response warning, 3 s response breach, 4 s resolution warning, 5 s PM notified,
 * 8 s resolution breach (the PM, now a watcher, hears of it too).
 */
export function secondScalePolicy() {
  return testPolicy({
    sla: { warn_at: 0.5, targets: { P3: { response: '3s', resolution: '8s' } } },
    escalation_matrix: { P1: [], P2: [], P3: [{ after: '5s', role: 'project_manager' }], P4: [] },
  });
}

/** When each notice is due, in ms after the report. */
export const DUE_MS = { responseWarn: 1500, responseBreach: 3000, resolutionWarn: 4000, pm: 5000, resolutionBreach: 8000 } as const;

/** Reports an incident with /incident and returns its number, id and report time. */
export async function reportIncident(h: SlackBotHarness, title: string) {
  const r = await h.slack.command(REPORTER, title, { channel: 'C0GENERAL' });
  expect(r.status).toBe(200);
  await h.fake.waitFor((f) => f.responses.some((x) => x.id === r.responseId), 10_000);
  const number = /INC-\d+/.exec(h.fake.responses.find((x) => x.id === r.responseId)!.body.text)![0];
  const incident = (await h.bot.store.getByNumber(number))!;
  return { number, id: incident.id, reportedAt: Date.parse(incident.reportedAt) };
}

/** What the bot posted about one incident, sorted into the notices a person would see. */
export function noticesFor(h: SlackBotHarness, number: string) {
  const about = (m: FakeMessage) => h.textOf(m).includes(number);
  const queue = h.messagesIn(DESK_QUEUE).filter(about);
  const card = queue.find((m) => m.thread_ts === undefined && (m.blocks?.length ?? 0) > 0);
  const replies = card ? queue.filter((m) => m.thread_ts === card.ts) : [];
  const has = (fragment: string) => (m: FakeMessage) => (m.text ?? '').includes(fragment);
  return {
    card,
    replies,
    responseWarn: replies.filter(has('has not been accepted yet')),
    responseBreach: replies.filter(has('breached its response target')),
    resolutionWarn: replies.filter(has('the resolution target')),
    resolutionBreach: replies.filter(has('breached its resolution target')),
    pmDms: h.messagesIn(PM).filter(about),
    /** The time a message was first posted (ms). */
    postedAt: (m: FakeMessage) => m.history[0]!.at,
  };
}

/** Waits until the whole left-alone scenario has played out, then a little longer for strays. */
export async function waitForScenario(h: SlackBotHarness, number: string, timeoutMs = 20_000) {
  await h.fake.waitFor(() => {
    const n = noticesFor(h, number);
    return n.resolutionBreach.length >= 1 && n.pmDms.length >= 2;
  }, timeoutMs);
  // Anything posted twice would arrive within the next moments (a second worker, a re-fired job).
  await new Promise((r) => setTimeout(r, 1500));
}

/** The scenario's expectations: each notice once, none before its due time, in order. */
export function expectScenarioOnce(h: SlackBotHarness, number: string, reportedAt: number) {
  const n = noticesFor(h, number);
  expect(n.card, 'the queue card').toBeDefined();
  expect(n.responseWarn).toHaveLength(1);
  expect(n.responseBreach).toHaveLength(1);
  expect(n.resolutionWarn).toHaveLength(1);
  expect(n.resolutionBreach).toHaveLength(1);
  // Notified by the matrix, then told of the breach as a watcher.
  expect(n.pmDms).toHaveLength(2);
  expect(n.pmDms[0]!.text).toContain('escalation matrix');
  expect(n.pmDms[1]!.text).toContain('breached its resolution target');
  const at = n.postedAt;
  expect(at(n.responseWarn[0]!) - reportedAt).toBeGreaterThanOrEqual(DUE_MS.responseWarn);
  expect(at(n.responseBreach[0]!) - reportedAt).toBeGreaterThanOrEqual(DUE_MS.responseBreach);
  expect(at(n.resolutionWarn[0]!) - reportedAt).toBeGreaterThanOrEqual(DUE_MS.resolutionWarn);
  expect(at(n.pmDms[0]!) - reportedAt).toBeGreaterThanOrEqual(DUE_MS.pm);
  expect(at(n.resolutionBreach[0]!) - reportedAt).toBeGreaterThanOrEqual(DUE_MS.resolutionBreach);
  // Nobody accepted: the notices were broadcast into the queue as well as under the card.
  return n;
}

/** A matrix that moves a P3 to L1 after 1 s and to L2 after 2 s (functional, automatic). */
export function escalatingPolicy() {
  return testPolicy({
    sla: { warn_at: 0.9, targets: { P3: { response: '1m', resolution: '2m' } } },
    escalation_matrix: { P1: [], P2: [], P3: [{ after: '1s', tier: 'l1' }, { after: '2s', tier: 'l2' }], P4: [] },
  });
}

/**
 * Reports an incident on the escalating policy and checks what a person sees: the card posted in
 * L1's queue, then in L2's, each once and not before its step; the older cards marked as moved;
 * the reporter told of each escalation once; the timeline's escalations automatic.
 */
export async function expectAutomaticEscalations(h: SlackBotHarness, title: string) {
  const { number, id, reportedAt } = await reportIncident(h, title);
  const cardsIn = (channel: string) => h.messagesIn(channel).filter((m) => m.thread_ts === undefined && h.textOf(m).includes(number));
  await h.fake.waitFor(() => cardsIn('C0L2').length >= 1 && h.textOf(cardsIn('C0L1')[0]).includes('Moved to L2'), 10_000);
  await new Promise((r) => setTimeout(r, 1500));
  expect(cardsIn('C0L1')).toHaveLength(1);
  expect(cardsIn('C0L2')).toHaveLength(1);
  expect(cardsIn('C0L1')[0]!.history[0]!.at - reportedAt).toBeGreaterThanOrEqual(1000);
  expect(cardsIn('C0L2')[0]!.history[0]!.at - reportedAt).toBeGreaterThanOrEqual(2000);
  expect(h.textOf(cardsIn(DESK_QUEUE)[0])).toContain('Moved to');
  const told = h.messagesIn(REPORTER).filter((m) => (m.text ?? '').includes(number) && (m.text ?? '').includes('escalated to'));
  expect(told.map((m) => m.text)).toEqual([expect.stringContaining('L1 engineers'), expect.stringContaining('L2 support')]);
  const escalations = (await h.bot.store.timeline(id)).filter((e) => e.event.type === 'IncidentEscalated');
  expect(escalations.map((e) => [e.automatic, e.event.type === 'IncidentEscalated' && e.event.toTier])).toEqual([
    [true, 'l1'],
    [true, 'l2'],
  ]);
  // Still new at L2: a fresh accept is needed there, by an L2 member.
  expect((await h.bot.store.get(id))!).toMatchObject({ tier: 'l2', status: 'new' });
}
