import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/flows/incident/commands';
import { LIMITS, createIncident, decide } from '../../src/flows/incident/decide';
import type { Actor } from '../../src/flows/incident/events';
import { STATUSES, type Category, type Incident, type Level, type Status, type Tier } from '../../src/flows/incident/model';
import type { Requirement } from '../../src/flows/incident/rejection';
import { guestRef, personRef, testPolicy } from '../support/policy';
import { INCIDENT_ID, SYSTEM, T0, as, asRef, at, cmd, given, report, run, step } from './fixtures';

const policy = testPolicy();
const reporter = asRef(personRef('reporter.a'));
const guest = asRef(guestRef());

// ── Given: incidents in well-known situations, reached through the commands themselves ──
/** Just reported by reporter.a: new, in the desk queue. */
const fresh = () => report();
/** Taken by the desk agent zhang.san (owner and assignee). */
const atDesk = () => given(fresh(), [[cmd.accept, as('zhang.san')]]);
/** Escalated by the desk to L1, waiting in the L1 queue. */
const inL1Queue = () => given(atDesk(), [[cmd.escalate('needs on-site visit'), as('zhang.san')]]);
/** Being worked by li.wei at L1; zhang.san stays owner. */
const atL1 = () => given(inL1Queue(), [[cmd.accept, as('li.wei')]], 3);
const heldAtL1 = () => given(atL1(), [[cmd.hold(), as('li.wei')]], 5);
const resolvedAtL1 = () => given(atL1(), [[cmd.resolve(), as('li.wei')]], 5);
const closed = () => given(resolvedAtL1(), [[cmd.confirm, reporter]], 7);
const request = () => report({ category: 'service_request', title: 'New laptop for the intern' });

type Case = [name: string, given: () => Incident, actor: Actor, command: Command, then: Status | Requirement];

/**
 * Who may do what (DOMAIN.md §3–§4 and the issue): only members of the current tier accept; only
 * the assignee or an incident manager resolves, escalates, holds or reassigns; only the reporter
 * (or the owner) confirms, reopens or rates; only approvers approve.
 */
