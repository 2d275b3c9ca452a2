import { DelayedError, Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Clock, Logger, TimerJob } from '../flows/ports';
import { OUTBOX_RETRY_FLOOR_MS, sweepOwed, type Scheduler, type SchedulerHooks } from './types';

const TIMER_ATTEMPTS = 5;
const HOUSEKEEPING_EVERY_MS = 3_600_000;
/**
 * How often each process checks that Redis still has its data (one SET NX of a marker key). A
 * flush or a failover to an empty replica is then repaired within a second, not at the next
 * periodic sweep: with second-scale targets, a 30 s gap would make notices late.
 */
const LOSS_CHECK_MS = 1000;
/** A timer job picked up this much early (clock skew between hosts) waits in the worker... */
const EARLY_SLEEP_MAX_MS = 2000;
/** The same Redis error (every reconnect attempt raises one per connection) is logged once per window. */
const ERROR_LOG_WINDOW_MS = 30_000;
/** How long flush() waits at most for due timer jobs to drain. */
const FLUSH_WAIT_MS = 10_000;
/** How many failed timer jobs a sweep looks at to retry the ones the database still owes. */
const FAILED_SCAN = 1000;

export interface BullmqSchedulerOptions {
  /** `redis://[user:pass@]host:port[/db]`. */
  redisUrl: string;
  /** Redis key prefix of every queue. Processes sharing a prefix share the work. Default `firebell`. */
  prefix?: string;
  hooks: SchedulerHooks;
  clock: Clock;
  logger: Logger;
  /** Timer jobs fired at once by this process. Default 16. */
  concurrency?: number;
  /** Period of the shared repeatable reconcile job (and of this process's scheduler watchdog). Default 30 s. */
  reconcileEveryMs?: number;
  /** How far ahead the periodic sweep looks. Default 120 s (longer than the period). */
  reconcileHorizonMs?: number;
  /** Period of the repeatable outbox safety poll (kicks can be lost with Redis). Default 5 s. */
  outboxSafetyPollMs?: number;
  /** First retry delay of a failed fire, doubled per attempt (5 attempts). Default 1000 ms. */
  timerBackoffMs?: number;
  /** Longest wait for Redis in schedule(), kickOutbox() and sweeps before giving up (logged). Default 5000 ms. */
  redisTimeoutMs?: number;
  /** How often this process checks that Redis still has its data. Default 1000 ms. */
  lossCheckMs?: number;
}

/** The BullMQ driver, with read-only views for tests, /readyz and operators. */
export interface BullmqScheduler extends Scheduler {
  readonly kind: 'bullmq';
  /** The three queues (`timers`, `maintenance`, `outbox`), e.g. for inspection or test cleanup. */
  readonly queues: { readonly timers: Queue<TimerJob>; readonly maintenance: Queue; readonly outbox: Queue };
  /** BullMQ job counts of the timers queue by state (waiting, delayed, active, completed, failed, …). Throws when Redis is unreachable. */
  counts(): Promise<Record<string, number>>;
  /** Ids (`t-<incidentId>-<generation>-<atMs>`) of timer jobs waiting or delayed in Redis. Throws when Redis is unreachable. */
  pendingTimerIds(): Promise<string[]>;
}

/** The BullMQ job id of a timer: one job per (incidentId, generation, at); BullMQ 6 forbids ':'. */
export function timerJobId(job: TimerJob): string {
  return `t-${job.incidentId.replace(/:/g, '_')}-${job.generation}-${Date.parse(job.at)}`;
}

