import type { Command, ReportInput } from './incident/commands';
import { createIncident, decide, evolve } from './incident/decide';
import type { Actor, EventBody, TimelineEntry } from './incident/events';
import type { Incident, PersonRef, Platform } from './incident/model';
import { reject, type Rejection } from './incident/rejection';
import { planEffects } from './plan';
import type { Clock, IncidentStore, Logger, TimerJob } from './ports';
import type { Policy } from './policy/policy';
import { dueTimerEvents, noticeOnly, withSlaDefaults } from './policy/sla';

export interface DispatcherDeps {
  store: IncidentStore;
  clock: Clock;
  policy: Policy;
  platforms: readonly Platform[];
  newId: () => string;
  logger: Logger;
  /**
   * Called after every commit with the incident as stored, so the outbox worker wakes at once and
   * the incident's next timer is scheduled. Must not throw (it runs after the commit).
   */
  onCommitted?: (incident: Incident) => void;
}

export type ActResult = { ok: true; incident: Incident; before: Incident; events: EventBody[] } | (Rejection & { incident: Incident | null });
export type ReportResult = { ok: true; incident: Incident } | (Rejection & { incident: null });
/** What a timer did: `applied` recorded events; the rest changed nothing. */
export type FireResult = { outcome: 'applied'; incident: Incident; events: EventBody[] } | { outcome: 'stale' | 'gone' | 'nothing_due'; incident: Incident | null };

/** Where an incident is referred to: by id (buttons) or by its number (typed commands). */
export type IncidentRef = { id: string } | { number: string };

/**
 * Whether a card or form rendered from `version` is out of date: something a person could act on
 * changed since (a notice-only timer commit does not count).
 */
export function isStale(incident: Incident, version: number): boolean {
  return version < incident.decisionVersion || version > incident.version;
}

/** How many times a command is re-decided after losing a compare-and-set race. */
const MAX_ATTEMPTS = 8;

function entriesFor(incident: Incident, events: EventBody[], firstSeq: number, at: string, actor: Actor, platform: Platform | 'system', states: Incident[]): TimelineEntry[] {
  return events.map((event, i) => ({
    incidentId: incident.id,
    seq: firstSeq + i,
    at,
    actor,
    platform,
    automatic: actor.kind === 'system',
    event,
    status: states[i]!.status,
  }));
}