const AUTHORISATION: Case[] = [
  ['desk member accepts a desk ticket', fresh, as('zhang.san'), cmd.accept, 'in_progress'],
  ['L1 engineer cannot accept a desk ticket', fresh, as('li.wei'), cmd.accept, 'tier_member'],
  ['incident manager is not a tier member', fresh, as('chen.jing'), cmd.accept, 'tier_member'],
  ['reporter cannot accept', fresh, reporter, cmd.accept, 'tier_member'],
  ['system cannot accept', fresh, SYSTEM, cmd.accept, 'tier_member'],
  ['L1 member accepts a ticket in the L1 queue', inL1Queue, as('li.na'), cmd.accept, 'in_progress'],
  ['the desk cannot accept once it moved to L1', inL1Queue, as('zhang.san'), cmd.accept, 'tier_member'],
  ['L2 cannot accept an L1 ticket', inL1Queue, as('wang.wu'), cmd.accept, 'tier_member'],

  ['assignee escalates', atL1, as('li.wei'), cmd.escalate(), 'new'],
  ['incident manager escalates', atL1, as('chen.jing'), cmd.escalate(), 'new'],
  ['system escalates (matrix)', atL1, SYSTEM, cmd.escalate(), 'new'],
  ['another member of the tier cannot escalate', atL1, as('li.na'), cmd.escalate(), 'assignee_or_manager'],
  ['the owner cannot escalate someone else’s work', atL1, as('zhang.san'), cmd.escalate(), 'assignee_or_manager'],
  ['reporter cannot escalate', atL1, reporter, cmd.escalate(), 'assignee_or_manager'],

  ['assignee resolves', atL1, as('li.wei'), cmd.resolve(), 'resolved'],
  ['incident manager resolves', atL1, as('chen.jing'), cmd.resolve(), 'resolved'],
  ['another member of the tier cannot resolve', atL1, as('li.na'), cmd.resolve(), 'assignee_or_manager'],
  ['the owner cannot resolve', atL1, as('zhang.san'), cmd.resolve(), 'assignee_or_manager'],
  ['reporter cannot resolve', atL1, reporter, cmd.resolve(), 'assignee_or_manager'],
  ['a guest cannot resolve', atL1, guest, cmd.resolve(), 'assignee_or_manager'],

  ['assignee holds', atL1, as('li.wei'), cmd.hold(), 'pending'],
  ['incident manager holds', atL1, as('chen.jing'), cmd.hold(), 'pending'],
  ['another member of the tier cannot hold', atL1, as('li.na'), cmd.hold(), 'assignee_or_manager'],
  ['reporter cannot hold', atL1, reporter, cmd.hold(), 'assignee_or_manager'],

  ['assignee resumes', heldAtL1, as('li.wei'), cmd.resume, 'in_progress'],
  ['system resumes (wait-until reached)', heldAtL1, SYSTEM, cmd.resume, 'in_progress'],
  ['another member of the tier cannot resume', heldAtL1, as('li.na'), cmd.resume, 'assignee_or_manager'],

  ['assignee reassigns', atL1, as('li.wei'), { type: 'ReassignIncident', toTier: 'l2', toPerson: null, reason: 'database' }, 'new'],
  ['incident manager reassigns', atL1, as('chen.jing'), { type: 'ReassignIncident', toTier: null, toPerson: 'li.na', reason: 'shift change' }, 'in_progress'],
  ['another member of the tier cannot reassign', atL1, as('li.na'), { type: 'ReassignIncident', toTier: null, toPerson: 'li.na', reason: 'mine now' }, 'assignee_or_manager'],
  ['the receiving tier cannot pull it', atL1, as('wang.wu'), { type: 'ReassignIncident', toTier: 'l2', toPerson: 'wang.wu', reason: 'mine' }, 'assignee_or_manager'],

  ['reporter confirms', resolvedAtL1, reporter, cmd.confirm, 'closed'],
  ['owner confirms', resolvedAtL1, as('zhang.san'), cmd.confirm, 'closed'],
  ['assignee cannot confirm their own fix', resolvedAtL1, as('li.wei'), cmd.confirm, 'reporter_or_owner'],
  ['incident manager cannot confirm for the reporter', resolvedAtL1, as('chen.jing'), cmd.confirm, 'reporter_or_owner'],
  ['another user cannot confirm', resolvedAtL1, as('vip.user'), cmd.confirm, 'reporter_or_owner'],

  ['reporter reopens', resolvedAtL1, reporter, cmd.reopen(), 'in_progress'],
  ['owner reopens', resolvedAtL1, as('zhang.san'), cmd.reopen(), 'in_progress'],
  ['assignee cannot reopen', resolvedAtL1, as('li.wei'), cmd.reopen(), 'reporter_or_owner'],
  ['a guest cannot reopen', resolvedAtL1, guest, cmd.reopen(), 'reporter_or_owner'],

  ['reporter rates', closed, reporter, cmd.rate(5), 'closed'],
  ['owner rates', closed, as('zhang.san'), cmd.rate(4), 'closed'],
  ['assignee cannot rate their own work', closed, as('li.wei'), cmd.rate(5), 'reporter_or_owner'],
  ['system cannot rate', closed, SYSTEM, cmd.rate(5), 'reporter_or_owner'],

  ['approver approves', request, as('sun.li'), cmd.approve, 'new'],
  ['incident manager is not an approver', request, as('chen.jing'), cmd.approve, 'approver'],
  ['the desk is not an approver', request, as('zhang.san'), cmd.approve, 'approver'],
  ['reporter cannot approve their own request', request, reporter, cmd.approve, 'approver'],
  ['approver denies', request, as('sun.li'), cmd.deny(), 'rejected'],
  ['the desk cannot deny', request, as('zhang.san'), cmd.deny(), 'approver'],

  ['desk member rejects', fresh, as('zhang.san'), cmd.reject(), 'rejected'],
  ['incident manager rejects', fresh, as('chen.jing'), cmd.reject(), 'rejected'],
  ['L1 cannot reject a desk ticket', fresh, as('li.wei'), cmd.reject(), 'tier_member_or_manager'],
  ['reporter cannot reject', fresh, reporter, cmd.reject(), 'tier_member_or_manager'],

  ['desk changes priority', fresh, as('zhang.san'), { type: 'ChangePriority', priority: 'P2', reason: 'whole team affected' }, 'new'],
  ['incident manager changes priority', atL1, as('chen.jing'), { type: 'ChangePriority', priority: 'P2', reason: 'whole team' }, 'in_progress'],
  ['L1 cannot change priority', atL1, as('li.wei'), { type: 'ChangePriority', priority: 'P2', reason: 'feels urgent' }, 'desk_or_manager'],
  ['reporter cannot change priority', fresh, reporter, { type: 'ChangePriority', priority: 'P1', reason: 'urgent!' }, 'desk_or_manager'],

  ['system closes (no answer)', resolvedAtL1, SYSTEM, cmd.close, 'closed'],
];

