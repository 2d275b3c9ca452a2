import type { Clock, Logger, TimerJob } from '../flows/ports';
import { OUTBOX_RETRY_FLOOR_MS, sweepOwed, type Scheduler, type SchedulerHooks } from './types';

/** setTimeout stores its delay in a signed 32-bit int; a longer delay fires at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Timers fired at once, so one slow incident (or a slow database call) does not hold the others. */
const FIRE_CONCURRENCY = 8;
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** Bound on flush() rounds (a timer whose effects schedule another due timer, and so on). */
const FLUSH_ROUNDS = 10;

export interface InProcessSchedulerOptions {
  hooks: SchedulerHooks;
  clock: Clock;
  logger: Logger;
  /** Outbox poll when nothing kicked it (retries become due on their own). Default 1000 ms. */
  outboxIntervalMs?: number;
  /** How often the periodic reconcile sweep runs. Default 30 s. */
  reconcileEveryMs?: number;
  /** How far ahead the periodic sweep looks. Default 120 s (longer than the sweep period). */
  reconcileHorizonMs?: number;
  /** How often `hooks.housekeeping()` runs. Default 1 h. */
  housekeepingEveryMs?: number;
}

/** The embedded driver, with a read-only view of its pending timers for tests and operators. */
export interface InProcessScheduler extends Scheduler {
  readonly kind: 'in-process';
  /**
   * Ids (`t-<incidentId>-<generation>-<atMs>`, the same ids the BullMQ driver uses) of the timers
   * this process holds and has not fired successfully yet (waiting, firing or backing off).
   */
  pendingTimerIds(): string[];
}

interface Entry {
  key: string;
  job: TimerJob;
  /** When to fire next: `at`, or later while backing off after a failed fire. */
  dueMs: number;
  attempts: number;
  /** Insertion order, so entries due at the same instant fire first-come first-served. */
  seq: number;
}

/**
 * The embedded scheduler (no Redis), for a single process.
 *
 * Timers live in memory: a min-heap ordered by due time, deduplicated by
 * (incidentId, generation, at) while a timer is pending, with one `setTimeout` armed for the
 * earliest. Memory is an optimisation (ARCHITECTURE.md rule 7): `start()` and a periodic sweep
 * re-create from the database (`hooks.owed`) whatever a restart lost. Delays are computed from the
 * injected clock; a timer never fires before `clock.now()` has reached its `at`.
 *
 * Errors never escape: a failing `fire` is logged and retried with backoff (1 s, 2 s, … 60 s) until it
 * succeeds or the scheduler stops; a failing outbox pass, sweep or housekeeping is logged and runs
 * again on its next tick. All timers are `unref()`ed, so the scheduler never keeps Node alive.
 */
