/**
 * SLA clocks, thresholds and the escalation matrix as pure functions of an incident (DOMAIN.md §5).
 *
 * One clock measure underlies everything: "SLA time", the time since the report during which the
 * incident was `new` or `in_progress`, counted in working hours when the incident's priority is
 * on the business-hours calendar. Pending (on hold), awaiting approval and resolved pause it.
 * The response target, the resolution target and the matrix steps are all points on that measure,
 * so a hold pushes every one of them back by the same amount. Auto-close (after resolution) and
 * wait-until are wall-clock instants.
 *
 * Everything here reads only the incident (its snapshot of the policy included), so the next
 * timer of an incident is a stored, derived value that any process can recompute.
 */
import type { EventBody } from '../incident/events';
import type { Incident, IncidentSla, SlaClock, Status } from '../incident/model';
import { tierRank } from '../incident/model';
import type { Policy, SlaPolicy } from './policy';
import { slaPolicyOf } from './policy';
import { addBusinessMs, businessMsBetween } from './calendar';
import { dueMajorEvents, majorTimerItems } from '../major/major';

/** Statuses during which the clocks run. */
const RUNNING: readonly Status[] = ['new', 'in_progress'];
/** Statuses from which the matrix may move a ticket to a higher tier. */
const ESCALATABLE: readonly Status[] = ['new', 'in_progress'];

export function clocksRunning(status: Status): boolean {
  return RUNNING.includes(status);
}

/** Fresh bookkeeping for a new incident: paused from the start when it awaits approval. */
export function newIncidentSla(policy: Policy, status: Status, at: string): IncidentSla {
  return { policy: slaPolicyOf(policy), pauses: [], pausedSince: clocksRunning(status) ? null : at, fired: [] };
}

/**
 * Keeps the pause bookkeeping in step with a status change at `at`: entering a paused status
 * opens a pause, leaving it closes one. Called by evolve() after every event.
 */
export function syncPause(before: Incident, after: Incident, at: string): Incident {
  const was = clocksRunning(before.status);
  const is = clocksRunning(after.status);
  if (was === is) return after;
  const sla = after.sla;
  if (was && !is) return { ...after, sla: { ...sla, pausedSince: at } };
  const from = sla.pausedSince ?? at;
  return { ...after, sla: { ...sla, pausedSince: null, pauses: [...sla.pauses, { from, to: at }] } };
}

function onCalendar(incident: Incident): boolean {
  const p = incident.sla.policy;
  return p.calendar !== null && p.businessHoursFor.includes(incident.priority);
}

/** The running intervals [from, to) of the clocks up to `until` (epoch ms). */
function runningIntervals(incident: Incident, until: number): [number, number][] {
  const out: [number, number][] = [];
  let start = Date.parse(incident.reportedAt);
  const pauses = [...incident.sla.pauses].sort((a, b) => Date.parse(a.from) - Date.parse(b.from));
  for (const p of pauses) {
    const from = Date.parse(p.from);
    if (from > start) out.push([start, Math.min(from, until)]);
    start = Math.max(start, Date.parse(p.to));
    if (start >= until) return out.filter(([a, b]) => b > a);
  }
  const end = incident.sla.pausedSince ? Math.min(Date.parse(incident.sla.pausedSince), until) : until;
  if (end > start) out.push([start, end]);
  return out.filter(([a, b]) => b > a);
}

/** SLA time (ms) accumulated by `at`. */
export function slaElapsedMs(incident: Incident, at: number): number {
  const cal = onCalendar(incident) ? incident.sla.policy.calendar : null;
  let total = 0;
  for (const [a, b] of runningIntervals(incident, at)) total += cal ? businessMsBetween(cal, a, b) : b - a;
  return total;
}

/**
 * The instant at which the SLA time reaches `mark` ms, or null while the clocks are paused (the
 * instant is not known until they run again). A mark already passed gives the start of the
 * current running stretch, i.e. "due now".
 */
