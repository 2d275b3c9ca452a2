/**
 * The parent's side of benchmark 1's system-under-test process (bench/lib/sut-child.ts): starts it
 * with `child_process.fork` (`--import tsx --expose-gc`), waits for `{ port, pid }`, samples its
 * VmRSS from /proc/<pid>/status every 100 ms, and talks to it over IPC (memory, phases, counts,
 * topping up incidents, close).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildMemory, ChildPhase, RequestMessage, StartMessage } from './sut-child';
import { pidRss, startGlobalRssSampler, type RssSampler, type SutWatch } from './stats';

export type { ChildMemory, ChildPhase };

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = resolve(here, 'sut-child.ts');
const REPO = resolve(here, '..', '..');

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type StartArgs = DistributiveOmit<StartMessage, 'type'>;
type Op = RequestMessage['op'];
type Args<O extends Op> = Omit<Extract<RequestMessage, { op: O }>, 'type' | 'id' | 'op'>;

export interface SutProcess {
  kind: StartArgs['sut'];
  pid: number;
  port: number;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  /** `http://127.0.0.1:PORT/slack/events`. */
  endpoint: string;
  /** Node flags the child was started with. */
  execArgv: string[];
  /** Its VmRSS, every `intervalMs`. */
  sampler: RssSampler;
  /** For watchPhase: the child's pid and sampler. */
  watch(resetHwm?: boolean): SutWatch;
  memory(gc: boolean): Promise<ChildMemory>;
  phaseStart(): Promise<void>;
  phaseEnd(): Promise<ChildPhase>;
  stats<T>(): Promise<T>;
  topUp(count: number, from: number): Promise<number>;
  /** Asks it to close (bot.stop()) and waits for it to exit; kills it after `timeoutMs`. */
  close(timeoutMs?: number): Promise<{ exitCode: number | null; signal: string | null }>;
}

export async function startSut(start: StartArgs, o: { intervalMs?: number; extraExecArgv?: string[]; startTimeoutMs?: number } = {}): Promise<SutProcess> {
  const execArgv = ['--import', 'tsx', '--expose-gc', ...(o.extraExecArgv ?? [])];
  // cwd at the repository, so that `--import tsx` resolves to its node_modules.
  const child: ChildProcess = fork(CHILD, [], { execArgv, cwd: REPO, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let exited: { exitCode: number | null; signal: string | null } | null = null;
  const exitedP = new Promise<{ exitCode: number | null; signal: string | null }>((res) => {
    child.once('exit', (exitCode, signal) => {
      exited = { exitCode, signal };
      for (const p of pending.values()) p.reject(new Error(`SUT child exited (code ${exitCode}, signal ${signal})`));
      pending.clear();
      res(exited);
    });
  });

  const ready = await new Promise<{ port: number; pid: number }>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`SUT child (${start.sut}) did not start within ${o.startTimeoutMs ?? 60_000} ms`)), o.startTimeoutMs ?? 60_000);
    const onMessage = (m: any) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        child.off('message', onMessage);
        res({ port: m.port, pid: m.pid });
      } else if (m?.type === 'failed') {
        clearTimeout(timer);
        rej(new Error(`SUT child (${start.sut}) failed to start: ${m.error}`));
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`SUT child (${start.sut}) exited before it was ready (code ${code}, signal ${signal})`));
    });
    child.send({ type: 'start', ...start } as StartMessage);
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });

  child.on('message', (m: any) => {
    if (m?.type !== 'res') return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(new Error(`SUT child: ${m.error}`));
  });

  function rpc<T, O extends Op>(op: O, args: Args<O>): Promise<T> {
    if (exited) return Promise.reject(new Error('SUT child has exited'));
    const id = nextId++;
    return new Promise<T>((res, rej) => {
      pending.set(id, { resolve: res, reject: rej });
      child.send({ type: 'req', id, op, ...args } as RequestMessage);
    });
  }

  const sampler = startGlobalRssSampler(o.intervalMs ?? 100, pidRss(ready.pid));
  const origin = `http://127.0.0.1:${ready.port}`;
  return {
    kind: start.sut,
    pid: ready.pid,
    port: ready.port,
    origin,
    endpoint: `${origin}/slack/events`,
    execArgv,
    sampler,
    watch: (resetHwm = true) => ({ pid: ready.pid, sampler, resetHwm }),
    memory: (gc) => rpc<ChildMemory, 'memory'>('memory', { gc }),
    phaseStart: () => rpc<void, 'phase-start'>('phase-start', {}),
    phaseEnd: () => rpc<ChildPhase, 'phase-end'>('phase-end', {}),
    stats: <T>() => rpc<T, 'stats'>('stats', {}),
    topUp: (count, from) => rpc<number, 'top-up'>('top-up', { count, from }),
    async close(timeoutMs = 30_000) {
      sampler.stop();
      if (exited) return exited;
      const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        await rpc<void, 'close'>('close', {}).catch(() => {});
        return await exitedP;
      } finally {
        clearTimeout(kill);
      }
    },
  };
}
