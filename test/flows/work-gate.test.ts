import { describe, expect, it } from 'vitest';
import { createWorkGate } from '../../src/flows/work-gate';

/** A piece of work that finishes when told to, recording when it started. */
function job(log: string[], name: string) {
  let finish!: (ok: boolean) => void;
  const done = new Promise<boolean>((r) => (finish = r));
  const work = async () => {
    log.push(`start ${name}`);
    if (!(await done)) throw new Error(`${name} failed`);
    log.push(`end ${name}`);
    return name;
  };
  return { work, finish };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('work gate: acknowledged work runs a bounded number at a time, in arrival order', () => {
  it('never runs more than its limit, and starts the waiting work in the order it came', async () => {
    const gate = createWorkGate(2);
    const log: string[] = [];
    const jobs = ['a', 'b', 'c', 'd'].map((n) => job(log, n));
    const results = jobs.map((j) => gate.run(j.work));
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    expect(gate.stats()).toEqual({ running: 2, waiting: 2 });
    jobs[1]!.finish(true);
    await tick();
    expect(log).toEqual(['start a', 'start b', 'end b', 'start c']);
    // A newcomer while the slot passes on does not get ahead of d.
    const e = job(log, 'e');
    const eResult = gate.run(e.work);
    jobs[0]!.finish(true);
    await tick();
    expect(log.slice(-2)).toEqual(['end a', 'start d']);
    expect(gate.stats()).toEqual({ running: 2, waiting: 1 });
    jobs[2]!.finish(true);
    jobs[3]!.finish(true);
    e.finish(true);
    expect(await Promise.all([...results, eResult])).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(gate.stats()).toEqual({ running: 0, waiting: 0 });
  });

  it('a failure frees its slot and reaches its caller, and the next work still runs', async () => {
    const gate = createWorkGate(1);
    const log: string[] = [];
    const bad = job(log, 'bad');
    const good = job(log, 'good');
    const first = gate.run(bad.work);
    const second = gate.run(good.work);
    bad.finish(false);
    await expect(first).rejects.toThrow('bad failed');
    good.finish(true);
    expect(await second).toBe('good');
    expect(gate.stats()).toEqual({ running: 0, waiting: 0 });
  });

  it('with no limit every piece of work starts at once', async () => {
    const gate = createWorkGate(0);
    const log: string[] = [];
    const jobs = Array.from({ length: 50 }, (_, i) => job(log, String(i)));
    const all = jobs.map((j) => gate.run(j.work));
    await tick();
    expect(log).toHaveLength(50);
    for (const j of jobs) j.finish(true);
    await Promise.all(all);
  });

  it('idle() waits for running and waiting work, and gives up at its deadline', async () => {
    const gate = createWorkGate(1);
    expect(await gate.idle(10)).toBe(true);
    const log: string[] = [];
    const a = job(log, 'a');
    const b = job(log, 'b');
    const all = [gate.run(a.work), gate.run(b.work)];
    expect(await gate.idle(20)).toBe(false);
    const idle = gate.idle(5000);
    a.finish(true);
    await tick();
    expect(gate.stats()).toEqual({ running: 1, waiting: 0 }); // b has the slot: not idle yet
    b.finish(true);
    expect(await idle).toBe(true);
    await Promise.all(all);
  });
});
