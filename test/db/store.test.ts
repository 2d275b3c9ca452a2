/**
 * The IncidentStore contract (src/flows/ports.ts), run against both drivers with the same cases:
 * PostgreSQL (a fresh database on the local server) and PGlite in memory.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createPgliteStore,
  createPostgresStore,
  migratePglite,
  migratePostgres,
  MIGRATIONS_FOLDER,
  pgliteStore,
  type MigrationResult,
} from '../../src/db';
import type { Effect } from '../../src/flows/effects';
import type { TimelineEntry } from '../../src/flows/incident/events';
import type { Incident, PersonRef } from '../../src/flows/incident/model';
import type { CommitItem, IncidentStore, OutboxItem, WarRoomRecord } from '../../src/flows/ports';
import { createIncident } from '../../src/flows/incident/decide';
import { createTestDatabase } from '../support/pg';
import { testPolicy } from '../support/policy';

const TABLES = 'incidents, timeline, outbox, inbound_dedupe, message_bindings, war_rooms';
/** Migrations in the committed journal: what a fully migrated database has recorded. */
const MIGRATION_COUNT = (
  JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length;

interface Harness {
  store: IncidentStore;
  /** Empties every table (not the incident sequence), so each case starts from nothing. */
  reset(): Promise<void>;
  migrateAgain(): Promise<MigrationResult>;
  teardown(): Promise<void>;
}

const drivers: { name: string; open(): Promise<Harness> }[] = [
  {
    name: 'postgres',
    async open() {
      const database = await createTestDatabase();
      const store = await createPostgresStore(database.url).catch(async (error: unknown) => {
        await database.drop();
        throw error;
      });
      const admin = postgres(database.url, { max: 1, onnotice: () => {} });
      return {
        store,
        reset: async () => {
          await admin.unsafe(`truncate ${TABLES} restart identity`);
        },
        migrateAgain: () => migratePostgres(database.url),
        teardown: async () => {
          await store.close();
          await admin.end({ timeout: 5 });
          await database.drop();
        },
      };
    },
  },
  {
    name: 'pglite',
    async open() {
      const client = await PGlite.create();
      const store = await pgliteStore(client);
      return {
        store,
        reset: async () => {
          await client.exec(`truncate ${TABLES} restart identity`);
        },
        migrateAgain: () => migratePglite(client),
        teardown: () => store.close(),
      };
    },
  },
];

// ---- sample data -------------------------------------------------------------------------------

const T0 = Date.parse('2025-03-03T09:00:00.000Z');
/** An ISO instant `ms` after T0. */
const at = (ms = 0): string => new Date(T0 + ms).toISOString();
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function person(id: string): PersonRef {
  return { id, name: id[0]!.toUpperCase() + id.slice(1), platform: 'slack', platformUserId: `U_${id.toUpperCase()}` };
}

/** A fresh incident as the flows build one (createIncident), with test-specific overrides. */
function makeIncident(seq: number, over: Partial<Incident> = {}): Incident {
  const built = createIncident(
    {
      title: `Printer ${seq} is on fire`,
      description: 'Smoke from tray 2 — 打印机冒烟',
      category: 'fault',
      impact: 'medium',
      urgency: 'high',
      system: 'printing',
      location: 'HQ 3F',
      source: 'chat',
    },
    { id: randomUUID(), seq, now: at(), policy: testPolicy(), reporter: person('alice'), origin: { platform: 'slack', channel: 'C_HELP' } },
  );
  if (!built.ok) throw new Error(`sample incident refused: ${built.reason}`);
  return { ...built.incident, ...over };
}

function reportedEntry(incident: Incident): TimelineEntry {
  return {
    incidentId: incident.id,
    seq: 1,
    at: incident.reportedAt,
    actor: { kind: 'person', person: incident.reporter },
    platform: 'slack',
    automatic: false,
    event: { type: 'IncidentReported', incident },
    status: incident.status,
  };
}

function acceptedEntry(incident: Incident, seq: number, when: string, assignee = person('bob')): TimelineEntry {
  return {
    incidentId: incident.id,
    seq,
    at: when,
    actor: { kind: 'person', person: assignee },
    platform: 'slack',
    automatic: false,
    event: { type: 'IncidentAccepted', assignee, owner: assignee, firstResponse: true },
    status: 'in_progress',
  };
}

function effect(n: number): Effect {
  return {
    kind: 'message.send',
    platform: 'slack',
    target: { type: 'channel', id: 'C_DESK' },
    locale: 'en',
    key: 'test.effect',
    text: `effect ${n}`,
  };
}

/** Allocates a number, creates the incident with its report entry and `effects`, returns it. */
async function report(store: IncidentStore, over: Partial<Incident> = {}, effects: Effect[] = []): Promise<Incident> {
  const incident = makeIncident(await store.nextSeq(), over);
  await store.create(incident, [reportedEntry(incident)], effects);
  return incident;
}

/** The next version of `incident` as an accept would produce it. */
function accepted(incident: Incident, who = person('bob')): Incident {
  return { ...incident, version: incident.version + 1, status: 'in_progress', assignee: who, owner: who };
}

async function outboxOf(store: IncidentStore, incidentId: string) {
  return (await store.undelivered(1000)).filter((i) => i.incidentId === incidentId);
}

const ids = (items: OutboxItem[]) => items.map((i) => i.id);

// ---- the contract ------------------------------------------------------------------------------

describe.each(drivers)('IncidentStore on $name', (driver) => {
  let h: Harness;
  let store: IncidentStore;

  beforeAll(async () => {
    h = await driver.open();
    store = h.store;
  });
  afterAll(async () => {
    await h?.teardown();
  });
  beforeEach(async () => {
    await h.reset();
  });

  describe('incidents', () => {
    it('creates an incident and reads it back by id and by number in any spelling', async () => {
      const incident = await report(store, { title: 'VPN down', assignee: null });
      const seq = Number(incident.number.slice('INC-'.length));

      expect(await store.get(incident.id)).toEqual(incident);
      for (const spelling of [incident.number, incident.number.toLowerCase(), `Inc-${seq}`, `${seq}`, `inc-${seq}`, ` #${seq} `]) {
        expect(await store.getByNumber(spelling), spelling).toEqual(incident);
      }
      expect(await store.getByNumber(`INC-${seq + 1000}`)).toBeNull();
      expect(await store.getByNumber('INC-')).toBeNull();
      expect(await store.getByNumber('hello')).toBeNull();
      expect(await store.get(randomUUID())).toBeNull();
      expect(await store.get('not-a-uuid')).toBeNull();
      expect(await store.timeline(incident.id)).toEqual([reportedEntry(incident)]);
    });

    it('finds "42" and "inc-42" as INC-42', async () => {
      const incident = makeIncident(42);
      await store.create(incident, [reportedEntry(incident)], []);
      await report(store); // another incident, so a lookup cannot just return "the" row
      expect(await store.getByNumber('42')).toEqual(incident);
      expect(await store.getByNumber('inc-42')).toEqual(incident);
      expect(await store.getByNumber('INC-4')).toBeNull();
    });

    it('refuses a duplicate id or number and writes nothing of the failed create', async () => {
      const first = await report(store, {}, [effect(1)]);
      const sameId = makeIncident(await store.nextSeq(), { id: first.id, title: 'impostor' });
      await expect(store.create(sameId, [reportedEntry(sameId)], [effect(2)])).rejects.toThrow();
      const sameNumber = makeIncident(0, { number: first.number });
      await expect(store.create(sameNumber, [reportedEntry(sameNumber)], [effect(3)])).rejects.toThrow();

      expect(await store.get(first.id)).toEqual(first);
      expect(await store.get(sameNumber.id)).toBeNull();
      expect(await store.timeline(first.id)).toHaveLength(1);
      expect(await store.timeline(sameNumber.id)).toEqual([]);
      const items = await store.undelivered(100);
      expect(items.map((i) => i.effect)).toEqual([effect(1)]);
    });

    it('refuses malformed input before touching the database', async () => {
      const seq = await store.nextSeq();
      const badNumber = makeIncident(seq, { number: `TICKET-${seq}` });
      await expect(store.create(badNumber, [reportedEntry(badNumber)], [])).rejects.toThrow(/INC-<seq>/);
      const v2 = makeIncident(seq, { version: 2 });
      await expect(store.create(v2, [reportedEntry(v2)], [])).rejects.toThrow(/version 1/);
      const noEntry = makeIncident(seq);
      await expect(store.create(noEntry, [], [effect(1)])).rejects.toThrow(/timeline entry/);
      const other = makeIncident(seq);
      await expect(store.create(other, [reportedEntry(makeIncident(seq))], [])).rejects.toThrow(/belongs to/);
      expect(await store.list({ limit: 10 })).toEqual([]);
    });

    it('allocates increasing sequence numbers that are never reused, even after a failed create', async () => {
      const first = await store.nextSeq();
      const second = await store.nextSeq();
      expect(second).toBeGreaterThan(first);

      const concurrent = await Promise.all(Array.from({ length: 20 }, () => store.nextSeq()));
      expect(new Set(concurrent).size).toBe(20);
      expect(Math.min(...concurrent)).toBeGreaterThan(second);

      // A create that fails after taking a number leaves a gap, it does not give the number back.
      const existing = await report(store);
      const burnt = await store.nextSeq();
      const clash = makeIncident(burnt, { id: existing.id });
      await expect(store.create(clash, [reportedEntry(clash)], [])).rejects.toThrow();
      expect(await store.nextSeq()).toBeGreaterThan(burnt);
    });
  });

  describe('commit', () => {
    it('stores the next version with its entries and effects', async () => {
      const v1 = await report(store, {}, [effect(1)]);
      const v2 = accepted(v1);
      const entry = acceptedEntry(v1, 2, at(MINUTE));

      expect(await store.commit(v2, 1, [entry], [effect(2), effect(3)])).toBe(true);
      expect(await store.get(v1.id)).toEqual(v2);
      expect(await store.getByNumber(v1.number)).toEqual(v2);
      expect(await store.timeline(v1.id)).toEqual([reportedEntry(v1), entry]);
      const keys = (await outboxOf(store, v1.id)).map((i) => i.key);
      expect(keys).toEqual([`${v1.id}:1:0`, `${v1.id}:2:0`, `${v1.id}:2:1`]);
    });

    it('returns false and writes nothing when the expected version is stale', async () => {
      const v1 = await report(store, {}, [effect(1)]);
      expect(await store.commit(accepted(v1), 1, [acceptedEntry(v1, 2, at(MINUTE))], [effect(2)])).toBe(true);
      const stored = await store.get(v1.id);
      const timelineBefore = await store.timeline(v1.id);
      const outboxBefore = await outboxOf(store, v1.id);

      const loser = accepted(v1, person('carol'));
      expect(await store.commit(loser, 1, [acceptedEntry(v1, 3, at(2 * MINUTE), person('carol'))], [effect(9)])).toBe(false);

      expect(await store.get(v1.id)).toEqual(stored);
      expect(await store.timeline(v1.id)).toEqual(timelineBefore);
      expect(await outboxOf(store, v1.id)).toEqual(outboxBefore);
    });

    it('returns false for an unknown incident', async () => {
      const ghost = makeIncident(999_999);
      expect(await store.commit(accepted(ghost), 1, [acceptedEntry(ghost, 2, at())], [effect(1)])).toBe(false);
      expect(await store.undelivered(10)).toEqual([]);
    });

    it('throws when next.version is not expectedVersion + 1', async () => {
      const v1 = await report(store);
      await expect(store.commit({ ...accepted(v1), version: 3 }, 1, [], [])).rejects.toThrow(/expectedVersion \+ 1/);
      await expect(store.commit({ ...accepted(v1), version: 1 }, 1, [], [])).rejects.toThrow(/expectedVersion \+ 1/);
      expect(await store.get(v1.id)).toEqual(v1);
    });

    it('lets exactly one of 20 concurrent commits from the same version win', async () => {
      const v1 = await report(store);
      const people = Array.from({ length: 20 }, (_, i) => person(`agent${i}`));
      const results = await Promise.all(
        people.map((who, i) =>
          store.commit(accepted(v1, who), 1, [acceptedEntry(v1, 2, at(MINUTE + i), who)], [effect(100 + i)]),
        ),
      );

      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      const stored = await store.get(v1.id);
      expect(stored?.version).toBe(2);
      expect(stored?.assignee).toEqual(people[winner]);
      const entries = await store.timeline(v1.id);
      expect(entries.map((e) => e.seq)).toEqual([1, 2]);
      expect(entries[1]?.actor).toEqual({ kind: 'person', person: people[winner] });
      expect((await outboxOf(store, v1.id)).map((i) => i.effect)).toEqual([effect(100 + winner)]);
    });

    it('chains versions: each commit must start from the latest', async () => {
      let current = await report(store);
      for (let seq = 2; seq <= 6; seq++) {
        const next = { ...current, version: current.version + 1, pendingMs: seq };
        expect(await store.commit(next, current.version, [acceptedEntry(current, seq, at(seq * MINUTE))], [])).toBe(true);
        expect(await store.commit(next, current.version, [acceptedEntry(current, seq + 100, at())], [])).toBe(false);
        current = next;
      }
      expect(await store.get(current.id)).toEqual(current);
      expect((await store.timeline(current.id)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    });
  });

  describe('timeline', () => {
    it('returns entries ordered by seq whatever the insertion order, empty for unknown ids', async () => {
      const v1 = await report(store);
      const held: TimelineEntry = {
        incidentId: v1.id,
        seq: 4,
        at: at(3 * MINUTE),
        actor: { kind: 'system', reason: 'wait-until' },
        platform: 'system',
        automatic: true,
        event: { type: 'IncidentHeld', reason: 'vendor', until: at(HOUR) },
        status: 'pending',
      };
      const escalated: TimelineEntry = {
        incidentId: v1.id,
        seq: 3,
        at: at(2 * MINUTE),
        actor: { kind: 'system', reason: 'response timer' },
        platform: 'system',
        automatic: true,
        event: { type: 'IncidentEscalated', fromTier: 'l1', toTier: 'l2', reason: 'timeout' },
        status: 'in_progress',
      };
      const v2 = accepted(v1);
      expect(await store.commit(v2, 1, [acceptedEntry(v1, 2, at(MINUTE))], [])).toBe(true);
      expect(await store.commit({ ...v2, version: 3 }, 2, [held, escalated], [])).toBe(true);

      const entries = await store.timeline(v1.id);
      expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(entries[2]).toEqual(escalated);
      expect(entries[3]).toEqual(held);
      expect(await store.timeline(randomUUID())).toEqual([]);
      expect(await store.timeline('nope')).toEqual([]);
      // The latest entry alone is the highest seq, whatever order the commit listed them in.
      expect(await store.lastEntry(v1.id)).toEqual(held);
      expect(await store.lastEntry(randomUUID())).toBeNull();
      expect(await store.lastEntry('nope')).toBeNull();
    });

    it('refuses a repeated seq and rolls the whole commit back', async () => {
      const v1 = await report(store);
      const duplicate = { ...reportedEntry(v1), event: { type: 'IncidentResumed' } as const };
      await expect(store.commit(accepted(v1), 1, [duplicate], [effect(1)])).rejects.toThrow();
      expect(await store.get(v1.id)).toEqual(v1);
      expect(await store.undelivered(10)).toEqual([]);
    });
  });

  describe('queries', () => {
    it('lists by involvement, tier and status, newest reported first', async () => {
      const alice = person('alice');
      const bob = person('bob');
      const carol = person('carol');
      const a = await report(store, { reporter: alice, reportedAt: at(1 * MINUTE) });
      const b = await report(store, { reporter: bob, assignee: alice, tier: 'l1', status: 'in_progress', reportedAt: at(2 * MINUTE) });
      const c = await report(store, { reporter: bob, owner: alice, assignee: carol, tier: 'l2', status: 'in_progress', reportedAt: at(3 * MINUTE) });
      const d = await report(store, { reporter: carol, tier: 'l2', status: 'closed', reportedAt: at(4 * MINUTE) });
      const e = await report(store, { reporter: carol, tier: 'l1', status: 'pending', reportedAt: at(5 * MINUTE) });

      const numbers = (list: Incident[]) => list.map((i) => i.number);
      expect(numbers(await store.list({ limit: 100 }))).toEqual(numbers([e, d, c, b, a]));
      expect(numbers(await store.list({ limit: 2 }))).toEqual(numbers([e, d]));
      expect(numbers(await store.list({ involving: 'alice', limit: 100 }))).toEqual(numbers([c, b, a]));
      expect(numbers(await store.list({ involving: 'carol', limit: 100 }))).toEqual(numbers([e, d, c]));
      expect(numbers(await store.list({ involving: 'nobody', limit: 100 }))).toEqual([]);
      expect(numbers(await store.list({ tiers: ['l1', 'l2'], limit: 100 }))).toEqual(numbers([e, d, c, b]));
      expect(numbers(await store.list({ statuses: ['in_progress', 'pending'], limit: 100 }))).toEqual(numbers([e, c, b]));
      expect(numbers(await store.list({ involving: 'carol', tiers: ['l2'], statuses: ['in_progress'], limit: 100 }))).toEqual(
        numbers([c]),
      );
      expect(numbers(await store.list({ involving: 'bob', tiers: ['l1'], limit: 100 }))).toEqual(numbers([b]));
      expect(await store.list({ tiers: [], limit: 100 })).toEqual([]);
      expect(await store.list({ limit: 0 })).toEqual([]);
    });

    it('reflects committed changes in list columns (assignee, status, tier)', async () => {
      const v1 = await report(store, { reporter: person('alice') });
      expect(await store.list({ involving: 'dave', limit: 10 })).toEqual([]);
      const v2 = { ...accepted(v1, person('dave')), tier: 'l1' as const };
      expect(await store.commit(v2, 1, [acceptedEntry(v1, 2, at(MINUTE), person('dave'))], [])).toBe(true);
      expect(await store.list({ involving: 'dave', tiers: ['l1'], statuses: ['in_progress'], limit: 10 })).toEqual([v2]);
      expect(await store.list({ statuses: ['new'], limit: 10 })).toEqual([]);
    });

    it('lists the timers incidents owe, soonest first, paged by keyset, leaving out those owing none', async () => {
      // Instants long before T0 keep this test's incidents apart from the other tests' ones.
      const t = (min: number) => new Date(Date.parse('2000-01-01T00:00:00Z') + min * MINUTE).toISOString();
      const mine = [await report(store, { nextTimerAt: t(30) }), await report(store, { nextTimerAt: t(10) }), await report(store, { nextTimerAt: t(20) })];
      const tie = await report(store, { nextTimerAt: t(20) });
      await report(store, { nextTimerAt: null }); // owes nothing (closed, or paused)
      await report(store, { nextTimerAt: t(90) }); // later than the bound
      const [a, b, c] = mine as [Incident, Incident, Incident];
      const job = (i: Incident) => ({ incidentId: i.id, generation: i.version, at: i.nextTimerAt });
      const byTie = [c, tie].sort((x, y) => (x.id < y.id ? -1 : 1));

      expect(await store.owedTimers(t(60), 10, null)).toEqual([job(b), ...byTie.map(job), job(a)]);
      // Pages: strictly after the last (at, id) seen, so equal instants are neither lost nor doubled.
      const page1 = await store.owedTimers(t(60), 2, null);
      expect(page1).toEqual([job(b), job(byTie[0]!)]);
      const last = page1.at(-1)!;
      expect(await store.owedTimers(t(60), 2, { at: last.at, incidentId: last.incidentId })).toEqual([job(byTie[1]!), job(a)]);
      expect(await store.owedTimers(t(60), 0, null)).toEqual([]);

      // A commit moves the timer with the incident (and a new generation); none owed removes it.
      const moved = { ...b, version: 2, nextTimerAt: t(40) };
      expect(await store.commit(moved, 1, [acceptedEntry(b, 2, at(MINUTE))], [])).toBe(true);
      const done = { ...a, version: 2, nextTimerAt: null };
      expect(await store.commit(done, 1, [acceptedEntry(a, 2, at(MINUTE))], [])).toBe(true);
      expect(await store.owedTimers(t(60), 10, null)).toEqual([...byTie.map(job), { incidentId: b.id, generation: 2, at: t(40) }]);
    });
  });

  describe('inbound dedupe', () => {
    it('claims a key once, then reports redeliveries', async () => {
      expect(await store.claimInbound('slack:Ev1', at())).toBe(true);
      expect(await store.claimInbound('slack:Ev1', at(SECOND))).toBe(false);
      expect(await store.claimInbound('slack:Ev2', at(SECOND))).toBe(true);
    });

    it('gives exactly one of many concurrent claims of a key', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claimInbound('trigger:T42', at(i))));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('prunes keys received before a cut-off', async () => {
      await store.claimInbound('old-1', at(0));
      await store.claimInbound('old-2', at(MINUTE - 1));
      await store.claimInbound('new', at(MINUTE));
      expect(await store.pruneInbound(at(MINUTE))).toBe(2);
      expect(await store.pruneInbound(at(MINUTE))).toBe(0);
      expect(await store.claimInbound('old-1', at(2 * MINUTE))).toBe(true);
      expect(await store.claimInbound('new', at(2 * MINUTE))).toBe(false);
    });
  });

  describe('outbox', () => {
    const LEASE = 30 * SECOND;

    it('delivers one incident in order: its next item waits until the previous is completed', async () => {
      const a = await report(store, {}, [effect(1), effect(2)]);
      const b = await report(store, {}, [effect(3)]);

      const first = await store.claimOutbox(at(SECOND), 10, LEASE);
      expect(first.map((i) => [i.incidentId, i.effect])).toEqual([
        [a.id, effect(1)],
        [b.id, effect(3)],
      ]);
      expect(first.map((i) => i.key)).toEqual([`${a.id}:1:0`, `${b.id}:1:0`]);
      expect(first.every((i) => i.attempts === 0)).toBe(true);
      expect(first[0]!.id).toBeLessThan(first[1]!.id);
      expect(first[0]!.createdAt).toBe(at());

      // Even with the lease long over, a's second item stays behind its first.
      const a1 = first[0]!;
      const later = await store.claimOutbox(at(HOUR), 10, LEASE);
      expect(ids(later)).toEqual(ids(first)); // the two leased items, re-claimed after their lease
      expect(later.every((i) => i.attempts === 1)).toBe(true);

      await store.completeOutbox(a1.id, at(HOUR));
      await store.completeOutbox(a1.id, at(HOUR + 1)); // idempotent
      const next = await store.claimOutbox(at(HOUR), 10, LEASE);
      expect(next.map((i) => i.effect)).toEqual([effect(2)]);
      expect(next[0]!.key).toBe(`${a.id}:1:1`);
    });

    it('unblocks an incident when its item is parked as failed, and keeps the failed item', async () => {
      const a = await report(store, {}, [effect(1), effect(2)]);
      const [a1] = await store.claimOutbox(at(SECOND), 10, LEASE);
      expect(a1?.effect).toEqual(effect(1));

      await store.failOutbox(a1!.id, 'channel_not_found', null);
      const [a2] = await store.claimOutbox(at(SECOND), 10, LEASE);
      expect(a2?.effect).toEqual(effect(2));

      const left = await store.undelivered(10);
      expect(left.map((i) => [i.id, i.status, i.lastError])).toEqual([
        [a1!.id, 'failed', 'channel_not_found'],
        [a2!.id, 'pending', null],
      ]);
      expect(left[0]).toMatchObject({ incidentId: a.id, key: `${a.id}:1:0`, effect: effect(1), attempts: 1 });
      expect(await store.claimOutbox(at(DAY), 10, LEASE)).toEqual([expect.objectContaining({ id: a2!.id })]);
    });

    it('does not hand out a leased item before its lease ends, and does after', async () => {
      await report(store, {}, [effect(1)]);
      const claimedAt = 10 * SECOND;
      const [item] = await store.claimOutbox(at(claimedAt), 10, LEASE);
      expect(item).toBeDefined();

      expect(await store.claimOutbox(at(claimedAt), 10, LEASE)).toEqual([]);
      expect(await store.claimOutbox(at(claimedAt + LEASE - 1), 10, LEASE)).toEqual([]);
      const again = await store.claimOutbox(at(claimedAt + LEASE), 10, LEASE);
      expect(ids(again)).toEqual([item!.id]);
      expect(again[0]!.attempts).toBe(1);
      expect((await store.claimOutbox(at(claimedAt + 3 * LEASE), 10, LEASE))[0]?.attempts).toBe(2);
    });

    it('does not hand out items that are not yet due', async () => {
      await report(store, { reportedAt: at(MINUTE) }, [effect(1)]);
      expect(await store.claimOutbox(at(MINUTE - 1), 10, LEASE)).toEqual([]);
      expect(await store.claimOutbox(at(MINUTE), 10, LEASE)).toHaveLength(1);
    });

    it('retries a failed attempt at retryAt and records the error, truncated', async () => {
      await report(store, {}, [effect(1)]);
      const [item] = await store.claimOutbox(at(), 10, LEASE);
      const huge = 'rate limited '.repeat(1000) + '\u0000';
      await store.failOutbox(item!.id, huge, at(5 * SECOND));

      expect(await store.claimOutbox(at(5 * SECOND - 1), 10, LEASE)).toEqual([]);
      const [pending] = await store.undelivered(10);
      expect(pending?.status).toBe('pending');
      expect(pending?.lastError?.startsWith('rate limited rate limited')).toBe(true);
      expect(pending!.lastError!.length).toBeLessThanOrEqual(1000);

      const [retry] = await store.claimOutbox(at(5 * SECOND), 10, LEASE);
      expect(retry?.id).toBe(item!.id);
      expect(retry?.attempts).toBe(1);
    });

    it('keeps delivered items delivered', async () => {
      await report(store, {}, [effect(1)]);
      const [item] = await store.claimOutbox(at(), 10, LEASE);
      await store.completeOutbox(item!.id, at(SECOND));
      await store.failOutbox(item!.id, 'late failure from a worker whose lease expired', null);
      await store.failOutbox(item!.id, 'and a retry', at(2 * SECOND));
      expect(await store.undelivered(10)).toEqual([]);
      expect(await store.claimOutbox(at(DAY), 10, LEASE)).toEqual([]);
    });

    it('respects the limit and claims oldest first', async () => {
      const incidents = [];
      for (let i = 0; i < 5; i++) incidents.push(await report(store, {}, [effect(i)]));
      const batch = await store.claimOutbox(at(), 3, LEASE);
      expect(batch.map((i) => i.incidentId)).toEqual(incidents.slice(0, 3).map((i) => i.id));
      expect((await store.claimOutbox(at(), 3, LEASE)).map((i) => i.incidentId)).toEqual(
        incidents.slice(3).map((i) => i.id),
      );
      expect(await store.claimOutbox(at(), 0, LEASE)).toEqual([]);
    });

    it('never gives the same item, or two items of one incident, to concurrent claimers', async () => {
      const incidents: Incident[] = [];
      for (let i = 0; i < 12; i++) incidents.push(await report(store, {}, [effect(3 * i), effect(3 * i + 1), effect(3 * i + 2)]));
      const total = incidents.length * 3;
      const delivered: OutboxItem[] = [];

      // Rounds of concurrent claimers; between rounds the winners deliver (complete) their items.
      for (let round = 0; round < 10 && delivered.length < total; round++) {
        const batches = await Promise.all(Array.from({ length: 6 }, () => store.claimOutbox(at(round), 4, LEASE)));
        const claimed = batches.flat();
        expect(new Set(ids(claimed)).size).toBe(claimed.length);
        expect(new Set(claimed.map((i) => i.incidentId)).size).toBe(claimed.length);
        for (const item of claimed) await store.completeOutbox(item.id, at(round));
        delivered.push(...claimed);
      }

      expect(delivered).toHaveLength(total);
      expect(new Set(ids(delivered)).size).toBe(total);
      expect(delivered.every((i) => i.attempts === 0)).toBe(true);
      for (const incident of incidents) {
        const own = delivered.filter((i) => i.incidentId === incident.id).map((i) => i.key);
        expect(own).toEqual([0, 1, 2].map((n) => `${incident.id}:1:${n}`));
      }
      expect(await store.undelivered(100)).toEqual([]);
    });
  });

  describe('message bindings', () => {
    it('saves, replaces and reads where a card lives', async () => {
      const incident = await report(store);
      expect(await store.getBinding(incident.id, 'slack', 'reporter')).toBeNull();
      expect(await store.getBinding('not-a-uuid', 'slack', 'reporter')).toBeNull();

      const reporter = { incidentId: incident.id, platform: 'slack' as const, purpose: 'reporter', channel: 'D1', messageId: '1.1' };
      const queue = { ...reporter, purpose: 'queue:desk', channel: 'C_DESK', messageId: '2.2' };
      await store.saveBinding(reporter);
      await store.saveBinding(queue);
      expect(await store.getBinding(incident.id, 'slack', 'reporter')).toEqual(reporter);
      expect(await store.getBinding(incident.id, 'slack', 'queue:desk')).toEqual(queue);
      expect(await store.getBinding(incident.id, 'feishu', 'reporter')).toBeNull();

      const moved = { ...reporter, channel: 'D9', messageId: '9.9' };
      await store.saveBinding(moved);
      expect(await store.getBinding(incident.id, 'slack', 'reporter')).toEqual(moved);
      expect(await store.getBinding(incident.id, 'slack', 'queue:desk')).toEqual(queue);
    });
  });

  describe('multi-incident commits', () => {
    /** The accept of `incident` as one item of a multi-incident commit. */
    const acceptItem = (incident: Incident, n: number, expectedVersion = incident.version): CommitItem => ({
      next: accepted(incident),
      expectedVersion,
      entries: [acceptedEntry(incident, 2, at(MINUTE))],
      effects: [effect(n)],
    });
    /** Everything the store holds about an incident, to compare before and after. */
    const snapshot = async (id: string) => ({ incident: await store.get(id), timeline: await store.timeline(id), outbox: await outboxOf(store, id) });

    it('commitMany writes every incident, its entries and effects, in one go', async () => {
      const a = await report(store);
      const b = await report(store);
      expect(await store.commitMany([acceptItem(a, 1), acceptItem(b, 2)])).toBe(true);
      for (const [incident, n] of [[a, 1], [b, 2]] as const) {
        expect(await store.get(incident.id)).toEqual(accepted(incident));
        expect(await store.timeline(incident.id)).toEqual([reportedEntry(incident), acceptedEntry(incident, 2, at(MINUTE))]);
        expect((await outboxOf(store, incident.id)).map((i) => i.effect)).toEqual([effect(n)]);
      }
    });

    it('commitMany is all or nothing: one stale version and neither incident is written', async () => {
      // Items are written in id order: make the stale one each of the two positions, so the
      // other incident's row and entries are written first once and must be rolled back.
      for (const staleFirst of [true, false]) {
        const [x, y] = [await report(store), await report(store)].sort((p, q) => p.id.localeCompare(q.id)) as [Incident, Incident];
        const stale = staleFirst ? x : y;
        const fresh = staleFirst ? y : x;
        // Someone else moved the stale one on meanwhile.
        const moved = { ...stale, version: 2, pendingMs: 42 };
        expect(await store.commit(moved, 1, [acceptedEntry(stale, 2, at(SECOND), person('carol'))], [effect(9)])).toBe(true);
        const before = { stale: await snapshot(stale.id), fresh: await snapshot(fresh.id) };

        expect(await store.commitMany([acceptItem(fresh, 1), { ...acceptItem(stale, 2, 1), entries: [acceptedEntry(stale, 3, at(MINUTE))] }]), `stale first: ${staleFirst}`).toBe(false);
        expect(await snapshot(fresh.id)).toEqual(before.fresh);
        expect(await snapshot(stale.id)).toEqual(before.stale);
        expect(before.fresh.incident).toEqual(fresh);
        expect(before.fresh.timeline).toEqual([reportedEntry(fresh)]);
        expect(before.fresh.outbox).toEqual([]);
      }
    });

    it('createWith inserts the new incident and commits the related one atomically', async () => {
      const major = await report(store);
      const child = makeIncident(await store.nextSeq());
      const related = acceptItem(major, 7);
      expect(await store.createWith(child, [reportedEntry(child)], [effect(1)], [related])).toBe(true);
      expect(await store.get(child.id)).toEqual(child);
      expect(await store.getByNumber(child.number)).toEqual(child);
      expect(await store.timeline(child.id)).toEqual([reportedEntry(child)]);
      expect((await outboxOf(store, child.id)).map((i) => i.effect)).toEqual([effect(1)]);
      expect(await store.get(major.id)).toEqual(related.next);
      expect(await store.timeline(major.id)).toEqual([reportedEntry(major), ...related.entries]);
      expect((await outboxOf(store, major.id)).map((i) => i.effect)).toEqual([effect(7)]);
    });

    it('createWith returns false and writes nothing when the related version is stale', async () => {
      const major = await report(store);
      expect(await store.commit(accepted(major), 1, [acceptedEntry(major, 2, at(SECOND))], [])).toBe(true);
      const before = await snapshot(major.id);
      const child = makeIncident(await store.nextSeq());

      expect(await store.createWith(child, [reportedEntry(child)], [effect(1)], [{ ...acceptItem(major, 2, 1), entries: [acceptedEntry(major, 3, at(MINUTE))] }])).toBe(false);
      expect(await store.get(child.id)).toBeNull();
      expect(await store.getByNumber(child.number)).toBeNull();
      expect(await store.timeline(child.id)).toEqual([]);
      expect(await outboxOf(store, child.id)).toEqual([]);
      expect(await snapshot(major.id)).toEqual(before);
      // Nothing of it was kept: the same incident can be filed afterwards.
      await store.create(child, [reportedEntry(child)], []);
      expect(await store.get(child.id)).toEqual(child);
    });
  });

  describe('war rooms', () => {
    const fresh = { attempt: 0, described: false, invited: [], failed: [], pinned: false, recorded: false, archived: false };

    it('reserveRoom is first-wins: concurrent reservations with different names all get the first row', async () => {
      const incident = await report(store);
      const names = Array.from({ length: 10 }, (_, i) => `inc-${incident.number.slice(4)}-try-${i}`);
      const rooms = await Promise.all(names.map((name) => store.reserveRoom(incident.id, 'slack', name)));
      const first = rooms[0]!;
      expect(names).toContain(first.name);
      expect(first).toEqual({ incidentId: incident.id, platform: 'slack', name: first.name, channel: null, progress: fresh });
      for (const room of rooms) expect(room).toEqual(first);
      expect(await store.getRoom(incident.id, 'slack')).toEqual(first);
      // A later reservation (a retried job) finds the same room, whatever name it asks for.
      expect(await store.reserveRoom(incident.id, 'slack', 'something-else')).toEqual(first);
      // One room per incident and platform: another platform has its own.
      expect(await store.reserveRoom(incident.id, 'feishu', 'inc-feishu')).toMatchObject({ platform: 'feishu', name: 'inc-feishu', channel: null });
      expect(await store.getRoom(incident.id, 'slack')).toEqual(first);
    });

    it('saveRoom keeps name, channel and progress; getRoom and roomByChannel read them back', async () => {
      const incident = await report(store);
      const reserved = await store.reserveRoom(incident.id, 'slack', 'inc-1-printer');
      const saved: WarRoomRecord = {
        ...reserved,
        name: 'inc-1-printer-2',
        channel: 'C0ROOM1',
        progress: { attempt: 1, described: true, invited: ['U0IM', 'U0PM'], failed: [{ user: 'U0GONE', error: 'user_disabled' }], pinned: true, recorded: true, archived: false },
      };
      await store.saveRoom(saved);
      expect(await store.getRoom(incident.id, 'slack')).toEqual(saved);
      expect(await store.roomByChannel('slack', 'C0ROOM1')).toEqual(saved);
      expect((await store.roomByChannel('slack', 'C0ROOM1'))!.incidentId).toBe(incident.id);

      const archived = { ...saved, progress: { ...saved.progress, archived: true } };
      await store.saveRoom(archived);
      expect(await store.getRoom(incident.id, 'slack')).toEqual(archived);

      expect(await store.roomByChannel('feishu', 'C0ROOM1')).toBeNull();
      expect(await store.roomByChannel('slack', 'C0OTHER')).toBeNull();
      expect(await store.roomByChannel('slack', '')).toBeNull();
      expect(await store.getRoom(incident.id, 'dingtalk')).toBeNull();
      expect(await store.getRoom(randomUUID(), 'slack')).toBeNull();
      expect(await store.getRoom('not-a-uuid', 'slack')).toBeNull();
    });

    it('refuses a second room with the same channel on a platform', async () => {
      const a = await report(store);
      const b = await report(store);
      // Rooms not yet created (no channel) do not clash.
      const roomA = await store.reserveRoom(a.id, 'slack', 'inc-a');
      const roomB = await store.reserveRoom(b.id, 'slack', 'inc-b');
      await store.saveRoom({ ...roomA, channel: 'C0SAME' });
      await expect(store.saveRoom({ ...roomB, channel: 'C0SAME' })).rejects.toThrow();
      expect((await store.roomByChannel('slack', 'C0SAME'))!.incidentId).toBe(a.id);
      expect(await store.getRoom(b.id, 'slack')).toEqual(roomB);
      // The same channel id on another platform is another conversation.
      const roomBFeishu = await store.reserveRoom(b.id, 'feishu', 'inc-b');
      await store.saveRoom({ ...roomBFeishu, channel: 'C0SAME' });
      expect((await store.roomByChannel('feishu', 'C0SAME'))!.incidentId).toBe(b.id);
    });
  });

  describe('migrations', () => {
    it('are idempotent: running them again applies nothing and keeps the data', async () => {
      const incident = await report(store);
      expect(await h.migrateAgain()).toEqual({ applied: 0, total: MIGRATION_COUNT });
      expect(await h.migrateAgain()).toEqual({ applied: 0, total: MIGRATION_COUNT });
      expect(await store.get(incident.id)).toEqual(incident);
    });
  });
});

// ---- driver specifics --------------------------------------------------------------------------

describe('PostgreSQL migrations', () => {
  it('are safe to run from several processes at once', async () => {
    const database = await createTestDatabase();
    try {
      const results = await Promise.all(Array.from({ length: 5 }, () => migratePostgres(database.url)));
      // Whoever got the lock first applied everything; the others found nothing left to do.
      expect(results.map((r) => r.applied).sort()).toEqual([0, 0, 0, 0, MIGRATION_COUNT]);
      expect(results.every((r) => r.total === MIGRATION_COUNT)).toBe(true);
      const store = await createPostgresStore(database.url);
      try {
        expect(await store.nextSeq()).toBe(1);
      } finally {
        await store.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('PGlite stores', () => {
  it('persist under a data directory, creating it, and reopen without re-migrating', async () => {
    const root = await mkdtemp(join(tmpdir(), 'firebell-pglite-'));
    const dir = join(root, 'data', 'pglite');
    try {
      const first = await createPgliteStore(dir);
      const incident = await report(first, {}, [effect(1)]);
      await first.close();
      expect((await stat(dir)).isDirectory()).toBe(true);

      const reopened = await createPgliteStore(dir);
      try {
        expect(await reopened.get(incident.id)).toEqual(incident);
        expect(await reopened.nextSeq()).toBeGreaterThan(Number(incident.number.slice(4)));
        expect((await reopened.undelivered(10)).map((i) => i.effect)).toEqual([effect(1)]);
      } finally {
        await reopened.close();
      }
      const client = await PGlite.create(dir);
      try {
        expect(await migratePglite(client)).toEqual({ applied: 0, total: MIGRATION_COUNT });
      } finally {
        await client.close();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('can live in memory only', async () => {
    const a = await createPgliteStore(null);
    const b = await createPgliteStore(null);
    try {
      const incident = await report(a);
      expect(await b.get(incident.id)).toBeNull();
      expect(await b.nextSeq()).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
