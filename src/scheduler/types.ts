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

/** Page size of a reconcile sweep through `hooks.owed` (and the BullMQ addBulk chunk). */
export const OWED_PAGE = 500;
/** Floor of an outbox retry wake-up, so a nextRetryAt already in the past cannot spin a hot loop. */
export const OUTBOX_RETRY_FLOOR_MS = 50;
/** Upper bound of a full sweep (horizon null): later than any timer the database can hold. */
export const FAR_FUTURE = '9999-12-31T23:59:59.999Z';

/**
 * Walks every timer the database owes within `horizonMs` of `nowMs` (null: all of them), page by
 * page in (at, incidentId) order, handing each page to `onPage`. Returns how many timers it saw.
 * Shared by both drivers so their sweeps cannot drift apart; stops on a store that ignores the
 * keyset instead of paging forever.
 */
export async function sweepOwed(
  hooks: Pick<SchedulerHooks, 'owed'>,
  nowMs: number,
  horizonMs: number | null,
  onPage: (page: TimerJob[]) => Promise<void>,
): Promise<number> {
  const before = horizonMs === null ? FAR_FUTURE : new Date(nowMs + horizonMs).toISOString();
  let after: { at: string; incidentId: string } | null = null;
  let count = 0;
  for (;;) {
    const page: TimerJob[] = (await hooks.owed(before, OWED_PAGE, after)).filter((j) => Number.isFinite(Date.parse(j.at)));
    if (page.length > 0) await onPage(page);
    count += page.length;
    if (page.length < OWED_PAGE) return count;
    const last: TimerJob = page[page.length - 1]!;
    if (after && last.at === after.at && last.incidentId === after.incidentId) return count;
    after = { at: last.at, incidentId: last.incidentId };
  }
}
