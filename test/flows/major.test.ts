/**
 * Major incidents (issue 4, DOMAIN.md §6). First as pure rules: who may declare, confirm,
 * downgrade and speak for a major incident, what is refused and why, and what a status update, a
 * priority change and a resolution plan. Then through the dispatcher over an in-memory PGlite
 * store with an injected clock (time is moved, never slept): the update cadence, the room's
 * archive after close, the known-outage links made on report and by the desk.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore } from '../../src/db/index';
import { createDispatcher, type Dispatcher } from '../../src/flows/dispatch';
import type { Effect } from '../../src/flows/effects';
import type { Command, ReportInput } from '../../src/flows/incident/commands';
import type { Actor, EventType } from '../../src/flows/incident/events';
import type { Incident, PersonRef, Platform } from '../../src/flows/incident/model';
import { updateDueAt } from '../../src/flows/incident/model';
import type { Requirement } from '../../src/flows/incident/rejection';
import { majorTimerItems, mayDeclare, MAJOR_LIMITS } from '../../src/flows/major/major';
import { personActor } from '../../src/flows/people';
import { planEffects } from '../../src/flows/plan';
import type { IncidentStore } from '../../src/flows/ports';
import type { Policy } from '../../src/flows/policy/policy';
import { timerItems } from '../../src/flows/policy/sla';
import { silentLogger } from '../../src/logger';
import { guestRef, personRef, testPolicy, type TestPersonKey } from '../support/policy';
import { SYSTEM, as, asRef, at, cmd, given, report, run, step } from './fixtures';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** The deployment's major-incident settings, spelled out so the tests read them from the policy. */
const MAJOR_SETTINGS = { update_every: '30m', archive_after: '2d', review_due_after: '3d' } as const;
const policy = testPolicy({ major_incidents: MAJOR_SETTINGS });

type MessageEffect = Extract<Effect, { kind: 'message.send' }>;
const messages = (effects: Effect[]): MessageEffect[] => effects.filter((e): e is MessageEffect => e.kind === 'message.send');
const withKey = (effects: Effect[], key: string) => messages(effects).filter((e) => e.key === key);
const ROOM = { type: 'room', id: '' } as const;

const RECORD_ROOM: Command = { type: 'RecordWarRoom', platform: 'slack', channel: 'C0ROOM12', name: 'inc-12-vpn-drops', invited: 6, uninvited: [] };

// ── Given: incidents in well-known situations, reached through the commands themselves ──
/** Reported by reporter.a; taken by the desk (zhang.san, owner), escalated, worked by li.wei at L1. */
const open = () =>
  given(report(), [
    [cmd.accept, as('zhang.san')],
    [cmd.escalate('needs on-site visit'), as('zhang.san')],
    [cmd.accept, as('li.wei')],
  ], 1, policy);
/** `open`, declared major by the desk at minute 10. */
const declared = () => run(open(), { type: 'DeclareMajor' }, as('zhang.san'), at(10), policy);
/** `declared`, with its war room on Slack recorded by the bot. */
const withRoom = () => run(declared(), RECORD_ROOM, SYSTEM, at(11), policy);
/** `declared`, with Wang Wu (L2, no role) as commander and Zhao Liu (L3) as communications lead. */
const withRoles = () => run(declared(), { type: 'ChangeMajorRoles', commander: 'wang.wu', commsLead: 'zhao.liu' }, as('chen.jing'), at(12), policy);

// ── Authorisation ───────────────────────────────────────────────────────────────────────────────

const WHO = {
  reporter: as('reporter.a'),
  guest: asRef(guestRef()),
  desk: as('zhang.san'),
  'L1 member not assignee': as('li.na'),
  assignee: as('li.wei'),
  'incident manager': as('chen.jing'),
  'project manager': as('pm.gao'),
  outsider: as('vip.user'),
} satisfies Record<string, Actor>;
type Who = keyof typeof WHO;
const EVERYONE = Object.keys(WHO) as Who[];

interface Rule {
  command: Command;
  given: () => Incident;
  /** The fact recorded when allowed. */
  event: EventType;
  allowed: Who[];
  /** What a refusal names. */
  need: Requirement;
}

/**
 * Issue 4: declare — the desk, an incident manager or the assignee; confirm / downgrade — the
 * incident or project manager; roles — a manager or the commander; updates — the major team
 * (commander, comms lead, assignee, owner, desk, incident and project manager); notes — anyone
 * the bot knows and the reporter; links — the desk or an incident manager; join — anyone known.
 */
const RULES: Rule[] = [
  { command: { type: 'DeclareMajor' }, given: open, event: 'MajorIncidentDeclared', allowed: ['desk', 'assignee', 'incident manager'], need: 'desk_manager_or_assignee' },
  { command: { type: 'ConfirmMajor' }, given: declared, event: 'MajorIncidentConfirmed', allowed: ['incident manager', 'project manager'], need: 'manager_or_pm' },
  {
    command: { type: 'DowngradeMajor', reason: 'only one office affected' },
    given: declared,
    event: 'MajorIncidentDowngraded',
    allowed: ['incident manager', 'project manager'],
    need: 'manager_or_pm',
  },
  {
    command: { type: 'ChangeMajorRoles', commander: null, commsLead: 'zhao.liu' },
    given: declared,
    event: 'MajorRolesChanged',
    allowed: ['incident manager', 'project manager'],
    need: 'manager_or_pm',
  },
  {
    command: { type: 'PostStatusUpdate', text: 'Failover to the standby gateway started' },
    given: declared,
    event: 'StatusUpdatePosted',
    allowed: ['desk', 'assignee', 'incident manager', 'project manager'],
    need: 'major_team',
  },
  {
    command: { type: 'AddNote', text: 'Vendor ticket opened', source: 'command' },
    given: declared,
    event: 'NoteAdded',
    allowed: EVERYONE.filter((w) => w !== 'guest'),
    need: 'major_team',
  },
  {
    command: { type: 'LinkToMajor', majorId: randomUUID(), number: 'INC-7', title: 'VPN down' },
    given: open,
    event: 'LinkedToMajor',
    allowed: ['desk', 'incident manager'],
    need: 'desk_or_manager',
  },
  {
    command: { type: 'AttachReport', incidentId: randomUUID(), number: 'INC-30', reporter: personRef('vip.user') },
    given: declared,
    event: 'ReportLinked',
    allowed: ['desk', 'incident manager'],
    need: 'desk_or_manager',
  },
  {
    command: { type: 'JoinWarRoom', platform: 'slack', user: 'U0JOIN' },
    given: withRoom,
    event: 'WarRoomJoinRequested',
    allowed: EVERYONE.filter((w) => w !== 'guest'),
    need: 'major_team',
  },
];

