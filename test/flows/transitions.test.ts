import { describe, expect, it } from 'vitest';
import type { Command, CommandType } from '../../src/flows/incident/commands';
import { decide, evolve } from '../../src/flows/incident/decide';
import type { Actor } from '../../src/flows/incident/events';
import { STATUSES, type Incident, type Status } from '../../src/flows/incident/model';
import { TRANSITIONS, allowedFrom } from '../../src/flows/incident/transitions';
import { newMajor } from '../../src/flows/major/major';
import { personRef, testPolicy } from '../support/policy';
import { SYSTEM, T0, as, at, report } from './fixtures';

const policy = testPolicy();

/**
 * DOMAIN.md §4, written out by hand: for each command, the statuses it may start from and the
 * status it leads to. Anything not listed is impossible. (Not derived from TRANSITIONS, so this
 * test fails if the table drifts from the spec.)
 */
const EXPECTED: Record<CommandType, Partial<Record<Status, Status>>> = {
  // new ──accept──▶ in_progress
  AcceptIncident: { new: 'in_progress' },
  // in_progress ──escalate──▶ new (next tier); a new ticket may be escalated too (matrix, §5)
  EscalateIncident: { new: 'new', in_progress: 'new' },
  // handed down or sideways (§3): to a tier → new; to a person → in_progress (see REASSIGN below)
  ReassignIncident: { new: 'new', in_progress: 'new' },
  // new ──reject──▶ rejected
  RejectIncident: { new: 'rejected' },
  // in_progress ──hold──▶ pending
  HoldIncident: { in_progress: 'pending' },
  // pending ──resume / wait-until reached──▶ in_progress
  ResumeIncident: { pending: 'in_progress' },
  // in_progress ──resolve──▶ resolved; from pending too; from new the desk logs it resolved (§4)
  ResolveIncident: { new: 'resolved', in_progress: 'resolved', pending: 'resolved' },
  // resolved ──reporter confirms──▶ closed
  ConfirmResolution: { resolved: 'closed' },
  // resolved ──"not fixed"──▶ in_progress
  ReopenIncident: { resolved: 'in_progress' },
  // on close the reporter may rate the handling
  RateIncident: { closed: 'closed' },
  // service requests: approval before work
  ApproveRequest: { pending_approval: 'new' },
  DenyRequest: { pending_approval: 'rejected' },
  // the desk may correct priority while the incident is open
  ChangePriority: { pending_approval: 'pending_approval', new: 'new', in_progress: 'in_progress', pending: 'pending' },
  // no answer within the configured time closes a resolved incident
  CloseIncident: { resolved: 'closed' },
  // Major incidents (DOMAIN.md §6) never move the lifecycle: declared, confirmed or downgraded
  // while the incident is open; roles and updates until it is resolved (a last "all clear").
  DeclareMajor: { new: 'new', in_progress: 'in_progress', pending: 'pending' },
  ConfirmMajor: { new: 'new', in_progress: 'in_progress', pending: 'pending' },
  DowngradeMajor: { new: 'new', in_progress: 'in_progress', pending: 'pending' },
  ChangeMajorRoles: { new: 'new', in_progress: 'in_progress', pending: 'pending', resolved: 'resolved' },
  PostStatusUpdate: { new: 'new', in_progress: 'in_progress', pending: 'pending', resolved: 'resolved' },
  JoinWarRoom: { new: 'new', in_progress: 'in_progress', pending: 'pending', resolved: 'resolved' },
  // notes go on the timeline until the review is done, after close too
  AddNote: { new: 'new', in_progress: 'in_progress', pending: 'pending', resolved: 'resolved', closed: 'closed' },
  // a new report may be the known outage even before approval
  LinkToMajor: { pending_approval: 'pending_approval', new: 'new', in_progress: 'in_progress', pending: 'pending' },
  AttachReport: { new: 'new', in_progress: 'in_progress', pending: 'pending' },
  // what the platform did (a room, its members) is recorded whenever it happens
  RecordWarRoom: { new: 'new', in_progress: 'in_progress', pending: 'pending', resolved: 'resolved', closed: 'closed' },
  RecordRoomMembers: { new: 'new', in_progress: 'in_progress', pending: 'pending', resolved: 'resolved', closed: 'closed' },
  // A delivery can fail in any status.
  RecordDeliveryFailure: { pending_approval: 'pending_approval', new: 'new', in_progress: 'in_progress', pending: 'pending', resolved: 'resolved', closed: 'closed', rejected: 'rejected' },
};