const FORBIDDEN_ONLY_BY_SYSTEM: [string, Actor][] = [
  ['reporter', reporter],
  ['owner', as('zhang.san')],
  ['assignee', as('li.wei')],
  ['incident manager', as('chen.jing')],
];

describe('authorisation', () => {
  it.each(AUTHORISATION)('%s', (_name, state, actor, command, then) => {
    const before = state();
    const r = step(before, command, actor, at(30));
    if (!(STATUSES as readonly string[]).includes(then)) {
      expect(r).toMatchObject({ ok: false, reason: 'forbidden', need: then });
      expect(before).toEqual(state()); // nothing changed
    } else {
      if (!r.ok) throw new Error(`refused: ${JSON.stringify(r)}`);
      expect(r.state.status).toBe(then);
      expect(r.state.version).toBe(before.version + 1);
    }
  });

  it.each(FORBIDDEN_ONLY_BY_SYSTEM)('CloseIncident is for the system only: the %s cannot', (_who, actor) => {
    const r = step(resolvedAtL1(), cmd.close, actor, at(30));
    expect(r.ok).toBe(false);
    expect(r).toMatchObject({ reason: 'forbidden' });
    expect(r.state.status).toBe('resolved');
  });
});

describe('accept', () => {
  it('the first accept at the desk makes the agent assignee and owner and records the response', () => {
    const s = run(fresh(), cmd.accept, as('zhang.san'), at(7));
    expect(s.assignee?.id).toBe('zhang.san');
    expect(s.owner?.id).toBe('zhang.san');
    expect(s.respondedAt).toBe(at(7));
  });

  it('two engineers press Accept: exactly one wins, the other is told who has it', () => {
    const queue = inL1Queue();
    const first = step(queue, cmd.accept, as('li.wei'), at(10));
    const second = step(queue, cmd.accept, as('li.na'), at(10));
    expect(first.ok && second.ok).toBe(true); // both decided against the same version …
    // … the store's compare-and-set lets the first through; the loser decides again on the winner's state:
    const retry = step(run(queue, cmd.accept, as('li.wei'), at(10)), cmd.accept, as('li.na'), at(10));
    expect(retry).toMatchObject({ ok: false, reason: 'already_accepted', by: personRef('li.wei') });
  });

  it('a second accept names the winner even while the winner holds it', () => {
    expect(step(heldAtL1(), cmd.accept, as('li.na'), at(20))).toMatchObject({ ok: false, reason: 'already_accepted', by: { id: 'li.wei', name: 'Li Wei' } });
  });

  it('accepting after an escalation is not a new response and keeps the desk owner', () => {
    const s = atL1();
    expect(s.assignee?.id).toBe('li.wei');
    expect(s.owner?.id).toBe('zhang.san');
    expect(s.respondedAt).toBe(at(1));
    const d = decide(inL1Queue(), cmd.accept, { now: at(3), policy, actor: as('li.wei'), platform: 'slack' });
    expect(d).toMatchObject({ ok: true, events: [{ type: 'IncidentAccepted', firstResponse: false, owner: null }] });
  });

  it('an engineer above the desk who accepts is the assignee, never the owner (DOMAIN.md §1, decision 0003)', () => {
    // The ticket leaves the desk before anyone at the desk took it; li.wei accepts at L1.
    const s = given(fresh(), [
      [cmd.escalate('matrix: P3 must be at L1'), SYSTEM],
      [cmd.accept, as('li.wei')],
    ]);
    expect(s).toMatchObject({ assignee: { id: 'li.wei' }, owner: null, respondedAt: at(2) });
    // … nor when L2 takes over, nor by resolving straight from a higher tier's queue.
    const l2 = given(s, [[cmd.escalate('database'), as('li.wei')], [cmd.accept, as('wang.wu')]], 3);
    expect(l2).toMatchObject({ assignee: { id: 'wang.wu' }, owner: null });
    const resolvedAtL1 = given(fresh(), [[cmd.escalate('on-site'), SYSTEM], [cmd.resolve('cable reseated'), as('li.na')]]);
    expect(resolvedAtL1).toMatchObject({ status: 'resolved', assignee: { id: 'li.na' }, owner: null });
  });
});