const CASES = RULES.flatMap((rule) => EVERYONE.map((who) => [rule.command.type, who, rule.allowed.includes(who) ? 'allowed' : `refused (${rule.need})`, rule] as const));

describe('who may act on a major incident', () => {
  it.each(CASES)('%s by the %s: %s', (_type, who, _outcome, rule) => {
    const before = rule.given();
    const r = step(before, rule.command, WHO[who], at(30), policy);
    if (rule.allowed.includes(who)) {
      expect(r.ok, JSON.stringify(r.ok ? null : r)).toBe(true);
      expect(r.ok && r.events.map((e) => e.type)).toEqual([rule.event]);
    } else {
      expect(r).toMatchObject({ ok: false, reason: 'forbidden', need: rule.need });
      expect(r.state).toBe(before);
    }
  });

  it('the commander and the communications lead may post updates; the commander may also change the roles', () => {
    const state = withRoles();
    expect(state.major).toMatchObject({ commander: { id: 'wang.wu', name: 'Wang Wu', platformUserId: 'U0L2' }, commsLead: { id: 'zhao.liu', platformUserId: 'U0L3' } });
    const update: Command = { type: 'PostStatusUpdate', text: 'Gateway replaced' };
    expect(step(state, update, as('wang.wu'), at(20), policy).ok).toBe(true);
    expect(step(state, update, as('zhao.liu'), at(20), policy).ok).toBe(true);
    const roles: Command = { type: 'ChangeMajorRoles', commander: null, commsLead: 'li.na' };
    expect(step(state, roles, as('wang.wu'), at(20), policy).ok).toBe(true);
    // The communications lead is on the team but does not run it.
    expect(step(state, roles, as('zhao.liu'), at(20), policy)).toMatchObject({ ok: false, reason: 'forbidden', need: 'manager_or_pm' });
    // Without those roles, the same L2 / L3 people may not speak for the incident.
    const plain = declared();
    expect(step(plain, update, as('wang.wu'), at(20), policy)).toMatchObject({ ok: false, reason: 'forbidden', need: 'major_team' });
    expect(step(plain, update, as('zhao.liu'), at(20), policy)).toMatchObject({ ok: false, reason: 'forbidden', need: 'major_team' });
  });

  it('the owner is on the major team even when no longer on the desk', () => {
    const state: Incident = { ...declared(), owner: personRef('boss.he') };
    expect(step(state, { type: 'PostStatusUpdate', text: 'Still working on it' }, as('boss.he'), at(20), policy).ok).toBe(true);
    expect(step(declared(), { type: 'PostStatusUpdate', text: 'Still working on it' }, as('boss.he'), at(20), policy)).toMatchObject({ reason: 'forbidden' });
  });

  it('a guest who reported the incident may add notes, but not post updates or join the room', () => {
    const guest = guestRef('U0GUEST', 'slack', 'Guest Reporter');
    const state = run(run(report({}, { reporter: guest, policy }), { type: 'DeclareMajor' }, SYSTEM, at(1), policy), RECORD_ROOM, SYSTEM, at(2), policy);
    expect(step(state, { type: 'AddNote', text: 'It broke right after the update', source: 'command' }, asRef(guest), at(3), policy).ok).toBe(true);
    expect(step(state, { type: 'PostStatusUpdate', text: 'fixed?' }, asRef(guest), at(3), policy)).toMatchObject({ reason: 'forbidden', need: 'major_team' });
    expect(step(state, { type: 'JoinWarRoom', platform: 'slack', user: 'U0GUEST' }, asRef(guest), at(3), policy)).toMatchObject({ reason: 'forbidden', need: 'major_team' });
  });

  it('the bot itself declares (every P1); a quick `major <text>` may be filed by any tier member or the project manager', () => {
    const r = step(open(), { type: 'DeclareMajor' }, SYSTEM, at(20), policy);
    expect(r.ok && r.events).toEqual([expect.objectContaining({ type: 'MajorIncidentDeclared', automatic: true })]);
    // No incident yet: anyone who works incidents may file and declare at once.
    for (const key of ['zhang.san', 'li.na', 'wang.wu', 'zhao.liu', 'chen.jing', 'pm.gao'] as TestPersonKey[]) expect(mayDeclare(policy, key, null), key).toBe(true);
    for (const key of ['reporter.a', 'vip.user', 'boss.he', 'slack:U0GUEST']) expect(mayDeclare(policy, key, null), key).toBe(false);
  });
});

// ── Refusals ────────────────────────────────────────────────────────────────────────────────────

