/**
 * IncidentStore on drizzle, written once against the driver-neutral PgDatabase so PostgreSQL
 * (postgres.js) and PGlite run exactly the same SQL. Driver choice lives in ./index.
 */
import { and, asc, desc, eq, gte, inArray, lt, lte, ne, notExists, or, sql, type SQL } from 'drizzle-orm';
import { alias, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Effect } from '../flows/effects';
import type { TimelineEntry } from '../flows/incident/events';
import type { Incident, Platform, Status, Tier } from '../flows/incident/model';
import type { Binding, CommitItem, IncidentQuery, IncidentStore, OutboxItem, WarRoomProgress, WarRoomRecord } from '../flows/ports';
import { cleanText } from '../flows/people';
import { inboundDedupe, incidents, messageBindings, outbox, timeline, warRooms } from './schema';

/** Any drizzle PostgreSQL database (postgres.js, PGlite) or a transaction on one. */
export type Db = PgDatabase<PgQueryResultHKT>;

/** Longest `last_error` kept: enough to diagnose, small enough for an operator listing. */
export const MAX_ERROR_LENGTH = 1000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NUMBER = /^INC-(\d+)$/;
/** What a person may type for `INC-42`: `INC-42`, `inc-42`, `inc42`, `#42`, `42`. */
const NUMBER_INPUT = /^(?:inc-?|#)?(\d+)$/i;

function toEntry(r: typeof timeline.$inferSelect): TimelineEntry {
  return {
    incidentId: r.incidentId,
    seq: r.seq,
    at: r.at.toISOString(),
    actor: r.actor,
    platform: r.platform as TimelineEntry['platform'],
    automatic: r.automatic,
    event: r.event,
    status: r.status as Status,
  };
}

/**
 * Builds the store on an open drizzle database whose schema is already migrated. `close` releases
 * the driver (the store does not know which one it runs on).
 */
export function createDrizzleStore(db: Db, close: () => Promise<void>): IncidentStore {
  return {
    async nextSeq() {
      const rows = await rowsOf<{ seq: string | number }>(db, sql`select nextval('incident_seq') as seq`);
      const seq = Number(rows[0]?.seq);
      if (!Number.isSafeInteger(seq)) throw new Error(`nextSeq: unexpected value ${String(rows[0]?.seq)}`);
      return seq;
    },

    async create(incident, entries, effects) {
      const insert = newIncidentInsert(incident, entries, effects, 'create');
      await db.transaction(insert);
    },

    async get(id) {
      if (!UUID.test(id)) return null;
      const rows = await db.select({ data: incidents.data }).from(incidents).where(eq(incidents.id, id));
      return rows[0]?.data ?? null;
    },

    async getByNumber(number) {
      const match = NUMBER_INPUT.exec(number.trim());
      const seq = match ? Number(match[1]) : NaN;
      if (!Number.isSafeInteger(seq)) return null;
      // Numbers are `INC-<seq>` (create enforces it), so the seq column answers every spelling.
      const rows = await db.select({ data: incidents.data }).from(incidents).where(eq(incidents.seq, seq));
      return rows[0]?.data ?? null;
    },

    async commit(next, expectedVersion, entries, effects) {
      if (next.version !== expectedVersion + 1) {
        throw new Error(`commit: version must be expectedVersion + 1 (${expectedVersion + 1}), got ${next.version}`);
      }
      checkEntries(next.id, entries, effects);
      const last = entries.at(-1);
      return db.transaction(async (tx) => {
        // The row lock taken by this UPDATE makes concurrent committers queue; once the winner
        // commits, Postgres re-checks the version predicate for the others and they match 0 rows.
        const updated = await tx
          .update(incidents)
          .set({ ...columnsOf(next), updatedAt: last ? toDate(last.at, 'at') : sql`now()` })
          .where(and(eq(incidents.id, next.id), eq(incidents.version, expectedVersion)))
          .returning({ id: incidents.id });
        if (updated.length === 0) return false;
        await append(tx, next.id, entries, effects);
        return true;
      });
    },

    async commitMany(items) {
      for (const item of items) {
        if (item.next.version !== item.expectedVersion + 1) throw new Error(`commitMany: ${item.next.id} version must be expectedVersion + 1`);
        checkEntries(item.next.id, item.entries, item.effects);
      }
      return inTransaction(db, (tx) => casAll(tx, items));
    },

    async createWith(incident, entries, effects, related) {
      const insert = newIncidentInsert(incident, entries, effects, 'createWith');
      for (const item of related) checkEntries(item.next.id, item.entries, item.effects);
      return inTransaction(db, async (tx) => {
        // The related rows first: a lost compare-and-set aborts before anything is inserted.
        if (!(await casAll(tx, related))) return false;
        await insert(tx);
        return true;
      });
    },

    async reserveRoom(incidentId, platform, name) {
      const progress: WarRoomProgress = { attempt: 0, described: false, invited: [], failed: [], pinned: false, recorded: false, archived: false };
      await db.insert(warRooms).values({ incidentId, platform, name, channel: null, progress }).onConflictDoNothing();
      const rows = await db.select().from(warRooms).where(and(eq(warRooms.incidentId, incidentId), eq(warRooms.platform, platform)));
      return toRoom(rows[0]!);
    },

    async saveRoom(room) {
      await db
        .update(warRooms)
        .set({ name: room.name, channel: room.channel, progress: room.progress, updatedAt: sql`now()` })
        .where(and(eq(warRooms.incidentId, room.incidentId), eq(warRooms.platform, room.platform)));
    },

    async getRoom(incidentId, platform) {
      if (!UUID.test(incidentId)) return null;
      const rows = await db.select().from(warRooms).where(and(eq(warRooms.incidentId, incidentId), eq(warRooms.platform, platform)));
      return rows[0] ? toRoom(rows[0]) : null;
    },

    async roomByChannel(platform, channel) {
      if (!channel) return null;
      const rows = await db.select().from(warRooms).where(and(eq(warRooms.platform, platform), eq(warRooms.channel, channel)));
      return rows[0] ? toRoom(rows[0]) : null;
    },

    async timeline(incidentId) {
      if (!UUID.test(incidentId)) return [];
      const rows = await db.select().from(timeline).where(eq(timeline.incidentId, incidentId)).orderBy(asc(timeline.seq));
      return rows.map(toEntry);
    },

    async lastEntry(incidentId) {
      if (!UUID.test(incidentId)) return null;
      // Served by the unique (incident_id, seq) index, read backwards: one row, not the timeline.
      const rows = await db.select().from(timeline).where(eq(timeline.incidentId, incidentId)).orderBy(desc(timeline.seq)).limit(1);
      return rows[0] ? toEntry(rows[0]) : null;
    },

    async list(query: IncidentQuery) {
      if (query.limit <= 0) return [];
      // An explicit empty filter matches nothing (no tier is in the empty set); omit it for "any".
      if (query.tiers?.length === 0 || query.statuses?.length === 0) return [];
      const conditions: SQL[] = [];
      if (query.involving !== undefined) {
        const who = query.involving;
        conditions.push(or(eq(incidents.reporterId, who), eq(incidents.assigneeId, who), eq(incidents.ownerId, who))!);
      }
      if (query.tiers) conditions.push(inArray(incidents.tier, query.tiers));
      if (query.statuses) conditions.push(inArray(incidents.status, [...query.statuses]));
      const rows = await db
        .select({ data: incidents.data })
        .from(incidents)
        .where(and(...conditions))
        .orderBy(desc(incidents.reportedAt), desc(incidents.seq))
        .limit(query.limit);
      return rows.map((r) => r.data);
    },

    async owedTimers(before, limit, after) {
      if (limit <= 0) return [];
      const bound = toDate(before, 'before');
      const rows = await db
        .select({ id: incidents.id, version: incidents.version, at: incidents.nextTimerAt })
        .from(incidents)
        .where(
          // No `next_timer_at IS NOT NULL`: the bounds imply it (which is all the partial index
          // needs), and spelling it out makes PostgreSQL count the 90 % closed rows twice, misjudge
          // a restore page as tiny, and bitmap-scan and sort every owed row instead of reading 500
          // in index order (BENCHMARKS.md §5: 230 ms against 1.5 ms per page).
          and(
            lte(incidents.nextTimerAt, bound),
            // The plain lower bound beside the row comparison gives the planner a range it can
            // estimate (a row comparison gets a fixed guess).
            after ? gte(incidents.nextTimerAt, toDate(after.at, 'after.at')) : undefined,
            after
              ? sql`(${incidents.nextTimerAt}, ${incidents.id}) > (${toDate(after.at, 'after.at').toISOString()}::timestamptz, ${after.incidentId}::uuid)`
              : undefined,
          ),
        )
        .orderBy(asc(incidents.nextTimerAt), asc(incidents.id))
        .limit(limit);
      return rows.map((r) => ({ incidentId: r.id, generation: r.version, at: r.at!.toISOString() }));
    },

    async claimInbound(key, at) {
      const inserted = await db
        .insert(inboundDedupe)
        // A platform id may carry anything; PostgreSQL text refuses U+0000 (and lone surrogates).
        .values({ key: cleanText(key), receivedAt: toDate(at, 'at') })
        .onConflictDoNothing({ target: inboundDedupe.key })
        .returning({ key: inboundDedupe.key });
      return inserted.length === 1;
    },

    async stats() {
      // Grouped counts only: a scrape reads a few dozen rows, however many incidents there are.
      const [byState, queue, pending] = await Promise.all([
        db
          .select({ status: incidents.status, priority: incidents.priority, n: sql<number>`count(*)::int` })
          .from(incidents)
          .groupBy(incidents.status, incidents.priority),
        db
          .select({ tier: incidents.tier, n: sql<number>`count(*)::int` })
          .from(incidents)
          .where(inArray(incidents.status, ['new', 'pending_approval']))
          .groupBy(incidents.tier),
        db
          .select({ status: outbox.status, n: sql<number>`count(*)::int`, oldest: sql<string | null>`min(${outbox.createdAt})::text` })
          .from(outbox)
          .where(inArray(outbox.status, ['pending', 'failed']))
          .groupBy(outbox.status),
      ]);
      const p = pending.find((r) => r.status === 'pending');
      return {
        incidents: byState.map((r) => ({ status: r.status as Status, priority: r.priority, count: Number(r.n) })),
        queue: queue.map((r) => ({ tier: r.tier as Tier, count: Number(r.n) })),
        outbox: {
          pending: Number(p?.n ?? 0),
          failed: Number(pending.find((r) => r.status === 'failed')?.n ?? 0),
          oldestPendingAt: p?.oldest ? new Date(p.oldest).toISOString() : null,
        },
      };
    },

    async pruneInbound(before) {
      // Counted in SQL rather than by returning every key: a prune may remove many rows. Raw
      // SQL gets no column mapping, hence the ISO string (postgres.js cannot bind a Date here).
      const cutoff = toDate(before, 'before').toISOString();
      const rows = await rowsOf<{ n: string | number }>(
        db,
        sql`with gone as (delete from ${inboundDedupe} where ${inboundDedupe.receivedAt} < ${cutoff}::timestamptz returning 1)
            select count(*) as n from gone`,
      );
      return Number(rows[0]?.n ?? 0);
    },

    async claimOutbox(now, limit, leaseMs) {
      if (limit <= 0) return [];
      const at = toDate(now, 'now');
      const leaseUntil = new Date(at.getTime() + leaseMs);
      const older = alias(outbox, 'older');
      const claimed = await db.transaction(async (tx) => {
        // Two statements rather than UPDATE … WHERE id IN (SELECT … LIMIT … FOR UPDATE): the
        // planner may re-run such a subquery, claiming more than `limit` rows. Locks taken here
        // are held to the end of the transaction, and SKIP LOCKED lets a concurrent claimer pass
        // over them instead of waiting and then claiming the same rows.
        const picked = await tx
          .select({ id: outbox.id })
          .from(outbox)
          .where(
            and(
              eq(outbox.status, 'pending'),
              lte(outbox.nextAttemptAt, at),
              // Only the oldest pending item of an incident is deliverable: order per incident.
              // Failed (parked) and done items do not block.
              notExists(
                tx
                  .select({ one: sql`1` })
                  .from(older)
                  .where(and(eq(older.incidentId, outbox.incidentId), eq(older.status, 'pending'), lt(older.id, outbox.id))),
              ),
            ),
          )
          .orderBy(asc(outbox.id))
          .limit(limit)
          .for('update', { skipLocked: true });
        if (picked.length === 0) return [];
        return tx
          .update(outbox)
          .set({ nextAttemptAt: leaseUntil, attempts: sql`${outbox.attempts} + 1` })
          .where(
            and(
              inArray(
                outbox.id,
                picked.map((p) => p.id),
              ),
              // Belt and braces: we hold these rows' locks, so this only guards against a
              // future change to the select above.
              eq(outbox.status, 'pending'),
              lte(outbox.nextAttemptAt, at),
            ),
          )
          .returning();
      });
      return claimed
        .map(
          (r): OutboxItem => ({
            id: r.id,
            incidentId: r.incidentId,
            key: r.key,
            effect: r.effect,
            attempts: r.attempts - 1,
            createdAt: r.createdAt.toISOString(),
          }),
        )
        .sort((a, b) => a.id - b.id);
    },

    async completeOutbox(id, at) {
      // A late success of a parked item still counts: it was delivered.
      await db
        .update(outbox)
        .set({ status: 'done', doneAt: toDate(at, 'at') })
        .where(and(eq(outbox.id, id), ne(outbox.status, 'done')));
    },

    async failOutbox(id, error, retryAt) {
      const lastError = truncateError(error);
      await db
        .update(outbox)
        .set(retryAt === null ? { status: 'failed', lastError } : { nextAttemptAt: toDate(retryAt, 'retryAt'), lastError })
        // Only a pending item can fail: a delivered one stays delivered.
        .where(and(eq(outbox.id, id), eq(outbox.status, 'pending')));
    },

    async undelivered(limit) {
      if (limit <= 0) return [];
      const rows = await db
        .select()
        .from(outbox)
        .where(inArray(outbox.status, ['pending', 'failed']))
        .orderBy(asc(outbox.id))
        .limit(limit);
      return rows.map((r) => ({
        id: r.id,
        incidentId: r.incidentId,
        key: r.key,
        effect: r.effect,
        attempts: r.attempts,
        createdAt: r.createdAt.toISOString(),
        status: r.status as 'pending' | 'failed',
        lastError: r.lastError,
      }));
    },

    async bindingByMessage(platform, messageId) {
      if (!messageId) return null;
      const rows = await db
        .select()
        .from(messageBindings)
        .where(and(eq(messageBindings.platform, platform), eq(messageBindings.messageId, messageId)))
        .limit(1);
      const r = rows[0];
      return r ? { incidentId: r.incidentId, platform: r.platform as Platform, purpose: r.purpose, channel: r.channel, messageId: r.messageId } : null;
    },

    async getBinding(incidentId, platform, purpose) {
      if (!UUID.test(incidentId)) return null;
      const rows = await db
        .select()
        .from(messageBindings)
        .where(
          and(
            eq(messageBindings.incidentId, incidentId),
            eq(messageBindings.platform, platform),
            eq(messageBindings.purpose, purpose),
          ),
        );
      const r = rows[0];
      if (!r) return null;
      return {
        incidentId: r.incidentId,
        platform: r.platform as Platform,
        purpose: r.purpose,
        channel: r.channel,
        messageId: r.messageId,
      } satisfies Binding;
    },

    async saveBinding(binding) {
      await db
        .insert(messageBindings)
        .values({ ...binding })
        .onConflictDoUpdate({
          target: [messageBindings.incidentId, messageBindings.platform, messageBindings.purpose],
          set: { channel: binding.channel, messageId: binding.messageId, updatedAt: sql`now()` },
        });
    },

    close,
  };
}

/**
 * Checks a new incident (version 1, a well-formed number, its own entries) and returns the insert
 * of its row, timeline and outbox, to run inside the caller's transaction.
 */
function newIncidentInsert(incident: Incident, entries: TimelineEntry[], effects: Effect[], op: string): (tx: Db) => Promise<void> {
  if (incident.version !== 1) throw new Error(`${op}: a new incident has version 1, got ${incident.version}`);
  const seq = seqOf(incident.number);
  checkEntries(incident.id, entries, effects);
  const updatedAt = entries.at(-1)?.at ?? incident.reportedAt;
  return async (tx) => {
    await tx.insert(incidents).values({
      id: incident.id,
      seq,
      number: incident.number,
      reportedAt: toDate(incident.reportedAt, 'reportedAt'),
      updatedAt: toDate(updatedAt, 'updatedAt'),
      ...columnsOf(incident),
    });
    await append(tx, incident.id, entries, effects);
  };
}

function toRoom(r: typeof warRooms.$inferSelect): WarRoomRecord {
  return { incidentId: r.incidentId, platform: r.platform as Platform, name: r.name, channel: r.channel, progress: r.progress };
}

/** Signals a lost compare-and-set inside a transaction, so the whole transaction rolls back. */
class LostRace extends Error {}

/** Runs `work` in a transaction; a `false` answer rolls it back (nothing written) and is returned. */
async function inTransaction(db: Db, work: (tx: Db) => Promise<boolean>): Promise<boolean> {
  try {
    return await db.transaction(async (tx) => {
      if (!(await work(tx))) throw new LostRace();
      return true;
    });
  } catch (err) {
    if (err instanceof LostRace) return false;
    throw err;
  }
}

/** Compare-and-set of every item inside the caller's transaction; false at the first lost race. */
async function casAll(tx: Db, items: CommitItem[]): Promise<boolean> {
  // In id order, so two multi-incident commits lock their rows in the same order (no deadlock).
  for (const item of [...items].sort((a, b) => a.next.id.localeCompare(b.next.id))) {
    const last = item.entries.at(-1);
    const updated = await tx
      .update(incidents)
      .set({ ...columnsOf(item.next), updatedAt: last ? toDate(last.at, 'at') : sql`now()` })
      .where(and(eq(incidents.id, item.next.id), eq(incidents.version, item.expectedVersion)))
      .returning({ id: incidents.id });
    if (updated.length === 0) return false;
    await append(tx, item.next.id, item.entries, item.effects);
  }
  return true;
}

/** The denormalised query columns, always written together with `data` so they cannot drift. */
function columnsOf(incident: Incident) {
  return {
    version: incident.version,
    status: incident.status,
    tier: incident.tier satisfies Tier,
    priority: incident.priority,
    reporterId: incident.reporter.id,
    assigneeId: incident.assignee?.id ?? null,
    ownerId: incident.owner?.id ?? null,
    waitUntil: incident.waitUntil === null ? null : toDate(incident.waitUntil, 'waitUntil'),
    nextTimerAt: incident.nextTimerAt ? toDate(incident.nextTimerAt, 'nextTimerAt') : null,
    data: incident,
  };
}

/** Appends timeline entries and enqueues effects inside the caller's transaction. */
async function append(tx: Db, incidentId: string, entries: TimelineEntry[], effects: Effect[]): Promise<void> {
  if (entries.length > 0) {
    await tx.insert(timeline).values(
      entries.map((e) => ({
        incidentId,
        seq: e.seq,
        type: e.event.type,
        at: toDate(e.at, 'at'),
        actor: e.actor,
        platform: e.platform,
        automatic: e.automatic,
        status: e.status,
        event: e.event,
      })),
    );
  }
  const first = entries[0];
  if (effects.length === 0 || !first) return;
  // The effects become due at the time of the change they announce, on the same (injected)
  // clock the outbox worker claims with.
  const at = toDate(first.at, 'at');
  await tx
    .insert(outbox)
    .values(
      effects.map((effect, index) => ({
        incidentId,
        key: `${incidentId}:${first.seq}:${index}`,
        effect,
        nextAttemptAt: at,
        createdAt: at,
      })),
    )
    .onConflictDoNothing({ target: outbox.key });
}

function checkEntries(incidentId: string, entries: TimelineEntry[], effects: Effect[]): void {
  for (const e of entries) {
    if (e.incidentId !== incidentId) {
      throw new Error(`timeline entry ${e.seq} belongs to ${e.incidentId}, not to incident ${incidentId}`);
    }
  }
  // Outbox keys are built from the first entry's seq; without one a key could collide with
  // another commit's and its effect would be silently dropped by ON CONFLICT DO NOTHING.
  if (effects.length > 0 && entries.length === 0) {
    throw new Error('effects must be committed with at least one timeline entry (their key uses its seq)');
  }
}

function seqOf(number: string): number {
  const match = NUMBER.exec(number);
  const seq = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(seq)) throw new Error(`incident number must look like INC-<seq>, got "${number}"`);
  return seq;
}

function toDate(value: string, field: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error(`${field}: not an ISO-8601 timestamp: "${value}"`);
  return date;
}

/** Keeps the first MAX_ERROR_LENGTH characters without splitting a surrogate pair; drops NULs (text cannot hold them). */
export function truncateError(error: string): string {
  const clean = error.replace(/\u0000/g, '');
  if (clean.length <= MAX_ERROR_LENGTH) return clean;
  return Array.from(clean).slice(0, MAX_ERROR_LENGTH - 1).join('') + '…';
}

/** Rows of a raw statement: postgres.js answers with an array, PGlite with `{ rows }`. */
async function rowsOf<T>(db: Db, query: SQL): Promise<T[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return result as T[];
  return (result as { rows: T[] }).rows;
}
