/**
 * Benchmark 5: the reconcile sweep's database query at scale.
 *
 * A fresh PostgreSQL database (migrated by createPostgresStore) is filled with plain SQL
 * (`insert … select … from generate_series`) with `rows` incidents, of which `open` (every
 * (rows/open)-th row, so they are scattered over the heap as old and new incidents would be) owe a
 * timer: `next_timer_at` uniformly random over the next 24 h. The rest are closed with
 * `next_timer_at` NULL, so they stay out of the partial index `incidents_next_timer_idx`. Then
 * ANALYZE.
 *
 * Measured through the store's real `owedTimers` (drizzle + postgres.js, pool of 10):
 *   - the periodic sweep the scheduler runs every 30 s: owedTimers(now + 120 s, 500, null);
 *   - one page of a full restore: owedTimers(far future, 500, after) at keysets taken from a walk;
 *   - a full keyset-paged walk of every owed timer (what start() does before it schedules them).
 * Plus `EXPLAIN (ANALYZE, BUFFERS)` of the same SQL, as a custom plan (literal bound) and as the
 * generic plan a prepared statement may switch to, and whether it uses the partial index.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createPostgresStore } from '../../src/db/index';
import type { IncidentStore } from '../../src/flows/ports';
import { systemClock } from '../../src/flows/ports';
import { silentLogger } from '../../src/logger';
import { createBullmqScheduler } from '../../src/scheduler/bullmq';
import { createInProcessScheduler } from '../../src/scheduler/in-process';
import { FAR_FUTURE, OWED_PAGE, type SchedulerHooks } from '../../src/scheduler/types';
import { createTestDatabase } from '../../test/support/pg';
import { round, summarize, watchPhase, type LatencySummary, type PhaseResources, type RssSampler } from './stats';
import { obliterate, type TimerDriver } from './timers';

const PAGE = OWED_PAGE;
const HORIZON_MS = 120_000;

export interface ExplainResult {
  label: string;
  sql: string;
  plan: string;
  /** The plan reads `incidents_next_timer_idx` by an Index Scan or Index Only Scan (rows in index order, no sort). */
  usesNextTimerIndex: boolean;
  /** How the plan reads `incidents_next_timer_idx`, if at all. */
  nextTimerIndexAccess: 'Index Scan' | 'Index Only Scan' | 'Bitmap Index Scan' | null;
  /** Top plan node types seen, e.g. Limit, Index Scan. */
  nodes: string[];
  executionMs: number | null;
  planningMs: number | null;
}

export interface SweepResult {
  rows: number;
  openRows: number;
  closedRows: number;
  /** Time to bulk-insert the rows (generate_series), build their index entries, and ANALYZE. */
  loadS: number;
  analyzeS: number;
  tableSizeMb: number;
  nextTimerIndexSizeMb: number;
  pkeyIndexSizeMb: number;
  runs: number;
  warmupRuns: number;
  /** owedTimers(now + 120 s, 500, null), the periodic sweep. */
  periodicSweep: LatencySummary & { rowsReturned: { min: number; max: number } };
  /** owedTimers(FAR_FUTURE, 500, after) at random keysets of a full walk: one page of a restore. */
  restorePage: LatencySummary & { rowsReturned: { min: number; max: number } };
  /** A full keyset-paged walk of all owed timers (PAGE at a time), repeated `walks` times. */
  fullWalk: { walks: number; pages: number; timersSeen: number; secondsEach: number[]; bestS: number; medianS: number };
  explain: ExplainResult[];
  /**
   * A full restore through each scheduler driver on this database: `reconcile({ horizonMs: null })`
   * with `hooks.owed` = the store's owedTimers (the driver is not started, so nothing fires).
   */
  driverRestore: { driver: TimerDriver; scheduled: number; seconds: number; pendingAfter: number; cleanup: string }[];
  resources: PhaseResources;
  database: string;
}

interface Opts {
  rows: number;
  open: number;
  runs: number;
  warmup: number;
  walks: number;
  /** Drivers to run a full restore through on the loaded database (none: skip). */
  restoreDrivers: TimerDriver[];
  redisUrl: string;
  log: (s: string) => void;
}

