import type { TimerJob, TimerPort } from '../flows/ports';

/**
 * What a scheduler driver calls back into. Built by src/app.ts from the dispatcher, the store and
 * the outbox worker, so both drivers (in-process and BullMQ) run exactly the same work.
 */
export interface SchedulerHooks {
  /**
   * A timer is due. Idempotent and safe to run concurrently for one incident (the dispatcher's
   * compare-and-set decides; a stale generation is a no-op). Throws only on infrastructure
   * failure (database down): the driver then retries the job.
   */
  fire(job: TimerJob): Promise<void>;
  /**
   * The timers the database says are owed, due at or before `before` (ISO), ordered by (at,
   * incidentId), at most `limit`, strictly after the keyset `after` (for paging a full sweep).
   */
  owed(before: string, limit: number, after: { at: string; incidentId: string } | null): Promise<TimerJob[]>;
  /**
   * Delivers what the outbox has due now. Returns the earliest instant a retried item becomes due
   * again (so the driver can wake then), or null when nothing is waiting for a retry.
   */
  deliverOutbox(): Promise<{ nextRetryAt: string | null }>;
  /** Housekeeping (forgetting old inbound dedupe keys). Errors are logged by the driver. */
  housekeeping(): Promise<void>;
}

/**
 * A scheduler driver: the in-process one (embedded mode, no Redis) or BullMQ (REDIS_URL). Both
 * pass the same contract suite (test/scheduler/contract.ts).
 */
export interface Scheduler extends TimerPort {
  /** Which driver this is, for logs and /readyz. */
  readonly kind: 'in-process' | 'bullmq';
  /** Asks for an outbox delivery pass soon (after a commit). Coalesced; never throws. */
  kickOutbox(): void;
  /**
   * Re-creates from the database every timer due within `horizonMs` from now (null: every owed
   * timer, however far), firing overdue ones at once. Returns how many timers it (re)scheduled.
   * Safe to run in several processes at once: scheduling is idempotent.
   */
  reconcile(opts?: { horizonMs?: number | null }): Promise<number>;
  /** Starts workers, the periodic reconcile and housekeeping; runs a full reconcile first. */
  start(): Promise<void>;
  /** Delivers everything due now and waits for it (the console, tests, shutdown). */
  flush(): Promise<void>;
  /** Stops taking work, finishes what is running, drains the outbox once, releases connections. */
  stop(): Promise<void>;
}
