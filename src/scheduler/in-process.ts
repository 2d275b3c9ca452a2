import type { Dispatcher } from '../flows/dispatch';
import type { OutboxWorker } from '../flows/outbox';
import type { Clock, IncidentStore, Logger } from '../flows/ports';

export interface InProcessSchedulerOptions {
  worker: OutboxWorker;
  dispatcher: Dispatcher;
  store: IncidentStore;
  clock: Clock;
  logger: Logger;
  /** Outbox poll when nothing kicked it (retries become due on their own). */
  outboxIntervalMs?: number;
  /** How often due wait-until holds are resumed. */
  waitSweepMs?: number;
  /** Dedupe keys are kept this long: longer than any platform's redelivery window (Feishu ~7 h). */
  dedupeTtlMs?: number;
}

/**
 * The embedded scheduler (no Redis): timers derived from the database by periodic sweeps, and the
 * outbox delivered in this process. One pass at a time; a kick during a pass runs one more.
 */
export function createInProcessScheduler(opts: InProcessSchedulerOptions) {
  const { worker, dispatcher, store, clock, logger } = opts;
  const outboxMs = opts.outboxIntervalMs ?? 1000;
  const sweepMs = opts.waitSweepMs ?? 5000;
  const ttl = opts.dedupeTtlMs ?? 24 * 3_600_000;
  const timers: NodeJS.Timeout[] = [];
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  async function pass() {
    try {
      await worker.runOnce();
    } catch (err) {
      logger.error('outbox pass failed', { error: (err as Error).message });
    }
  }

  /** Runs the outbox now (coalesced with a pass in flight). */
  function kick(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await pass();
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
    return running;
  }

  async function sweep() {
    try {
      const n = await dispatcher.resumeDueWaits();
      if (n) logger.info('resumed incidents whose wait ended', { count: n });
    } catch (err) {
      logger.error('wait-until sweep failed', { error: (err as Error).message });
    }
  }

  return {
    kick,
    sweep,
    start() {
      timers.push(setInterval(() => void kick(), outboxMs));
      timers.push(setInterval(() => void sweep(), sweepMs));
      timers.push(
        setInterval(() => {
          store.pruneInbound(new Date(clock.now().getTime() - ttl).toISOString()).catch((err: Error) => logger.warn('dedupe prune failed', { error: err.message }));
        }, 3_600_000),
      );
      for (const t of timers) t.unref();
    },
    /** Drains: delivers everything due now (used by the console after each action, and on shutdown). */
    async flush() {
      await kick();
      await kick();
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      await running;
      await pass();
      stopped = true;
    },
  };
}

export type InProcessScheduler = ReturnType<typeof createInProcessScheduler>;