export function instantOfSlaMs(incident: Incident, mark: number): number | null {
  if (!clocksRunning(incident.status) || incident.sla.pausedSince) return null;
  const pauses = incident.sla.pauses;
  const resumedAt = pauses.length ? Math.max(Date.parse(incident.reportedAt), ...pauses.map((p) => Date.parse(p.to))) : Date.parse(incident.reportedAt);
  const before = slaElapsedMs(incident, resumedAt);
  const remaining = mark - before;
  if (remaining <= 0) return resumedAt;
  const cal = onCalendar(incident) ? incident.sla.policy.calendar : null;
  return cal ? addBusinessMs(cal, resumedAt, remaining) : resumedAt + remaining;
}

export function targetMs(incident: Incident, clock: SlaClock): number {
  const t = incident.sla.policy.targets[incident.priority];
  return clock === 'response' ? t.responseMs : t.resolutionMs;
}

export function warnMs(incident: Incident, clock: SlaClock): number {
  return Math.round(targetMs(incident, clock) * incident.sla.policy.warnAt);
}

/** Whether a clock still counts: response until the first accept, resolution until resolved. */
export function clockOpen(incident: Incident, clock: SlaClock): boolean {
  if (incident.status === 'closed' || incident.status === 'rejected') return false;
  return clock === 'response' ? incident.respondedAt === null : incident.resolvedAt === null;
}

export type ClockState = 'ok' | 'warned' | 'breached' | 'met' | 'missed' | 'paused' | 'stopped';

export interface ClockView {
  clock: SlaClock;
  targetMs: number;
  elapsedMs: number;
  /** When the target is (or was) reached on the clock; null while paused. */
  dueAt: string | null;
  state: ClockState;
  /** When it stopped (first accept or resolution), for met/missed. */
  stoppedAt: string | null;
}

/** How a clock stands at `now`: for the card, `/incident sla` and reports. */
export function clockView(incident: Incident, clock: SlaClock, now: number): ClockView {
  const target = targetMs(incident, clock);
  const stoppedIso = clock === 'response' ? incident.respondedAt : incident.resolvedAt;
  if (stoppedIso) {
    const stopped = Date.parse(stoppedIso);
    const elapsed = slaElapsedMs(incident, stopped);
    return { clock, targetMs: target, elapsedMs: elapsed, dueAt: null, state: elapsed <= target ? 'met' : 'missed', stoppedAt: stoppedIso };
  }
  const elapsed = slaElapsedMs(incident, now);
  if (!clockOpen(incident, clock)) return { clock, targetMs: target, elapsedMs: elapsed, dueAt: null, state: 'stopped', stoppedAt: null };
  const due = instantOfSlaMs(incident, target);
  const fired = incident.sla.fired;
  const state: ClockState =
    fired.includes(`${clock}:breach`) || elapsed >= target
      ? 'breached'
      : due === null
        ? 'paused'
        : fired.includes(`${clock}:warn`)
          ? 'warned'
          : 'ok';
  return { clock, targetMs: target, elapsedMs: elapsed, dueAt: due === null ? null : new Date(due).toISOString(), state, stoppedAt: null };
}

/** Something an incident's timer must do, and when. */
export type TimerItem =
  | { kind: 'threshold'; key: string; clock: SlaClock; threshold: 'warn' | 'breach'; at: number }
  | { kind: 'matrix'; key: string; step: number; at: number }
  | { kind: 'wait'; key: 'wait'; at: number }
  | { kind: 'autoclose'; key: 'autoclose'; at: number }
  | { kind: 'cadence'; key: 'cadence'; at: number }
  | { kind: 'archive'; key: 'archive'; at: number };