describe('refusals are values, and a refused command changes nothing', () => {
  it('already_major: declaring a live major incident again', () => {
    expect(step(declared(), { type: 'DeclareMajor' }, as('chen.jing'), at(20), policy)).toMatchObject({ ok: false, reason: 'already_major' });
    const confirmed = run(declared(), { type: 'ConfirmMajor' }, as('chen.jing'), at(20), policy);
    expect(step(confirmed, { type: 'DeclareMajor' }, as('zhang.san'), at(21), policy)).toMatchObject({ ok: false, reason: 'already_major' });
    // A major incident is not linked to another as its known outage.
    expect(step(declared(), { type: 'LinkToMajor', majorId: randomUUID(), number: 'INC-7', title: 'x' }, as('zhang.san'), at(20), policy)).toMatchObject({ reason: 'already_major' });
  });

  it('not_major: confirming, downgrading, speaking for or attaching to an incident that is not (or no longer) major', () => {
    const plain = open();
    const commands: Command[] = [
      { type: 'ConfirmMajor' },
      { type: 'DowngradeMajor', reason: 'not major' },
      { type: 'ChangeMajorRoles', commander: 'wang.wu', commsLead: null },
      { type: 'PostStatusUpdate', text: 'update' },
      { type: 'AttachReport', incidentId: randomUUID(), number: 'INC-30', reporter: personRef('vip.user') },
    ];
    for (const c of commands) expect(step(plain, c, as('chen.jing'), at(20), policy), c.type).toMatchObject({ ok: false, reason: 'not_major' });
    const downgraded = run(declared(), { type: 'DowngradeMajor', reason: 'one user only' }, as('chen.jing'), at(20), policy);
    for (const c of [commands[0]!, commands[1]!, commands[4]!]) expect(step(downgraded, c, as('chen.jing'), at(21), policy), c.type).toMatchObject({ ok: false, reason: 'not_major' });
    expect(step(declared(), { type: 'JoinWarRoom', platform: 'slack', user: 'U0L2' }, as('wang.wu'), at(20), policy)).toMatchObject({ ok: false, reason: 'no_room' });
  });

  it('nothing_changed: a second confirm, the same roles, the same reacted message, the same report, the same room', () => {
    const confirmed = run(declared(), { type: 'ConfirmMajor' }, as('chen.jing'), at(20), policy);
    expect(step(confirmed, { type: 'ConfirmMajor' }, as('pm.gao'), at(21), policy)).toMatchObject({ ok: false, reason: 'nothing_changed' });
    expect(step(declared(), { type: 'ChangeMajorRoles', commander: 'chen.jing', commsLead: null }, as('chen.jing'), at(21), policy)).toMatchObject({ ok: false, reason: 'nothing_changed' });
    const note: Command = { type: 'AddNote', text: 'DB at 100 % CPU', source: 'reaction', author: personRef('wang.wu'), messageRef: 'slack:C0ROOM12:1700000000.000100' };
    const noted = run(declared(), note, as('chen.jing'), at(21), policy);
    expect(step(noted, note, as('pm.gao'), at(22), policy)).toMatchObject({ ok: false, reason: 'nothing_changed' });
    const child = randomUUID();
    const attached = run(declared(), { type: 'AttachReport', incidentId: child, number: 'INC-30', reporter: personRef('vip.user') }, as('zhang.san'), at(21), policy);
    expect(step(attached, { type: 'AttachReport', incidentId: child, number: 'INC-30', reporter: personRef('vip.user') }, as('chen.jing'), at(22), policy)).toMatchObject({
      ok: false,
      reason: 'nothing_changed',
    });
    expect(step(withRoom(), RECORD_ROOM, SYSTEM, at(22), policy)).toMatchObject({ ok: false, reason: 'nothing_changed' });
  });

  it('already_linked: a report linked to one major incident is not linked to another; to the same one is nothing new', () => {
    const first = randomUUID();
    const linked = run(open(), { type: 'LinkToMajor', majorId: first, number: 'INC-7', title: 'VPN down' }, as('zhang.san'), at(20), policy);
    expect(linked.linkedTo).toEqual({ id: first, number: 'INC-7', title: 'VPN down' });
    expect(step(linked, { type: 'LinkToMajor', majorId: randomUUID(), number: 'INC-8', title: 'Mail down' }, as('chen.jing'), at(21), policy)).toEqual({
      ok: false,
      reason: 'already_linked',
      to: 'INC-7',
      state: linked,
    });
    expect(step(linked, { type: 'LinkToMajor', majorId: first, number: 'INC-7', title: 'VPN down' }, as('chen.jing'), at(21), policy)).toMatchObject({ reason: 'nothing_changed' });
  });

  it('unknown_person: roles go only to people in the policy', () => {
    expect(step(declared(), { type: 'ChangeMajorRoles', commander: 'nobody.here', commsLead: null }, as('chen.jing'), at(20), policy)).toMatchObject({
      ok: false,
      reason: 'unknown_person',
      who: 'nobody.here',
    });
    expect(step(declared(), { type: 'ChangeMajorRoles', commander: null, commsLead: 'ghost' }, as('chen.jing'), at(20), policy)).toMatchObject({ reason: 'unknown_person', who: 'ghost' });
  });

  it('invalid_input: an empty or too long update, an empty note or downgrade reason', () => {
    const state = declared();
    const post = (text: string) => step(state, { type: 'PostStatusUpdate', text }, as('chen.jing'), at(20), policy);
    expect(post('')).toMatchObject({ ok: false, reason: 'invalid_input', field: 'update', problem: 'required' });
    expect(post('  \n\t ')).toMatchObject({ ok: false, reason: 'invalid_input', field: 'update', problem: 'required' });
    expect(post('x'.repeat(MAJOR_LIMITS.update + 1))).toMatchObject({ ok: false, reason: 'invalid_input', field: 'update', problem: `too_long:${MAJOR_LIMITS.update}` });
    // Characters as people count them: 3000 emoji are 3000 characters, and fit.
    expect(post('x'.repeat(MAJOR_LIMITS.update)).ok).toBe(true);
    expect(post('🔥'.repeat(MAJOR_LIMITS.update)).ok).toBe(true);
    // Kept trimmed.
    const ok = post('  Gateway back up  ');
    expect(ok.ok && ok.events).toEqual([{ type: 'StatusUpdatePosted', text: 'Gateway back up' }]);
    expect(step(state, { type: 'AddNote', text: ' ', source: 'command' }, as('chen.jing'), at(20), policy)).toMatchObject({ reason: 'invalid_input', field: 'note', problem: 'required' });
    expect(step(state, { type: 'DowngradeMajor', reason: '' }, as('chen.jing'), at(20), policy)).toMatchObject({ reason: 'invalid_input', field: 'reason', problem: 'required' });
  });

  it('major-incident commands are refused once the lifecycle has moved past them', () => {
    const closed = given(run(declared(), cmd.resolve(), as('li.wei'), at(20), policy), [[cmd.confirm, as('reporter.a')]], 21, policy);
    expect(step(closed, { type: 'PostStatusUpdate', text: 'late' }, as('chen.jing'), at(30), policy)).toMatchObject({ ok: false, reason: 'invalid_state', status: 'closed' });
    expect(step(closed, { type: 'DeclareMajor' }, as('chen.jing'), at(30), policy)).toMatchObject({ ok: false, reason: 'invalid_state', status: 'closed' });
  });
});

// ── Downgrade and re-declare ────────────────────────────────────────────────────────────────────

