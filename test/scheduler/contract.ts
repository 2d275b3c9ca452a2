/**
 * The scheduler contract (src/scheduler/types.ts): what a user of either driver would notice.
 * Not a test file itself: in-process.test.ts and bullmq.test.ts run it against their driver.
 * Real time with short delays; assertions on "not before" and "at most once", never tight upper
 * bounds (a loaded CI machine is slow, not wrong).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger, TimerJob } from '../../src/flows/ports';
import type { Scheduler, SchedulerHooks } from '../../src/scheduler/types';

export interface Fired {
  job: TimerJob;
  /** Date.now() when fire() was called. */
  atMs: number;
}

/** Fake hooks that record what the scheduler did. Tests tune the behaviour through the fields. */
export interface RecordingHooks extends SchedulerHooks {
  /** Every fire() call, failed ones included. */
  readonly calls: Fired[];
  /** Successful fire() calls. */
  readonly fired: Fired[];
  /** What owed() serves, filtered and ordered as the store does; a successful fire removes its job. */
  owedJobs: TimerJob[];
  /** owed() calls, with their arguments. */
  readonly owedCalls: { before: string; limit: number; after: { at: string; incidentId: string } | null }[];
  /** Completed deliverOutbox() passes. */
  passes: number;
  /** Date.now() at the start of each completed pass. */
  readonly passTimes: number[];
  housekeepingRuns: number;
  /** fire() throws for this incident this many more times. */
  failures: Map<string, number>;
  /** fire() takes this long for this incident. */
  fireDelayMs: Map<string, number>;
  /** Incidents whose fire() is running now. */
  readonly firing: Set<string>;
  /** The most fires seen running at once. */
  maxConcurrentFires: number;
  /** What each deliverOutbox() pass returns, and how long it takes. */
  outbox: { delayMs: number; next: () => string | null; fail: boolean };
  firedFor(incidentId: string): Fired[];
}

export function recordingHooks(): RecordingHooks {
  const h: RecordingHooks = {
    calls: [],
    fired: [],
    owedJobs: [],
    owedCalls: [],
    passes: 0,
    passTimes: [],
    housekeepingRuns: 0,
    failures: new Map(),
    fireDelayMs: new Map(),
    firing: new Set(),
    maxConcurrentFires: 0,
    outbox: { delayMs: 0, next: () => null, fail: false },
    firedFor: (id) => h.fired.filter((f) => f.job.incidentId === id),
    async fire(job) {
      const rec = { job: { ...job }, atMs: Date.now() };
      h.calls.push(rec);
      h.firing.add(job.incidentId);
      h.maxConcurrentFires = Math.max(h.maxConcurrentFires, h.firing.size);
      try {
        const delay = h.fireDelayMs.get(job.incidentId) ?? 0;
        if (delay) await sleep(delay);
        const left = h.failures.get(job.incidentId) ?? 0;
        if (left > 0) {
          h.failures.set(job.incidentId, left - 1);
          throw new Error(`database down (fake) for ${job.incidentId}`);
        }
        h.fired.push(rec);
        // As the dispatcher would: a handled timer is no longer owed (the incident moved on).
        h.owedJobs = h.owedJobs.filter((j) => !(j.incidentId === job.incidentId && j.generation === job.generation && j.at === job.at));
      } finally {
        h.firing.delete(job.incidentId);
      }
    },
    async owed(before, limit, after) {
      h.owedCalls.push({ before, limit, after });
      const b = Date.parse(before);
      return h.owedJobs
        .filter((j) => Date.parse(j.at) <= b)
        .sort(byKeyset)
        .filter((j) => !after || byKeyset(j, after) > 0)
        .slice(0, limit);
    },
    async deliverOutbox() {
      const startedAt = Date.now();
      if (h.outbox.delayMs) await sleep(h.outbox.delayMs);
      if (h.outbox.fail) throw new Error('outbox failed (fake)');
      h.passes += 1;
      h.passTimes.push(startedAt);
      return { nextRetryAt: h.outbox.next() };
    },
    async housekeeping() {
      h.housekeepingRuns += 1;
    },
  };
  return h;
}