/** Every timer item still owed by the incident in its current state, earliest first. */
export function timerItems(incident: Incident): TimerItem[] {
  const items: TimerItem[] = [];
  const fired = new Set(incident.sla.fired);
  if (clocksRunning(incident.status)) {
    for (const clock of ['response', 'resolution'] as const) {
      if (!clockOpen(incident, clock)) continue;
      for (const threshold of ['warn', 'breach'] as const) {
        const key = `${clock}:${threshold}`;
        if (fired.has(key)) continue;
        const at = instantOfSlaMs(incident, threshold === 'warn' ? warnMs(incident, clock) : targetMs(incident, clock));
        if (at !== null && Number.isFinite(at)) items.push({ kind: 'threshold', key, clock, threshold, at });
      }
    }
    matrixSteps(incident.sla.policy, incident).forEach((step, i) => {
      const keys = stepKeys(step);
      if (keys.every((k) => fired.has(k))) return;
      const at = instantOfSlaMs(incident, step.afterMs);
      if (at !== null && Number.isFinite(at)) items.push({ kind: 'matrix', key: keys.join('+'), step: i, at });
    });
  }
  if (incident.status === 'pending' && incident.waitUntil) items.push({ kind: 'wait', key: 'wait', at: Date.parse(incident.waitUntil) });
  if (incident.status === 'resolved' && incident.resolvedAt) {
    items.push({ kind: 'autoclose', key: 'autoclose', at: Date.parse(incident.resolvedAt) + incident.sla.policy.autoCloseAfterMs });
  }
  items.push(...majorTimerItems(incident));
  return items.sort((a, b) => a.at - b.at);
}

function matrixSteps(policy: SlaPolicy, incident: Incident) {
  return policy.matrix[incident.priority] ?? [];
}

/**
 * What a matrix step does, as the keys that record it done: `tier:l2` (the ticket had to reach L2
 * once) and `role:management` (management was told once). Keyed by what was done rather than by
 * the step's position, so a priority change (another row of the matrix) neither repeats a notice
 * nor skips what the new row still asks for.
 */
export function stepKeys(step: { tier: string | null; role: string | null }): string[] {
  return [step.tier ? `tier:${step.tier}` : null, step.role ? `role:${step.role}` : null].filter((k): k is string => k !== null);
}

/** The derived `nextTimerAt` of an incident (ISO), or null when nothing is owed. */
export function nextTimerAt(incident: Incident): string | null {
  const first = timerItems(incident)[0];
  return first ? new Date(first.at).toISOString() : null;
}

/**
 * What the timers owe at `now`: the events to record, in order (DOMAIN.md §5). Pure; empty when
 * nothing is due. A warning and a breach of one clock both due (the bot was down) record the
 * breach only, with the warning folded in: a late "75 %" after the breach would only confuse.
 * Matrix steps that came due together are applied in order; a tier step finds the ticket already
 * high enough, or moves it straight to the step's tier.
 */
