import { describe, expect, it } from 'vitest';
import type { Effect } from '../../src/flows/effects';
import type { Command } from '../../src/flows/incident/commands';
import type { Actor, EventBody } from '../../src/flows/incident/events';
import type { Incident, Platform } from '../../src/flows/incident/model';
import { planEffects } from '../../src/flows/plan';
import { personRef, testPolicy } from '../support/policy';
import { SYSTEM, as, asRef, at, cmd, given, report, step } from './fixtures';

const policy = testPolicy();
const reporter = asRef(personRef('reporter.a'));

/** Runs a command and plans its effects, as the dispatcher does. */
function act(before: Incident, command: Command, actor: Actor, platforms: readonly Platform[] = ['slack']): { after: Incident; effects: Effect[] } {
  const r = step(before, command, actor, at(60));
  if (!r.ok) throw new Error(`${command.type} refused: ${JSON.stringify(r)}`);
  return { after: r.state, effects: planEffects(before, r.state, r.events, actor, { policy, platforms }) };
}

function reported(incident: Incident, platforms: readonly Platform[] = ['slack']): Effect[] {
  const event: EventBody = { type: 'IncidentReported', incident };
  return planEffects(null, incident, [event], asRef(incident.reporter), { policy, platforms });
}

const messages = (effects: Effect[]) => effects.filter((e) => e.kind === 'message.send');
const cards = (effects: Effect[]) => effects.filter((e) => e.kind === 'card.sync');
const dmsTo = (effects: Effect[], userId: string) => messages(effects).filter((e) => e.target.type === 'user' && e.target.id === userId);

const atDesk = () => given(report(), [[cmd.accept, as('zhang.san')]]);
const atL1 = () => given(atDesk(), [[cmd.escalate(), as('zhang.san')], [cmd.accept, as('li.wei')]], 2);

describe('planEffects', () => {
  it('a report on Slack: the card in the desk queue and a receipt to the reporter', () => {
    const incident = report();
    const effects = reported(incident);
    expect(cards(effects)).toEqual([
      { kind: 'card.sync', platform: 'slack', purpose: 'queue:desk', target: { type: 'channel', id: 'C0DESK' }, locale: 'en', createIfMissing: true },
    ]);
    const receipts = messages(effects);
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatchObject({ platform: 'slack', target: { type: 'user', id: 'U0REP' }, key: 'notify.reported', locale: 'en' });
    expect((receipts[0] as { text: string }).text).toContain('INC-12');
    expect((receipts[0] as { text: string }).text).toContain('VPN drops every few minutes');
    expect((receipts[0] as { text: string }).text).toContain('P3 Medium');
  });

  it('an escalation: the new tier’s queue card is created, the old one updated, the reporter told', () => {
    const { effects } = act(atDesk(), cmd.escalate('needs on-site visit'), as('zhang.san'));
    expect(cards(effects)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ purpose: 'queue:l1', target: { type: 'channel', id: 'C0L1' }, createIfMissing: true }),
        expect.objectContaining({ purpose: 'queue:desk', target: { type: 'channel', id: 'C0DESK' }, createIfMissing: false }),
      ]),
    );
    expect(cards(effects)).toHaveLength(2);
    const dm = dmsTo(effects, 'U0REP');
    expect(dm).toHaveLength(1);
    expect(dm[0]).toMatchObject({ key: 'notify.IncidentEscalated' });
    expect((dm[0] as { text: string }).text).toContain('L1 engineers');
  });

  it('a change within the tier only refreshes that tier’s queue card', () => {
    const { effects } = act(atL1(), cmd.hold('waiting for the user'), as('li.wei'));
    expect(cards(effects)).toEqual([expect.objectContaining({ purpose: 'queue:l1', createIfMissing: true })]);
    expect(dmsTo(effects, 'U0REP').map((e) => (e as { key: string }).key)).toEqual(['notify.IncidentHeld']);
  });

  it('a resolve creates the reporter’s card (the confirm / not fixed question)', () => {
    const { effects } = act(atL1(), cmd.resolve(), as('li.wei'));
    expect(cards(effects)).toContainEqual({
      kind: 'card.sync',
      platform: 'slack',
      purpose: 'reporter',
      target: { type: 'user', id: 'U0REP' },
      locale: 'en',
      createIfMissing: true,
    });
  });

  it('a service request puts a card in front of each approver', () => {
    const effects = reported(report({ category: 'service_request', title: 'New laptop' }));
    expect(cards(effects)).toContainEqual({
      kind: 'card.sync',
      platform: 'slack',
      purpose: 'approver:sun.li',
      target: { type: 'user', id: 'U0APP' },
      locale: 'en',
      createIfMissing: true,
    });
    expect(messages(effects)).toEqual([expect.objectContaining({ key: 'notify.reported_approval', target: { type: 'user', id: 'U0REP' } })]);
  });

  it('the approvers’ cards are updated once the request is decided, and the reporter told', () => {
    const { effects } = act(report({ category: 'service_request', title: 'New laptop' }), cmd.approve, as('sun.li'));
    expect(cards(effects)).toContainEqual(expect.objectContaining({ purpose: 'approver:sun.li', createIfMissing: false }));
    expect(dmsTo(effects, 'U0REP')).toEqual([expect.objectContaining({ key: 'notify.RequestApproved' })]);
  });

  it('no effects go to a platform that is not connected', () => {
    const incident = report();
    const consoleOnly = reported(incident, ['console']);
    expect(consoleOnly.length).toBeGreaterThan(0);
    expect(consoleOnly.every((e) => e.platform === 'console')).toBe(true);
    // The Slack reporter cannot be reached on the console: no receipt at all.
    expect(messages(consoleOnly)).toEqual([]);
    expect(cards(consoleOnly)).toEqual([expect.objectContaining({ target: { type: 'channel', id: 'desk' } })]);

    const slackOnly = act(atDesk(), cmd.escalate(), as('zhang.san'), ['slack']).effects;
    expect(slackOnly.every((e) => e.platform === 'slack')).toBe(true);
    const both = act(atDesk(), cmd.escalate(), as('zhang.san'), ['slack', 'console']).effects;
    expect(both.filter((e) => e.platform === 'console').map((e) => ('target' in e ? e.target.id : '')).sort()).toEqual(['desk', 'l1']);
  });

  it('the reporter gets no message about what they did themselves', () => {
    const resolved = given(atL1(), [[cmd.resolve(), as('li.wei')]], 10);
    const own = act(resolved, cmd.reopen('still broken'), reporter).effects;
    expect(dmsTo(own, 'U0REP')).toEqual([]);
    // … but their card is refreshed, and the same reopen by the owner is news to them.
    expect(cards(own)).toContainEqual(expect.objectContaining({ purpose: 'reporter', createIfMissing: false }));
    const byOwner = act(resolved, cmd.reopen('user called: still broken'), as('zhang.san')).effects;
    expect(dmsTo(byOwner, 'U0REP')).toEqual([expect.objectContaining({ key: 'notify.IncidentReopened' })]);
  });

  it('a person handed the ticket directly is told, and so is the reporter', () => {
    const { effects } = act(atL1(), { type: 'ReassignIncident', toTier: null, toPerson: 'li.na', reason: 'shift change' }, as('li.wei'));
    const toLiNa = dmsTo(effects, 'U0L1B');
    expect(toLiNa).toEqual([expect.objectContaining({ key: 'notify.assigned_to_you' })]);
    expect((toLiNa[0] as { text: string }).text).toContain('shift change');
    expect((toLiNa[0] as { text: string }).text).toContain('Li Wei');
    expect(dmsTo(effects, 'U0L1')).toEqual([]);
    expect(dmsTo(effects, 'U0REP')).toEqual([expect.objectContaining({ key: 'notify.IncidentReassigned' })]);
  });

  it('an automatic close is news to the reporter and updates their card', () => {
    const resolved = given(atL1(), [[cmd.resolve(), as('li.wei')]], 10);
    const { effects } = act(resolved, cmd.close, SYSTEM);
    expect(dmsTo(effects, 'U0REP')).toEqual([expect.objectContaining({ key: 'notify.IncidentClosed' })]);
    expect(cards(effects)).toContainEqual(expect.objectContaining({ purpose: 'reporter' }));
  });
});

