/**
 * Benchmark 4: timer lateness of both scheduler drivers under a load of pending timers.
 *
 * Per driver (in-process, BullMQ on Redis) and per N background timers:
 *   1. A driver with recording fake hooks is started (`fire` records `Date.now() - Date.parse(at)`,
 *      `deliverOutbox` returns { nextRetryAt: null }, `housekeeping` does nothing). `owed` serves
 *      only the N background timers, as a database would after a restart; a horizon-limited sweep
 *      (now + 120 s) therefore returns nothing, since they are all due 1–2 h ahead.
 *   2. The N background timers (due 1–2 h ahead, so they stay pending) are loaded by a full
 *      `reconcile({ horizonMs: null })`: the restore path, 500 per `owed` page (BullMQ: one
 *      `addBulk` of 500 per page).
 *   3. M measured timers, due spread over the next few seconds, are scheduled one `schedule()` call
 *      at a time, in shuffled order; each call is timed.
 *   4. Wait (bounded) until every measured timer fired; lateness = fire time − due time.
 * BullMQ queues use a unique prefix per scenario and are obliterated afterwards.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { TimerJob } from '../../src/flows/ports';
import { systemClock } from '../../src/flows/ports';
import { silentLogger } from '../../src/logger';
import { createBullmqScheduler } from '../../src/scheduler/bullmq';
import { createInProcessScheduler } from '../../src/scheduler/in-process';
import type { SchedulerHooks } from '../../src/scheduler/types';
import { heapAfterGcMb, mb, round, sleep, summarize, watchPhase, type LatencySummary, type PhaseResources, type RssSampler } from './stats';

export type TimerDriver = 'in-process' | 'bullmq';

export interface TimerScenarioResult {
  driver: TimerDriver;
  backgroundTimers: number;
  measuredTimers: number;
  /** Measured timers were due from `firstDueAfterMs` to `firstDueAfterMs + spreadMs` after scheduling began. */
  firstDueAfterMs: number;
  spreadMs: number;
  /** The full reconcile that loaded the background timers (the restore path). */
  restore: { scheduled: number; seconds: number; timersPerSec: number; pendingAfter: number | null };
  /** Per-call time of schedule() for the measured timers (sequential, awaited). */
  scheduleCall: LatencySummary;
  /** Wall time to schedule the measured timers one after another. */
  scheduleMeasuredS: number;
  /** Measured timers whose schedule() returned after their due time (their lateness then includes that wait). */
  scheduledAfterDue: number;
  fired: number;
  missing: number;
  duplicates: number;
  /** Fired before their due time (lateness < 0); none expected. */
  early: number;
  /** Background timers that fired (none expected: they are due 1 h+ ahead). */
  backgroundFired: number;
  lateness: LatencySummary | null;
  /** From the first measured timer due until the last measured one fired (or the wait gave up). */
  waitS: number;
  /**
   * Whole-process RSS before the scenario, just before and after the restore, at the end; heap in
   * use after a forced GC just before the restore (the harness's copy of the background timers
   * already allocated) and just after it: the difference is what the driver holds for them.
   */
  rss: {
    beforeStartMb: number;
    beforeRestoreMb: number;
    afterRestoreMb: number;
    endMb: number;
    heapAfterGcBeforeRestoreMb: number | null;
    heapAfterGcAfterRestoreMb: number | null;
  };
  /** Redis `used_memory` before the scenario and after the restore (BullMQ only). */
  redisUsedMemoryMb: { before: number; afterRestore: number } | null;
  /** The measured phase (scheduling + waiting for the fires). */
  resources: PhaseResources;
  cleanup: string | null;
}

interface Opts {
  drivers: TimerDriver[];
  backgroundCounts: number[];
  measured: number;
  /** Spread of the measured timers' due times per driver. */
  spreadMs: Record<TimerDriver, number>;
  firstDueAfterMs: number;
  /** After the last measured due time, how long to wait for stragglers. */
  graceMs: number;
  redisUrl: string;
  log: (s: string) => void;
}

const HOUR = 3_600_000;

async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const m = /^used_memory:(\d+)/m.exec(info);
  return m ? Number(m[1]) : Number.NaN;
}

/** The owed timers of a fake database: `jobs` sorted by (at, incidentId), paged like IncidentStore.owedTimers. */
function owedFrom(jobs: TimerJob[]): SchedulerHooks['owed'] {
  const ms = jobs.map((j) => Date.parse(j.at));
  return async (before, limit, after) => {
    const bound = Date.parse(before);
    let lo = 0;
    if (after) {
      const a = Date.parse(after.at);
      let hi = jobs.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const m = ms[mid]!;
        if (m < a || (m === a && jobs[mid]!.incidentId <= after.incidentId)) lo = mid + 1;
        else hi = mid;
      }
    }
    const out: TimerJob[] = [];
    for (let i = lo; i < jobs.length && out.length < limit && ms[i]! <= bound; i++) out.push(jobs[i]!);
    return out;
  };
}