export function dueTimerEvents(incident: Incident, now: number, policy: Policy): EventBody[] {
  const due = timerItems(incident).filter((i) => i.at <= now);
  if (due.length === 0) return [];
  const events: EventBody[] = [];
  for (const clock of ['response', 'resolution'] as const) {
    const warn = due.find((d) => d.kind === 'threshold' && d.clock === clock && d.threshold === 'warn');
    const breach = due.find((d) => d.kind === 'threshold' && d.clock === clock && d.threshold === 'breach');
    const pick = breach ?? warn;
    if (!pick) continue;
    events.push({
      type: 'SlaThresholdReached',
      clock,
      threshold: breach ? 'breach' : 'warn',
      dueAt: new Date(instantOfSlaMs(incident, targetMs(incident, clock)) ?? pick.at).toISOString(),
      targetMs: targetMs(incident, clock),
      withWarning: !!breach && !!warn,
    });
  }
  let tier = incident.tier;
  const steps = matrixSteps(incident.sla.policy, incident);
  const done = new Set(incident.sla.fired);
  for (const item of due) {
    if (item.kind !== 'matrix') continue;
    const step = steps[item.step]!;
    // Only the parts of the step not done before (under this priority's row or another's).
    const stepTier = step.tier && !done.has(`tier:${step.tier}`) ? step.tier : null;
    const stepRole = step.role && !done.has(`role:${step.role}`) ? step.role : null;
    if (!stepTier && !stepRole) continue;
    for (const k of stepKeys({ tier: stepTier, role: stepRole })) done.add(k);
    const escalate = stepTier !== null && tierRank(tier) < tierRank(stepTier) && ESCALATABLE.includes(incident.status);
    const notified = stepRole ? [...policy.roles[stepRole]] : [];
    events.push({ type: 'EscalationStepReached', step: item.step, afterMs: step.afterMs, tier: stepTier, role: stepRole, escalated: escalate, notified });
    if (escalate && stepTier) {
      events.push({ type: 'IncidentEscalated', fromTier: tier, toTier: stepTier, reason: '', matrixAfterMs: step.afterMs });
      tier = stepTier;
    }
  }
  if (due.some((d) => d.kind === 'wait')) events.push({ type: 'IncidentResumed' });
  if (due.some((d) => d.kind === 'autoclose')) events.push({ type: 'IncidentClosed', automatic: true });
  events.push(...dueMajorEvents(incident, now));
  return events;
}

/** Records what an SLA event did in the bookkeeping (called from evolve). */
export function markFired(incident: Incident, event: EventBody): Incident {
  let add: string[] = [];
  if (event.type === 'SlaThresholdReached') {
    add = event.threshold === 'breach' ? [`${event.clock}:warn`, `${event.clock}:breach`] : [`${event.clock}:warn`];
  } else if (event.type === 'EscalationStepReached') {
    add = stepKeys(event);
  } else {
    return incident;
  }
  const fired = [...new Set([...incident.sla.fired, ...add])];
  const watchers = event.type === 'EscalationStepReached' ? [...new Set([...incident.watchers, ...event.notified])] : incident.watchers;
  return { ...incident, watchers, sla: { ...incident.sla, fired } };
}

/**
 * Fills the SLA fields of an incident stored before they existed (issue 2's rows): the policy in
 * force now becomes its snapshot, and its hold time so far counts as one pause.
 */
export function withSlaDefaults(incident: Incident, policy: Policy): Incident {
  if (incident.sla && incident.watchers && incident.decisionVersion && incident.major !== undefined) return incident;
  const paused = !clocksRunning(incident.status);
  const sla: IncidentSla = incident.sla ?? {
    policy: slaPolicyOf(policy),
    pauses: [],
    pausedSince: paused ? (incident.pendingSince ?? incident.resolvedAt ?? incident.reportedAt) : null,
    fired: [],
  };
  const filled = {
    ...incident,
    sla,
    watchers: incident.watchers ?? [],
    decisionVersion: incident.decisionVersion ?? incident.version,
    nextTimerAt: incident.nextTimerAt ?? null,
    major: incident.major ?? null,
    linkedTo: incident.linkedTo ?? null,
  };
  return { ...filled, nextTimerAt: nextTimerAt(filled) };
}

/** Events that only record a notice: they change nothing a person can do with the incident. */
export function noticeOnly(events: readonly EventBody[]): boolean {
  return events.every((e) => NOTICES.has(e.type) || (e.type === 'EscalationStepReached' && !e.escalated));
}

/** Facts that are only said or shown: after them, what each person may do is what it was. */
const NOTICES = new Set<EventBody['type']>([
  'SlaThresholdReached',
  'UpdateReminderSent',
  'StatusUpdatePosted',
  'NoteAdded',
  'WarRoomOpened',
  'WarRoomMembersAdded',
  'WarRoomJoinRequested',
  'WarRoomArchived',
  'ReportLinked',
  'ReviewScheduled',
  'DeliveryFailed',
]);