function byKeyset(x: { at: string; incidentId: string }, y: { at: string; incidentId: string }) {
  return Date.parse(x.at) - Date.parse(y.at) || (x.incidentId < y.incidentId ? -1 : x.incidentId > y.incidentId ? 1 : 0);
}

/** A logger that keeps what was logged, so tests can assert on warnings. */
export function recordingLogger(): Logger & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, ...(fields ? { fields } : {}) });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function sleep(ms: number) {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/** Polls until `cond` holds; fails with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(20);
  }
}

let seq = 0;
/** A timer due `inMs` from now (negative: overdue) for a fresh incident id. */
export function timer(inMs: number, over: Partial<TimerJob> = {}): TimerJob {
  seq += 1;
  return { incidentId: `inc-${process.pid}-${seq}`, generation: 1, at: new Date(Date.now() + inMs).toISOString(), ...over };
}

export type MakeScheduler = (hooks: SchedulerHooks) => Promise<{ scheduler: Scheduler; cleanup(): Promise<void> }>;

/**
 * Declares the contract suite. `make` builds an unstarted driver on the given hooks with the
 * system clock; the suite starts it, and `cleanup` must stop it and release what it created.
 */
export function schedulerContract(name: string, make: MakeScheduler) {
  describe(`scheduler contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      while (cleanups.length) await cleanups.pop()!();
    });

    async function started(hooks: RecordingHooks): Promise<Scheduler> {
      const { scheduler, cleanup } = await make(hooks);
      cleanups.push(cleanup);
      await scheduler.start();
      return scheduler;
    }

    it('fires a timer once, not before its time', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      const job = timer(300);
      await s.schedule(job);
      await sleep(100);
      expect(hooks.calls).toHaveLength(0);
      await waitFor(() => hooks.fired.length === 1, 'the timer to fire');
      expect(hooks.fired[0]!.job).toEqual(job);
      expect(hooks.fired[0]!.atMs).toBeGreaterThanOrEqual(Date.parse(job.at));
      await sleep(300);
      expect(hooks.calls).toHaveLength(1);
    });

    it('fires a job scheduled twice (or concurrently) only once', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      const job = timer(200);
      await s.schedule(job);
      await Promise.all([s.schedule({ ...job }), s.schedule({ ...job })]);
      await waitFor(() => hooks.fired.length === 1, 'the timer to fire');
      await sleep(400);
      expect(hooks.calls).toHaveLength(1);
    });

    it('fires both generations of one incident (the stale one is the hook’s to ignore)', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      const old = timer(150);
      const newer = { ...old, generation: 2 };
      await s.schedule(old);
      await s.schedule(newer);
      await waitFor(() => hooks.fired.length === 2, 'both generations to fire');
      expect(hooks.fired.map((f) => f.job.generation).sort()).toEqual([1, 2]);
    });

    it('fires a past-due timer at once', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      const job = timer(-60_000);
      await s.schedule(job);
      await waitFor(() => hooks.fired.length === 1, 'the overdue timer to fire', 3000);
    });

    it('does not fire a timer weeks away (no 32-bit setTimeout overflow), but holds it', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      await s.schedule(timer(40 * 24 * 3_600_000));
      await s.schedule(timer(-1000));
      await waitFor(() => hooks.fired.length === 1, 'the overdue timer to fire');
      await sleep(300);
      expect(hooks.calls).toHaveLength(1);
    });

    it('start() re-creates the owed timers from the database, however far away', async () => {
      const hooks = recordingHooks();
      const overdue = timer(-5000);
      const soon = timer(200);
      const far = timer(7 * 24 * 3_600_000);
      hooks.owedJobs.push(overdue, soon, far);
      await started(hooks);
      await waitFor(() => hooks.fired.length === 2, 'the overdue and the soon timer to fire');
      expect(hooks.fired.map((f) => f.job.incidentId).sort()).toEqual([overdue.incidentId, soon.incidentId].sort());
      // The full sweep (the far timer is within its bound), not only the periodic horizon.
      expect(hooks.owedCalls.some((c) => c.before >= far.at)).toBe(true);
    });

    it('reconcile() schedules every owed timer within the horizon across several pages', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      const due = Array.from({ length: 1203 }, (_, i) => timer(-1000 + (i % 300)));
      const beyond = Array.from({ length: 5 }, () => timer(10 * 60_000));
      hooks.owedJobs.push(...due, ...beyond);
      hooks.owedCalls.length = 0;
      const n = await s.reconcile({ horizonMs: 60_000 });
      expect(n).toBe(1203);
      expect(hooks.owedCalls.length).toBeGreaterThanOrEqual(3);
      for (const c of hooks.owedCalls) expect(c.limit).toBeLessThanOrEqual(500);
      await waitFor(() => hooks.fired.length === 1203, 'every owed timer to fire', 15_000);
      expect(new Set(hooks.fired.map((f) => f.job.incidentId)).size).toBe(1203);
      expect(hooks.fired.some((f) => beyond.some((b) => b.incidentId === f.job.incidentId))).toBe(false);
      // null: the whole table, however far (the fired ones are no longer owed).
      expect(await s.reconcile({ horizonMs: null })).toBe(5);
    });

    it('retries a fire that throws until it succeeds', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      const job = timer(50);
      hooks.failures.set(job.incidentId, 1);
      await s.schedule(job);
      await waitFor(() => hooks.fired.length === 1, 'the retried fire to succeed', 8000);
      expect(hooks.calls).toHaveLength(2);
      expect(hooks.calls[1]!.atMs).toBeGreaterThan(hooks.calls[0]!.atMs);
    });

    it('a slow fire does not hold up another incident’s timer', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      const slow = timer(50);
      const quick = timer(100);
      hooks.fireDelayMs.set(slow.incidentId, 2000);
      await s.schedule(slow);
      await s.schedule(quick);
      await waitFor(() => hooks.firedFor(quick.incidentId).length === 1, 'the quick timer to fire', 1900);
      expect(hooks.firedFor(slow.incidentId)).toHaveLength(0);
    });

    it('kickOutbox() leads to a delivery pass', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      await waitFor(() => hooks.passes >= 1, 'the start-up pass');
      await sleep(100);
      const before = hooks.passes;
      s.kickOutbox();
      await waitFor(() => hooks.passes > before, 'a pass after the kick');
    });

    it('coalesces kicks during a running pass into one more pass, not one each', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      await waitFor(() => hooks.passes >= 1, 'the start-up pass');
      hooks.outbox.delayMs = 300;
      const before = hooks.passes;
      s.kickOutbox();
      await sleep(100); // the first pass is running now
      for (let i = 0; i < 20; i++) s.kickOutbox();
      await waitFor(() => hooks.passes >= before + 2, 'the pass and the one coalesced pass');
      await sleep(700);
      expect(hooks.passes).toBeLessThanOrEqual(before + 3);
    });

    it('kickOutbox() survives a failing pass', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      hooks.outbox.fail = true;
      s.kickOutbox();
      await sleep(200);
      hooks.outbox.fail = false;
      const before = hooks.passes;
      s.kickOutbox();
      await waitFor(() => hooks.passes > before, 'a pass after the failure');
    });

    it('flush() waits for a due timer’s fire and runs the outbox', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      const job = timer(-10);
      hooks.fireDelayMs.set(job.incidentId, 300);
      await s.schedule(job);
      const passes = hooks.passes;
      await s.flush();
      expect(hooks.firedFor(job.incidentId)).toHaveLength(1);
      expect(hooks.passes).toBeGreaterThan(passes);
    });

    it('stop() waits for a running fire, drains the outbox once, and fires nothing afterwards', async () => {
      const hooks = recordingHooks();
      const s = await started(hooks);
      const running = timer(-10);
      const later = timer(400);
      hooks.fireDelayMs.set(running.incidentId, 300);
      await s.schedule(running);
      await s.schedule(later);
      await waitFor(() => hooks.firing.has(running.incidentId), 'the slow fire to start');
      const passes = hooks.passes;
      await s.stop();
      expect(hooks.firedFor(running.incidentId)).toHaveLength(1);
      expect(hooks.passes).toBeGreaterThan(passes);
      const after = hooks.passes;
      await s.schedule(timer(-10));
      s.kickOutbox();
      await sleep(700);
      expect(hooks.firedFor(later.incidentId)).toHaveLength(0);
      expect(hooks.calls).toHaveLength(1);
      expect(hooks.passes).toBe(after);
      await s.stop(); // idempotent
    });
  });
}