describe('a downgrade keeps the room but ends the cadence', () => {
  it('downgrade then re-declare keeps the rooms, the linked reports, the roles and the update count; the cadence restarts', () => {
    const child = { id: randomUUID(), number: 'INC-30', reporter: personRef('vip.user') };
    let state = withRoom();
    state = run(state, { type: 'AttachReport', incidentId: child.id, number: child.number, reporter: child.reporter }, as('zhang.san'), at(12), policy);
    state = run(state, { type: 'ChangeMajorRoles', commander: null, commsLead: 'li.na' }, as('chen.jing'), at(13), policy);
    state = run(state, { type: 'PostStatusUpdate', text: 'first' }, as('li.wei'), at(14), policy);
    state = run(state, { type: 'PostStatusUpdate', text: 'second' }, as('li.wei'), at(15), policy);
    const rooms = state.major!.rooms;
    expect(rooms).toEqual([{ platform: 'slack', channel: 'C0ROOM12', name: 'inc-12-vpn-drops', openedAt: at(11) }]);

    const downgraded = run(state, { type: 'DowngradeMajor', reason: 'one office only' }, as('chen.jing'), at(20), policy);
    expect(downgraded.major).toMatchObject({ state: 'downgraded', rooms, linked: [child], updates: 2 });
    expect(updateDueAt(downgraded)).toBeNull();
    expect(majorTimerItems(downgraded)).toEqual([]);
    expect(timerItems(downgraded).map((i) => i.kind)).not.toContain('cadence');

    const again = run(downgraded, { type: 'DeclareMajor' }, as('li.wei'), at(40), policy);
    expect(again.major).toMatchObject({
      state: 'declared',
      declaredAt: at(40),
      declaredBy: personRef('li.wei'),
      rooms,
      linked: [child],
      updates: 2,
      lastUpdate: 'second',
      commander: personRef('chen.jing'),
      commsLead: personRef('li.na'),
      reminders: 0,
    });
    // The cadence counts from the new declaration.
    expect(updateDueAt(again)).toBe(at(70));
    // The room exists already: re-declaring it asks for no second one (room.open finds the recorded room).
    expect(step(again, RECORD_ROOM, SYSTEM, at(41), policy)).toMatchObject({ ok: false, reason: 'nothing_changed' });
  });
});

// ── What is planned ─────────────────────────────────────────────────────────────────────────────

describe('what a major incident plans', () => {
  const planned = (before: Incident, command: Command, actor: Actor, now: string, platforms: readonly Platform[] = ['slack']) => {
    const r = step(before, command, actor, now, policy);
    if (!r.ok) throw new Error(`${command.type} refused: ${JSON.stringify(r)}`);
    return { after: r.state, events: r.events, effects: planEffects(before, r.state, r.events, actor, { policy, platforms }, now) };
  };
  const attach = (state: Incident, number: string, reporter: PersonRef) =>
    run(state, { type: 'AttachReport', incidentId: randomUUID(), number, reporter, automatic: true }, SYSTEM, at(20), policy);

  it('a status update goes to the room, the reporter and every linked reporter (guests too), not to whoever posted it', () => {
    let state = declared();
    state = attach(state, 'INC-30', personRef('vip.user'));
    state = attach(state, 'INC-31', guestRef('U0GUEST', 'slack', 'Guest User'));
    // The desk agent who posts has reported one of the linked reports themselves.
    state = attach(state, 'INC-32', personRef('zhang.san'));
    const { effects } = planned(state, { type: 'PostStatusUpdate', text: 'Failover to the standby gateway started' }, as('zhang.san'), at(30));

    const room = withKey(effects, 'room.update');
    expect(room).toHaveLength(1);
    expect(room[0]!.target).toEqual(ROOM);
    expect(room[0]!.text).toContain('Update #1 on INC-12 from Zhang San');
    expect(room[0]!.text).toContain('Failover to the standby gateway started');

    const dms = withKey(effects, 'notify.major.update');
    expect(dms.map((m) => `${m.platform}:${m.target.type}:${m.target.id}`).sort()).toEqual(['slack:user:U0GUEST', 'slack:user:U0REP', 'slack:user:U0VIP']);
    for (const dm of dms) {
      expect(dm.text).toContain('INC-12');
      expect(dm.text).toContain('Failover to the standby gateway started');
    }
    expect(messages(effects).filter((m) => m.target.type === 'user' && m.target.id === 'U0DESK')).toEqual([]);
    // The pinned summary is refreshed.
    expect(effects).toContainEqual(expect.objectContaining({ kind: 'card.sync', purpose: 'war_room', target: ROOM }));
  });

  it('a guest linked reporter hears the update on the platform they reported from only', () => {
    let state = declared();
    state = attach(state, 'INC-31', guestRef('guest-7', 'console', 'Console Guest'));
    const { effects } = planned(state, { type: 'PostStatusUpdate', text: 'Gateway replaced' }, as('chen.jing'), at(30), ['slack', 'console']);
    const toGuest = withKey(effects, 'notify.major.update').filter((m) => m.target.id === 'guest-7');
    expect(toGuest.map((m) => [m.platform, m.target.type])).toEqual([['console', 'user']]);
    // The room hears it on every connected platform; the poster (the commander) gets no DM.
    expect(withKey(effects, 'room.update').map((m) => m.platform).sort()).toEqual(['console', 'slack']);
    expect(withKey(effects, 'notify.major.update').filter((m) => m.target.id === 'U0IM' || m.target.id === 'chen.jing')).toEqual([]);
  });

  it('raising the priority to P1 declares the incident major, and the managers are asked to confirm', () => {
    const { after, events, effects } = planned(open(), { type: 'ChangePriority', priority: 'P1', reason: 'payroll for all staff' }, as('zhang.san'), at(20));
    expect(events.map((e) => e.type)).toEqual(['PriorityChanged', 'MajorIncidentDeclared']);
    expect(events[1]).toMatchObject({ automatic: true });
    expect(after.major).toMatchObject({ state: 'declared', declaredAt: at(20), declaredBy: null, commander: personRef('chen.jing'), cadenceMs: 30 * MIN });
    expect(effects).toContainEqual({ kind: 'room.open', platform: 'slack', locale: 'en' });
    const asks = effects.filter((e) => e.kind === 'card.sync' && e.purpose.startsWith('major:'));
    expect(asks).toEqual([
      expect.objectContaining({ purpose: 'major:chen.jing', target: { type: 'user', id: 'U0IM' }, createIfMissing: true }),
      expect.objectContaining({ purpose: 'major:pm.gao', target: { type: 'user', id: 'U0PM' }, createIfMissing: true }),
    ]);
    // Another priority, or P1 on an incident already major, declares nothing.
    expect(planned(open(), { type: 'ChangePriority', priority: 'P2', reason: 'two teams' }, as('zhang.san'), at(20)).events.map((e) => e.type)).toEqual(['PriorityChanged']);
    expect(planned(declared(), { type: 'ChangePriority', priority: 'P1', reason: 'all staff' }, as('zhang.san'), at(20)).events.map((e) => e.type)).toEqual(['PriorityChanged']);
  });

  it('resolving a live major incident schedules the review (the commander, due after review_due_after) and posts the report in the room', () => {
    const { after, events, effects } = planned(withRoles(), cmd.resolve('replaced the gateway'), as('li.wei'), at(90));
    const review = { type: 'ReviewScheduled', owner: personRef('wang.wu'), dueAt: new Date(Date.parse(at(90)) + 3 * DAY).toISOString() };
    expect(events).toEqual([expect.objectContaining({ type: 'IncidentResolved' }), review]);
    expect(after.major!.review).toEqual({ owner: review.owner, dueAt: review.dueAt });
    expect(effects).toContainEqual({ kind: 'room.report', platform: 'slack', locale: 'en' });
    const said = withKey(effects, 'room.review');
    expect(said).toHaveLength(1);
    expect(said[0]!.text).toContain('owner Wang Wu');
    // The cadence ends with the resolution.
    expect(updateDueAt(after)).toBeNull();

    // The default commander (the incident manager) owns it when nobody changed the roles.
    expect(planned(declared(), cmd.resolve(), as('li.wei'), at(90)).after.major!.review!.owner).toEqual(personRef('chen.jing'));
    // An ordinary incident, or a downgraded one, has no review and no report.
    for (const state of [open(), run(declared(), { type: 'DowngradeMajor', reason: 'one user' }, as('chen.jing'), at(30), policy)]) {
      const plain = planned(state, cmd.resolve(), as('li.wei'), at(90));
      expect(plain.events.map((e) => e.type)).toEqual(['IncidentResolved']);
      expect(plain.effects.filter((e) => e.kind === 'room.report')).toEqual([]);
    }
  });
});

