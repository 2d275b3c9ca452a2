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