/**
 * The BullMQ driver (REDIS_URL): several processes share the queues under one prefix.
 *
 * - `timers`: one delayed job per TimerJob, id {@link timerJobId}. Adding an id that exists is a
 *   no-op, so schedule() and reconcile() are idempotent across processes; completed jobs are kept
 *   an hour (at most 10 000) so a re-add within that window is deduplicated too. A failing fire is
 *   retried 5 times with exponential backoff, then kept in the failed set; a reconcile sweep
 *   retries a failed job while the database still owes that timer.
 * - `maintenance`: repeatable `reconcile` (every reconcileEveryMs) and `housekeeping` (hourly) jobs,
 *   one shared schedule for all processes. A watchdog in each process re-creates the schedules when
 *   Redis lost them (FLUSHDB, failover to an empty replica).
 * - `outbox`: kicks deduplicated so that at most one pass waits while one runs (a kick during a
 *   pass runs exactly one more), delayed wake-ups for nextRetryAt, and a repeatable safety poll.
 *
 * Redis outages never throw out of schedule()/kickOutbox() and never crash Node: errors are logged
 * (throttled), ioredis keeps reconnecting, and the sweep re-creates what was missed
 * (ARCHITECTURE.md rule 7). Construction never throws: it opens the producer connection in the
 * background; start() creates the workers; stop() must be called to release the connections.
 */
