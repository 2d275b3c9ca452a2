import type { Policy } from '../policy/policy';
import { tiersOf } from '../policy/policy';
import { priorityFor } from '../policy/priority';
import type { Command, ReportInput } from './commands';
import type { Actor, EventBody } from './events';
import {
  CATEGORIES,
  LEVELS,
  PRIORITIES,
  RESOLUTION_CODES,
  SOURCES,
  TIERS,
  nextTier,
  type Incident,
  type PersonRef,
  type Platform,
} from './model';
import { reject, type Rejection } from './rejection';
import { allowedFrom } from './transitions';
import { markFired, newIncidentSla, nextTimerAt, syncPause } from '../policy/sla';
import { applyMajor, decideMajor, isLiveMajor, isMajorCommand, newMajor, reviewOnResolve } from '../major/major';

export interface DecideContext {
  now: string;
  policy: Policy;
  actor: Actor;
  platform: Platform | 'system';
}

export type Decision = { ok: true; events: EventBody[] } | Rejection;

export const LIMITS = {
  title: 150,
  description: 3000,
  reason: 2000,
  note: 3000,
  system: 100,
  location: 100,
  feedback: 1000,
} as const;

const isManager = (policy: Policy, id: string) => policy.roles.incident_manager.includes(id);
const isTierMember = (policy: Policy, id: string, tier: Incident['tier']) => policy.tiers[tier].members.includes(id);

function text(value: string | null | undefined, field: string, max: number, required: boolean): Rejection | string {
  const v = (value ?? '').trim();
  if (required && v.length === 0) return reject({ reason: 'invalid_input', field, problem: 'required' });
  // Characters as people count them (an emoji is one), the same way titles are cut.
  if (Array.from(v).length > max) return reject({ reason: 'invalid_input', field, problem: `too_long:${max}` });
  return v;
}

/**
 * Decides what a command on an incident means: the events to record, or why it is refused.
 * Pure: same state, command and context always give the same answer. The caller persists the
 * events with compare-and-set; a lost race is retried against the new state.
 */