async function scenario(driver: TimerDriver, n: number, sampler: RssSampler, o: Opts): Promise<TimerScenarioResult> {
  const spreadMs = o.spreadMs[driver];
  o.log(`  ${driver}, ${n.toLocaleString('en')} background timers`);
  const rssBefore = process.memoryUsage().rss;
  // Background timers, 1–2 h ahead, sorted as the database's index would return them.
  const base = Date.now() + HOUR;
  const background: TimerJob[] = Array.from({ length: n }, (_, i) => ({
    incidentId: randomUUID(),
    generation: 1 + (i % 5),
    at: new Date(base + Math.floor((i / n) * HOUR)).toISOString(),
  })).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.incidentId < b.incidentId ? -1 : 1));

  const measuredIds = new Set<string>();
  const fires = new Map<string, number[]>();
  let backgroundFired = 0;
  let allFired: () => void = () => {};
  const allFiredP = new Promise<void>((r) => (allFired = r));
  // The database only "holds" the background timers once start() is done, so that the restore is
  // timed on its own (start() would otherwise run it, together with creating workers).
  let database: SchedulerHooks['owed'] = async () => [];
  const hooks: SchedulerHooks = {
    async fire(job) {
      const late = Date.now() - Date.parse(job.at);
      if (!measuredIds.has(job.incidentId)) {
        backgroundFired++;
        return;
      }
      const list = fires.get(job.incidentId);
      if (list) list.push(late);
      else {
        fires.set(job.incidentId, [late]);
        if (fires.size === measuredIds.size) allFired();
      }
    },
    owed: (before, limit, after) => database(before, limit, after),
    async deliverOutbox() {
      return { nextRetryAt: null };
    },
    async housekeeping() {},
  };

  const prefix = `fb-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
  const redis = driver === 'bullmq' ? new Redis(o.redisUrl, { maxRetriesPerRequest: 2 }) : null;
  let cleanup: string | null = null;
  try {
    const redisBefore = redis ? await redisUsedMemory(redis) : null;
    const scheduler =
      driver === 'in-process'
        ? createInProcessScheduler({ hooks, clock: systemClock(), logger: silentLogger })
        : createBullmqScheduler({ redisUrl: o.redisUrl, prefix, hooks, clock: systemClock(), logger: silentLogger });
    let result: TimerScenarioResult;
    try {
      await scheduler.start();
      database = owedFrom(background);
      // The harness's own copy of the background timers is on the heap from here on.
      const heapBeforeRestore = heapAfterGcMb();
      const rssBeforeRestore = process.memoryUsage().rss;

      // 2. The restore: a full reconcile loads the N background timers.
      const r0 = performance.now();
      const restored = await scheduler.reconcile({ horizonMs: null });
      const restoreS = (performance.now() - r0) / 1000;
      // BullMQ: the job counts (its pendingTimerIds() lists through getRanges, whose default range is only 0..1).
      const pendingAfter =
        scheduler.kind === 'bullmq'
          ? await scheduler.counts().then((c) => (c.delayed ?? 0) + (c.waiting ?? 0))
          : scheduler.pendingTimerIds().length;
      const rssAfterRestore = process.memoryUsage().rss;
      sampler.note(rssAfterRestore);
      const heapAfterRestore = heapAfterGcMb();
      const redisAfterRestore = redis ? await redisUsedMemory(redis) : null;
      o.log(
        `    restore of ${n.toLocaleString('en')} background timers: ${round(restoreS, 2)} s (${Math.round(restored / restoreS)} timers/s), ${pendingAfter} pending` +
          (redisBefore !== null && redisAfterRestore !== null ? `, Redis used_memory ${mb(redisBefore)} → ${mb(redisAfterRestore)} MB` : ''),
      );

      // 3. The measured timers, due from t0 + firstDueAfterMs over spreadMs, scheduled in shuffled order.
      const t0 = Date.now();
      const measured: TimerJob[] = Array.from({ length: o.measured }, (_, i) => ({
        incidentId: randomUUID(),
        generation: 1,
        at: new Date(t0 + o.firstDueAfterMs + Math.floor((i * spreadMs) / Math.max(1, o.measured - 1))).toISOString(),
      }));
      for (const j of measured) measuredIds.add(j.incidentId);
      let seed = 42;
      for (let i = measured.length - 1; i > 0; i--) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const k = seed % (i + 1);
        [measured[i], measured[k]] = [measured[k]!, measured[i]!];
      }
      const phase = watchPhase(sampler);
      const callMs: number[] = [];
      let scheduledAfterDue = 0;
      const s0 = performance.now();
      for (const j of measured) {
        const c0 = performance.now();
        await scheduler.schedule(j);
        callMs.push(performance.now() - c0);
        if (Date.now() > Date.parse(j.at)) scheduledAfterDue++;
      }
      const scheduleMeasuredS = (performance.now() - s0) / 1000;

      // 4. Wait for every measured timer, bounded.
      const lastDue = t0 + o.firstDueAfterMs + spreadMs;
      const deadline = lastDue + o.graceMs;
      await Promise.race([allFiredP, sleep(Math.max(0, deadline - Date.now()))]);
      // Duplicates would show up just after; give them a moment.
      await sleep(200);
      const waitS = (Date.now() - (t0 + o.firstDueAfterMs)) / 1000;
      const resources = phase.stop();

      const lateness: number[] = [];
      let duplicates = 0;
      let early = 0;
      for (const l of fires.values()) {
        lateness.push(l[0]!);
        if (l[0]! < 0) early++;
        duplicates += l.length - 1;
      }
      result = {
        driver,
        backgroundTimers: n,
        measuredTimers: o.measured,
        firstDueAfterMs: o.firstDueAfterMs,
        spreadMs,
        restore: { scheduled: restored, seconds: round(restoreS, 3), timersPerSec: Math.round(restored / restoreS), pendingAfter },
        scheduleCall: summarize(callMs),
        scheduleMeasuredS: round(scheduleMeasuredS, 3),
        scheduledAfterDue,
        fired: fires.size,
        missing: o.measured - fires.size,
        duplicates,
        early,
        backgroundFired,
        lateness: lateness.length ? summarize(lateness) : null,
        waitS: round(waitS, 2),
        rss: {
          beforeStartMb: mb(rssBefore),
          beforeRestoreMb: mb(rssBeforeRestore),
          afterRestoreMb: mb(rssAfterRestore),
          endMb: mb(process.memoryUsage().rss),
          heapAfterGcBeforeRestoreMb: heapBeforeRestore,
          heapAfterGcAfterRestoreMb: heapAfterRestore,
        },
        redisUsedMemoryMb: redisBefore !== null && redisAfterRestore !== null ? { before: mb(redisBefore), afterRestore: mb(redisAfterRestore) } : null,
        resources,
        cleanup: null,
      };
      const lt = result.lateness;
      o.log(
        `    ${o.measured} measured timers (schedule() p50 ${result.scheduleCall.p50Ms} ms, p99 ${result.scheduleCall.p99Ms} ms): fired ${fires.size}, missing ${result.missing}, ` +
          `lateness p50 ${lt?.p50Ms ?? 'n/a'} ms, p99 ${lt?.p99Ms ?? 'n/a'} ms, max ${lt?.maxMs ?? 'n/a'} ms; RSS ${result.rss.afterRestoreMb} MB after restore`,
      );
    } finally {
      const c0 = performance.now();
      await scheduler.stop();
      if (driver === 'bullmq') cleanup = await obliterate(o.redisUrl, prefix, redis!);
      else cleanup = `stopped in ${round(performance.now() - c0)} ms`;
    }
    result.cleanup = cleanup;
    return result;
  } finally {
    redis?.disconnect();
  }
}

/** Removes every key of the scenario's queues: obliterate each queue, then delete any leftover `prefix:*` key. */
export async function obliterate(redisUrl: string, prefix: string, redis: Redis): Promise<string> {
  const c0 = performance.now();
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    for (const name of ['timers', 'maintenance', 'outbox']) {
      const q = new Queue(name, { connection, prefix });
      try {
        await q.obliterate({ force: true });
      } finally {
        await q.close();
      }
    }
  } finally {
    connection.disconnect();
  }
  let leftover = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) {
      leftover += keys.length;
      await redis.del(...keys);
    }
  } while (cursor !== '0');
  return `obliterated prefix ${prefix} in ${round(performance.now() - c0)} ms (${leftover} leftover keys deleted)`;
}

export async function benchTimers(sampler: RssSampler, o: Opts): Promise<TimerScenarioResult[]> {
  const out: TimerScenarioResult[] = [];
  for (const driver of o.drivers) for (const n of o.backgroundCounts) out.push(await scenario(driver, n, sampler, o));
  return out;
}
