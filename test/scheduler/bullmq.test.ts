/**
 * The BullMQ driver against a real Redis (127.0.0.1:6379). Fails, never skips, when Redis is down.
 *
 * Everything runs in logical database 3 with a unique key prefix per scheduler. Two tests simulate
 * Redis losing its data with FLUSHDB: FLUSHDB empties only database 3 (FLUSHALL would wipe every
 * database, other people's included). Concurrent runs of this file (several engineers on one
 * machine) take turns through a lock key in database 3, so one run's FLUSHDB cannot hit another's.
 */
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../src/flows/ports';
import type { SchedulerHooks } from '../../src/scheduler/types';
import { createBullmqScheduler, timerJobId, type BullmqScheduler, type BullmqSchedulerOptions } from '../../src/scheduler/bullmq';
import { recordingHooks, recordingLogger, schedulerContract, sleep, timer, waitFor } from './contract';

const REDIS_PORT = 6379;
const DB = 3;
const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}/${DB}`;
const RUN = `fbtest-${process.pid}-${randomUUID().slice(0, 8)}`;
const LOCK_KEY = 'fbtest:scheduler-bullmq:lock';
const LOCK_TTL_MS = 60_000;

let admin: Redis;
let lockRefresh: NodeJS.Timeout | null = null;
let n = 0;

beforeAll(async () => {
  admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
    await admin.ping();
  } catch (err) {
    throw new Error(`Redis is unreachable at ${REDIS_URL} (${(err as Error).message}): the BullMQ scheduler tests need a real Redis`);
  }
  const deadline = Date.now() + 150_000;
  while ((await admin.set(LOCK_KEY, RUN, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') {
    if (Date.now() > deadline) throw new Error(`another run holds ${LOCK_KEY} in Redis db ${DB}`);
    await sleep(250);
  }
  lockRefresh = setInterval(() => void admin.pexpire(LOCK_KEY, LOCK_TTL_MS).catch(() => undefined), LOCK_TTL_MS / 4);
}, 180_000);

afterAll(async () => {
  if (lockRefresh) clearInterval(lockRefresh);
  if (!admin || admin.status !== 'ready') return;
  await deleteKeys(`${RUN}-*`);
  if ((await admin.get(LOCK_KEY)) === RUN) await admin.del(LOCK_KEY);
  await admin.quit();
});

async function deleteKeys(pattern: string) {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await admin.del(...keys);
  } while (cursor !== '0');
}

/** FLUSHDB, not FLUSHALL: this file owns database 3 (under the lock), nothing else. */
async function loseRedisData() {
  await admin.flushdb();
  // The lock went with the data; take it back.
  await admin.set(LOCK_KEY, RUN, 'PX', LOCK_TTL_MS);
}

const live: { s: BullmqScheduler; prefix: string }[] = [];

function make(hooks: SchedulerHooks, over: Partial<BullmqSchedulerOptions> = {}) {
  const prefix = over.prefix ?? `${RUN}-${++n}`;
  const logger = recordingLogger();
  const s = createBullmqScheduler({
    redisUrl: REDIS_URL,
    hooks,
    clock: systemClock(),
    logger,
    // The contract counts outbox passes: no safety poll in the way unless a test asks for it.
    outboxSafetyPollMs: 60_000,
    redisTimeoutMs: 2000,
    ...over,
    prefix,
  });
  live.push({ s, prefix });
  return { s, logger, prefix };
}

async function release(s: BullmqScheduler, prefix: string) {
  await s.stop();
  await deleteKeys(`${prefix}:*`);
}

schedulerContract('bullmq', async (hooks) => {
  const { s, prefix } = make(hooks);
  return { scheduler: s, cleanup: () => release(s, prefix) };
});

/** A TCP proxy in front of Redis that a test can cut and restore, to break live connections. */
async function redisProxy() {
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (down) return void client.destroy();
    const upstream = net.connect(REDIS_PORT, '127.0.0.1');
    upstream.on('error', () => undefined);
    sockets.add(client).add(upstream);
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}/${DB}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on. */
async function closedPort() {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('bullmq scheduler', () => {
  afterEach(async () => {
    while (live.length) {
      const { s, prefix } = live.pop()!;
      await release(s, prefix);
    }
  });

  it('keeps one delayed job per timer, with a ":"-free id, visible through pendingTimerIds() and counts()', async () => {
    const hooks = recordingHooks();
    const { s } = make(hooks);
    await s.start();
    const job = timer(60_000, { incidentId: 'weird:id' });
    await s.schedule(job);
    await s.schedule(job);
    const id = `t-weird_id-1-${Date.parse(job.at)}`;
    expect(timerJobId(job)).toBe(id);
    expect(await s.pendingTimerIds()).toEqual([id]);
    expect(await s.counts()).toMatchObject({ delayed: 1, waiting: 0, active: 0, failed: 0 });
  });

  it('two processes scheduling and reconciling the same timers fire each once', async () => {
    const hooks = recordingHooks();
    const prefix = `${RUN}-${++n}-shared`;
    const a = make(hooks, { prefix }).s;
    const b = make(hooks, { prefix }).s;
    await Promise.all([a.start(), b.start()]);
    const jobs = Array.from({ length: 20 }, (_, i) => timer(200 + i * 10));
    hooks.owedJobs.push(...jobs.slice(10));
    await Promise.all(jobs.slice(0, 10).flatMap((j) => [a.schedule(j), b.schedule({ ...j })]));
    await Promise.all([a.reconcile({ horizonMs: 60_000 }), b.reconcile({ horizonMs: 60_000 })]);
    await waitFor(() => hooks.fired.length === 20, 'all 20 timers to fire');
    await sleep(500);
    expect(hooks.calls).toHaveLength(20);
    expect(new Set(hooks.calls.map((c) => c.job.incidentId)).size).toBe(20);
  });

  it('a completed timer scheduled again (within the hour) does not fire again', async () => {
    const hooks = recordingHooks();
    const { s } = make(hooks);
    await s.start();
    const job = timer(-10);
    await s.schedule(job);
    await waitFor(() => hooks.fired.length === 1, 'the timer to fire');
    await s.schedule(job);
    await sleep(400);
    expect(hooks.calls).toHaveLength(1);
    expect(await s.counts()).toMatchObject({ completed: 1 });
  });

  it('after Redis lost its data (FLUSHDB), reconcile() re-creates every pending timer and they fire', async () => {
    const hooks = recordingHooks();
    // No automatic repair in this test: it is about reconcile() itself.
    const { s } = make(hooks, { reconcileEveryMs: 60_000, lossCheckMs: 600_000 });
    await s.start();
    const jobs = [timer(1200), timer(1300), timer(1400)];
    hooks.owedJobs.push(...jobs);
    for (const j of jobs) await s.schedule(j);
    expect(await s.pendingTimerIds()).toHaveLength(3);
    await loseRedisData();
    expect(await s.pendingTimerIds()).toEqual([]);
    expect(await s.reconcile()).toBe(3);
    expect((await s.pendingTimerIds()).sort()).toEqual(jobs.map(timerJobId).sort());
    await waitFor(() => hooks.fired.length === 3, 'the re-created timers to fire');
    for (const f of hooks.fired) expect(f.atMs).toBeGreaterThanOrEqual(Date.parse(f.job.at));
  });

  it('after FLUSHDB, the marker check notices within about a second and re-creates every owed timer, long before the periodic sweep', async () => {
    const hooks = recordingHooks();
    const { s, logger } = make(hooks, { reconcileEveryMs: 60_000, reconcileHorizonMs: 10_000 });
    await s.start();
    // Far beyond the periodic sweep's horizon too: only a full reconcile brings this one back.
    const jobs = [timer(2500), timer(600_000)];
    hooks.owedJobs.push(...jobs);
    for (const j of jobs) await s.schedule(j);
    await loseRedisData();
    await waitFor(async () => (await s.pendingTimerIds()).length === 2, 'the repair to re-create both timers', 3000);
    expect(logger.lines.some((l) => l.msg.startsWith('Redis lost its data'))).toBe(true);
    await waitFor(() => hooks.fired.length === 1, 'the near timer to fire');
    expect(hooks.fired[0]!.atMs).toBeGreaterThanOrEqual(Date.parse(jobs[0]!.at));
  });

  it('the repeatable reconcile job alone re-creates lost timer jobs within its period', async () => {
    const hooks = recordingHooks();
    const { s } = make(hooks, { reconcileEveryMs: 300, reconcileHorizonMs: 10_000 });
    await s.start();
    const jobs = [timer(2000), timer(2100)];
    hooks.owedJobs.push(...jobs);
    for (const j of jobs) await s.schedule(j);
    await s.queues.timers.drain(true); // the delayed jobs are gone, the rest of Redis is intact
    expect(await s.pendingTimerIds()).toEqual([]);
    await waitFor(async () => (await s.pendingTimerIds()).length === 2, 'the sweep to re-create both timers', 1500);
    await waitFor(() => hooks.fired.length === 2, 'the re-created timers to fire');
  });

  it('after FLUSHDB, without any manual reconcile, the watchdog re-creates the repeatable jobs and they the timers', async () => {
    const hooks = recordingHooks();
    const { s, logger } = make(hooks, { reconcileEveryMs: 300, reconcileHorizonMs: 10_000 });
    await s.start();
    const job = timer(1500);
    hooks.owedJobs.push(job);
    await s.schedule(job);
    await loseRedisData();
    expect(await s.queues.maintenance.getJobScheduler('reconcile')).toBeUndefined();
    await waitFor(() => hooks.fired.length === 1, 'the lost timer to fire', 8000);
    expect(await s.queues.maintenance.getJobScheduler('reconcile')).toBeDefined();
    expect(logger.lines.some((l) => l.msg.startsWith('re-created a missing repeatable job'))).toBe(true);
  });

  it('schedule() and kickOutbox() while the connection is broken do not throw; the sweep catches up once it is back', async () => {
    const proxy = await redisProxy();
    try {
      const hooks = recordingHooks();
      const { s, logger } = make(hooks, { redisUrl: proxy.url, reconcileEveryMs: 300, reconcileHorizonMs: 10_000, redisTimeoutMs: 2000 });
      await s.start();
      await s.schedule(timer(60_000)); // the connection works
      proxy.cut();
      const job = timer(300);
      hooks.owedJobs.push(job);
      const t0 = Date.now();
      await expect(s.schedule(job)).resolves.toBeUndefined();
      expect(Date.now() - t0).toBeLessThan(4000);
      expect(() => s.kickOutbox()).not.toThrow();
      expect(logger.lines.some((l) => l.level === 'warn' && l.msg.startsWith('could not schedule a timer'))).toBe(true);
      await sleep(500);
      expect(hooks.calls).toHaveLength(0);
      proxy.restore();
      await waitFor(() => hooks.fired.length === 1, 'the timer missed during the outage to fire', 15_000);
      await s.stop();
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it('with Redis unreachable from the start, start(), schedule(), flush() and stop() all return', async () => {
    const hooks = recordingHooks();
    const { s, logger } = make(hooks, { redisUrl: `redis://127.0.0.1:${await closedPort()}/${DB}`, redisTimeoutMs: 500 });
    await s.start();
    await s.schedule(timer(100));
    s.kickOutbox();
    await s.flush();
    await s.stop();
    live.pop(); // nothing in Redis to clean up
    expect(hooks.calls).toHaveLength(0);
    expect(hooks.passes).toBeGreaterThanOrEqual(1); // flush and stop deliver without Redis
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg === 'redis error')).toBe(true);
    expect(logger.lines.some((l) => l.msg.startsWith('could not schedule a timer'))).toBe(true);
  }, 30_000);

  it('a timer that failed every attempt is kept as failed, and a sweep retries it while it is owed', async () => {
    const hooks = recordingHooks();
    const { s, logger } = make(hooks, { timerBackoffMs: 10, reconcileEveryMs: 60_000 });
    await s.start();
    const job = timer(-10);
    hooks.owedJobs.push(job);
    hooks.failures.set(job.incidentId, 5);
    await s.schedule(job);
    await waitFor(async () => (await s.counts()).failed === 1, 'the job to fail for good');
    expect(hooks.calls).toHaveLength(5);
    expect(logger.lines.some((l) => l.level === 'error' && l.msg.startsWith('timer job failed for good'))).toBe(true);
    await s.schedule(job); // the id exists: a plain re-add does nothing…
    await sleep(200);
    expect(hooks.calls).toHaveLength(5);
    await s.reconcile(); // …but the sweep retries it
    await waitFor(() => hooks.fired.length === 1, 'the retried job to fire');
    expect(await s.counts()).toMatchObject({ failed: 0, completed: 1 });
  });

  it('never fires before `at` by its own clock, even when another host’s clock runs ahead', async () => {
    const hooks = recordingHooks();
    const prefix = `${RUN}-${++n}-skew`;
    // The producer (not started) uses the real clock; the worker's clock is behind by `skewMs`.
    const producer = make(hooks, { prefix }).s;
    for (const skewMs of [800, 2500]) {
      const behind: Clock = { now: () => new Date(Date.now() - skewMs) };
      const worker = make(hooks, { prefix, clock: behind }).s;
      await worker.start();
      const job = timer(100);
      await producer.schedule(job);
      await waitFor(() => hooks.firedFor(job.incidentId).length === 1, `the skewed fire (${skewMs} ms)`, 8000);
      expect(hooks.firedFor(job.incidentId)[0]!.atMs - skewMs).toBeGreaterThanOrEqual(Date.parse(job.at));
      await worker.stop();
    }
  }, 30_000);

  it('the outbox: nextRetryAt wakes a pass, and the safety poll runs without kicks', async () => {
    const hooks = recordingHooks();
    let retryAt: number | null = null;
    hooks.outbox.next = () => {
      if (retryAt !== null) return null;
      retryAt = Date.now() + 400;
      return new Date(retryAt).toISOString();
    };
    const { s } = make(hooks);
    await s.start();
    // start() kicks and the fresh safety poll runs once: two passes at once, then the retry's.
    await waitFor(() => retryAt !== null && hooks.passTimes.some((t) => t >= retryAt!), 'the retry pass', 4000);

    const polled = recordingHooks();
    const p = make(polled, { outboxSafetyPollMs: 150 }).s;
    await p.start();
    await waitFor(() => polled.passes >= 4, 'several safety polls');
  });

  it('runs housekeeping from its repeatable job', async () => {
    const hooks = recordingHooks();
    const { s } = make(hooks);
    await s.start();
    // Hourly, but the first run of a fresh schedule is due at once.
    await waitFor(() => hooks.housekeepingRuns >= 1, 'housekeeping to run');
    expect(await s.queues.maintenance.getJobScheduler('housekeeping')).toMatchObject({ every: 3_600_000 });
  });
});