describe('escalate', () => {
  it.each(['', '   '])('needs a reason (%j)', (reason) => {
    expect(step(atL1(), cmd.escalate(reason), as('li.wei'), at(10))).toMatchObject({
      ok: false,
      reason: 'invalid_input',
      field: 'reason',
      problem: 'required',
    });
  });

  it('goes to the next tier as new, assignee cleared, owner kept', () => {
    const before = atL1();
    const s = run(before, cmd.escalate('database corruption'), as('li.wei'), at(10));
    expect(s).toMatchObject({ tier: 'l2', status: 'new', assignee: null, escalationCount: 2 });
    expect(s.owner?.id).toBe('zhang.san');
    expect(s.respondedAt).toBe(before.respondedAt);
  });

  it('climbs desk → l1 → l2 → l3 and then refuses: no higher tier', () => {
    let s = fresh();
    const tiers: string[] = [s.tier];
    for (let i = 0; i < 3; i++) {
      s = run(s, cmd.escalate(), SYSTEM, at(i + 1));
      tiers.push(s.tier);
    }
    expect(tiers).toEqual(['desk', 'l1', 'l2', 'l3']);
    expect(step(s, cmd.escalate(), SYSTEM, at(10))).toMatchObject({ ok: false, reason: 'no_higher_tier' });
    const l3 = run(s, cmd.accept, as('zhao.liu'), at(11));
    expect(step(l3, cmd.escalate(), as('zhao.liu'), at(12))).toMatchObject({ ok: false, reason: 'no_higher_tier' });
  });
});

describe('reassign', () => {
  const reassign = (toTier: Tier | null, toPerson: string | null, reason = 'skills'): Command => ({
    type: 'ReassignIncident',
    toTier,
    toPerson,
    reason,
  });

  it('to a person not in the tier is refused, naming the person', () => {
    expect(step(atL1(), reassign('l1', 'wang.wu'), as('li.wei'), at(10))).toEqual({ ok: false, reason: 'not_in_tier', who: 'Wang Wu', state: atL1() });
  });

  it('to a person without a tier means the current tier', () => {
    expect(step(atL1(), reassign(null, 'zhao.liu'), as('li.wei'), at(10))).toMatchObject({ ok: false, reason: 'not_in_tier', who: 'Zhao Liu' });
    const s = run(atL1(), reassign(null, 'li.na'), as('li.wei'), at(10));
    expect(s).toMatchObject({ tier: 'l1', status: 'in_progress', assignee: { id: 'li.na', name: 'Li Na' } });
  });

  it('to an unknown person is refused', () => {
    expect(step(atL1(), reassign('l1', 'nobody'), as('li.wei'), at(10))).toMatchObject({ ok: false, reason: 'unknown_person', who: 'nobody' });
  });

  it('to where it already is is refused', () => {
    expect(step(atL1(), reassign('l1', null), as('li.wei'), at(10))).toMatchObject({ ok: false, reason: 'same_tier' });
    expect(step(atL1(), reassign('l1', 'li.wei'), as('li.wei'), at(10))).toMatchObject({ ok: false, reason: 'same_tier' });
  });

  it('needs a reason', () => {
    expect(step(atL1(), reassign('desk', null, ' '), as('li.wei'), at(10))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'reason' });
  });

  it('back down to the desk queue: new, unassigned, owner kept', () => {
    const s = run(atL1(), reassign('desk', null, 'user error, desk can guide'), as('li.wei'), at(10));
    expect(s).toMatchObject({ tier: 'desk', status: 'new', assignee: null, owner: { id: 'zhang.san' } });
  });
});