describe('planEffects of a major incident', () => {
  const declared = () => given(atDesk(), [[{ type: 'DeclareMajor' }, as('zhang.san')]], 5);
  const withRoom = () => given(declared(), [[{ type: 'RecordWarRoom', platform: 'slack', channel: 'C0ROOM', name: 'inc-12-vpn', invited: 4, uninvited: [] }, SYSTEM]], 6);
  const roomSays = (effects: Effect[]) => messages(effects).filter((e) => e.target.type === 'room');

  it('declaring opens the room right after the queue card, before anything said in it', () => {
    const { effects } = act(atDesk(), { type: 'DeclareMajor' }, as('zhang.san'));
    const kinds = effects.map((e) => (e.kind === 'card.sync' ? `card:${e.purpose}` : e.kind === 'message.send' ? `say:${e.target.type}` : e.kind));
    expect(kinds[0]).toBe('card:queue:desk');
    expect(kinds[1]).toBe('room.open');
    expect(kinds.indexOf('say:room')).toBeGreaterThan(1);
  });

  it('a note goes to the room while it is open, and nowhere once it is archived', () => {
    expect(roomSays(act(withRoom(), { type: 'AddNote', text: 'DB failover done', source: 'command' }, as('li.wei')).effects)).toHaveLength(1);
    const archived = { ...withRoom(), major: { ...withRoom().major!, archived: true } };
    const after = act(archived, { type: 'AddNote', text: 'post-mortem notes', source: 'command' }, as('li.wei')).effects;
    expect(roomSays(after)).toEqual([]);
    expect(cards(after).filter((c) => c.purpose === 'war_room')).toEqual([]);
  });

  it('a note marked by reaction is not echoed into the room it came from', () => {
    const { effects } = act(withRoom(), { type: 'AddNote', text: 'cert renewed', source: 'reaction', author: personRef('wang.wu'), messageRef: 'slack:C0ROOM:1.2' }, as('chen.jing'));
    expect(roomSays(effects)).toEqual([]);
  });
});
