/**
 * Lifecycle invariants over random command sequences (ARCHITECTURE.md "Tests"): random commands
 * from random people (and a guest, and the system) with random reasons and wait-until times, run
 * through decide → evolve with the dispatcher's version bump.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/flows/incident/commands';
import { createIncident, decide, evolve } from '../../src/flows/incident/decide';
import type { Actor, EventBody } from '../../src/flows/incident/events';
import {
  CATEGORIES,
  LEVELS,
  PRIORITIES,
  RESOLUTION_CODES,
  TIERS,
  type Incident,
  type PersonRef,
  type Priority,
  type Status,
  type Tier,
} from '../../src/flows/incident/model';
import type { Policy } from '../../src/flows/policy/policy';
import { clocksRunning, dueTimerEvents, instantOfSlaMs, slaElapsedMs, stepKeys, timerItems as timerItemsOf, warnMs } from '../../src/flows/policy/sla';
import { TEST_PEOPLE, guestRef, personRef, testPolicy, type TestPersonKey } from '../support/policy';
import { INCIDENT_ID, T0 } from './fixtures';

const policy = testPolicy();
const PEOPLE: PersonRef[] = [...(Object.keys(TEST_PEOPLE) as TestPersonKey[]).map((k) => personRef(k)), guestRef('U0GUEST')];
const SYSTEM: Actor = { kind: 'system', reason: 'property' };
const MIN = 60_000;

// ── Arbitraries ──
const reason = fc.oneof(
  { arbitrary: fc.constantFrom('because', '需要厂商支持', 'user is away'), weight: 5 },
  { arbitrary: fc.constantFrom('', '   ', '\n', 'x'.repeat(2001)), weight: 2 },
  { arbitrary: fc.string({ maxLength: 12 }), weight: 2 },
);
/** Wait-until as minutes from the moment the command is decided (negative: in the past), or junk. */
const until = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -120, max: 600 }).map((m) => ({ offsetMin: m })),
  fc.constantFrom('garbage', ''),
);
type UntilSpec = null | string | { offsetMin: number };
type CommandSpec = Exclude<Command, { type: 'HoldIncident' }> | { type: 'HoldIncident'; reason: string; until: UntilSpec };

const personKey = fc.oneof(fc.constantFrom(...(Object.keys(TEST_PEOPLE) as string[])), fc.constant('nobody'));
/** Weighted so that sequences live long enough to go round the lifecycle (terminal moves rarer). */
const command: fc.Arbitrary<CommandSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ type: 'AcceptIncident' as const }) },
  { weight: 2, arbitrary: reason.map((r) => ({ type: 'EscalateIncident' as const, reason: r })) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('ReassignIncident' as const),
      toTier: fc.option(fc.constantFrom(...TIERS), { nil: null }),
      toPerson: fc.option(personKey, { nil: null }),
      reason,
    }),
  },
  { weight: 1, arbitrary: reason.map((r) => ({ type: 'RejectIncident' as const, reason: r })) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('HoldIncident' as const), reason, until }) },
  { weight: 3, arbitrary: fc.constant({ type: 'ResumeIncident' as const }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('ResolveIncident' as const), code: fc.constantFrom(...RESOLUTION_CODES), note: reason }) },
  { weight: 1, arbitrary: fc.constant({ type: 'ConfirmResolution' as const }) },
  { weight: 2, arbitrary: reason.map((r) => ({ type: 'ReopenIncident' as const, reason: r })) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('RateIncident' as const),
      score: fc.oneof(fc.integer({ min: -1, max: 7 }), fc.constant(2.5)),
      feedback: fc.option(fc.string({ maxLength: 10 }), { nil: null }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('ApproveRequest' as const), note: fc.option(reason, { nil: null }) }) },
  { weight: 1, arbitrary: reason.map((r) => ({ type: 'DenyRequest' as const, reason: r })) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('ChangePriority' as const), priority: fc.constantFrom(...PRIORITIES), reason }) },
  { weight: 1, arbitrary: fc.constant({ type: 'CloseIncident' as const }) },
  // Major incidents (DOMAIN.md §6): they must never disturb the lifecycle.
  { weight: 1, arbitrary: fc.constant({ type: 'DeclareMajor' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'ConfirmMajor' as const }) },
  { weight: 1, arbitrary: reason.map((r) => ({ type: 'DowngradeMajor' as const, reason: r })) },
  { weight: 1, arbitrary: reason.map((r) => ({ type: 'PostStatusUpdate' as const, text: r })) },
  { weight: 1, arbitrary: reason.map((r) => ({ type: 'AddNote' as const, text: r, source: 'command' as const })) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('ChangeMajorRoles' as const), commander: fc.option(personKey, { nil: null }), commsLead: fc.option(personKey, { nil: null }) }) },
);