describe('hold and resume', () => {
  it.each([
    ['in the past', at(5), 'in_the_past'],
    ['exactly now', at(10), 'in_the_past'],
    ['not a time', 'next tuesday', 'not_a_time'],
  ])('hold until a time %s is refused', (_n, until, problem) => {
    expect(step(atL1(), cmd.hold('vendor', until), as('li.wei'), at(10))).toMatchObject({
      ok: false,
      reason: 'invalid_input',
      field: 'until',
      problem,
    });
  });

  it('hold needs a reason', () => {
    expect(step(atL1(), cmd.hold(''), as('li.wei'), at(10))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'reason', problem: 'required' });
  });

  it('hold until a future time records the wait and the reason', () => {
    const s = run(atL1(), cmd.hold('vendor ships a part', at(600)), as('li.wei'), at(10));
    expect(s).toMatchObject({ status: 'pending', waitUntil: at(600), pendingSince: at(10), holdReason: 'vendor ships a part' });
  });

  it('pending time accumulates across two holds and the clock stops counting after resume', () => {
    let s = atL1();
    s = run(s, cmd.hold('waiting for the user'), as('li.wei'), at(10));
    s = run(s, cmd.resume, as('li.wei'), at(40)); // 30 min pending
    expect(s.pendingMs).toBe(30 * 60_000);
    expect(s).toMatchObject({ status: 'in_progress', pendingSince: null, waitUntil: null, holdReason: null });
    s = run(s, cmd.hold('waiting for the vendor', at(500)), as('chen.jing'), at(100));
    s = run(s, cmd.resume, SYSTEM, at(115)); // 15 min pending
    expect(s.pendingMs).toBe(45 * 60_000);
    s = run(s, cmd.resolve(), as('li.wei'), at(200)); // working time does not count
    expect(s.pendingMs).toBe(45 * 60_000);
  });

  it('resolving straight from pending counts the time on hold', () => {
    let s = run(atL1(), cmd.hold('vendor'), as('li.wei'), at(10));
    s = run(s, cmd.resolve('vendor patched it'), as('li.wei'), at(70));
    expect(s).toMatchObject({ status: 'resolved', pendingMs: 60 * 60_000, pendingSince: null, waitUntil: null });
  });
});

describe('resolve', () => {
  it('from new by a desk member records the accept and the resolve (the response too)', () => {
    const d = decide(fresh(), cmd.resolve('told the user how to reset the password'), { now: at(4), policy, actor: as('zhang.san'), platform: 'slack' });
    expect(d).toMatchObject({ ok: true, events: [{ type: 'IncidentAccepted', firstResponse: true }, { type: 'IncidentResolved', tier: 'desk' }] });
    const s = run(fresh(), cmd.resolve('told the user how to reset the password'), as('zhang.san'), at(4));
    expect(s).toMatchObject({
      status: 'resolved',
      respondedAt: at(4),
      resolvedAt: at(4),
      assignee: { id: 'zhang.san' },
      owner: { id: 'zhang.san' },
      resolverTier: 'desk',
      resolutionCode: 'fixed',
      version: 2,
    });
  });

  it('from new by someone outside the tier is refused', () => {
    expect(step(fresh(), cmd.resolve(), as('li.wei'), at(4))).toMatchObject({ ok: false, reason: 'forbidden', need: 'tier_member' });
  });

  it.each(['', '  \n '])('needs a resolution note (%j)', (note) => {
    expect(step(atL1(), cmd.resolve(note), as('li.wei'), at(10))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'note', problem: 'required' });
  });

  it('refuses an unknown resolution code', () => {
    const bad = { type: 'ResolveIncident', code: 'magic', note: 'it just works' } as unknown as Command;
    expect(step(atL1(), bad, as('li.wei'), at(10))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'code' });
  });

  it('records who resolved at which tier', () => {
    expect(resolvedAtL1()).toMatchObject({ status: 'resolved', resolverTier: 'l1', resolutionNote: 'restarted the VPN gateway', resolvedAt: at(5) });
  });
});

describe('reopen', () => {
  it('returns to in progress with the same assignee, counted once', () => {
    const s = run(resolvedAtL1(), cmd.reopen('still drops every 5 minutes'), reporter, at(20));
    expect(s).toMatchObject({ status: 'in_progress', assignee: { id: 'li.wei' }, tier: 'l1', reopenCount: 1, resolvedAt: null, resolutionNote: null });
  });

  it('needs a reason', () => {
    expect(step(resolvedAtL1(), cmd.reopen(''), reporter, at(20))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'reason' });
  });
});

