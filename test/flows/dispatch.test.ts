import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore } from '../../src/db/index';
import { createDispatcher } from '../../src/flows/dispatch';
import { personActor } from '../../src/flows/people';
import type { IncidentStore } from '../../src/flows/ports';
import { silentLogger } from '../../src/logger';
import { personRef, testPolicy } from '../support/policy';

/** The dispatcher over a real (embedded) store, with time moved by the test, never slept. */
describe('dispatcher', () => {
  let store: IncidentStore;
  let now = Date.parse('2026-11-23T01:00:00Z');
  const clock = { now: () => new Date(now) };
  let dispatcher: ReturnType<typeof createDispatcher>;
  beforeAll(async () => {
    store = await createPgliteStore(null);
    dispatcher = createDispatcher({ store, clock, policy: testPolicy(), platforms: ['slack'], newId: randomUUID, logger: silentLogger });
  });
  afterAll(async () => {
    await store.close();
  });

  async function acceptedIncident() {
    const r = await dispatcher.report(personRef('reporter.a'), { title: 'Scanner offline' }, { platform: 'slack', channel: 'C0GENERAL' });
    if (!r.ok) throw new Error(r.reason);
    const a = await dispatcher.act(personActor(personRef('zhang.san')), { id: r.incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    if (!a.ok) throw new Error(a.reason);
    return a.incident;
  }

  it('resumes a wait-until hold when its time comes, automatically and only then', async () => {
    const incident = await acceptedIncident();
    const until = new Date(now + 2 * 3_600_000).toISOString();
    const held = await dispatcher.act(
      personActor(personRef('zhang.san')),
      { id: incident.id },
      { type: 'HoldIncident', reason: 'waiting for the vendor part', until },
      { platform: 'slack' },
    );
    expect(held.ok).toBe(true);

    // The hold's end is the incident's next timer; a wake-up before it changes nothing.
    const stored = (await store.get(incident.id))!;
    expect(stored.nextTimerAt).toBe(until);
    const job = { incidentId: incident.id, generation: stored.version, at: until };
    now += 3_600_000;
    expect((await dispatcher.fire(job)).outcome).toBe('nothing_due');
    expect((await store.get(incident.id))!.status).toBe('pending');

    now += 3_600_000;
    expect((await dispatcher.fire(job)).outcome).toBe('applied');
    const resumed = (await store.get(incident.id))!;
    expect(resumed.status).toBe('in_progress');
    expect(resumed.waitUntil).toBeNull();
    // Two hours pending do not count against the SLA clock.
    expect(resumed.pendingMs).toBe(2 * 3_600_000);
    const last = (await store.timeline(incident.id)).at(-1)!;
    expect(last.event.type).toBe('IncidentResumed');
    expect(last.automatic).toBe(true);
    expect(last.actor).toEqual({ kind: 'system', reason: 'timer' });
    // The same job again is stale: a resume happens once.
    expect((await dispatcher.fire(job)).outcome).toBe('stale');
  });

  it('refuses a command on a card of an older version as stale, and changes nothing', async () => {
    const incident = await acceptedIncident();
    const r = await dispatcher.act(
      personActor(personRef('zhang.san')),
      { id: incident.id },
      { type: 'HoldIncident', reason: 'x', until: null },
      { platform: 'slack', expectedVersion: incident.version - 1 },
    );
    expect(r).toMatchObject({ ok: false, reason: 'stale_card' });
    expect((await store.get(incident.id))!.version).toBe(incident.version);
  });

  it('takes no incident number for a refused report', async () => {
    const first = await dispatcher.report(personRef('reporter.a'), { title: 'A' }, { platform: 'slack', channel: 'C' });
    const refused = await dispatcher.report(personRef('reporter.a'), { title: '   ' }, { platform: 'slack', channel: 'C' });
    const second = await dispatcher.report(personRef('reporter.a'), { title: 'B' }, { platform: 'slack', channel: 'C' });
    expect(refused).toMatchObject({ ok: false, reason: 'invalid_input', field: 'title' });
    const n = (r: typeof first) => (r.ok ? Number(r.incident.number.slice(4)) : NaN);
    expect(n(second)).toBe(n(first) + 1);
  });
});
