import type { Command, ReportInput } from './incident/commands';
import { createIncident, decide, evolve } from './incident/decide';
import type { Actor, EventBody, TimelineEntry } from './incident/events';
import type { Incident, PersonRef, Platform } from './incident/model';
import { reject, type Rejection } from './incident/rejection';
import { planEffects } from './plan';
import type { Clock, IncidentStore, Logger, TimerJob } from './ports';
import type { Policy } from './policy/policy';
import { dueTimerEvents, noticeOnly, withSlaDefaults } from './policy/sla';
import { decideMajor, isLiveMajor, newMajor } from './major/major';
import type { CommitItem } from './ports';

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

  /** The commit of `events` on `current` (not yet written): the next state, its entries and effects. */
  async function prepare(current: Incident, events: EventBody[], actor: Actor, platform: Platform | 'system'): Promise<CommitItem> {
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
    const effects = planEffects(current, next, events, actor, planCtx, now);
    return { next, expectedVersion: current.version, entries, effects };
  }

  /** Applies recorded events to `current` and commits them with compare-and-set; false when another writer won. */
  async function commitEvents(current: Incident, events: EventBody[], actor: Actor, platform: Platform | 'system'): Promise<Incident | null> {
    const item = await prepare(current, events, actor, platform);
    if (!(await store.commit(item.next, item.expectedVersion, item.entries, item.effects))) return null;
    deps.onCommitted?.(item.next);
    return item.next;
  }

  /**
   * The open major incident a new report is the same outage as (DOMAIN.md §6, 003): one naming the
   * same affected system, explicitly (the deployment's default system says nothing).
   */
  async function knownOutage(input: ReportInput): Promise<Incident | null> {
    const system = (input.system ?? '').trim().toLowerCase();
    if (!system || system === policy.defaults.system.trim().toLowerCase()) return null;
    const open = await store.list({ statuses: ['new', 'in_progress', 'pending'], limit: 200 });
    const match = open.map(withDefaults).find((i) => isLiveMajor(i) && i.system.trim().toLowerCase() === system);
    return match ?? null;
  }

  /**
   * Files a new incident. Malformed input is refused with the field named; nothing is stored then.
   * Every P1 is declared a major incident at once (or any report with `declare`, the quick
   * `major <text>`); a report of the same system as an open major incident is linked to it, both
   * written in one transaction.
   */
  async function report(
    reporter: PersonRef,
    input: ReportInput,
    origin: { platform: Platform; channel: string },
    opts: { declare?: { quick: boolean } } = {},
  ): Promise<ReportResult> {
    const now = clock.now().toISOString();
    const built = createIncident(input, { id: deps.newId(), seq: 0, now, policy, reporter, origin });
    if (!built.ok) return { ...built, incident: null };
    // The number is taken only once the input is known to be valid, so refusals burn no numbers.
    const seq = await store.nextSeq();
    const reported: Incident = { ...built.incident, number: `INC-${seq}` };
    const actor: Actor = { kind: 'person', person: reporter };
    const system: Actor = { kind: 'system', reason: 'known_outage' };
    /** The new incident with `extra` events after its report: the record, its entries and effects. */
    const build = (extra: EventBody[]) => {
      const events: EventBody[] = [{ type: 'IncidentReported', incident: reported }, ...extra];
      const states: Incident[] = [];
      let incident = reported;
      for (const e of events) {
        incident = evolve(incident, e, now);
        states.push(incident);
      }
      incident = { ...incident, version: 1, decisionVersion: 1 };
      return { incident, entries: entriesFor(incident, events, 1, now, actor, origin.platform, states), effects: planEffects(null, incident, events, actor, planCtx, now) };
    };
    const done = (incident: Incident, also: Incident[] = []) => {
      logger.info('incident reported', { incident: incident.number, priority: incident.priority, platform: origin.platform, major: !!incident.major, linkedTo: incident.linkedTo?.number });
      for (const other of also) deps.onCommitted?.(other);
      deps.onCommitted?.(incident);
      return { ok: true as const, incident };
    };

    // The same outage as an open major incident: linked to it (one room per outage), not declared
    // again, even as a P1. An explicit `major <text>` is a new major incident by decision.
    for (let attempt = 0; !opts.declare && attempt < MAX_ATTEMPTS; attempt++) {
      const major = await knownOutage(input);
      if (!major) break;
      const linked = build([{ type: 'LinkedToMajor', majorId: major.id, number: major.number, title: major.title, automatic: true }]);
      const attach = decideMajor(major, { type: 'AttachReport', incidentId: reported.id, number: reported.number, reporter, automatic: true }, { now, policy, actor: system });
      if (!attach.ok) break;
      const related = await prepare(major, attach.events, system, 'system');
      if (await store.createWith(linked.incident, linked.entries, linked.effects, [related])) return done(linked.incident, [related.next]);
      // The major incident changed meanwhile: look again.
    }
    const declare = opts.declare || (reported.priority === 'P1' && reported.status === 'new');
    const plain = build(
      declare
        ? [{ type: 'MajorIncidentDeclared', major: newMajor(reported, policy, now, opts.declare ? reporter : null, opts.declare?.quick ?? false), automatic: !opts.declare }]
        : [],
    );
    await store.create(plain.incident, plain.entries, plain.effects);
    return done(plain.incident);
  }

  /**
   * Links a report to an open major incident as the same outage (the desk, an incident manager):
   * both records change in one transaction, or neither.
   */
  async function link(actor: Actor, childRef: IncidentRef, majorRef: IncidentRef, platform: Platform | 'system'): Promise<ActResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const [child, major] = await Promise.all([load(childRef), load(majorRef)]);
      if (!child) return { ...reject({ reason: 'not_found' }), incident: null };
      if (!major) return { ...reject({ reason: 'not_found' }), incident: null };
      const now = clock.now().toISOString();
      const onMajor = decide(major, { type: 'AttachReport', incidentId: child.id, number: child.number, reporter: child.reporter }, { now, policy, actor, platform });
      if (!onMajor.ok) return { ...onMajor, incident: major };
      const onChild = decide(child, { type: 'LinkToMajor', majorId: major.id, number: major.number, title: major.title }, { now, policy, actor, platform });
      if (!onChild.ok) return { ...onChild, incident: child };
      const items = [await prepare(child, onChild.events, actor, platform), await prepare(major, onMajor.events, actor, platform)];
      if (await store.commitMany(items)) {
        for (const item of items) deps.onCommitted?.(item.next);
        logger.info('report linked to major incident', { incident: child.number, major: major.number });
        return { ok: true, incident: items[1]!.next, before: major, events: onMajor.events };
      }
    }
    return { ...reject({ reason: 'busy' }), incident: null };
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

  /**
   * Records what the outbox learned (the war room is open, who could not be invited) as a system
   * command. Idempotent: recording the same thing again changes nothing and is not an error.
   */
  async function record(incidentId: string, command: Command): Promise<void> {
    const reason = command.type === 'RecordDeliveryFailure' ? 'delivery' : 'war_room';
    const r = await act({ kind: 'system', reason }, { id: incidentId }, command, { platform: 'system' });
    if (!r.ok && r.reason !== 'nothing_changed') logger.warn('could not record on the timeline', { incidentId, command: command.type, reason: r.reason });
  }

  return { report, act, link, record, load, fire, withDefaults, policy, store, clock };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