describe('rate', () => {
  it('once; a second rating is refused', () => {
    const s = run(closed(), cmd.rate(4, 'quick and friendly'), reporter, at(30));
    expect(s).toMatchObject({ rating: 4, feedback: 'quick and friendly', status: 'closed' });
    expect(step(s, cmd.rate(5), reporter, at(31))).toMatchObject({ ok: false, reason: 'already_rated' });
    expect(step(s, cmd.rate(1), as('zhang.san'), at(31))).toMatchObject({ ok: false, reason: 'already_rated' });
  });

  it.each([0, 6, -1, 2.5, Number.NaN])('score %s is out of range', (score) => {
    expect(step(closed(), cmd.rate(score), reporter, at(30))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'score', problem: 'range:1-5' });
  });

  it.each([1, 5])('score %s is accepted', (score) => {
    expect(run(closed(), cmd.rate(score), reporter, at(30)).rating).toBe(score);
  });

  it('is not possible before the incident is closed', () => {
    expect(step(resolvedAtL1(), cmd.rate(5), reporter, at(30))).toMatchObject({ ok: false, reason: 'invalid_state', status: 'resolved' });
  });
});

describe('service requests', () => {
  it('wait for approval before any work', () => {
    const s = request();
    expect(s).toMatchObject({ status: 'pending_approval', approval: 'required', tier: 'desk' });
    expect(step(s, cmd.accept, as('zhang.san'), at(1))).toMatchObject({ ok: false, reason: 'invalid_state', status: 'pending_approval' });
  });

  it('approved: into the desk queue as new', () => {
    const s = run(request(), cmd.approve, as('sun.li'), at(5));
    expect(s).toMatchObject({ status: 'new', approval: 'approved', assignee: null });
    expect(run(s, cmd.accept, as('zhang.san'), at(6)).status).toBe('in_progress');
  });

  it('denied: rejected with the reason', () => {
    const s = run(request(), cmd.deny('no budget this quarter'), as('sun.li'), at(5));
    expect(s).toMatchObject({ status: 'rejected', approval: 'denied', rejectReason: 'no budget this quarter', closedAt: at(5) });
  });

  it('a denial needs a reason', () => {
    expect(step(request(), cmd.deny('  '), as('sun.li'), at(5))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'reason', problem: 'required' });
  });
});

describe('reject', () => {
  it('out of scope: rejected with the reason, final', () => {
    const s = run(fresh(), cmd.reject('this is a change request, use the change process'), as('zhang.san'), at(3));
    expect(s).toMatchObject({ status: 'rejected', rejectReason: 'this is a change request, use the change process', closedAt: at(3) });
    expect(step(s, cmd.accept, as('zhang.san'), at(4))).toMatchObject({ ok: false, reason: 'invalid_state', status: 'rejected' });
  });

  it('needs a reason', () => {
    expect(step(fresh(), cmd.reject(''), as('zhang.san'), at(3))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'reason' });
  });
});

describe('change priority', () => {
  it('by the desk: new priority, marked as changed, with the reason on the event', () => {
    const before = fresh();
    expect(before).toMatchObject({ priority: 'P3', priorityChanged: false });
    const r = step(before, { type: 'ChangePriority', priority: 'P2', reason: 'the whole team is blocked' }, as('zhang.san'), at(2));
    if (!r.ok) throw new Error(JSON.stringify(r));
    expect(r.events).toEqual([{ type: 'PriorityChanged', from: 'P3', to: 'P2', reason: 'the whole team is blocked' }]);
    expect(r.state).toMatchObject({ priority: 'P2', priorityChanged: true, status: 'new', major: null });
  });

  it('raising it to P1 also declares a major incident (every P1 is one, DOMAIN.md §6)', () => {
    const r = step(fresh(), { type: 'ChangePriority', priority: 'P1', reason: 'payroll is down for everyone' }, as('zhang.san'), at(2));
    if (!r.ok) throw new Error(JSON.stringify(r));
    expect(r.events.map((e) => e.type)).toEqual(['PriorityChanged', 'MajorIncidentDeclared']);
    expect(r.state.major).toMatchObject({ state: 'declared', declaredBy: null, commander: { id: 'chen.jing' }, cadenceMs: 30 * 60_000 });
  });

  it('to the same priority is refused', () => {
    expect(step(fresh(), { type: 'ChangePriority', priority: 'P3', reason: 'x' }, as('zhang.san'), at(2))).toMatchObject({
      ok: false,
      reason: 'invalid_input',
      field: 'priority',
      problem: 'unchanged',
    });
  });

  it('needs a reason', () => {
    expect(step(fresh(), { type: 'ChangePriority', priority: 'P2', reason: '' }, as('zhang.san'), at(2))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'reason' });
  });
});