export function decide(state: Incident, cmd: Command, ctx: DecideContext): Decision {
  const { policy, actor } = ctx;
  const system = actor.kind === 'system';
  const me = actor.kind === 'person' ? actor.person : null;
  const id = me?.id ?? '';
  const assignee = state.assignee?.id === id && !!me;
  const manager = isManager(policy, id);
  const reporterOrOwner = state.reporter.id === id || state.owner?.id === id;

  // Accept is the one command where losing a race is normal: name the winner (DOMAIN.md §4).
  if (cmd.type === 'AcceptIncident' && state.status !== 'new') {
    if (state.assignee && ['in_progress', 'pending', 'resolved'].includes(state.status)) {
      return reject({ reason: 'already_accepted', by: state.assignee });
    }
    return reject({ reason: 'invalid_state', status: state.status });
  }
  if (!allowedFrom(cmd.type, state.status)) return reject({ reason: 'invalid_state', status: state.status });

  if (isMajorCommand(cmd)) return decideMajor(state, cmd, { now: ctx.now, policy, actor });

  const needAssigneeOrManager = () =>
    system || assignee || manager ? null : reject({ reason: 'forbidden', need: 'assignee_or_manager' });

  switch (cmd.type) {
    case 'AcceptIncident': {
      if (!me) return reject({ reason: 'forbidden', need: 'tier_member' });
      if (!isTierMember(policy, id, state.tier)) return reject({ reason: 'forbidden', need: 'tier_member' });
      return {
        ok: true,
        events: [{ type: 'IncidentAccepted', assignee: me, owner: ownerOnAccept(state, me), firstResponse: !state.respondedAt }],
      };
    }
    case 'EscalateIncident': {
      const denied = needAssigneeOrManager();
      if (denied) return denied;
      const reason = text(cmd.reason, 'reason', LIMITS.reason, true);
      if (typeof reason !== 'string') return reason;
      const to = nextTier(state.tier);
      if (!to) return reject({ reason: 'no_higher_tier' });
      return { ok: true, events: [{ type: 'IncidentEscalated', fromTier: state.tier, toTier: to, reason }] };
    }
    case 'ReassignIncident': {
      const denied = needAssigneeOrManager();
      if (denied) return denied;
      const reason = text(cmd.reason, 'reason', LIMITS.reason, true);
      if (typeof reason !== 'string') return reason;
      const toTier = cmd.toTier ?? state.tier;
      if (!TIERS.includes(toTier)) return reject({ reason: 'invalid_input', field: 'tier', problem: 'unknown' });
      let person: PersonRef | null = null;
      if (cmd.toPerson) {
        const p = policy.people[cmd.toPerson];
        if (!p) return reject({ reason: 'unknown_person', who: cmd.toPerson });
        if (!isTierMember(policy, p.key, toTier)) return reject({ reason: 'not_in_tier', who: p.name });
        person = { id: p.key, name: p.name, platform: state.reporter.platform, platformUserId: p.accounts[state.reporter.platform] ?? p.key };
        if (person.id === state.assignee?.id && toTier === state.tier) return reject({ reason: 'same_tier' });
      } else if (toTier === state.tier) {
        return reject({ reason: 'same_tier' });
      }
      return {
        ok: true,
        events: [{ type: 'IncidentReassigned', fromTier: state.tier, toTier, assignee: person, reason }],
      };
    }
    case 'RejectIncident': {
      // The desk screens every report (DOMAIN.md §4, seed 002), also one the matrix already moved
      // on; the tier it sits in may turn it away too.
      if (!system && !manager && !isTierMember(policy, id, 'desk') && !isTierMember(policy, id, state.tier)) {
        return reject({ reason: 'forbidden', need: 'tier_member_or_manager' });
      }
      const reason = text(cmd.reason, 'reason', LIMITS.reason, true);
      if (typeof reason !== 'string') return reason;
      return { ok: true, events: [{ type: 'IncidentRejected', reason }] };
    }
    case 'HoldIncident': {
      const denied = needAssigneeOrManager();
      if (denied) return denied;
      const reason = text(cmd.reason, 'reason', LIMITS.reason, true);
      if (typeof reason !== 'string') return reason;
      let until: string | null = null;
      if (cmd.until) {
        const t = Date.parse(cmd.until);
        if (Number.isNaN(t)) return reject({ reason: 'invalid_input', field: 'until', problem: 'not_a_time' });
        if (t <= Date.parse(ctx.now)) return reject({ reason: 'invalid_input', field: 'until', problem: 'in_the_past' });
        until = new Date(t).toISOString();
      }
      return { ok: true, events: [{ type: 'IncidentHeld', reason, until }] };
    }
    case 'ResumeIncident': {
      const denied = needAssigneeOrManager();
      if (denied) return denied;
      return { ok: true, events: [{ type: 'IncidentResumed' }] };
    }
    case 'ResolveIncident': {
      const note = text(cmd.note, 'note', LIMITS.note, true);
      if (typeof note !== 'string') return note;
      if (!RESOLUTION_CODES.includes(cmd.code)) return reject({ reason: 'invalid_input', field: 'code', problem: 'unknown' });
      const resolved: EventBody = { type: 'IncidentResolved', code: cmd.code, note, tier: state.tier };
      const review = reviewOnResolve(state, policy, ctx.now);
      if (state.status === 'new') {
        // Resolving straight from the queue is taking it and answering it at once.
        if (!me || !isTierMember(policy, id, state.tier)) return reject({ reason: 'forbidden', need: 'tier_member' });
        return {
          ok: true,
          events: [
            { type: 'IncidentAccepted', assignee: me, owner: ownerOnAccept(state, me), firstResponse: !state.respondedAt },
            resolved,
            ...review,
          ],
        };
      }
      const denied = needAssigneeOrManager();
      if (denied) return denied;
      return { ok: true, events: [resolved, ...review] };
    }
    case 'ConfirmResolution': {
      // A major incident is closed by the desk after its follow-up visit 回访 (DOMAIN.md §6).
      const deskFollowUp = isLiveMajor(state) && isTierMember(policy, id, 'desk');
      if (!system && !reporterOrOwner && !deskFollowUp) return reject({ reason: 'forbidden', need: 'reporter_or_owner' });
      return { ok: true, events: [{ type: 'ResolutionConfirmed' }] };
    }
    case 'ReopenIncident': {
      if (!system && !reporterOrOwner) return reject({ reason: 'forbidden', need: 'reporter_or_owner' });
      const reason = text(cmd.reason, 'reason', LIMITS.reason, true);
      if (typeof reason !== 'string') return reason;
      return { ok: true, events: [{ type: 'IncidentReopened', reason }] };
    }
    case 'RateIncident': {
      if (!reporterOrOwner) return reject({ reason: 'forbidden', need: 'reporter_or_owner' });
      if (state.rating !== null) return reject({ reason: 'already_rated' });
      if (!Number.isInteger(cmd.score) || cmd.score < 1 || cmd.score > 5) {
        return reject({ reason: 'invalid_input', field: 'score', problem: 'range:1-5' });
      }
      const feedback = text(cmd.feedback, 'feedback', LIMITS.feedback, false);
      if (typeof feedback !== 'string') return feedback;
      return { ok: true, events: [{ type: 'IncidentRated', score: cmd.score, feedback: feedback || null }] };
    }
    case 'ApproveRequest': {
      if (!system && !policy.roles.approver.includes(id)) return reject({ reason: 'forbidden', need: 'approver' });
      const note = text(cmd.note, 'note', LIMITS.note, false);
      if (typeof note !== 'string') return note;
      const approved: EventBody = { type: 'RequestApproved', note: note || null };
      // A P1 waited for approval before it could be worked: once approved it is a major incident.
      if (state.priority === 'P1' && !isLiveMajor(state)) {
        return { ok: true, events: [approved, { type: 'MajorIncidentDeclared', major: newMajor(state, policy, ctx.now, null, false), automatic: true }] };
      }
      return { ok: true, events: [approved] };
    }
    case 'DenyRequest': {
      if (!system && !policy.roles.approver.includes(id)) return reject({ reason: 'forbidden', need: 'approver' });
      const reason = text(cmd.reason, 'reason', LIMITS.reason, true);
      if (typeof reason !== 'string') return reason;
      return { ok: true, events: [{ type: 'RequestDenied', reason }] };
    }
    case 'ChangePriority': {
      if (!system && !manager && !isTierMember(policy, id, 'desk')) return reject({ reason: 'forbidden', need: 'desk_or_manager' });
      if (!PRIORITIES.includes(cmd.priority)) return reject({ reason: 'invalid_input', field: 'priority', problem: 'unknown' });
      if (cmd.priority === state.priority) return reject({ reason: 'invalid_input', field: 'priority', problem: 'unchanged' });
      const reason = text(cmd.reason, 'reason', LIMITS.reason, true);
      if (typeof reason !== 'string') return reason;
      const changed: EventBody = { type: 'PriorityChanged', from: state.priority, to: cmd.priority, reason };
      // Every P1 is a major incident (DOMAIN.md §6): raising one to P1 declares it.
      const declare = cmd.priority === 'P1' && !isLiveMajor(state) && ['new', 'in_progress', 'pending'].includes(state.status);
      return {
        ok: true,
        events: declare ? [changed, { type: 'MajorIncidentDeclared', major: newMajor(state, policy, ctx.now, null, false), automatic: true }] : [changed],
      };
    }
    case 'CloseIncident': {
      if (!system) return reject({ reason: 'forbidden', need: 'reporter_or_owner' });
      return { ok: true, events: [{ type: 'IncidentClosed', automatic: true }] };
    }
    case 'RecordDeliveryFailure': {
      // Only the outbox knows a delivery failed; no person can say so.
      if (!system) return reject({ reason: 'forbidden', need: 'manager_or_pm' });
      const { platform, what, purpose, attempts } = cmd;
      return { ok: true, events: [{ type: 'DeliveryFailed', platform, what, purpose, attempts, error: cmd.error.slice(0, 300) }] };
    }
  }
}