/**
 * Who acts: anyone at random, or someone picked by role from the current state (so that sequences
 * get past the first refusals and reach the later statuses).
 */
type ActorSpec =
  | { pick: 'person'; index: number }
  | { pick: 'system' }
  | { pick: 'assignee' | 'reporter' | 'owner' | 'manager' | 'approver' }
  | { pick: 'tier_member'; index: number }
  /** The person the command is meant for (a tier member accepts, the assignee holds, …). */
  | { pick: 'fitting' };
const actor: fc.Arbitrary<ActorSpec> = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: PEOPLE.length - 1 }).map((index) => ({ pick: 'person' as const, index })), weight: 3 },
  { arbitrary: fc.constant({ pick: 'system' as const }), weight: 1 },
  { arbitrary: fc.constantFrom('assignee', 'reporter', 'owner', 'manager', 'approver').map((pick) => ({ pick }) as ActorSpec), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 1 }).map((index) => ({ pick: 'tier_member' as const, index })), weight: 2 },
  { arbitrary: fc.constant({ pick: 'fitting' as const }), weight: 6 },
);

const stepArb = fc.record({ actor, command, dtMin: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 240 })) });
const scenario = fc.record({
  reporter: fc.integer({ min: 0, max: PEOPLE.length - 1 }),
  category: fc.constantFrom(...CATEGORIES),
  impact: fc.constantFrom(...LEVELS),
  urgency: fc.constantFrom(...LEVELS),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 60, size: 'max' }),
});

const FITTING: Record<Command['type'], Exclude<ActorSpec['pick'], 'fitting' | 'person'>> = {
  AcceptIncident: 'tier_member',
  EscalateIncident: 'assignee',
  ReassignIncident: 'assignee',
  RejectIncident: 'tier_member',
  HoldIncident: 'assignee',
  ResumeIncident: 'assignee',
  ResolveIncident: 'assignee',
  ConfirmResolution: 'reporter',
  ReopenIncident: 'reporter',
  RateIncident: 'reporter',
  ApproveRequest: 'approver',
  DenyRequest: 'approver',
  ChangePriority: 'manager',
  CloseIncident: 'system',
  DeclareMajor: 'manager',
  ConfirmMajor: 'manager',
  DowngradeMajor: 'manager',
  ChangeMajorRoles: 'manager',
  PostStatusUpdate: 'manager',
  AddNote: 'assignee',
  JoinWarRoom: 'manager',
  LinkToMajor: 'system',
  AttachReport: 'system',
  RecordWarRoom: 'system',
  RecordRoomMembers: 'system',
  RecordDeliveryFailure: 'system',
};

function resolveActor(spec: ActorSpec, state: Incident, p: Policy, type: Command['type']): Actor {
  const person = (ref: PersonRef | null | undefined): Actor => (ref ? { kind: 'person', person: ref } : SYSTEM);
  const byKey = (key: string | undefined) => person(key ? PEOPLE.find((x) => x.id === key) : null);
  if (spec.pick === 'fitting') {
    const pick = FITTING[type];
    const fit = type === 'ResolveIncident' && state.status === 'new' ? 'tier_member' : pick;
    return resolveActor(fit === 'tier_member' ? { pick: fit, index: 0 } : ({ pick: fit } as ActorSpec), state, p, type);
  }
  switch (spec.pick) {
    case 'person':
      return person(PEOPLE[spec.index]);
    case 'system':
      return SYSTEM;
    case 'assignee':
      return person(state.assignee);
    case 'reporter':
      return person(state.reporter);
    case 'owner':
      return person(state.owner);
    case 'manager':
      return byKey(p.roles.incident_manager[0]);
    case 'approver':
      return byKey(p.roles.approver[0]);
    case 'tier_member': {
      const members = p.tiers[state.tier].members;
      return byKey(members[spec.index % members.length]);
    }
  }
}