const ALL_COMMANDS = Object.keys(EXPECTED) as CommandType[];

/** One incident in each status, built by hand (not through decide), as the store would hold it. */
function inStatus(status: Status): Incident {
  const base = report({ category: status === 'pending_approval' ? 'service_request' : 'fault' });
  const desk = personRef('zhang.san');
  const worked = { ...base, owner: desk, assignee: desk, respondedAt: at(1) };
  switch (status) {
    case 'pending_approval':
      expect(base.status).toBe('pending_approval');
      return base;
    case 'new':
      return base;
    case 'in_progress':
      return { ...worked, status, version: 2 };
    case 'pending':
      return { ...worked, status, version: 3, pendingSince: at(2), holdReason: 'waiting for the user' };
    case 'resolved':
      return { ...worked, status, version: 3, resolvedAt: at(3), resolutionCode: 'fixed', resolutionNote: 'done', resolverTier: 'desk' };
    case 'closed':
      return { ...worked, status, version: 4, resolvedAt: at(3), closedAt: at(4), resolutionCode: 'fixed', resolutionNote: 'done', resolverTier: 'desk' };
    case 'rejected':
      return { ...base, status, version: 2, rejectReason: 'out of scope', closedAt: at(1) };
  }
}

/** A well-formed instance of each command (valid reason, note, score…). */
const COMMANDS: Record<CommandType, Command> = {
  AcceptIncident: { type: 'AcceptIncident' },
  EscalateIncident: { type: 'EscalateIncident', reason: 'needs L1' },
  ReassignIncident: { type: 'ReassignIncident', toTier: 'l1', toPerson: null, reason: 'belongs to L1' },
  RejectIncident: { type: 'RejectIncident', reason: 'out of scope' },
  HoldIncident: { type: 'HoldIncident', reason: 'waiting for the user', until: null },
  ResumeIncident: { type: 'ResumeIncident' },
  ResolveIncident: { type: 'ResolveIncident', code: 'fixed', note: 'restarted it' },
  ConfirmResolution: { type: 'ConfirmResolution' },
  ReopenIncident: { type: 'ReopenIncident', reason: 'still broken' },
  RateIncident: { type: 'RateIncident', score: 4, feedback: null },
  ApproveRequest: { type: 'ApproveRequest', note: null },
  DenyRequest: { type: 'DenyRequest', reason: 'not budgeted' },
  ChangePriority: { type: 'ChangePriority', priority: 'P1', reason: 'whole floor is down' },
  CloseIncident: { type: 'CloseIncident' },
  DeclareMajor: { type: 'DeclareMajor' },
  ConfirmMajor: { type: 'ConfirmMajor' },
  DowngradeMajor: { type: 'DowngradeMajor', reason: 'only one user affected' },
  ChangeMajorRoles: { type: 'ChangeMajorRoles', commander: 'pm.gao', commsLead: 'zhang.san' },
  PostStatusUpdate: { type: 'PostStatusUpdate', text: 'failover in progress' },
  JoinWarRoom: { type: 'JoinWarRoom', platform: 'slack', user: 'U0L1' },
  AddNote: { type: 'AddNote', text: 'DB CPU at 100 %', source: 'command' },
  LinkToMajor: { type: 'LinkToMajor', majorId: '00000000-0000-4000-8000-000000000099', number: 'INC-99', title: 'payroll down' },
  AttachReport: { type: 'AttachReport', incidentId: '00000000-0000-4000-8000-000000000098', number: 'INC-98', reporter: personRef('reporter.a') },
  RecordWarRoom: { type: 'RecordWarRoom', platform: 'slack', channel: 'C0ROOM', name: 'inc-1-x', invited: 3, uninvited: [] },
  RecordRoomMembers: { type: 'RecordRoomMembers', platform: 'slack', names: ['Li Wei'], uninvited: [] },
  RecordDeliveryFailure: { type: 'RecordDeliveryFailure', platform: 'slack', what: 'message.send', purpose: null, attempts: 8, error: 'channel_not_found' },
};