/**
 * The owner is the service-desk agent, the reporter's single point of contact (DOMAIN.md §1): the
 * first desk member to accept. Engineers accepting in higher tiers become assignees only.
 */
function ownerOnAccept(state: Incident, me: PersonRef): PersonRef | null {
  return !state.owner && state.tier === 'desk' ? me : null;
}

const elapsed = (from: string | null, to: string) => (from ? Math.max(0, Date.parse(to) - Date.parse(from)) : 0);

/**
 * Applies one recorded event to the state. Pure; never refuses (decide() already did). Keeps the
 * SLA bookkeeping (pauses, what fired) and the derived next timer in step.
 */
export function evolve(state: Incident, event: EventBody, at: string): Incident {
  const next = markFired(syncPause(state, apply(state, event, at), at), event);
  return { ...next, nextTimerAt: nextTimerAt(next) };
}

function apply(state: Incident, event: EventBody, at: string): Incident {
  switch (event.type) {
    case 'MajorIncidentDeclared':
    case 'MajorIncidentConfirmed':
    case 'MajorIncidentDowngraded':
    case 'WarRoomOpened':
    case 'WarRoomMembersAdded':
    case 'WarRoomJoinRequested':
    case 'WarRoomArchived':
    case 'MajorRolesChanged':
    case 'StatusUpdatePosted':
    case 'UpdateReminderSent':
    case 'NoteAdded':
    case 'ReportLinked':
    case 'LinkedToMajor':
    case 'ReviewScheduled':
      return applyMajor(state, event, at);
    case 'SlaThresholdReached':
    case 'EscalationStepReached':
    case 'DeliveryFailed':
      return state;
    case 'IncidentReported':
      return event.incident;
    case 'IncidentAccepted':
      return {
        ...state,
        status: 'in_progress',
        assignee: event.assignee,
        owner: state.owner ?? event.owner,
        respondedAt: state.respondedAt ?? at,
      };
    case 'IncidentEscalated':
      return { ...state, tier: event.toTier, status: 'new', assignee: null, escalationCount: state.escalationCount + 1 };
    case 'IncidentReassigned':
      return {
        ...state,
        tier: event.toTier,
        assignee: event.assignee,
        status: event.assignee ? 'in_progress' : 'new',
        // Dispatching to a named engineer is taking the ticket on their behalf: the response.
        respondedAt: event.assignee ? (state.respondedAt ?? at) : state.respondedAt,
      };
    case 'IncidentRejected':
      return { ...state, status: 'rejected', rejectReason: event.reason, closedAt: at };
    case 'IncidentHeld':
      return { ...state, status: 'pending', pendingSince: at, waitUntil: event.until, holdReason: event.reason };
    case 'IncidentResumed':
      return {
        ...state,
        status: 'in_progress',
        pendingMs: state.pendingMs + elapsed(state.pendingSince, at),
        pendingSince: null,
        waitUntil: null,
        holdReason: null,
      };
    case 'IncidentResolved':
      return {
        ...state,
        status: 'resolved',
        pendingMs: state.pendingMs + (state.status === 'pending' ? elapsed(state.pendingSince, at) : 0),
        pendingSince: null,
        waitUntil: null,
        holdReason: null,
        resolvedAt: at,
        resolutionCode: event.code,
        resolutionNote: event.note,
        resolverTier: event.tier,
      };
    case 'ResolutionConfirmed':
    case 'IncidentClosed':
      return { ...state, status: 'closed', closedAt: at };
    case 'IncidentReopened':
      return {
        ...state,
        status: 'in_progress',
        resolvedAt: null,
        resolutionCode: null,
        resolutionNote: null,
        resolverTier: null,
        reopenCount: state.reopenCount + 1,
      };
    case 'IncidentRated':
      return { ...state, rating: event.score, feedback: event.feedback };
    case 'RequestApproved':
      return { ...state, status: 'new', approval: 'approved' };
    case 'RequestDenied':
      return { ...state, status: 'rejected', approval: 'denied', rejectReason: event.reason, closedAt: at };
    case 'PriorityChanged':
      return { ...state, priority: event.to, priorityChanged: true };
  }
}