function toCommand(spec: CommandSpec, now: string): Command {
  if (spec.type !== 'HoldIncident') return spec;
  const u = spec.until;
  return { ...spec, until: u === null || typeof u === 'string' ? u : new Date(Date.parse(now) + u.offsetMin * MIN).toISOString() };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

interface Entry {
  at: string;
  event: EventBody;
}

/**
 * The spec's own account of the record (DOMAIN.md §4), folded from the timeline alone: what the
 * incident must look like if the timeline is complete. Written independently of evolve().
 */
function fromTimeline(initial: Incident, timeline: Entry[]) {
  let status: Status = initial.status;
  let tier: Tier = initial.tier;
  let assignee: string | null = null;
  let owner: string | null = null;
  let priority: Priority = initial.priority;
  let respondedAt: string | null = null;
  let pendingSince: string | null = null;
  let pendingMs = 0;
  let reopens = 0;
  let escalations = 0;
  let rating: number | null = null;
  for (const { at, event: e } of timeline) {
    const leavePending = () => {
      if (status === 'pending' && pendingSince) pendingMs += Date.parse(at) - Date.parse(pendingSince);
      pendingSince = null;
    };
    switch (e.type) {
      case 'IncidentReported':
        break;
      case 'IncidentAccepted':
        status = 'in_progress';
        assignee = e.assignee.id;
        owner ??= e.owner?.id ?? null;
        respondedAt ??= at;
        break;
      case 'IncidentEscalated':
        status = 'new';
        tier = e.toTier;
        assignee = null;
        escalations++;
        break;
      case 'IncidentReassigned':
        tier = e.toTier;
        assignee = e.assignee?.id ?? null;
        status = assignee ? 'in_progress' : 'new';
        if (assignee) respondedAt ??= at;
        break;
      case 'IncidentRejected':
      case 'RequestDenied':
        status = 'rejected';
        break;
      case 'IncidentHeld':
        status = 'pending';
        pendingSince = at;
        break;
      case 'IncidentResumed':
        leavePending();
        status = 'in_progress';
        break;
      case 'IncidentResolved':
        leavePending();
        status = 'resolved';
        break;
      case 'ResolutionConfirmed':
      case 'IncidentClosed':
        status = 'closed';
        break;
      case 'IncidentReopened':
        status = 'in_progress';
        reopens++;
        break;
      case 'IncidentRated':
        rating = e.score;
        break;
      case 'RequestApproved':
        status = 'new';
        break;
      case 'PriorityChanged':
        priority = e.to;
        break;
    }
  }
  return { status, tier, assignee, owner, priority, respondedAt, pendingMs, reopens, escalations, rating };
}

const FINAL: Status[] = ['closed', 'rejected'];
const UNASSIGNED: Status[] = ['new', 'pending_approval', 'rejected'];
const WORKED: Status[] = ['in_progress', 'pending', 'resolved'];

describe('lifecycle invariants (property)', () => {
  it('hold for any sequence of commands from anyone', () => {
    const reached = new Set<Status>();
    const seen = new Set<EventBody['type']>();
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(scenario, (sc) => {
        const reporter = PEOPLE[sc.reporter]!;
        const built = createIncident(
          { title: 'Random incident', category: sc.category, impact: sc.impact, urgency: sc.urgency },
          { id: INCIDENT_ID, seq: 1, now: T0, policy, reporter, origin: { platform: 'slack', channel: 'D0' } },
        );
        if (!built.ok) throw new Error('report refused');
        const initial = deepFreeze(built.incident);
        let state = initial;
        let now = T0;
        let acceptedCommands = 0;
        const timeline: Entry[] = [{ at: T0, event: { type: 'IncidentReported', incident: initial } }];

        for (const s of sc.steps) {
          now = new Date(Date.parse(now) + s.dtMin * MIN).toISOString();
          const who = resolveActor(s.actor, state, policy, s.command.type);
          const cmd = toCommand(s.command, now);
          const before = state;
          const snapshot = structuredClone(before);
          const decision = decide(before, cmd, { now, policy, actor: who, platform: who.kind === 'system' ? 'system' : 'slack' });

          if (!decision.ok) {
            // A refused command changes nothing.
            refused++;
            expect(before).toEqual(snapshot);
            continue;
          }
          accepted++;
          expect(decision.events.length).toBeGreaterThan(0);
          // closed and rejected are final: nothing moves them; only the reporter's one rating of a closed incident is taken.
          if (FINAL.includes(before.status)) {
            // … and a note for the post-incident review, which moves nothing.
            expect(before.status).toBe('closed');
            expect(['RateIncident', 'AddNote']).toContain(cmd.type);
            if (cmd.type === 'RateIncident') expect(before.rating).toBeNull();
          }
          // Every P1 is major: raising an open incident to P1 declares it in the same decision.
          if (cmd.type === 'ChangePriority' && cmd.priority === 'P1' && ['new', 'in_progress', 'pending'].includes(before.status) && (!before.major || before.major.state === 'downgraded')) {
            expect(decision.events.map((e) => e.type)).toContain('MajorIncidentDeclared');
          }
          let next = before;
          for (const e of decision.events) {
            next = deepFreeze(evolve(next, e, now));
            timeline.push({ at: now, event: e });
            seen.add(e.type);
          }
          expect(next.version).toBe(before.version); // evolve leaves the version to the store …
          next = deepFreeze({ ...next, version: before.version + 1 }); // … which bumps it once per command
          expect(before).toEqual(snapshot);
          acceptedCommands++;
          if (FINAL.includes(before.status)) expect(next.status).toBe(before.status);
          if (before.owner) expect(next.owner).toEqual(before.owner);
          // The owner is the desk agent (DOMAIN.md §1), whoever works it later.
          if (next.owner) expect(policy.tiers.desk.members).toContain(next.owner.id);
          state = next;
          reached.add(state.status);

          // ── Invariants on every accepted state ──
          expect(state.version).toBe(1 + acceptedCommands);
          // At most one assignee, and none while nobody is working it.
          expect(state.assignee === null || (typeof state.assignee === 'object' && !Array.isArray(state.assignee) && typeof state.assignee.id === 'string')).toBe(true);
          if (UNASSIGNED.includes(state.status)) expect(state.assignee).toBeNull();
          if (WORKED.includes(state.status)) expect(state.assignee).not.toBeNull();
          // The SLA clock.
          expect(state.pendingMs).toBeGreaterThanOrEqual(0);
          expect(state.pendingSince !== null).toBe(state.status === 'pending');
          if (state.status !== 'pending') expect(state.waitUntil).toBeNull();
          if (state.waitUntil) expect(Date.parse(state.waitUntil)).toBeGreaterThan(Date.parse(state.pendingSince!));
          // Final records carry their end time; a rating only on a closed incident.
          expect(state.closedAt !== null).toBe(FINAL.includes(state.status));
          if (state.rating !== null) expect(state.status).toBe('closed');
          expect(state.resolvedAt !== null).toBe(state.status === 'resolved' || (state.status === 'closed' && timeline.some((t) => t.event.type === 'IncidentResolved')));

          // The timeline is ordered and complete: the record is what the timeline says.
          for (let i = 1; i < timeline.length; i++) expect(Date.parse(timeline[i]!.at)).toBeGreaterThanOrEqual(Date.parse(timeline[i - 1]!.at));
          const told = fromTimeline(initial, timeline);
          expect({
            status: state.status,
            tier: state.tier,
            assignee: state.assignee?.id ?? null,
            owner: state.owner?.id ?? null,
            priority: state.priority,
            respondedAt: state.respondedAt,
            pendingMs: state.pendingMs,
            reopens: state.reopenCount,
            escalations: state.escalationCount,
            rating: state.rating,
          }).toEqual(told);
          // respondedAt is set iff someone ever accepted (or the ticket was dispatched to a named engineer).
          expect(state.respondedAt !== null).toBe(
            timeline.some((t) => t.event.type === 'IncidentAccepted' || (t.event.type === 'IncidentReassigned' && t.event.assignee !== null)),
          );
          expect(state.priorityChanged).toBe(timeline.some((t) => t.event.type === 'PriorityChanged'));
          // Major: updates are counted; no cadence once downgraded or done.
          expect(state.major?.updates ?? 0).toBe(timeline.filter((t) => t.event.type === 'StatusUpdatePosted').length);
          if (!state.major || state.major.state === 'downgraded' || !['pending_approval', 'new', 'in_progress', 'pending'].includes(state.status)) {
            expect(timerItemsOf(state).some((i) => i.kind === 'cadence')).toBe(false);
          }
        }
      }),
      { numRuns: 1000 },
    );
    // The generator must actually reach the whole lifecycle, or the property says little.
    expect([...reached].sort()).toEqual(['closed', 'in_progress', 'new', 'pending', 'pending_approval', 'rejected', 'resolved']);
    expect([...seen].sort()).toEqual(
      [
        'IncidentAccepted', 'IncidentEscalated', 'IncidentReassigned', 'IncidentRejected', 'IncidentHeld', 'IncidentResumed',
        'IncidentResolved', 'ResolutionConfirmed', 'IncidentReopened', 'IncidentRated', 'RequestApproved', 'RequestDenied',
        'PriorityChanged', 'IncidentClosed', 'MajorIncidentDeclared', 'MajorIncidentConfirmed', 'MajorIncidentDowngraded',
        'StatusUpdatePosted', 'NoteAdded', 'MajorRolesChanged', 'ReviewScheduled',
      ].sort(),
    );
    expect(accepted).toBeGreaterThan(2000);
    expect(refused).toBeGreaterThan(1000);
  });

  it('timers interleaved with commands: each notice once, only while the clocks run, never early, and nothing left due', () => {
    // DOMAIN.md's matrix and targets, every timer applied the moment it is due (as a scheduler would).
    const sla = testPolicy({ escalation_matrix: undefined });
    const seenTimers = new Set<string>();
    fc.assert(
      fc.property(scenario, (sc) => {
        const reporter = PEOPLE[sc.reporter]!;
        const built = createIncident(
          { title: 'Random incident', category: sc.category, impact: sc.impact, urgency: sc.urgency },
          { id: INCIDENT_ID, seq: 1, now: T0, policy: sla, reporter, origin: { platform: 'slack', channel: 'D0' } },
        );
        if (!built.ok) throw new Error('report refused');
        let state = built.incident;
        let now = Date.parse(T0);
        const fired = new Map<string, number>();
        let lastElapsed = 0;

        /** Applies every timer due by `until`, one due instant at a time, as a driver fires them. */
        const runTimersUntil = (until: number) => {
          for (let guard = 0; guard < 50 && state.nextTimerAt && Date.parse(state.nextTimerAt) <= until; guard++) {
            const at = Date.parse(state.nextTimerAt);
            const events = dueTimerEvents(state, at, sla);
            expect(events.length, 'a stored next timer always has something due').toBeGreaterThan(0);
            const running = clocksRunning(state.status);
            for (const e of events) {
              if (e.type === 'SlaThresholdReached' || e.type === 'EscalationStepReached') {
                // Clock notices only while the clocks run, and never before their mark.
                expect(running).toBe(true);
                const keys = e.type === 'SlaThresholdReached' ? [`${e.clock}:${e.threshold}`] : stepKeys(e);
                for (const key of keys) fired.set(key, (fired.get(key) ?? 0) + 1);
                seenTimers.add(e.type === 'SlaThresholdReached' ? `${e.clock}:${e.threshold}` : 'matrix');
                const mark = e.type === 'EscalationStepReached' ? e.afterMs : e.threshold === 'warn' ? warnMs(state, e.clock) : e.targetMs;
                expect(slaElapsedMs(state, at)).toBeGreaterThanOrEqual(mark);
              }
              if (e.type === 'IncidentEscalated') expect(TIERS.indexOf(e.toTier)).toBeGreaterThan(TIERS.indexOf(e.fromTier));
              if (e.type === 'IncidentResumed') expect(state.status).toBe('pending');
              if (e.type === 'IncidentClosed') expect(state.status).toBe('resolved');
              state = evolve(state, e, new Date(at).toISOString());
            }
            state = { ...state, version: state.version + 1 };
            // Idempotent: right after applying, nothing more is due at that instant. (A wait-until
            // resume restarts the clocks, and what they owe is due then: the next round fires it,
            // as the scheduler does on the commit that follows.)
            if (!events.some((e) => e.type === 'IncidentResumed')) {
              expect(dueTimerEvents(state, at, sla)).toEqual([]);
              if (state.nextTimerAt) expect(Date.parse(state.nextTimerAt)).toBeGreaterThan(at);
            }
          }
        };

        for (const s of sc.steps) {
          now += s.dtMin * MIN;
          runTimersUntil(now);
          const iso = new Date(now).toISOString();
          const who = resolveActor(s.actor, state, sla, s.command.type);
          const decision = decide(state, toCommand(s.command, iso), { now: iso, policy: sla, actor: who, platform: who.kind === 'system' ? 'system' : 'slack' });
          if (decision.ok) {
            for (const e of decision.events) state = evolve(state, e, iso);
            state = { ...state, version: state.version + 1 };
          }
          // SLA time never runs backwards, never outruns the wall clock, and excludes every hold.
          const elapsed = slaElapsedMs(state, now);
          expect(elapsed).toBeGreaterThanOrEqual(lastElapsed);
          expect(elapsed).toBeLessThanOrEqual(now - Date.parse(T0) - state.pendingMs);
          lastElapsed = elapsed;
          // A paused incident has no clock instant; a running one has one for every open mark.
          if (!clocksRunning(state.status)) expect(instantOfSlaMs(state, 1)).toBeNull();
        }
        // Each notice and each matrix step at most once per incident.
        for (const [key, n] of fired) expect(n, key).toBe(1);
      }),
      { numRuns: 1000 },
    );
    // The generator reaches warnings, breaches and matrix steps, or the property says little.
    expect([...seenTimers].sort()).toEqual(['matrix', 'resolution:breach', 'resolution:warn', 'response:breach', 'response:warn']);
  });
});