export function createInProcessScheduler(opts: InProcessSchedulerOptions): InProcessScheduler {
  const { hooks, clock, logger } = opts;
  const outboxMs = opts.outboxIntervalMs ?? 1000;
  const reconcileEveryMs = opts.reconcileEveryMs ?? 30_000;
  const reconcileHorizonMs = opts.reconcileHorizonMs ?? 120_000;
  const housekeepingEveryMs = opts.housekeepingEveryMs ?? 3_600_000;
  const now = () => clock.now().getTime();

  const heap = new MinHeap();
  /** Pending timers by key: in the heap, firing, or backing off. Forgotten once fired successfully. */
  const known = new Map<string, Entry>();
  const firing = new Set<Promise<void>>();
  let seq = 0;
  let wake: NodeJS.Timeout | null = null;
  let wakeAtMs = Number.POSITIVE_INFINITY;
  let outboxWake: NodeJS.Timeout | null = null;
  let outboxWakeAtMs = Number.POSITIVE_INFINITY;
  const intervals: NodeJS.Timeout[] = [];
  let started = false;
  let stopped = false;
  let stopping: Promise<void> | null = null;
  let outboxRunning: Promise<void> | null = null;
  let outboxAgain = false;
  let reconciling: Promise<number> | null = null;
  let housekeeping: Promise<void> | null = null;

  function clearWake() {
    if (wake) clearTimeout(wake);
    wake = null;
    wakeAtMs = Number.POSITIVE_INFINITY;
  }

  /** Arms the one setTimeout for the earliest entry (or none), re-arming only when that changed. */
  function arm() {
    const top = heap.peek();
    if (!started || stopped || !top) return clearWake();
    const delay = top.dueMs - now();
    // Due but every slot busy: a finishing fire pumps again, a 0 ms timer would only spin.
    if (delay <= 0 && firing.size >= FIRE_CONCURRENCY) return clearWake();
    if (wake && wakeAtMs === top.dueMs) return;
    clearWake();
    wakeAtMs = top.dueMs;
    wake = setTimeout(
      () => {
        wake = null;
        wakeAtMs = Number.POSITIVE_INFINITY;
        pump();
      },
      Math.min(Math.max(0, delay), MAX_TIMEOUT_MS),
    );
    wake.unref();
  }

  /** Fires every due entry a free slot allows, then re-arms for the next one. */
  function pump() {
    if (!started || stopped) return;
    const t = now();
    while (firing.size < FIRE_CONCURRENCY) {
      const top = heap.peek();
      // Checked against the clock, not trusted from the timer: setTimeout may wake a little early
      // (or capped, or while an injected clock stands still); arm() then sets the remainder.
      if (!top || top.dueMs > t) break;
      heap.pop();
      launch(top);
    }
    arm();
  }

  function launch(entry: Entry) {
    const run = async () => {
      // Leave the caller's stack (schedule() inside a dispatcher commit, or a timer callback).
      await null;
      try {
        await hooks.fire(entry.job);
        known.delete(entry.key);
      } catch (err) {
        entry.attempts += 1;
        if (stopped) {
          // The database still owes it; the next start() re-creates it.
          known.delete(entry.key);
          logger.error('timer fire failed during shutdown', { ...jobFields(entry.job), error: errorMessage(err) });
          return;
        }
        const backoffMs = Math.min(RETRY_BASE_MS * 2 ** (entry.attempts - 1), RETRY_MAX_MS);
        entry.dueMs = now() + backoffMs;
        heap.push(entry);
        logger.error('timer fire failed; retrying', { ...jobFields(entry.job), attempts: entry.attempts, retryInMs: backoffMs, error: errorMessage(err) });
      }
    };
    const p: Promise<void> = run()
      .catch(() => undefined) // only a throwing logger gets here; never an unhandled rejection
      .finally(() => {
        firing.delete(p);
        pump();
      });
    firing.add(p);
  }

  async function schedule(job: TimerJob): Promise<void> {
    if (stopped) return;
    const atMs = Date.parse(job.at);
    if (!Number.isFinite(atMs)) {
      logger.error('timer with an invalid time ignored', jobFields(job));
      return;
    }
    const key = `${job.incidentId}-${job.generation}-${atMs}`;
    if (known.has(key)) return;
    const entry: Entry = { key, job: { incidentId: job.incidentId, generation: job.generation, at: job.at }, dueMs: atMs, attempts: 0, seq: seq++ };
    known.set(key, entry);
    heap.push(entry);
    pump();
  }

  // While the database is down every poll fails: log the first failure and then one line every
  // 30 s with how many were not logged, so an outage does not flood the log.
  let failing: { since: number; loggedAt: number; unlogged: number } | null = null;
  async function outboxPass() {
    try {
      const { nextRetryAt } = await hooks.deliverOutbox();
      if (failing) {
        logger.info('outbox passes work again', { failedForMs: now() - failing.since });
        failing = null;
      }
      if (nextRetryAt) armOutboxRetry(nextRetryAt);
    } catch (err) {
      const t = now();
      if (!failing || t - failing.loggedAt >= 30_000) {
        logger.error('outbox pass failed', { error: errorMessage(err), ...(failing ? { notLogged: failing.unlogged } : {}) });
        failing = { since: failing?.since ?? t, loggedAt: t, unlogged: 0 };
      } else failing.unlogged++;
    }
  }

  /** Wakes the outbox when a retried item becomes due, keeping only the earliest wake-up. */
  function armOutboxRetry(iso: string) {
    const atMs = Date.parse(iso);
    if (stopped || !Number.isFinite(atMs)) return;
    const dueMs = Math.max(atMs, now() + OUTBOX_RETRY_FLOOR_MS);
    if (outboxWake && outboxWakeAtMs <= dueMs) return;
    if (outboxWake) clearTimeout(outboxWake);
    outboxWakeAtMs = dueMs;
    outboxWake = setTimeout(
      () => {
        outboxWake = null;
        outboxWakeAtMs = Number.POSITIVE_INFINITY;
        void kick();
      },
      Math.min(dueMs - now(), MAX_TIMEOUT_MS),
    );
    outboxWake.unref();
  }

  /** Runs the outbox now, coalesced: one pass at a time; kicks during a pass run exactly one more. */
  function kick(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (outboxRunning) {
      outboxAgain = true;
      return outboxRunning;
    }
    outboxRunning = (async () => {
      do {
        outboxAgain = false;
        await outboxPass();
      } while (outboxAgain && !stopped);
    })().finally(() => {
      outboxRunning = null;
    });
    return outboxRunning;
  }

  async function reconcile(o?: { horizonMs?: number | null }): Promise<number> {
    if (stopped) return 0;
    return sweepOwed(hooks, now(), o?.horizonMs ?? null, async (page) => {
      for (const job of page) await schedule(job);
    });
  }

  /** A sweep unless one is running (a slow database must not pile sweeps up). */
  function periodicReconcile() {
    if (stopped || reconciling) return;
    reconciling = reconcile({ horizonMs: reconcileHorizonMs })
      .catch((err: unknown) => {
        logger.error('reconcile sweep failed', { error: errorMessage(err) });
        return 0;
      })
      .finally(() => {
        reconciling = null;
      });
  }

  function runHousekeeping() {
    if (stopped || housekeeping) return;
    housekeeping = hooks
      .housekeeping()
      .catch((err: unknown) => logger.warn('housekeeping failed', { error: errorMessage(err) }))
      .finally(() => {
        housekeeping = null;
      });
  }

  /** Fires what is due now and waits until nothing due is left (retries back off into the future). */
  async function drainDueTimers() {
    pump();
    while (firing.size > 0) {
      await Promise.allSettled([...firing]);
      pump();
    }
  }

  function hasDueTimers() {
    const top = heap.peek();
    return firing.size > 0 || (top !== undefined && top.dueMs <= now());
  }

  return {
    kind: 'in-process',
    schedule,
    reconcile,
    /** Never throws; a no-op after stop(). */
    kickOutbox() {
      void kick();
    },
    pendingTimerIds() {
      return [...known.keys()].map((k) => `t-${k}`);
    },
    async start() {
      if (started || stopped) return;
      started = true;
      try {
        const n = await reconcile({ horizonMs: null });
        if (n) logger.info('timers re-created from the database', { count: n });
      } catch (err) {
        // Not fatal: the periodic sweep brings every owed timer back before it is due.
        logger.error('startup reconcile failed', { error: errorMessage(err) });
      }
      if (stopped) return;
      intervals.push(setInterval(() => void kick(), outboxMs));
      intervals.push(setInterval(periodicReconcile, reconcileEveryMs));
      intervals.push(setInterval(runHousekeeping, housekeepingEveryMs));
      for (const t of intervals) t.unref();
      pump();
      void kick();
    },
    /**
     * Fires the timers due now (by the injected clock) and waits for them, then runs outbox passes
     * until a pass finds nothing new (two coalesced kicks), repeated while those passes scheduled
     * more due timers. Timers only fire after start().
     */
    async flush() {
      for (let round = 0; round < FLUSH_ROUNDS && !stopped; round++) {
        await drainDueTimers();
        await kick();
        await kick();
        if (!hasDueTimers()) break;
      }
    },
    /**
     * Idempotent. Clears every timer, waits for the fires, outbox pass, sweep and housekeeping that
     * are running, then runs one last outbox pass. Pending timers are dropped (the database still
     * owes them); afterwards schedule() and kickOutbox() are no-ops.
     */
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearWake();
        if (outboxWake) clearTimeout(outboxWake);
        outboxWake = null;
        for (const t of intervals) clearInterval(t);
        intervals.length = 0;
        await Promise.allSettled([...firing, outboxRunning, reconciling, housekeeping]);
        await outboxPass();
        heap.clear();
        known.clear();
      })();
      return stopping;
    },
  };
}

function jobFields(job: TimerJob) {
  return { incidentId: job.incidentId, generation: job.generation, at: job.at };
}

function errorMessage(err: unknown) {
  return err instanceof Error ? err.message : String(err);
}

/** Binary min-heap of entries by (dueMs, seq). */
class MinHeap {
  private items: Entry[] = [];

  peek(): Entry | undefined {
    return this.items[0];
  }

  push(e: Entry) {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }

  clear() {
    this.items = [];
  }
}

function less(x: Entry, y: Entry) {
  return x.dueMs < y.dueMs || (x.dueMs === y.dueMs && x.seq < y.seq);
}