export interface NewIncidentContext {
  id: string;
  seq: number;
  now: string;
  policy: Policy;
  reporter: PersonRef;
  origin: { platform: Platform; channel: string };
}

/**
 * Builds a new incident from a report, filling the policy's defaults and computing priority
 * (key users one level up, never to P1). Refuses malformed input with the field named.
 */
export function createIncident(input: ReportInput, ctx: NewIncidentContext): { ok: true; incident: Incident } | Rejection {
  const title = text(input.title, 'title', LIMITS.title, true);
  if (typeof title !== 'string') return title;
  const description = text(input.description, 'description', LIMITS.description, false);
  if (typeof description !== 'string') return description;
  const system = text(input.system ?? ctx.policy.defaults.system, 'system', LIMITS.system, false);
  if (typeof system !== 'string') return system;
  const location = text(input.location, 'location', LIMITS.location, false);
  if (typeof location !== 'string') return location;
  const category = input.category ?? ctx.policy.defaults.category;
  const impact = input.impact ?? ctx.policy.defaults.impact;
  const urgency = input.urgency ?? ctx.policy.defaults.urgency;
  const source = input.source ?? 'chat';
  if (!CATEGORIES.includes(category)) return reject({ reason: 'invalid_input', field: 'category', problem: 'unknown' });
  if (!LEVELS.includes(impact)) return reject({ reason: 'invalid_input', field: 'impact', problem: 'unknown' });
  if (!LEVELS.includes(urgency)) return reject({ reason: 'invalid_input', field: 'urgency', problem: 'unknown' });
  if (!SOURCES.includes(source)) return reject({ reason: 'invalid_input', field: 'source', problem: 'unknown' });
  const keyUser = ctx.policy.keyUsers.includes(ctx.reporter.id);
  const needsApproval = ctx.policy.approvalCategories.includes(category);
  const incident: Incident = {
      id: ctx.id,
      number: `INC-${ctx.seq}`,
      version: 1,
      decisionVersion: 1,
      title,
      description,
      category,
      impact,
      urgency,
      priority: priorityFor(impact, urgency, keyUser),
      priorityChanged: false,
      system,
      location,
      source,
      reporter: ctx.reporter,
      origin: ctx.origin,
      owner: null,
      assignee: null,
      tier: 'desk',
      status: needsApproval ? 'pending_approval' : 'new',
      approval: needsApproval ? 'required' : 'none',
      reportedAt: ctx.now,
      respondedAt: null,
      resolvedAt: null,
      closedAt: null,
      pendingSince: null,
      waitUntil: null,
      holdReason: null,
      pendingMs: 0,
      resolutionCode: null,
      resolutionNote: null,
      resolverTier: null,
      rating: null,
      feedback: null,
      reopenCount: 0,
      escalationCount: 0,
      rejectReason: null,
      sla: newIncidentSla(ctx.policy, needsApproval ? 'pending_approval' : 'new', ctx.now),
      watchers: [],
      nextTimerAt: null,
      major: null,
      linkedTo: null,
  };
  return { ok: true, incident: { ...incident, nextTimerAt: nextTimerAt(incident) } };
}

/** Which tiers a person belongs to (re-exported for adapters deciding what to show). */
export { tiersOf };
