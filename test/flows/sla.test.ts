/**
 * SLA clocks, warnings, the escalation matrix and the other timers (DOMAIN.md §5), through the
 * dispatcher over a real embedded store, with an injected clock: time is moved, never slept.
 * Each test fires the incident's stored timer exactly as a scheduler driver would.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPgliteStore } from '../../src/db/index';
import { createDispatcher, type Dispatcher } from '../../src/flows/dispatch';
import type { Effect } from '../../src/flows/effects';
import type { Incident } from '../../src/flows/incident/model';
import { personActor } from '../../src/flows/people';
import type { IncidentStore } from '../../src/flows/ports';
import type { Policy } from '../../src/flows/policy/policy';
import { silentLogger } from '../../src/logger';
import { personRef, testPolicy, testPolicyDoc, type TestPersonKey } from '../support/policy';
import { buildPolicy } from '../../src/config/policy-schema';
import { timerItems as timerItemsOf } from '../../src/flows/policy/sla';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('SLA timers', () => {
  let store: IncidentStore;
  let now = Date.parse('2026-11-23T01:00:00Z'); // Monday 09:00 in Asia/Shanghai
  const clock = { now: () => new Date(now) };
  let committed: Incident[] = [];

  beforeAll(async () => {
    store = await createPgliteStore(null);
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(() => {
    committed = [];
  });

  function dispatcherFor(policy: Policy): Dispatcher {
    return createDispatcher({
      store,
      clock,
      policy,
      platforms: ['slack'],
      newId: randomUUID,
      logger: silentLogger,
      onCommitted: (i) => committed.push(i),
    });
  }

  const withMatrix = () => testPolicy({ escalation_matrix: undefined });
  const as = (key: TestPersonKey) => personActor(personRef(key));

  async function reportAt(d: Dispatcher, input: { impact?: 'high' | 'medium' | 'low'; urgency?: 'high' | 'medium' | 'low' } = {}, at = now) {
    now = at;
    const r = await d.report(personRef('reporter.a'), { title: 'Payroll export fails', ...input }, { platform: 'slack', channel: 'C0GEN' });
    if (!r.ok) throw new Error(r.reason);
    return r.incident;
  }

  /** Moves the clock to the incident's next timer and fires it, as the scheduler would. */
  async function fireNext(d: Dispatcher, id: string) {
    const current = (await d.load({ id }))!;
    expect(current.nextTimerAt, 'a timer is owed').not.toBeNull();
    now = Date.parse(current.nextTimerAt!);
    return d.fire({ incidentId: id, generation: current.version, at: current.nextTimerAt! });
  }

  async function outbox(incidentId: string): Promise<Effect[]> {
    return (await store.undelivered(10_000)).filter((i) => i.incidentId === incidentId).map((i) => i.effect);
  }
  const texts = (effects: Effect[], key: string) => effects.filter((e) => e.kind === 'message.send' && e.key === key) as Extract<Effect, { kind: 'message.send' }>[];

  it('warns at 75 % and breaches at 100 % of the response target, to the queue, under the card, once each', async () => {
    const d = dispatcherFor(testPolicy());
    const t0 = Date.parse('2026-11-23T01:00:00Z');
    // medium / medium is P3: 2h response, 24h resolution.
    const incident = await reportAt(d, {}, t0);
    expect(incident.priority).toBe('P3');
    expect(incident.nextTimerAt).toBe(new Date(t0 + 90 * MIN).toISOString());

    const warned = await fireNext(d, incident.id);
    expect(warned.outcome).toBe('applied');
    expect(now - t0).toBe(90 * MIN);
    expect(warned.outcome === 'applied' && warned.events).toEqual([
      { type: 'SlaThresholdReached', clock: 'response', threshold: 'warn', dueAt: new Date(t0 + 2 * HOUR).toISOString(), targetMs: 2 * HOUR, withWarning: false },
    ]);
    const effects = await outbox(incident.id);
    const notice = texts(effects, 'notify.sla.response.warn');
    // Nobody has accepted: the notice goes under the desk card and into the desk queue.
    expect(notice).toHaveLength(1);
    expect(notice[0]!.target).toEqual({ type: 'channel', id: 'C0DESK' });
    expect(notice[0]!.thread).toEqual({ purpose: 'queue:desk', broadcast: true });
    expect(notice[0]!.text).toContain(incident.number);
    expect(notice[0]!.text).toContain('has not been accepted');

    // Firing the same job again (a redelivery, a second process) records nothing more.
    const again = await d.fire({ incidentId: incident.id, generation: warned.incident!.version - 1, at: incident.nextTimerAt! });
    expect(again.outcome).toBe('stale');

    const breached = await fireNext(d, incident.id);
    expect(now - t0).toBe(2 * HOUR);
    expect(breached.outcome === 'applied' && breached.events.map((e) => e.type === 'SlaThresholdReached' && `${e.clock}:${e.threshold}`)).toEqual(['response:breach']);
    expect(texts(await outbox(incident.id), 'notify.sla.response.breach')).toHaveLength(1);
    const timeline = await store.timeline(incident.id);
    expect(timeline.filter((e) => e.event.type === 'SlaThresholdReached').map((e) => e.automatic)).toEqual([true, true]);

    // Next owed: the resolution warning at 75 % of 24h.
    const after = (await d.load({ id: incident.id }))!;
    expect(after.nextTimerAt).toBe(new Date(t0 + 18 * HOUR).toISOString());
  });

  it('accepting stops the response clock; resolution warnings go to the assignee by DM and under the card', async () => {
    const d = dispatcherFor(testPolicy());
    const t0 = now;
    const incident = await reportAt(d);
    now = t0 + 10 * MIN;
    const accepted = await d.act(as('zhang.san'), { id: incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    expect(accepted.ok).toBe(true);
    // The response warnings no longer apply: the next timer is the resolution warning.
    expect(accepted.ok && accepted.incident.nextTimerAt).toBe(new Date(t0 + 18 * HOUR).toISOString());
    const warned = await fireNext(d, incident.id);
    expect(warned.outcome === 'applied' && warned.events[0]).toMatchObject({ clock: 'resolution', threshold: 'warn' });
    const notices = texts(await outbox(incident.id), 'notify.sla.resolution.warn');
    expect(notices.map((n) => n.target)).toEqual([
      { type: 'user', id: 'U0DESK' },
      { type: 'channel', id: 'C0DESK' },
    ]);
    expect(notices[1]!.thread).toEqual({ purpose: 'queue:desk', broadcast: false });
  });

  it('pending time does not count: a hold pushes the due time back by exactly its length', async () => {
    const d = dispatcherFor(testPolicy());
    const t0 = now;
    const incident = await reportAt(d, { impact: 'high', urgency: 'medium' }); // P2: 30m / 8h
    now = t0 + 5 * MIN;
    await d.act(as('zhang.san'), { id: incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    now = t0 + 1 * HOUR;
    const held = await d.act(as('zhang.san'), { id: incident.id }, { type: 'HoldIncident', reason: 'waiting for the user', until: null }, { platform: 'slack' });
    expect(held.ok && held.incident.nextTimerAt).toBeNull(); // paused: nothing owed
    now = t0 + 4 * HOUR;
    const resumed = await d.act(as('zhang.san'), { id: incident.id }, { type: 'ResumeIncident' }, { platform: 'slack' });
    // 6h of 8h warn mark, 3h of it spent on hold: due at 9h instead of 6h.
    expect(resumed.ok && resumed.incident.nextTimerAt).toBe(new Date(t0 + 9 * HOUR).toISOString());
    const warned = await fireNext(d, incident.id);
    expect(warned.outcome === 'applied' && warned.events[0]).toMatchObject({ clock: 'resolution', threshold: 'warn', dueAt: new Date(t0 + 11 * HOUR).toISOString() });
  });

  it('a late timer posts the breach alone, with the warning folded in', async () => {
    const d = dispatcherFor(testPolicy());
    const incident = await reportAt(d);
    // The bot was down past the whole response target.
    now += 3 * HOUR;
    const r = await d.fire({ incidentId: incident.id, generation: incident.version, at: incident.nextTimerAt! });
    expect(r.outcome === 'applied' && r.events).toEqual([expect.objectContaining({ clock: 'response', threshold: 'breach', withWarning: true })]);
    expect(texts(await outbox(incident.id), 'notify.sla.response.warn')).toHaveLength(0);
    expect(texts(await outbox(incident.id), 'notify.sla.response.breach')).toHaveLength(1);
  });

  it('business hours: a P3 reported Friday 17:00 is due Monday 10:00, and a holiday Monday moves it to Tuesday', async () => {
    const doc = testPolicyDoc();
    const policy = buildPolicy({
      ...doc,
      sla: {
        business_hours_for: ['P3', 'P4'],
        business_hours: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00', holidays: ['2026-11-30'] },
      },
    });
    const d = dispatcherFor(policy);
    // Friday 2026-11-27 17:00 in Shanghai is 09:00 UTC. 2h response: 1h on Friday, 1h on the next working day.
    const incident = await reportAt(d, {}, Date.parse('2026-11-27T09:00:00Z'));
    const view = (await d.load({ id: incident.id }))!;
    // Monday 2026-11-30 is a holiday: due Tuesday 10:00 Shanghai (02:00 UTC); warning at 1h30 = Tuesday 09:30.
    expect(view.nextTimerAt).toBe('2026-12-01T01:30:00.000Z');
    const warned = await fireNext(d, incident.id);
    expect(warned.outcome === 'applied' && warned.events[0]).toMatchObject({ threshold: 'warn', dueAt: '2026-12-01T02:00:00.000Z' });

    // Without the holiday, the same report is due Monday 10:00.
    const plain = buildPolicy({ ...doc, sla: { business_hours_for: ['P3'], business_hours: {} } });
    const d2 = dispatcherFor(plain);
    const other = await reportAt(d2, {}, Date.parse('2026-11-27T09:00:00Z'));
    expect(other.nextTimerAt).toBe('2026-11-30T01:30:00.000Z');
    // P2 is not on the calendar: it runs around the clock.
    const p2 = await reportAt(d2, { impact: 'high', urgency: 'medium' }, Date.parse('2026-11-27T09:00:00Z'));
    expect(p2.nextTimerAt).toBe(new Date(Date.parse('2026-11-27T09:00:00Z') + 22.5 * MIN).toISOString());
  });

  it('P3 on the default matrix: L1 at once, L2 at 30m, the project manager at 4h, management at 12h', async () => {
    const d = dispatcherFor(withMatrix());
    const t0 = now;
    const incident = await reportAt(d);
    expect(incident.nextTimerAt).toBe(new Date(t0).toISOString());

    const first = await fireNext(d, incident.id);
    expect(first.outcome === 'applied' && first.events.map((e) => e.type)).toEqual(['EscalationStepReached', 'IncidentEscalated']);
    let state = (await d.load({ id: incident.id }))!;
    expect(state.tier).toBe('l1');
    expect(state.status).toBe('new');
    const esc = (await store.timeline(incident.id)).at(-1)!;
    expect(esc.automatic).toBe(true);
    expect(esc.event).toMatchObject({ type: 'IncidentEscalated', fromTier: 'desk', toTier: 'l1', matrixAfterMs: 0 });
    // Posted in the new tier's queue.
    const cards = (await outbox(incident.id)).filter((e) => e.kind === 'card.sync' && e.purpose === 'queue:l1' && e.createIfMissing);
    expect(cards.length).toBeGreaterThan(0);

    // An L1 engineer accepts; the matrix still wants L2 at 30m of SLA time.
    now = t0 + 10 * MIN;
    await d.act(as('li.wei'), { id: incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    await fireNext(d, incident.id);
    state = (await d.load({ id: incident.id }))!;
    expect(now - t0).toBe(30 * MIN);
    expect(state.tier).toBe('l2');
    expect(state.assignee).toBeNull();

    // Next: response is met (accepted at 10m), so the P3 resolution warning at 18h and the PM at 4h.
    await d.act(as('wang.wu'), { id: incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    const pm = await fireNext(d, incident.id);
    expect(now - t0).toBe(4 * HOUR);
    expect(pm.outcome === 'applied' && pm.events).toEqual([
      expect.objectContaining({ type: 'EscalationStepReached', role: 'project_manager', escalated: false, notified: ['pm.gao'] }),
    ]);
    state = (await d.load({ id: incident.id }))!;
    expect(state.watchers).toEqual(['pm.gao']);
    const dms = texts(await outbox(incident.id), 'notify.matrix.role');
    expect(dms.map((m) => m.target)).toEqual([{ type: 'user', id: 'U0PM' }]);
    expect(dms[0]!.text).toContain('project manager');

    const mgmt = await fireNext(d, incident.id);
    expect(now - t0).toBe(12 * HOUR);
    expect(mgmt.outcome === 'applied' && mgmt.events[0]).toMatchObject({ role: 'management', notified: ['boss.he'] });
    expect((await d.load({ id: incident.id }))!.watchers).toEqual(['pm.gao', 'boss.he']);

    // The watchers hear of the resolution.
    await d.act(as('wang.wu'), { id: incident.id }, { type: 'ResolveIncident', code: 'fixed', note: 'replaced the switch' }, { platform: 'slack' });
    const told = texts(await outbox(incident.id), 'notify.watch.IncidentResolved');
    expect(told.map((m) => m.target.id).sort()).toEqual(['U0MGMT', 'U0PM']);
    expect(told[0]!.text).toContain('resolved by Wang Wu');
  });

  it('P1 notifies the project manager at once and management at 30m; P2 starts at L2; P4 waits 30m for L1', async () => {
    const d = dispatcherFor(withMatrix());
    const t0 = now;
    const p1 = await reportAt(d, { impact: 'high', urgency: 'high' });
    expect(p1.priority).toBe('P1');
    const first = await fireNext(d, p1.id);
    expect(first.outcome === 'applied' && first.events[0]).toMatchObject({ type: 'EscalationStepReached', role: 'project_manager' });
    expect((await d.load({ id: p1.id }))!.tier).toBe('desk');
    // P1 response warning (75 % of 15m) comes before management at 30m.
    const warn = await fireNext(d, p1.id);
    expect(now - t0).toBe(11.25 * MIN);
    expect(warn.outcome === 'applied' && warn.events[0]).toMatchObject({ clock: 'response', threshold: 'warn' });

    // P2 goes straight from the desk to L2 (no stop at L1), then the project manager at 30m.
    now = t0;
    const p2 = await reportAt(d, { impact: 'high', urgency: 'medium' });
    const jump = await fireNext(d, p2.id);
    expect(jump.outcome === 'applied' && jump.events).toEqual([
      expect.objectContaining({ type: 'EscalationStepReached', tier: 'l2', escalated: true }),
      expect.objectContaining({ type: 'IncidentEscalated', fromTier: 'desk', toTier: 'l2' }),
    ]);
    await d.act(as('wang.wu'), { id: p2.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    const p2pm = await fireNext(d, p2.id);
    expect(now - t0).toBe(30 * MIN);
    expect(p2pm.outcome === 'applied' && p2pm.events.map((e) => e.type === 'EscalationStepReached' && e.role)).toContain('project_manager');

    now = t0;
    const p4 = await reportAt(d, { impact: 'low', urgency: 'low' });
    expect(p4.priority).toBe('P4');
    expect(p4.nextTimerAt).toBe(new Date(t0 + 30 * MIN).toISOString());
    const l1 = await fireNext(d, p4.id);
    expect(l1.outcome === 'applied' && l1.events.map((e) => e.type)).toEqual(['EscalationStepReached', 'IncidentEscalated']);
  });

  it('resolving stops the clocks and the matrix; a reopen restarts what still applies', async () => {
    const d = dispatcherFor(withMatrix());
    const t0 = now;
    const incident = await reportAt(d, { impact: 'low', urgency: 'low' }); // P4: L1 at 30m
    now = t0 + 5 * MIN;
    await d.act(as('zhang.san'), { id: incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    now = t0 + 10 * MIN;
    const resolved = await d.act(as('zhang.san'), { id: incident.id }, { type: 'ResolveIncident', code: 'fixed', note: 'reset' }, { platform: 'slack' });
    // Only the auto-close (3 days, wall clock) is owed now.
    expect(resolved.ok && resolved.incident.nextTimerAt).toBe(new Date(t0 + 10 * MIN + 3 * 24 * HOUR).toISOString());
    now = t0 + 1 * HOUR;
    const reopened = await d.act(as('reporter.a'), { id: incident.id }, { type: 'ReopenIncident', reason: 'still broken' }, { platform: 'slack' });
    // 10 minutes of SLA time were used before the resolution; the L1 step at 30m is 20m away.
    expect(reopened.ok && reopened.incident.nextTimerAt).toBe(new Date(t0 + 1 * HOUR + 20 * MIN).toISOString());
    const step = await fireNext(d, incident.id);
    expect(step.outcome === 'applied' && step.events.map((e) => e.type)).toEqual(['EscalationStepReached', 'IncidentEscalated']);
  });

  it('a resolved incident with no answer closes itself after the configured time and says so', async () => {
    const d = dispatcherFor(testPolicy({ auto_close_after: '2d' }));
    const t0 = now;
    const incident = await reportAt(d);
    await d.act(as('zhang.san'), { id: incident.id }, { type: 'ResolveIncident', code: 'user_guidance', note: 'explained' }, { platform: 'slack' });
    const closed = await fireNext(d, incident.id);
    expect(now - t0).toBe(2 * 24 * HOUR);
    expect(closed.outcome === 'applied' && closed.events).toEqual([{ type: 'IncidentClosed', automatic: true }]);
    const state = (await d.load({ id: incident.id }))!;
    expect(state.status).toBe('closed');
    expect(state.nextTimerAt).toBeNull();
    const told = texts(await outbox(incident.id), 'notify.IncidentClosed');
    expect(told.map((m) => m.target)).toEqual([{ type: 'user', id: 'U0REP' }]);
  });

  it('wait-until resumes at its time and tells the assignee', async () => {
    const d = dispatcherFor(testPolicy());
    const t0 = now;
    const incident = await reportAt(d);
    await d.act(as('zhang.san'), { id: incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    const until = new Date(t0 + 3 * HOUR).toISOString();
    const held = await d.act(as('zhang.san'), { id: incident.id }, { type: 'HoldIncident', reason: 'vendor part', until }, { platform: 'slack' });
    expect(held.ok && held.incident.nextTimerAt).toBe(until);
    const resumed = await fireNext(d, incident.id);
    expect(resumed.outcome === 'applied' && resumed.events).toEqual([{ type: 'IncidentResumed' }]);
    expect(texts(await outbox(incident.id), 'notify.wait_over').map((m) => m.target)).toEqual([{ type: 'user', id: 'U0DESK' }]);
  });

  it('a stale generation and an early timer change nothing', async () => {
    const d = dispatcherFor(testPolicy());
    const incident = await reportAt(d);
    const before = await store.timeline(incident.id);
    // Early: the job fires before its time (clock skew between hosts): nothing recorded, rescheduled.
    committed = [];
    const early = await d.fire({ incidentId: incident.id, generation: incident.version, at: incident.nextTimerAt! });
    expect(early.outcome).toBe('nothing_due');
    expect(committed.map((i) => i.nextTimerAt)).toEqual([incident.nextTimerAt]);
    // Stale: the incident moved on since the job was made.
    await d.act(as('zhang.san'), { id: incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    now = Date.parse(incident.nextTimerAt!) + 1;
    const stale = await d.fire({ incidentId: incident.id, generation: incident.version, at: incident.nextTimerAt! });
    expect(stale.outcome).toBe('stale');
    expect((await store.timeline(incident.id)).length).toBe(before.length + 1); // only the accept
    // Unknown incident.
    expect((await d.fire({ incidentId: randomUUID(), generation: 1, at: new Date(now).toISOString() })).outcome).toBe('gone');
  });

  it('the policy in force at the report is kept: a later edit does not move running clocks', async () => {
    const d = dispatcherFor(testPolicy());
    const t0 = now;
    const incident = await reportAt(d);
    // The file is edited: P3 response becomes 8h. The running incident keeps its 2h target.
    const edited = dispatcherFor(testPolicy({ sla: { targets: { P3: { response: '8h', resolution: '48h' } } } }));
    const warned = await fireNext(edited, incident.id);
    expect(now - t0).toBe(90 * MIN);
    expect(warned.outcome === 'applied' && warned.events[0]).toMatchObject({ targetMs: 2 * HOUR });
    // A new report takes the new targets.
    const fresh = await reportAt(edited, {}, t0);
    expect(fresh.nextTimerAt).toBe(new Date(t0 + 6 * HOUR).toISOString());
  });

  it('concurrent fires of one job record the warning once', async () => {
    const d = dispatcherFor(testPolicy());
    const incident = await reportAt(d);
    now = Date.parse(incident.nextTimerAt!);
    const job = { incidentId: incident.id, generation: incident.version, at: incident.nextTimerAt! };
    const results = await Promise.all(Array.from({ length: 10 }, () => d.fire(job)));
    expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
    const warnings = (await store.timeline(incident.id)).filter((e) => e.event.type === 'SlaThresholdReached');
    expect(warnings).toHaveLength(1);
  });

  it('a warning does not make a card stale: a click or form from just before it still counts', async () => {
    const d = dispatcherFor(testPolicy());
    const incident = await reportAt(d);
    const seen = incident.version;
    const warned = await fireNext(d, incident.id);
    expect(warned.outcome).toBe('applied');
    expect(warned.incident!.version).toBe(seen + 1);
    // The desk presses Accept on the card rendered before the warning.
    const accepted = await d.act(as('zhang.san'), { id: incident.id }, { type: 'AcceptIncident' }, { platform: 'slack', expectedVersion: seen });
    expect(accepted.ok).toBe(true);
    // A real change does make that old card stale.
    const late = await d.act(as('zhang.san'), { id: incident.id }, { type: 'HoldIncident', reason: 'waiting', until: null }, { platform: 'slack', expectedVersion: seen });
    expect(late).toMatchObject({ ok: false, reason: 'stale_card' });
  });

  it('a priority change follows the new row of the matrix without repeating what was done', async () => {
    const d = dispatcherFor(withMatrix());
    const t0 = now;
    const p1 = await reportAt(d, { impact: 'high', urgency: 'high' });
    await fireNext(d, p1.id); // P1: project manager at once
    now = t0 + 40 * MIN;
    // The desk downgrades it to P3: P3's row wants L1 at 0m and L2 at 30m (both past), and the
    // project manager at 4h, who has already been told.
    const changed = await d.act(as('zhang.san'), { id: p1.id }, { type: 'ChangePriority', priority: 'P3', reason: 'only one team affected' }, { platform: 'slack' });
    expect(changed.ok).toBe(true);
    const caughtUp = await d.fire({ incidentId: p1.id, generation: changed.ok ? changed.incident.version : 0, at: new Date(now).toISOString() });
    expect(caughtUp.outcome === 'applied' && caughtUp.events.map((e) => (e.type === 'IncidentEscalated' ? `to:${e.toTier}` : e.type))).toEqual([
      'EscalationStepReached',
      'to:l1',
      'EscalationStepReached',
      'to:l2',
      // It was declared major as a P1 at report: its first status update was due at 30m.
      'UpdateReminderSent',
    ]);
    const state = (await d.load({ id: p1.id }))!;
    expect(state.tier).toBe('l2');
    // The next matrix step is management at 12h: the 4h project-manager step is already done.
    const steps = timerItemsOf(state).filter((i) => i.kind === 'matrix');
    expect(steps.map((i) => new Date(i.at).toISOString())).toEqual([new Date(t0 + 12 * HOUR).toISOString()]);
  });

  it('notices are in each person’s language: the assignee’s DM in Chinese, the queue in the deployment’s', async () => {
    const doc = testPolicyDoc();
    (doc.people as Record<string, { name: string; slack: string; locale?: 'zh-CN' | 'en' }>)['zhang.san']!.locale = 'zh-CN';
    const d = dispatcherFor(buildPolicy(doc));
    const incident = await reportAt(d);
    await d.act(as('zhang.san'), { id: incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    await fireNext(d, incident.id);
    const notices = texts(await outbox(incident.id), 'notify.sla.resolution.warn');
    const dm = notices.find((n) => n.target.type === 'user')!;
    const queue = notices.find((n) => n.target.type === 'channel')!;
    expect(dm.locale).toBe('zh-CN');
    expect(dm.text).toContain('解决时限');
    expect(queue.locale).toBe('en');
    expect(queue.text).toContain('the resolution target');
  });
});