/**
 * The only orchestrator (ARCHITECTURE.md): load → decide → persist with compare-and-set, with the
 * effects in the same transaction → wake the outbox. Adapters call it; it never calls a platform.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const { store, clock, policy, logger } = deps;
  const planCtx = { policy, platforms: deps.platforms };

  async function load(ref: IncidentRef): Promise<Incident | null> {
    const found = await ('id' in ref ? store.get(ref.id) : store.getByNumber(ref.number));
    return found ? withSlaDefaults(found, policy) : null;
  }

  /** Applies recorded events to `current` and commits them with compare-and-set; false when another writer won. */
  async function commitEvents(current: Incident, events: EventBody[], actor: Actor, platform: Platform | 'system'): Promise<Incident | null> {
    const now = clock.now().toISOString();
    const states: Incident[] = [];
    let next = current;
    for (const e of events) {
      next = evolve(next, e, now);
      states.push(next);
    }
    const version = current.version + 1;
    next = { ...next, version, decisionVersion: noticeOnly(events) ? current.decisionVersion : version };
    const firstSeq = ((await store.lastEntry(current.id))?.seq ?? 0) + 1;
    const entries = entriesFor(next, events, firstSeq, now, actor, platform, states);
    const effects = planEffects(current, next, events, actor, planCtx);
    if (!(await store.commit(next, current.version, entries, effects))) return null;
    deps.onCommitted?.(next);
    return next;
  }

  /** Files a new incident. Malformed input is refused with the field named; nothing is stored then. */
  async function report(reporter: PersonRef, input: ReportInput, origin: { platform: Platform; channel: string }): Promise<ReportResult> {
    const now = clock.now().toISOString();
    const built = createIncident(input, { id: deps.newId(), seq: 0, now, policy, reporter, origin });
    if (!built.ok) return { ...built, incident: null };
    // The number is taken only once the input is known to be valid, so refusals burn no numbers.
    const seq = await store.nextSeq();
    const incident: Incident = { ...built.incident, number: `INC-${seq}` };
    const actor: Actor = { kind: 'person', person: reporter };
    const event: EventBody = { type: 'IncidentReported', incident };
    const entries = entriesFor(incident, [event], 1, now, actor, origin.platform, [incident]);
    const effects = planEffects(null, incident, [event], actor, planCtx);
    await store.create(incident, entries, effects);
    logger.info('incident reported', { incident: incident.number, priority: incident.priority, platform: origin.platform });
    deps.onCommitted?.(incident);
    return { ok: true, incident };
  }

  /**
   * Runs a command against an incident. With `expectedVersion` (a button rendered from that
   * version) a command that would succeed on a newer state is refused as a stale card instead,
   * because the person decided on what they saw. Refusals change nothing.
   */
  async function act(
    actor: Actor,
    ref: IncidentRef,
    command: Command,
    opts: { platform: Platform | 'system'; expectedVersion?: number },
  ): Promise<ActResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await load(ref);
      if (!current) return { ...reject({ reason: 'not_found' }), incident: null };
      const now = clock.now().toISOString();
      const decision = decide(current, command, { now, policy, actor, platform: opts.platform });
      if (!decision.ok) return { ...decision, incident: current };
      if (opts.expectedVersion !== undefined && isStale(current, opts.expectedVersion)) {
        return { ...reject({ reason: 'stale_card' }), incident: current };
      }
      const next = await commitEvents(current, decision.events, actor, opts.platform);
      if (next) {
        logger.info('incident changed', {
          incident: next.number,
          command: command.type,
          status: next.status,
          actor: actor.kind === 'person' ? actor.person.id : `system:${actor.reason}`,
        });
        return { ok: true, incident: next, before: current, events: decision.events };
      }
      // Lost the race: decide again on the winner's state (its answer names the winner).
      if (opts.expectedVersion !== undefined) {
        const fresh = await load(ref);
        // The winner only recorded a notice (an SLA warning): the card is still current, go again.
        if (fresh && !isStale(fresh, opts.expectedVersion)) continue;
        if (fresh) {
          const again = decide(fresh, command, { now: clock.now().toISOString(), policy, actor, platform: opts.platform });
          if (!again.ok) return { ...again, incident: fresh };
          return { ...reject({ reason: 'stale_card' }), incident: fresh };
        }
      }
    }
    return { ...reject({ reason: 'busy' }), incident: await load(ref) };
  }

  /**
   * A timer came due (SLA warning or breach, matrix step, wait-until, auto-close). Idempotent: a
   * job whose generation is not the incident's version is stale and does nothing (that version
   * scheduled its own timer); what is due is recorded once, by compare-and-set, however many
   * processes fire the same job. A timer that fires early (clock skew between hosts) reschedules.
   */
  async function fire(job: TimerJob): Promise<FireResult> {
    const current = await load({ id: job.incidentId });
    if (!current) return { outcome: 'gone', incident: null };
    if (current.version !== job.generation) return { outcome: 'stale', incident: current };
    const events = dueTimerEvents(current, clock.now().getTime(), policy);
    if (events.length === 0) {
      if (current.nextTimerAt) deps.onCommitted?.(current);
      return { outcome: 'nothing_due', incident: current };
    }
    const next = await commitEvents(current, events, { kind: 'system', reason: 'timer' }, 'system');
    // Lost to another writer: its commit derived and scheduled the timers from the newer state.
    if (!next) return { outcome: 'stale', incident: await load({ id: job.incidentId }) };
    logger.info('timers applied', { incident: next.number, events: events.map((e) => ('threshold' in e ? `${e.type}:${e.clock}:${e.threshold}` : e.type)) });
    return { outcome: 'applied', incident: next, events };
  }

  /** An incident as read from the store, with the SLA fields of older rows filled in. */
  const withDefaults = (incident: Incident) => withSlaDefaults(incident, policy);

  return { report, act, load, fire, withDefaults, policy, store, clock };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