export function createBullmqScheduler(opts: BullmqSchedulerOptions): BullmqScheduler {
  const { hooks, clock, logger, redisUrl } = opts;
  const prefix = opts.prefix ?? 'firebell';
  const concurrency = opts.concurrency ?? 16;
  const reconcileEveryMs = opts.reconcileEveryMs ?? 30_000;
  const reconcileHorizonMs = opts.reconcileHorizonMs ?? 120_000;
  const outboxSafetyPollMs = opts.outboxSafetyPollMs ?? 5_000;
  const timerBackoffMs = opts.timerBackoffMs ?? 1000;
  const redisTimeoutMs = opts.redisTimeoutMs ?? 5000;

  let started = false;
  let stopped = false;
  let stopping: Promise<void> | null = null;
  /** Set by stop(): connections stop reconnecting, so closing cannot hang on an unreachable Redis. */
  let closing = false;
  const retryStrategy = (times: number) => (closing ? null : Math.min(100 * times, 2000));

  // --- error logging, throttled: a Redis outage raises an error per connection per reconnect.
  const lastLogged = new Map<string, { atMs: number; suppressed: number }>();
  function redisError(source: string, err: unknown) {
    const message = errorMessage(err);
    const t = Date.now();
    const seen = lastLogged.get(message);
    if (seen && t - seen.atMs < ERROR_LOG_WINDOW_MS) {
      seen.suppressed += 1;
      return;
    }
    if (lastLogged.size > 100) lastLogged.clear(); // distinct messages are few; never let it grow
    lastLogged.set(message, { atMs: t, suppressed: 0 });
    logger.warn('redis error', { source, error: message, suppressedSinceLast: seen?.suppressed ?? 0 });
  }

  // The producer connection (queues): fails commands after two reconnect attempts instead of
  // queueing them forever, so schedule() returns during an outage.
  const producerOptions: RedisOptions = { maxRetriesPerRequest: 2, retryStrategy, connectionName: `${prefix}:producer` };
  const producer = new Redis(redisUrl, producerOptions);
  producer.on('error', (err) => redisError('producer', err));

  const queueOpts = { connection: producer, prefix };
  const timers = new Queue<TimerJob>('timers', queueOpts);
  const maintenance = new Queue('maintenance', queueOpts);
  const outbox = new Queue('outbox', queueOpts);
  for (const [name, q] of [['timers', timers], ['maintenance', maintenance], ['outbox', outbox]] as const) {
    q.on('error', (err) => redisError(`queue ${name}`, err));
  }

  const workers: Worker[] = [];
  /** Fires running in this process, for flush(). */
  const localFires = new Set<Promise<void>>();
  let watchdog: NodeJS.Timeout | null = null;
  let lossCheck: NodeJS.Timeout | null = null;
  /** A marker only Redis losing its data removes (the processes set it, nothing deletes it). */
  const markerKey = `${prefix}:firebell-marker`;
  let repairing = false;

  /**
   * Sets the marker if it is missing; true when it was missing, i.e. Redis lost its data since
   * someone last set it (or this is the first process ever on this prefix).
   */
  async function markerWasMissing(): Promise<boolean> {
    return (await redisOp(producer.set(markerKey, new Date().toISOString(), 'NX'), 'check the marker key')) === 'OK';
  }

  /** Redis lost its data: re-create the repeatable jobs and every owed timer at once. */
  async function repairAfterLoss() {
    if (repairing || stopped) return;
    repairing = true;
    try {
      logger.warn('Redis lost its data (flush or failover): re-creating the repeatable jobs and every owed timer');
      await ensureSchedulers();
      const n = await reconcile({ horizonMs: null });
      logger.info('timers re-created from the database', { count: n });
    } finally {
      repairing = false;
    }
  }

  /** Races a Redis call against redisTimeoutMs: before the first connect, BullMQ waits forever. */
  function redisOp<T>(p: Promise<T>, what: string): Promise<T> {
    p.catch(() => undefined); // an abandoned call must not become an unhandled rejection
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${what}: Redis did not answer within ${redisTimeoutMs} ms`)), redisTimeoutMs);
      t.unref();
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(t);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  function timerJobOptions(job: TimerJob, atMs: number): JobsOptions {
    return {
      jobId: timerJobId(job),
      delay: Math.max(0, atMs - clock.now().getTime()),
      attempts: TIMER_ATTEMPTS,
      backoff: { type: 'exponential', delay: timerBackoffMs },
      // Kept a while so that a re-add of the same id (a sweep, another process) is a no-op.
      removeOnComplete: { age: 3600, count: 10_000 },
      // Kept for inspection; a sweep retries it while the database still owes the timer.
      removeOnFail: false,
    };
  }

  function timerData(job: TimerJob): TimerJob {
    return { incidentId: job.incidentId, generation: job.generation, at: job.at };
  }

  async function schedule(job: TimerJob): Promise<void> {
    if (stopped) return;
    const atMs = Date.parse(job.at);
    if (!Number.isFinite(atMs)) {
      logger.error('timer with an invalid time ignored', { ...timerData(job) });
      return;
    }
    try {
      await redisOp(timers.add('fire', timerData(job), timerJobOptions(job, atMs)), 'schedule timer');
    } catch (err) {
      logger.warn('could not schedule a timer in Redis; the reconcile sweep will re-create it', { ...timerData(job), error: errorMessage(err) });
    }
  }

  function kickOutbox(): void {
    if (stopped) return;
    // keepLastIfActive: while a kick job runs, one more waits; further kicks are absorbed.
    const add = outbox.add('kick', {}, { deduplication: { id: 'outbox-kick', keepLastIfActive: true }, removeOnComplete: true, removeOnFail: { count: 100 } });
    redisOp(add, 'kick outbox').catch((err: unknown) => logger.warn('could not kick the outbox; the safety poll will deliver', { error: errorMessage(err) }));
  }

  /** A delayed outbox pass when a retried item becomes due; the id dedupes processes that agree on the time. */
  async function wakeOutboxAt(iso: string) {
    const atMs = Date.parse(iso);
    if (stopped || !Number.isFinite(atMs)) return;
    const dueMs = Math.max(atMs, clock.now().getTime() + OUTBOX_RETRY_FLOOR_MS);
    try {
      await redisOp(
        outbox.add('retry', {}, { jobId: `outbox-retry-${dueMs}`, delay: dueMs - clock.now().getTime(), removeOnComplete: true, removeOnFail: { count: 100 } }),
        'outbox retry wake-up',
      );
    } catch (err) {
      logger.warn('could not arm the outbox retry; the safety poll will deliver', { error: errorMessage(err) });
    }
  }

  async function outboxPass(): Promise<void> {
    const { nextRetryAt } = await hooks.deliverOutbox();
    if (nextRetryAt) await wakeOutboxAt(nextRetryAt);
  }

  async function reconcile(o?: { horizonMs?: number | null }): Promise<number> {
    if (stopped) return 0;
    // Failed timer jobs keep their id, so re-adding them is a no-op: retry those still owed.
    const failed = new Set(await redisOp(timers.getRanges(['failed'], 0, FAILED_SCAN - 1), 'list failed timers'));
    return sweepOwed(hooks, clock.now().getTime(), o?.horizonMs ?? null, async (page) => {
      await redisOp(timers.addBulk(page.map((j) => ({ name: 'fire', data: timerData(j), opts: timerJobOptions(j, Date.parse(j.at)) }))), 'reconcile timers');
      for (const j of page) {
        const id = timerJobId(j);
        if (failed.has(id)) await retryFailed(id);
      }
    });
  }

  async function retryFailed(id: string) {
    try {
      const job = await redisOp(timers.getJob(id), 'load failed timer');
      if (!job) return;
      await redisOp(job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }), 'retry failed timer');
      logger.info('retrying a failed timer job the database still owes', { jobId: id });
    } catch (err) {
      logger.warn('could not retry a failed timer job', { jobId: id, error: errorMessage(err) });
    }
  }

  async function processTimer(job: Job<TimerJob>, token?: string): Promise<void> {
    const data = job.data;
    const earlyMs = Date.parse(data.at) - clock.now().getTime();
    if (earlyMs > 0) {
      // Never fire before `at` by our clock (another host's clock may run ahead of ours).
      if (earlyMs > EARLY_SLEEP_MAX_MS && token) {
        await job.moveToDelayed(Date.now() + earlyMs, token);
        throw new DelayedError();
      }
      // A timer may wake a millisecond short of its delay as Date.now() counts it: sleep again
      // until our clock really says `at`.
      for (let left = earlyMs; left > 0; left = Date.parse(data.at) - clock.now().getTime()) await sleep(left);
    }
    const p = hooks.fire(data);
    const tracked = p.then(
      () => undefined,
      () => undefined,
    );
    localFires.add(tracked);
    try {
      await p;
    } finally {
      localFires.delete(tracked);
    }
  }

  const schedulers = [
    { queue: maintenance, id: 'reconcile', name: 'reconcile', every: reconcileEveryMs },
    { queue: maintenance, id: 'housekeeping', name: 'housekeeping', every: HOUSEKEEPING_EVERY_MS },
    { queue: outbox, id: 'outbox-poll', name: 'poll', every: outboxSafetyPollMs },
  ] as const;

  /** Creates the repeatable jobs that are missing (or have another period). Idempotent across processes. */
  async function ensureSchedulers() {
    for (const s of schedulers) {
      const existing = await redisOp(s.queue.getJobScheduler(s.id), 'read job scheduler');
      if (existing && Number(existing.every) === s.every) continue;
      await redisOp(
        s.queue.upsertJobScheduler(s.id, { every: s.every }, { name: s.name, data: {}, opts: { removeOnComplete: true, removeOnFail: { count: 100 } } }),
        'create job scheduler',
      );
      if (started && existing === undefined) logger.warn('re-created a missing repeatable job (Redis lost data?)', { scheduler: s.id });
    }
  }

  function newWorker<T>(name: string, processor: (job: Job<T>, token?: string) => Promise<unknown>, workerConcurrency: number) {
    // Workers need maxRetriesPerRequest null (blocking commands); BullMQ owns these connections.
    const w = new Worker<T>(name, processor, {
      connection: { url: redisUrl, maxRetriesPerRequest: null, retryStrategy },
      prefix,
      concurrency: workerConcurrency,
    });
    w.on('error', (err) => redisError(`worker ${name}`, err));
    workers.push(w as Worker);
    return w;
  }

  async function stop() {
    stopping ??= (async () => {
      stopped = true;
      closing = true;
      if (watchdog) clearInterval(watchdog);
      watchdog = null;
      if (lossCheck) clearInterval(lossCheck);
      lossCheck = null;
      // Workers first: they take no new job and BullMQ waits for the active ones.
      await Promise.allSettled(workers.map((w) => w.close()));
      try {
        await hooks.deliverOutbox(); // the last drain; a retry wake-up is left to the next process's poll
      } catch (err) {
        logger.error('final outbox pass failed', { error: errorMessage(err) });
      }
      await Promise.allSettled([timers.close(), maintenance.close(), outbox.close()]);
      try {
        await redisOp(producer.quit(), 'quit');
      } catch {
        producer.disconnect();
      }
    })();
    return stopping;
  }

  return {
    kind: 'bullmq',
    queues: { timers, maintenance, outbox },
    schedule,
    kickOutbox,
    reconcile,
    async counts() {
      return redisOp(timers.getJobCounts(), 'count timers');
    },
    async pendingTimerIds() {
      // getRanges defaults to the first two ids only.
      return redisOp(timers.getRanges(['waiting', 'delayed'], 0, -1), 'list timers');
    },
    /**
     * Creates the workers and the repeatable jobs, then runs a full reconcile. Does not throw for an
     * outage of Redis or the database: it logs, the watchdog re-creates the repeatable jobs and the
     * sweep the timers once they are back.
     */
    async start() {
      if (started || stopped) return;
      started = true;
      newWorker<TimerJob>('timers', processTimer, concurrency).on('failed', (job, err) => {
        if (!job) return;
        const final = job.attemptsMade >= (job.opts.attempts ?? 1);
        const fields = { ...job.data, jobId: job.id, attemptsMade: job.attemptsMade, error: err.message };
        if (final) logger.error('timer job failed for good; kept as failed, the sweep retries it while still owed', fields);
        else logger.warn('timer fire failed; BullMQ retries it', fields);
      });
      newWorker('outbox', () => outboxPass(), 1).on('failed', (_job, err) => logger.error('outbox pass failed', { error: err.message }));
      newWorker(
        'maintenance',
        async (job) => {
          if (job.name === 'reconcile') return { scheduled: await reconcile({ horizonMs: reconcileHorizonMs }) };
          if (job.name === 'housekeeping') await hooks.housekeeping();
          return null;
        },
        2,
      ).on('failed', (job, err) => logger.error(`${job?.name ?? 'maintenance'} job failed`, { error: err.message }));

      try {
        await ensureSchedulers();
      } catch (err) {
        logger.warn('could not create the repeatable jobs yet; retrying', { error: errorMessage(err) });
      }
      watchdog = setInterval(() => {
        ensureSchedulers().catch((err: unknown) => redisError('scheduler watchdog', err));
      }, Math.max(250, reconcileEveryMs));
      watchdog.unref();
      // The first check only sets the marker: the full reconcile below covers this start.
      await markerWasMissing().catch((err: unknown) => redisError('marker check', err));
      lossCheck = setInterval(() => {
        markerWasMissing()
          .then((lost) => (lost ? repairAfterLoss() : undefined))
          .catch((err: unknown) => redisError('marker check', err));
      }, opts.lossCheckMs ?? LOSS_CHECK_MS);
      lossCheck.unref();

      try {
        const n = await reconcile({ horizonMs: null });
        if (n) logger.info('timers re-created from the database', { count: n });
      } catch (err) {
        logger.error('startup reconcile failed; the periodic sweep will catch up', { error: errorMessage(err) });
      }
      kickOutbox();
    },
    /**
     * Waits (up to 10 s) until no timer job is due, waiting or active in Redis and none runs in this
     * process, then runs two outbox passes directly in this process. Errors are logged.
     */
    async flush() {
      if (stopped) return;
      const deadline = Date.now() + FLUSH_WAIT_MS;
      for (;;) {
        if (localFires.size > 0) await Promise.allSettled([...localFires]);
        let busy = false;
        try {
          const c = await redisOp(timers.getJobCounts('waiting', 'active', 'prioritized'), 'count timers');
          const dueDelayed = await redisOp(timers.getDelayedCount(Date.now() + 1), 'count due timers');
          busy = (c.waiting ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) + dueDelayed > 0;
        } catch (err) {
          logger.warn('flush could not read the timers queue', { error: errorMessage(err) });
        }
        if ((!busy && localFires.size === 0) || Date.now() > deadline) break;
        await sleep(20);
      }
      for (let i = 0; i < 2; i++) {
        try {
          await outboxPass();
        } catch (err) {
          logger.error('outbox pass failed', { error: errorMessage(err) });
        }
      }
    },
    /**
     * Idempotent. Closes the workers (waiting for active jobs), runs one last outbox pass, closes
     * the queues and the connections. Afterwards schedule() and kickOutbox() are no-ops.
     */
    stop,
  };
}

function sleep(ms: number) {
  return new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
}

function errorMessage(err: unknown) {
  return err instanceof Error ? err.message : String(err);
}