/** Commands that act on a major incident: the state under test is one (with a Slack room). */
const ON_MAJOR = new Set<CommandType>(['ConfirmMajor', 'DowngradeMajor', 'ChangeMajorRoles', 'PostStatusUpdate', 'JoinWarRoom', 'AttachReport', 'RecordRoomMembers']);
function forCommand(type: CommandType, state: Incident): Incident {
  const major = newMajor(state, policy, at(5), null, false);
  if (type === 'RecordWarRoom') return { ...state, major };
  if (!ON_MAJOR.has(type)) return state;
  return { ...state, major: { ...major, rooms: [{ platform: 'slack', channel: 'C0ROOM', name: 'inc-1-x', openedAt: at(6) }] } };
}

/** Someone entitled to the command, so that only the lifecycle can refuse it. */
function authorised(type: CommandType, state: Incident): Actor {
  if (type === 'AcceptIncident') return as('zhang.san'); // member of the desk (the current tier)
  if (type === 'ResolveIncident' && state.status === 'new') return as('zhang.san');
  if (type === 'RateIncident') return { kind: 'person', person: state.reporter };
  if (type === 'RecordWarRoom' || type === 'RecordRoomMembers' || type === 'RecordDeliveryFailure' || type === 'LinkToMajor' || type === 'AttachReport') return SYSTEM;
  if (type === 'DeclareMajor' || type === 'ConfirmMajor' || type === 'DowngradeMajor' || type === 'ChangeMajorRoles' || type === 'PostStatusUpdate' || type === 'JoinWarRoom') return as('chen.jing');
  if (type === 'AddNote') return as('li.wei');
  return SYSTEM;
}

const PAIRS = ALL_COMMANDS.flatMap((type) => STATUSES.map((status) => [type, status] as const));

describe('lifecycle table (DOMAIN.md §4)', () => {
  it('enumerates every command × status pair', () => {
    expect(ALL_COMMANDS.sort()).toEqual((Object.keys(TRANSITIONS) as CommandType[]).sort());
    expect(PAIRS).toHaveLength(26 * 7);
  });

  it.each(PAIRS)('TRANSITIONS: %s from %s is possible exactly when the spec says', (type, status) => {
    const target = EXPECTED[type][status];
    expect(allowedFrom(type, status)).toBe(target !== undefined);
    if (target === undefined) return;
    const to = TRANSITIONS[type].to;
    if (to === 'same') expect(target).toBe(status);
    else if (to === 'new|in_progress') expect(['new', 'in_progress']).toContain(target);
    else expect(to).toBe(target);
  });

  it.each(PAIRS)('decide + evolve: %s from %s', (type, status) => {
    const state = forCommand(type, inStatus(status));
    const actor = authorised(type, state);
    const d = decide(state, COMMANDS[type], { now: at(10), policy, actor, platform: actor.kind === 'system' ? 'system' : 'slack' });
    const target = EXPECTED[type][status];
    if (target === undefined) {
      const acceptedAlready = type === 'AcceptIncident' && ['in_progress', 'pending', 'resolved'].includes(status);
      expect(d).toEqual(
        acceptedAlready
          ? { ok: false, reason: 'already_accepted', by: personRef('zhang.san') }
          : { ok: false, reason: 'invalid_state', status },
      );
      return;
    }
    if (!d.ok) throw new Error(`${type} from ${status} refused: ${JSON.stringify(d)}`);
    const after = d.events.reduce((s, e) => evolve(s, e, at(10)), state);
    expect(after.status).toBe(target);
  });
});

describe('reassign: to a tier puts it back to new, to a person keeps it in progress', () => {
  const cases: [from: Status, toTier: 'l1' | 'desk', toPerson: string | null, to: Status][] = [
    ['new', 'l1', null, 'new'],
    ['new', 'l1', 'li.wei', 'in_progress'],
    ['in_progress', 'l1', null, 'new'],
    ['in_progress', 'l1', 'li.na', 'in_progress'],
  ];
  it.each(cases)('from %s to tier %s, person %s → %s', (from, toTier, toPerson, to) => {
    const state = inStatus(from);
    const d = decide(state, { type: 'ReassignIncident', toTier, toPerson, reason: 'skills' }, { now: T0, policy, actor: SYSTEM, platform: 'system' });
    if (!d.ok) throw new Error(JSON.stringify(d));
    const after = d.events.reduce((s, e) => evolve(s, e, at(10)), state);
    expect(after.status).toBe(to);
    expect(after.tier).toBe(toTier);
    expect(after.assignee?.id ?? null).toBe(toPerson);
  });
});