describe('close', () => {
  it('by the system when the reporter does not answer: closed, automatic', () => {
    const d = decide(resolvedAtL1(), cmd.close, { now: at(5000), policy, actor: SYSTEM, platform: 'system' });
    expect(d).toEqual({ ok: true, events: [{ type: 'IncidentClosed', automatic: true }] });
    expect(run(resolvedAtL1(), cmd.close, SYSTEM, at(5000))).toMatchObject({ status: 'closed', closedAt: at(5000) });
  });
});

describe('createIncident', () => {
  const ctx = (p = policy) => ({ id: INCIDENT_ID, seq: 42, now: T0, policy: p, reporter: personRef('reporter.a'), origin: { platform: 'slack' as const, channel: 'D0REP' } });

  it.each([
    ['an empty title', { title: '' }, 'title', 'required'],
    ['a blank title', { title: '  \n ' }, 'title', 'required'],
    ['an over-long title', { title: 'x'.repeat(LIMITS.title + 1) }, 'title', `too_long:${LIMITS.title}`],
    ['an over-long description', { title: 'ok', description: 'd'.repeat(LIMITS.description + 1) }, 'description', `too_long:${LIMITS.description}`],
    ['an unknown category', { title: 'ok', category: 'gossip' as Category }, 'category', 'unknown'],
    ['an unknown impact', { title: 'ok', impact: 'huge' as Level }, 'impact', 'unknown'],
    ['an unknown urgency', { title: 'ok', urgency: 'asap' as Level }, 'urgency', 'unknown'],
  ])('refuses %s, naming the field', (_n, input, field, problem) => {
    expect(createIncident(input, ctx())).toEqual({ ok: false, reason: 'invalid_input', field, problem });
  });

  it('accepts a title of exactly the limit', () => {
    const r = createIncident({ title: 'x'.repeat(LIMITS.title) }, ctx());
    expect(r.ok && r.incident.title.length).toBe(LIMITS.title);
  });

  it('fills the policy defaults and computes the priority from them', () => {
    const p = testPolicy({ defaults: { category: 'consultation', impact: 'high', urgency: 'low', system: 'ERP' } });
    const r = createIncident({ title: '  How do I export a report?  ' }, ctx(p));
    if (!r.ok) throw new Error(JSON.stringify(r));
    expect(r.incident).toMatchObject({
      number: 'INC-42',
      version: 1,
      title: 'How do I export a report?',
      category: 'consultation',
      impact: 'high',
      urgency: 'low',
      priority: 'P3',
      system: 'ERP',
      source: 'chat',
      status: 'new',
      approval: 'none',
      tier: 'desk',
      owner: null,
      assignee: null,
      reportedAt: T0,
      respondedAt: null,
      pendingMs: 0,
      reopenCount: 0,
      rating: null,
    });
  });

  it('what the reporter gave wins over the defaults', () => {
    const p = testPolicy({ defaults: { category: 'consultation', impact: 'low', urgency: 'low', system: 'ERP' } });
    const r = createIncident({ title: 'Mail down', category: 'fault', impact: 'high', urgency: 'high', system: 'Mail' }, ctx(p));
    expect(r).toMatchObject({ ok: true, incident: { category: 'fault', priority: 'P1', system: 'Mail' } });
  });

  it('with the loader defaults: a medium/medium fault, P3', () => {
    expect(createIncident({ title: 'Printer jam' }, ctx())).toMatchObject({ ok: true, incident: { category: 'fault', impact: 'medium', urgency: 'medium', priority: 'P3', system: '' } });
  });

  it('a service request from a key user still needs approval and is raised one level', () => {
    const r = createIncident({ title: 'New monitor', category: 'service_request', impact: 'low', urgency: 'low' }, { ...ctx(), reporter: personRef('vip.user') });
    expect(r).toMatchObject({ ok: true, incident: { status: 'pending_approval', approval: 'required', priority: 'P3' } });
  });
});