// ── Through the dispatcher ──────────────────────────────────────────────────────────────────────

describe('major incidents through the dispatcher (PGlite, injected clock)', () => {
  let store: IncidentStore;
  let now = Date.parse('2026-11-23T01:00:00Z'); // Monday 09:00 in Asia/Shanghai
  const clock = { now: () => new Date(now) };
  const iso = (ms: number) => new Date(ms).toISOString();

  beforeAll(async () => {
    store = await createPgliteStore(null);
  });
  afterAll(async () => {
    await store.close();
  });

  function dispatcherFor(p: Policy = policy): Dispatcher {
    return createDispatcher({ store, clock, policy: p, platforms: ['slack'], newId: randomUUID, logger: silentLogger });
  }
  const actor = (key: TestPersonKey) => personActor(personRef(key));
  const origin = { platform: 'slack' as const, channel: 'C0GENERAL' };

  async function file(d: Dispatcher, input: Partial<ReportInput> = {}, reporter: PersonRef = personRef('reporter.a')): Promise<Incident> {
    const r = await d.report(reporter, { title: 'Payroll portal is down', ...input }, origin);
    if (!r.ok) throw new Error(`report refused: ${r.reason}`);
    return r.incident;
  }
  const fileP1 = (d: Dispatcher, input: Partial<ReportInput> = {}, reporter?: PersonRef) => file(d, { impact: 'high', urgency: 'high', ...input }, reporter);

  async function act(d: Dispatcher, who: TestPersonKey, id: string, command: Command) {
    const r = await d.act(actor(who), { id }, command, { platform: 'slack' });
    if (!r.ok) throw new Error(`${command.type} refused: ${JSON.stringify(r)}`);
    return r.incident;
  }

  /** Moves the clock to `t` and fires the incident's timer job as a scheduler would (current generation). */
  async function fireAt(d: Dispatcher, id: string, t: number) {
    now = t;
    const current = (await d.load({ id }))!;
    return d.fire({ incidentId: id, generation: current.version, at: iso(t) });
  }

  async function outboxIds(incidentId: string): Promise<Set<number>> {
    return new Set((await store.undelivered(100_000)).filter((i) => i.incidentId === incidentId).map((i) => i.id));
  }
  /** Effects of `incidentId` enqueued after the snapshot `before`. */
  async function effectsSince(incidentId: string, before: Set<number>): Promise<Effect[]> {
    return (await store.undelivered(100_000)).filter((i) => i.incidentId === incidentId && !before.has(i.id)).map((i) => i.effect);
  }
  async function reminders(id: string) {
    return (await store.timeline(id)).filter((e) => e.event.type === 'UpdateReminderSent').map((e) => e.event);
  }
  const cadenceOf = (incident: Incident) => timerItems(incident).find((i) => i.kind === 'cadence')?.at ?? null;

  describe('the update cadence', () => {
    it('a P1 is declared at once; the commander is reminded at 30 m in the room and by DM; not again before 60 m', async () => {
      const d = dispatcherFor();
      const t0 = (now = Date.parse('2026-11-23T01:00:00Z'));
      const incident = await fileP1(d);
      expect(incident.major).toMatchObject({ state: 'declared', declaredAt: iso(t0), declaredBy: null, cadenceMs: 30 * MIN, commander: personRef('chen.jing'), updates: 0 });
      const reported = await store.timeline(incident.id);
      expect(reported.map((e) => e.event.type)).toEqual(['IncidentReported', 'MajorIncidentDeclared']);
      expect(reported[1]!.event).toMatchObject({ automatic: true });
      const first = (await store.undelivered(100_000)).filter((i) => i.incidentId === incident.id).map((i) => i.effect);
      expect(first).toContainEqual({ kind: 'room.open', platform: 'slack', locale: 'en' });

      // The desk takes it at once, so the response SLA stays out of the way.
      now = t0 + MIN;
      await act(d, 'zhang.san', incident.id, cmd.accept);
      expect(cadenceOf((await d.load({ id: incident.id }))!)).toBe(t0 + 30 * MIN);

      await fireAt(d, incident.id, t0 + 30 * MIN - 1);
      expect(await reminders(incident.id)).toEqual([]);

      const before = await outboxIds(incident.id);
      const due = await fireAt(d, incident.id, t0 + 30 * MIN);
      expect(due.outcome).toBe('applied');
      expect(due.outcome === 'applied' && due.events).toEqual([{ type: 'UpdateReminderSent', dueAt: iso(t0 + 30 * MIN), reminder: 1 }]);
      const said = messages(await effectsSince(incident.id, before));
      expect(said.map((m) => [m.key, m.target])).toEqual([
        ['room.reminder', ROOM],
        ['notify.major.reminder', { type: 'user', id: 'U0IM' }],
      ]);
      expect(said[0]!.text).toContain(`Chen Jing: a status update on ${incident.number} is due`);
      expect(said[0]!.text).toContain('last update: none yet');
      expect(said[1]!.text).toContain(incident.number);
      expect(await reminders(incident.id)).toHaveLength(1);

      // The same job again (a redelivery) is stale; just before the next cadence, nothing is due.
      expect((await d.fire({ incidentId: incident.id, generation: due.incident!.version - 1, at: iso(t0 + 30 * MIN) })).outcome).toBe('stale');
      await fireAt(d, incident.id, t0 + 60 * MIN - 1);
      expect(await reminders(incident.id)).toHaveLength(1);
      const second = await fireAt(d, incident.id, t0 + 60 * MIN);
      expect(second.outcome === 'applied' && second.events).toEqual([{ type: 'UpdateReminderSent', dueAt: iso(t0 + 30 * MIN), reminder: 2 }]);
      expect(cadenceOf(second.incident!)).toBe(t0 + 90 * MIN);
    });

    it('the reporter of a P1 is told it is handled as a major incident; whoever declares it themselves is not', async () => {
      // The bot declared it (every P1), not the reporter: for them this is news, as it is when the
      // desk declares (the e2e test) and as the automatic known-outage link is.
      const d = dispatcherFor();
      now = Date.parse('2026-11-23T05:00:00Z');
      const p1 = await fileP1(d, { title: 'Payroll is down for everyone' });
      const told = withKey((await store.undelivered(100_000)).filter((i) => i.incidentId === p1.id).map((i) => i.effect), 'notify.major.reporter');
      expect(told.map((m) => m.target)).toEqual([{ type: 'user', id: 'U0REP' }]);
      expect(told[0]!.text).toContain(`${p1.number} "Payroll is down for everyone" is being handled as a major incident`);

      // The quick `major <text>`: the reporter declared it, and is not told what they just did.
      const r = await d.report(personRef('zhang.san'), { title: 'Badge readers dead', impact: 'high', urgency: 'high' }, origin, { declare: { quick: true } });
      expect(r.ok && r.incident.major).toMatchObject({ state: 'declared', quick: true, declaredBy: personRef('zhang.san') });
      const quick = (await store.undelivered(100_000)).filter((i) => r.ok && i.incidentId === r.incident.id).map((i) => i.effect);
      expect(withKey(quick, 'notify.major.reporter')).toEqual([]);
    });

    it('a status update at 40 m moves the next reminder to 70 m', async () => {
      const d = dispatcherFor();
      const t0 = (now = Date.parse('2026-11-24T01:00:00Z'));
      const incident = await fileP1(d);
      now = t0 + MIN;
      await act(d, 'zhang.san', incident.id, cmd.accept);
      await fireAt(d, incident.id, t0 + 30 * MIN);
      expect(await reminders(incident.id)).toHaveLength(1);

      now = t0 + 40 * MIN;
      const updated = await act(d, 'chen.jing', incident.id, { type: 'PostStatusUpdate', text: 'Database failover in progress' });
      expect(updated.major).toMatchObject({ updates: 1, lastUpdateAt: iso(t0 + 40 * MIN), reminders: 0 });
      expect(cadenceOf(updated)).toBe(t0 + 70 * MIN);
      expect(updated.nextTimerAt).toBe(iso(t0 + 70 * MIN));

      // 60 m would have been the next reminder without the update.
      await fireAt(d, incident.id, t0 + 60 * MIN);
      await fireAt(d, incident.id, t0 + 70 * MIN - 1);
      expect(await reminders(incident.id)).toHaveLength(1);
      const due = await fireAt(d, incident.id, t0 + 70 * MIN);
      expect(due.outcome === 'applied' && due.events).toEqual([{ type: 'UpdateReminderSent', dueAt: iso(t0 + 70 * MIN), reminder: 1 }]);
      // The reminder now tells when the last update was.
      const last = (await store.undelivered(100_000)).filter((i) => i.incidentId === incident.id).map((i) => i.effect);
      expect(withKey(last, 'room.reminder').at(-1)!.text).toContain('last update: 24 Nov, 09:40');
    });

    it('reminders missed while the bot was down collapse into one, and the next falls a whole cadence later', async () => {
      const d = dispatcherFor();
      const t0 = (now = Date.parse('2026-11-25T01:00:00Z'));
      const incident = await fileP1(d);
      now = t0 + MIN;
      await act(d, 'zhang.san', incident.id, cmd.accept);

      const before = await outboxIds(incident.id);
      const late = await fireAt(d, incident.id, t0 + 3 * HOUR);
      expect(late.outcome).toBe('applied');
      const sent = await reminders(incident.id);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ dueAt: iso(t0 + 30 * MIN) });
      expect(withKey(await effectsSince(incident.id, before), 'room.reminder')).toHaveLength(1);
      expect(withKey(await effectsSince(incident.id, before), 'notify.major.reminder')).toHaveLength(1);
      expect(cadenceOf(late.incident!)).toBe(t0 + 3 * HOUR + 30 * MIN);

      // Firing again at the same moment owes nothing more.
      await fireAt(d, incident.id, t0 + 3 * HOUR);
      expect(await reminders(incident.id)).toHaveLength(1);
    });

    it('a downgrade or a resolution ends the cadence', async () => {
      const d = dispatcherFor();
      const t0 = (now = Date.parse('2026-11-26T01:00:00Z'));
      const downgraded = await fileP1(d);
      now = t0 + MIN;
      await act(d, 'zhang.san', downgraded.id, cmd.accept);
      now = t0 + 10 * MIN;
      const after = await act(d, 'chen.jing', downgraded.id, { type: 'DowngradeMajor', reason: 'one office only' });
      expect(after.major!.state).toBe('downgraded');
      expect(cadenceOf(after)).toBeNull();
      await fireAt(d, downgraded.id, t0 + 2 * HOUR);
      expect(await reminders(downgraded.id)).toEqual([]);

      now = t0;
      const resolved = await fileP1(d);
      now = t0 + MIN;
      await act(d, 'zhang.san', resolved.id, cmd.accept);
      now = t0 + 10 * MIN;
      const done = await act(d, 'zhang.san', resolved.id, cmd.resolve('restarted the portal'));
      expect(cadenceOf(done)).toBeNull();
      await fireAt(d, resolved.id, t0 + 2 * HOUR);
      expect(await reminders(resolved.id)).toEqual([]);
    });
  });

  describe('the room after close', () => {
    async function closedWithRoom(d: Dispatcher, t0: number) {
      now = t0;
      const incident = await fileP1(d);
      await d.record(incident.id, { type: 'RecordWarRoom', platform: 'slack', channel: `C0R${incident.number.slice(4)}`, name: `inc-${incident.number.slice(4)}-payroll`, invited: 5, uninvited: [] });
      now = t0 + MIN;
      await act(d, 'zhang.san', incident.id, cmd.accept);
      now = t0 + 20 * MIN;
      await act(d, 'zhang.san', incident.id, cmd.resolve('restarted the portal'));
      now = t0 + HOUR;
      return act(d, 'reporter.a', incident.id, cmd.confirm);
    }

    it('is archived archive_after the close: the timer records WarRoomArchived and plans room.archive', async () => {
      const d = dispatcherFor();
      const t0 = Date.parse('2026-11-27T01:00:00Z');
      const closed = await closedWithRoom(d, t0);
      expect(closed.status).toBe('closed');
      expect(closed.major!.rooms).toHaveLength(1);
      expect(timerItems(closed)).toEqual([{ kind: 'archive', key: 'archive', at: t0 + HOUR + 2 * DAY }]);
      expect(closed.nextTimerAt).toBe(iso(t0 + HOUR + 2 * DAY));

      const early = await fireAt(d, closed.id, t0 + HOUR + 2 * DAY - 1);
      expect(early.outcome).toBe('nothing_due');
      const before = await outboxIds(closed.id);
      const archived = await fireAt(d, closed.id, t0 + HOUR + 2 * DAY);
      expect(archived.outcome === 'applied' && archived.events).toEqual([{ type: 'WarRoomArchived' }]);
      expect(await effectsSince(closed.id, before)).toContainEqual({ kind: 'room.archive', platform: 'slack' });
      expect(archived.incident!.major!.archived).toBe(true);
      expect(archived.incident!.nextTimerAt).toBeNull();
      expect((await store.timeline(closed.id)).at(-1)).toMatchObject({ automatic: true, event: { type: 'WarRoomArchived' } });
    });

    it('with archive_after: never, or without a room, no archive timer is owed', async () => {
      const never = dispatcherFor(testPolicy({ major_incidents: { ...MAJOR_SETTINGS, archive_after: 'never' } }));
      const kept = await closedWithRoom(never, Date.parse('2026-11-28T01:00:00Z'));
      expect(kept.major!.archiveAfterMs).toBeNull();
      expect(timerItems(kept)).toEqual([]);
      expect(kept.nextTimerAt).toBeNull();

      const d = dispatcherFor();
      now = Date.parse('2026-11-28T01:00:00Z');
      const roomless = await fileP1(d);
      await act(d, 'zhang.san', roomless.id, cmd.accept);
      await act(d, 'zhang.san', roomless.id, cmd.resolve('restarted'));
      const closed = await act(d, 'reporter.a', roomless.id, cmd.confirm);
      expect(timerItems(closed)).toEqual([]);
    });
  });

  describe('known outages', () => {
    const officePolicy = testPolicy({ major_incidents: MAJOR_SETTINGS, defaults: { system: 'Office IT' } });

    it('a new report naming the system of an open major incident is linked to it, both records at once', async () => {
      const d = dispatcherFor(officePolicy);
      now = Date.parse('2026-11-29T01:00:00Z');
      const major = await fileP1(d, { system: 'payroll' });
      now += 5 * MIN;
      const payslip = guestRef('U0PAYSLIP', 'slack', 'Payslip User');
      const child = await file(d, { title: 'Cannot open my payslip', system: 'Payroll' }, payslip);

      expect(child.priority).toBe('P3');
      expect(child.major).toBeNull();
      expect(child.linkedTo).toEqual({ id: major.id, number: major.number, title: major.title });
      expect((await d.load({ id: child.id }))!.linkedTo).toEqual(child.linkedTo);
      const childTimeline = await store.timeline(child.id);
      expect(childTimeline.map((e) => e.event.type)).toEqual(['IncidentReported', 'LinkedToMajor']);
      expect(childTimeline[1]!.event).toEqual({ type: 'LinkedToMajor', majorId: major.id, number: major.number, title: major.title, automatic: true });

      const updated = (await d.load({ id: major.id }))!;
      expect(updated.version).toBe(major.version + 1);
      expect(updated.major!.linked).toEqual([{ id: child.id, number: child.number, reporter: payslip }]);
      const last = (await store.timeline(major.id)).at(-1)!;
      expect(last.event).toEqual({ type: 'ReportLinked', incidentId: child.id, number: child.number, reporter: payslip, automatic: true });
      expect(last.actor.kind).toBe('system');

      const toChild = withKey((await store.undelivered(100_000)).filter((i) => i.incidentId === child.id).map((i) => i.effect), 'notify.major.known_outage');
      expect(toChild.map((m) => m.target)).toEqual([{ type: 'user', id: 'U0PAYSLIP' }]);
      expect(toChild[0]!.text).toContain(`${child.number}: this is a known outage, already being worked on as ${major.number}`);
      const inRoom = withKey((await store.undelivered(100_000)).filter((i) => i.incidentId === major.id).map((i) => i.effect), 'room.linked');
      expect(inRoom.map((m) => m.target)).toEqual([ROOM]);
      expect(inRoom[0]!.text).toContain(`${child.number} from Payslip User is linked to ${major.number}`);

      // The linked reporter hears the next update.
      now += 5 * MIN;
      const before = await outboxIds(major.id);
      await act(d, 'chen.jing', major.id, { type: 'PostStatusUpdate', text: 'Payroll database restarting' });
      const heard = withKey(await effectsSince(major.id, before), 'notify.major.update').map((m) => m.target);
      expect(heard).toContainEqual({ type: 'user', id: 'U0PAYSLIP' });
    });

    it('the deployment’s default system says nothing: such reports are not linked', async () => {
      const d = dispatcherFor(officePolicy);
      now = Date.parse('2026-11-30T01:00:00Z');
      const major = await fileP1(d, { title: 'Everything is slow' });
      expect(major.system).toBe('Office IT');
      const unnamed = await file(d, { title: 'My PC is slow' }, personRef('vip.user'));
      const named = await file(d, { title: 'Office is slow', system: 'office it' }, personRef('vip.user'));
      expect(unnamed.linkedTo).toBeNull();
      expect(named.linkedTo).toBeNull();
      expect((await d.load({ id: major.id }))!.major!.linked).toEqual([]);
    });

    it('a downgraded major incident is not a known outage', async () => {
      const d = dispatcherFor(officePolicy);
      now = Date.parse('2026-12-01T01:00:00Z');
      const major = await fileP1(d, { title: 'HR portal down', system: 'hr-portal' });
      await act(d, 'chen.jing', major.id, { type: 'DowngradeMajor', reason: 'only the login page' });
      const child = await file(d, { title: 'Cannot log in to HR', system: 'HR-Portal' }, personRef('vip.user'));
      expect(child.linkedTo).toBeNull();
      expect((await store.timeline(child.id)).map((e) => e.event.type)).toEqual(['IncidentReported']);
      expect((await d.load({ id: major.id }))!.major!.linked).toEqual([]);
    });
  });

  describe('the desk links a report', () => {
    it('changes both records; twice is nothing new; a non-major target and a reporter are refused', async () => {
      const d = dispatcherFor();
      now = Date.parse('2026-12-02T01:00:00Z');
      const major = await fileP1(d, { title: 'Mail is down' });
      const child = await file(d, { title: 'Cannot send mail' }, personRef('vip.user'));
      expect(child.linkedTo).toBeNull();

      now += 10 * MIN;
      const r = await d.link(actor('zhang.san'), { id: child.id }, { number: major.number }, 'slack');
      expect(r.ok).toBe(true);
      const m = (await d.load({ id: major.id }))!;
      const c = (await d.load({ id: child.id }))!;
      expect(r.ok && r.incident).toEqual(m);
      expect(m.version).toBe(major.version + 1);
      expect(c.version).toBe(child.version + 1);
      expect(m.major!.linked).toEqual([{ id: child.id, number: child.number, reporter: personRef('vip.user') }]);
      expect(c.linkedTo).toEqual({ id: major.id, number: major.number, title: 'Mail is down' });
      expect((await store.timeline(child.id)).at(-1)).toMatchObject({ actor: actor('zhang.san'), event: { type: 'LinkedToMajor', automatic: false } });
      expect((await store.timeline(major.id)).at(-1)).toMatchObject({ actor: actor('zhang.san'), event: { type: 'ReportLinked', incidentId: child.id, automatic: false } });
      const told = withKey((await store.undelivered(100_000)).filter((i) => i.incidentId === child.id).map((i) => i.effect), 'notify.major.known_outage');
      expect(told.map((x) => x.target)).toEqual([{ type: 'user', id: 'U0VIP' }]);

      const twice = await d.link(actor('chen.jing'), { id: child.id }, { id: major.id }, 'slack');
      expect(twice).toMatchObject({ ok: false, reason: 'nothing_changed' });
      expect((await d.load({ id: major.id }))!.version).toBe(m.version);
      expect((await d.load({ id: child.id }))!.version).toBe(c.version);

      const ordinary = await file(d, { title: 'Printer jammed' });
      const other = await file(d, { title: 'Cannot print' }, personRef('vip.user'));
      const notMajor = await d.link(actor('zhang.san'), { id: other.id }, { id: ordinary.id }, 'slack');
      expect(notMajor).toMatchObject({ ok: false, reason: 'not_major' });
      expect((await d.load({ id: other.id }))!).toEqual(other);

      const own = await file(d, { title: 'No mail since 9' });
      const byReporter = await d.link(actor('reporter.a'), { id: own.id }, { id: major.id }, 'slack');
      expect(byReporter).toMatchObject({ ok: false, reason: 'forbidden', need: 'desk_or_manager' });
      expect((await d.load({ id: own.id }))!.linkedTo).toBeNull();
      expect((await d.load({ id: major.id }))!.version).toBe(m.version);
    });
  });

  describe('refusals through the dispatcher', () => {
    it('a refused command writes nothing: no version, no timeline entry, no outbox item', async () => {
      const d = dispatcherFor();
      now = Date.parse('2026-12-03T01:00:00Z');
      const major = await fileP1(d);
      const timeline = await store.timeline(major.id);
      const outbox = await outboxIds(major.id);
      const refused: [TestPersonKey, Command, object][] = [
        ['chen.jing', { type: 'PostStatusUpdate', text: '   ' }, { reason: 'invalid_input', field: 'update' }],
        ['zhang.san', { type: 'ConfirmMajor' }, { reason: 'forbidden', need: 'manager_or_pm' }],
        ['reporter.a', { type: 'PostStatusUpdate', text: 'is it fixed?' }, { reason: 'forbidden', need: 'major_team' }],
        ['chen.jing', { type: 'DeclareMajor' }, { reason: 'already_major' }],
        ['chen.jing', { type: 'ChangeMajorRoles', commander: 'nobody.here', commsLead: null }, { reason: 'unknown_person' }],
      ];
      for (const [who, command, reason] of refused) {
        const r = await d.act(actor(who), { id: major.id }, command, { platform: 'slack' });
        expect(r, command.type).toMatchObject({ ok: false, ...reason });
      }
      expect(await d.load({ id: major.id })).toEqual(major);
      expect(await store.timeline(major.id)).toEqual(timeline);
      expect(await outboxIds(major.id)).toEqual(outbox);
    });
  });
});