async function restoreThroughDriver(driver: TimerDriver, store: IncidentStore, redisUrl: string): Promise<SweepResult['driverRestore'][number]> {
  const hooks: SchedulerHooks = {
    fire: async () => {},
    owed: (before, limit, after) => store.owedTimers(before, limit, after),
    deliverOutbox: async () => ({ nextRetryAt: null }),
    housekeeping: async () => {},
  };
  const prefix = `fb-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
  const scheduler =
    driver === 'in-process'
      ? createInProcessScheduler({ hooks, clock: systemClock(), logger: silentLogger })
      : createBullmqScheduler({ redisUrl, prefix, hooks, clock: systemClock(), logger: silentLogger });
  let measured: { scheduled: number; seconds: number; pendingAfter: number };
  try {
    const t0 = performance.now();
    const scheduled = await scheduler.reconcile({ horizonMs: null });
    const seconds = round((performance.now() - t0) / 1000, 3);
    const pendingAfter =
      scheduler.kind === 'bullmq' ? await scheduler.counts().then((c) => (c.delayed ?? 0) + (c.waiting ?? 0)) : scheduler.pendingTimerIds().length;
    measured = { scheduled, seconds, pendingAfter };
  } finally {
    await scheduler.stop();
  }
  let cleanup = 'stopped';
  if (driver === 'bullmq') {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
    try {
      cleanup = await obliterate(redisUrl, prefix, redis);
    } finally {
      redis.disconnect();
    }
  }
  return { driver, ...measured, cleanup };
}

/**
 * Bulk-inserts `rows` incidents in one `insert … select … from generate_series`: every
 * (rows/open)-th row is open and owes a timer (`next_timer_at` uniformly random over the next 24 h,
 * truncated to milliseconds as the store writes it); the others are closed, `next_timer_at` NULL.
 */
export async function loadIncidents(sql: postgres.Sql, rows: number, open: number): Promise<void> {
  const every = Math.max(1, Math.floor(rows / open));
  // One statement. Open rows: every `every`-th; closed ones were resolved and confirmed long ago.
  // md5-based UUIDs so ids are unordered, as random UUIDs are.
  await sql.unsafe(
    `insert into incidents (id, seq, number, version, status, tier, priority, reporter_id, assignee_id, owner_id,
                            wait_until, next_timer_at, reported_at, updated_at, data)
     select md5('fb-bench-' || g)::uuid,
            g,
            'INC-' || g,
            case when g % ${every} = 0 then 1 + (g % 7) else 5 + (g % 3) end,
            case when g % ${every} = 0 then (array['new', 'in_progress', 'pending'])[1 + (g % 3)] else 'closed' end,
            (array['desk', 'l2', 'l3'])[1 + (g % 3)],
            (array['P1', 'P2', 'P3', 'P4'])[1 + (g % 4)],
            'reporter.' || (g % 5000),
            case when g % ${every} = 0 and g % 3 = 0 then null else 'agent.' || (g % 200) end,
            null,
            null,
            case when g % ${every} = 0 then date_trunc('milliseconds', now() + random() * interval '24 hours') else null end,
            now() - interval '3 years' + (g::float8 / ${rows}) * interval '3 years',
            now() - interval '3 years' + (g::float8 / ${rows}) * interval '3 years' + interval '2 hours',
            jsonb_build_object('id', md5('fb-bench-' || g)::uuid, 'number', 'INC-' || g,
                               'title', 'Bench incident ' || g || ': mail server slow',
                               'description', 'Inserted by bench/lib/sweep.ts')
     from generate_series(1, ${rows}) g`,
  );
}

export async function benchSweep(sampler: RssSampler, o: Opts): Promise<SweepResult> {
  const db = await createTestDatabase();
  const database = new URL(db.url).pathname.slice(1);
  let store: IncidentStore | null = null;
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    store = await createPostgresStore(db.url); // migrates: 0000_init + 0001_sla_timers
    const t0 = performance.now();
    const every = Math.max(1, Math.floor(o.rows / o.open));
    o.log(`  loading ${o.rows.toLocaleString('en')} incidents (${Math.floor(o.rows / every).toLocaleString('en')} open) with generate_series…`);
    await loadIncidents(sql, o.rows, o.open);
    const t1 = performance.now();
    await sql`analyze incidents`;
    const t2 = performance.now();
    const [counts] = await sql<{ open: string; closed: string }[]>`
      select count(*) filter (where next_timer_at is not null) as open, count(*) filter (where next_timer_at is null) as closed from incidents`;
    const [sizes] = await sql<{ t: string; i: string; p: string }[]>`
      select pg_table_size('incidents') as t, pg_relation_size('incidents_next_timer_idx') as i, pg_relation_size('incidents_pkey') as p`;
    const openRows = Number(counts!.open);
    const closedRows = Number(counts!.closed);
    o.log(`    loaded in ${round((t1 - t0) / 1000, 1)} s, ANALYZE ${round((t2 - t1) / 1000, 1)} s; ${openRows} open, ${closedRows} closed`);

    const phase = watchPhase(sampler, { postgresDatabase: database });
    const s = store;

    // Full keyset walk (also yields the keysets for the restore-page measurement).
    const keysets: { at: string; incidentId: string }[] = [];
    const walkSeconds: number[] = [];
    let pages = 0;
    let seen = 0;
    for (let w = 0; w < o.walks; w++) {
      let after: { at: string; incidentId: string } | null = null;
      pages = 0;
      seen = 0;
      const ws = performance.now();
      for (;;) {
        const page = await s.owedTimers(FAR_FUTURE, PAGE, after);
        pages++;
        seen += page.length;
        if (page.length < PAGE) break;
        const last = page[page.length - 1]!;
        after = { at: last.at, incidentId: last.incidentId };
        if (w === 0) keysets.push(after);
      }
      walkSeconds.push((performance.now() - ws) / 1000);
    }
    o.log(`    full walk: ${seen} timers in ${pages} pages, ${walkSeconds.map((x) => round(x, 3)).join(' / ')} s`);

    const measure = async (f: () => Promise<number>) => {
      for (let i = 0; i < o.warmup; i++) await f();
      const lat: number[] = [];
      const sizes: number[] = [];
      for (let i = 0; i < o.runs; i++) {
        const st = performance.now();
        const n = await f();
        lat.push(performance.now() - st);
        sizes.push(n);
      }
      return { ...summarize(lat), rowsReturned: { min: Math.min(...sizes), max: Math.max(...sizes) } };
    };
    const periodicSweep = await measure(async () => (await s.owedTimers(new Date(Date.now() + HORIZON_MS).toISOString(), PAGE, null)).length);
    o.log(`    periodic sweep owedTimers(now+120s, 500): p50 ${periodicSweep.p50Ms} ms, p99 ${periodicSweep.p99Ms} ms, ${periodicSweep.rowsReturned.min}–${periodicSweep.rowsReturned.max} rows`);
    // Deterministic pseudo-random walk over the keysets (a restore page can start anywhere).
    let k = 12345;
    const nextKeyset = () => {
      k = (k * 1103515245 + 12345) % 2 ** 31;
      return keysets.length ? keysets[k % keysets.length]! : null;
    };
    const restorePage = await measure(async () => (await s.owedTimers(FAR_FUTURE, PAGE, nextKeyset())).length);
    o.log(`    restore page owedTimers(far future, 500, after): p50 ${restorePage.p50Ms} ms, p99 ${restorePage.p99Ms} ms`);
    const resources = phase.stop();

    // EXPLAIN the SQL the store sends (drizzle's query, bound values inlined / as a parameter).
    const base = `select "id", "version", "next_timer_at" from "incidents" where ("incidents"."next_timer_at" <= $1`;
    const sweepSql = `${base}) order by "incidents"."next_timer_at" asc, "incidents"."id" asc limit 500`;
    const pageSql = `${base} and "incidents"."next_timer_at" >= $2::timestamptz and ("incidents"."next_timer_at", "incidents"."id") > ($2::timestamptz, $3::uuid)) order by "incidents"."next_timer_at" asc, "incidents"."id" asc limit 500`;
    const mid = keysets[Math.floor(keysets.length / 2)] ?? { at: new Date().toISOString(), incidentId: '00000000-0000-0000-0000-000000000000' };
    const sweepBound = new Date(Date.now() + HORIZON_MS).toISOString();
    const explain: ExplainResult[] = [];
    const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
    const inline = (q: string, vals: string[]) => q.replace(/\$(\d)/g, (_, d: string) => lit(vals[Number(d) - 1]!));
    const run = async (label: string, text: string, shownSql: string) => {
      const rows = await sql.unsafe<{ 'QUERY PLAN': string }[]>(text);
      explain.push(parsePlan(label, shownSql, rows.map((r) => r['QUERY PLAN']).join('\n')));
    };
    await run('periodic sweep (now + 120 s), custom plan', `explain (analyze, buffers, format text) ${inline(sweepSql, [sweepBound])}`, sweepSql);
    await run('restore page (far future, keyset in the middle), custom plan', `explain (analyze, buffers, format text) ${inline(pageSql, [FAR_FUTURE, mid.at, mid.incidentId])}`, pageSql);
    // The generic plan, for comparison only: drizzle's postgres-js session sends unnamed statements
    // (prepare: false unless a query is .prepare(name)d), so the store's calls always get a custom
    // plan, planned with the values above.
    await sql.begin(async (tx) => {
      await tx.unsafe(`set local plan_cache_mode = force_generic_plan`);
      await tx.unsafe(`prepare fb_sweep(timestamptz) as ${sweepSql}`);
      await tx.unsafe(`prepare fb_page(timestamptz, timestamptz, uuid) as ${pageSql}`);
      const a = await tx.unsafe<{ 'QUERY PLAN': string }[]>(`explain (analyze, buffers, format text) execute fb_sweep(${lit(sweepBound)})`);
      explain.push(parsePlan('periodic sweep, generic plan (forced)', sweepSql, a.map((r) => r['QUERY PLAN']).join('\n')));
      const b = await tx.unsafe<{ 'QUERY PLAN': string }[]>(
        `explain (analyze, buffers, format text) execute fb_page(${lit(FAR_FUTURE)}, ${lit(mid.at)}, ${lit(mid.incidentId)})`,
      );
      explain.push(parsePlan('restore page, generic plan (forced)', pageSql, b.map((r) => r['QUERY PLAN']).join('\n')));
      await tx.unsafe(`deallocate fb_sweep`);
      await tx.unsafe(`deallocate fb_page`);
    });
    for (const e of explain) o.log(`    EXPLAIN ${e.label}: ${e.nodes.join(' → ')}; incidents_next_timer_idx: ${e.nextTimerIndexAccess ?? 'NOT used'}; execution ${e.executionMs} ms`);

    const driverRestore: SweepResult['driverRestore'] = [];
    for (const driver of o.restoreDrivers) {
      o.log(`    full restore through the ${driver} driver…`);
      const r = await restoreThroughDriver(driver, s, o.redisUrl);
      o.log(`      ${r.scheduled} timers in ${r.seconds} s, ${r.pendingAfter} pending; ${r.cleanup}`);
      driverRestore.push(r);
    }

    const sorted = [...walkSeconds].sort((a, b) => a - b);
    return {
      rows: o.rows,
      openRows,
      closedRows,
      loadS: round((t2 - t0) / 1000, 2),
      analyzeS: round((t2 - t1) / 1000, 2),
      tableSizeMb: round(Number(sizes!.t) / 1024 / 1024, 1),
      nextTimerIndexSizeMb: round(Number(sizes!.i) / 1024 / 1024, 1),
      pkeyIndexSizeMb: round(Number(sizes!.p) / 1024 / 1024, 1),
      runs: o.runs,
      warmupRuns: o.warmup,
      periodicSweep,
      restorePage,
      fullWalk: {
        walks: o.walks,
        pages,
        timersSeen: seen,
        secondsEach: walkSeconds.map((x) => round(x, 3)),
        bestS: round(sorted[0] ?? Number.NaN, 3),
        medianS: round(sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN, 3),
      },
      explain,
      driverRestore,
      resources,
      database,
    };
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {});
    await store?.close().catch(() => {});
    await db.drop();
  }
}

function parsePlan(label: string, shownSql: string, plan: string): ExplainResult {
  const nodes = [...plan.matchAll(/^\s*(?:->\s*)?([A-Z][A-Za-z ]+?)(?: using [^ ]+)?(?: on [^ ]+)?\s+\(cost/gm)].map((m) => m[1]!.trim());
  const num = (re: RegExp) => {
    const m = re.exec(plan);
    return m ? Number(m[1]) : null;
  };
  return {
    label,
    sql: shownSql,
    plan,
    usesNextTimerIndex: /Index (Only )?Scan using incidents_next_timer_idx/.test(plan),
    nextTimerIndexAccess: /Index Only Scan using incidents_next_timer_idx/.test(plan)
      ? 'Index Only Scan'
      : /Index Scan using incidents_next_timer_idx/.test(plan)
        ? 'Index Scan'
        : /Bitmap Index Scan on incidents_next_timer_idx/.test(plan)
          ? 'Bitmap Index Scan'
          : null,
    nodes,
    executionMs: num(/Execution Time: ([\d.]+) ms/),
    planningMs: num(/Planning Time: ([\d.]+) ms/),
  };
}
