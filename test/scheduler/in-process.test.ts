import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../src/flows/ports';
import { createInProcessScheduler, type InProcessScheduler, type InProcessSchedulerOptions } from '../../src/scheduler/in-process';
import { recordingHooks, recordingLogger, schedulerContract, sleep, timer, waitFor, type RecordingHooks } from './contract';

schedulerContract('in-process', async (hooks) => {
  const scheduler = createInProcessScheduler({ hooks, clock: systemClock(), logger: recordingLogger() });
  return { scheduler, cleanup: () => scheduler.stop() };
});

describe('in-process scheduler', () => {
  const running: InProcessScheduler[] = [];
  afterEach(async () => {
    while (running.length) await running.pop()!.stop();
  });

  async function started(hooks: RecordingHooks, over: Partial<InProcessSchedulerOptions> = {}) {
    const logger = recordingLogger();
    const s = createInProcessScheduler({ hooks, clock: systemClock(), logger, outboxIntervalMs: 60_000, ...over });
    running.push(s);
    await s.start();
    return { s, logger };
  }

  /** A clock the test moves by hand (no fake timers: real setTimeout, injected "now"). */
  function movableClock(startMs = Date.parse('2030-01-01T00:00:00Z')): Clock & { advance(ms: number): void } {
    let t = startMs;
    return { now: () => new Date(t), advance: (ms) => void (t += ms) };
  }

  it('wakes the outbox at nextRetryAt without a kick or a poll', async () => {
    const hooks = recordingHooks();
    let first = true;
    hooks.outbox.next = () => {
      if (!first) return null;
      first = false;
      return new Date(Date.now() + 300).toISOString();
    };
    await started(hooks);
    await waitFor(() => hooks.passes === 1, 'the start-up pass');
    const t0 = Date.now();
    await waitFor(() => hooks.passes === 2, 'the retry pass');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    await sleep(400);
    expect(hooks.passes).toBe(2);
  });

  it('polls the outbox every outboxIntervalMs', async () => {
    const hooks = recordingHooks();
    await started(hooks, { outboxIntervalMs: 100 });
    await waitFor(() => hooks.passes >= 4, 'several polls');
  });

  it('the periodic sweep picks up timers the database owes, only within the horizon', async () => {
    const hooks = recordingHooks();
    const { s } = await started(hooks, { reconcileEveryMs: 100, reconcileHorizonMs: 1000 });
    const soon = timer(300);
    const far = timer(60_000);
    hooks.owedJobs.push(soon, far);
    await waitFor(() => hooks.firedFor(soon.incidentId).length === 1, 'the swept timer to fire');
    expect(s.pendingTimerIds()).toEqual([]);
    expect(hooks.owedCalls.at(-1)!.before < far.at).toBe(true);
  });

  it('runs housekeeping on its interval and survives a failing run', async () => {
    const hooks = recordingHooks();
    let calls = 0;
    hooks.housekeeping = async () => {
      calls += 1;
      if (calls === 1) throw new Error('prune failed');
    };
    const { logger } = await started(hooks, { housekeepingEveryMs: 80 });
    await waitFor(() => calls >= 3, 'housekeeping runs');
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg === 'housekeeping failed')).toBe(true);
  });

  it('computes due times from the injected clock: flush() fires what the clock says is due', async () => {
    const hooks = recordingHooks();
    const clock = movableClock();
    const { s } = await started(hooks, { clock });
    const job = { incidentId: 'inc-clock', generation: 3, at: new Date(clock.now().getTime() + 3_600_000).toISOString() };
    await s.schedule(job);
    await s.flush();
    expect(hooks.calls).toHaveLength(0);
    clock.advance(3_600_000 - 1);
    await s.flush();
    expect(hooks.calls).toHaveLength(0);
    clock.advance(1);
    await s.flush();
    expect(hooks.fired.map((f) => f.job)).toEqual([job]);
    expect(s.pendingTimerIds()).toEqual([]);
  });

  it('backs off between retries (1 s, then 2 s) and holds the timer meanwhile', async () => {
    const hooks = recordingHooks();
    const { s, logger } = await started(hooks);
    const job = timer(0);
    hooks.failures.set(job.incidentId, 2);
    await s.schedule(job);
    await waitFor(() => hooks.fired.length === 1, 'the third attempt to succeed', 6000);
    const [a, b, c] = hooks.calls.map((x) => x.atMs);
    expect(b! - a!).toBeGreaterThanOrEqual(950);
    expect(c! - b!).toBeGreaterThanOrEqual(1950);
    expect(logger.lines.filter((l) => l.msg === 'timer fire failed; retrying')).toHaveLength(2);
    expect(hooks.calls).toHaveLength(3);
  }, 10_000);

  it('a job scheduled again while it backs off is not doubled', async () => {
    const hooks = recordingHooks();
    const { s } = await started(hooks);
    const job = timer(0);
    hooks.failures.set(job.incidentId, 1);
    await s.schedule(job);
    await waitFor(() => hooks.calls.length === 1, 'the failing attempt');
    await s.schedule(job);
    expect(s.pendingTimerIds()).toEqual([`t-${job.incidentId}-1-${Date.parse(job.at)}`]);
    await waitFor(() => hooks.fired.length === 1, 'the retry');
    await sleep(200);
    expect(hooks.calls).toHaveLength(2);
  });

  it('fires at most 8 timers at once, and all of them in the end', async () => {
    const hooks = recordingHooks();
    const { s } = await started(hooks);
    const jobs = Array.from({ length: 30 }, () => timer(-10));
    for (const j of jobs) hooks.fireDelayMs.set(j.incidentId, 100);
    for (const j of jobs) await s.schedule(j);
    await waitFor(() => hooks.fired.length === 30, 'all 30 timers to fire');
    expect(hooks.maxConcurrentFires).toBe(8);
  });

  it('caps the setTimeout delay for far timers (no TimeoutOverflowWarning, no 1 ms spin)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const hooks = recordingHooks();
      const { s } = await started(hooks);
      await s.schedule(timer(40 * 24 * 3_600_000));
      await sleep(100);
      expect(warnings).not.toContain('TimeoutOverflowWarning');
      expect(s.pendingTimerIds()).toHaveLength(1);
      expect(hooks.calls).toHaveLength(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('ignores (and logs) a timer with an invalid time instead of throwing', async () => {
    const hooks = recordingHooks();
    const { s, logger } = await started(hooks);
    await expect(s.schedule({ incidentId: 'x', generation: 1, at: 'not a date' })).resolves.toBeUndefined();
    expect(logger.lines.some((l) => l.level === 'error')).toBe(true);
    expect(s.pendingTimerIds()).toEqual([]);
  });

  it('holds timers scheduled before start() and fires them once started', async () => {
    const hooks = recordingHooks();
    const s = createInProcessScheduler({ hooks, clock: systemClock(), logger: recordingLogger() });
    running.push(s);
    await s.schedule(timer(-10));
    await sleep(100);
    expect(hooks.calls).toHaveLength(0);
    await s.start();
    await waitFor(() => hooks.fired.length === 1, 'the held timer to fire');
  });

  it('a startup reconcile that fails is logged, and start() still starts', async () => {
    const hooks = recordingHooks();
    hooks.owed = async () => {
      throw new Error('database down');
    };
    const { s, logger } = await started(hooks);
    expect(logger.lines.some((l) => l.msg === 'startup reconcile failed')).toBe(true);
    await s.schedule(timer(-10));
    await waitFor(() => hooks.fired.length === 1, 'a timer to fire anyway');
  });

  it('never keeps the process alive: a started scheduler with far timers lets Node exit', () => {
    const module = fileURLToPath(new URL('../../src/scheduler/in-process.ts', import.meta.url));
    const script = `
      import { createInProcessScheduler } from ${JSON.stringify(module)};
      const later = () => new Date(Date.now() + 3600e3).toISOString();
      const s = createInProcessScheduler({
        hooks: { fire: async () => {}, owed: async () => [], deliverOutbox: async () => ({ nextRetryAt: later() }), housekeeping: async () => {} },
        clock: { now: () => new Date() },
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
      await s.start();
      await s.schedule({ incidentId: 'x', generation: 1, at: later() });
      console.log('pending', s.pendingTimerIds().length);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('pending 1');
    expect(r.status).toBe(0);
  });
});
