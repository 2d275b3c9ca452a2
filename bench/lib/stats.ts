/**
 * Small measurement helpers for the benchmark runner: latency summaries, an RSS sampler and an
 * event-loop delay monitor. Nothing here asserts anything; it only records.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

const round = (x: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
export { round };

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samplesMs: number[]): LatencySummary {
  const s = Float64Array.from(samplesMs).sort();
  const arr = Array.from(s);
  const sum = arr.reduce((a, b) => a + b, 0);
  return {
    count: arr.length,
    minMs: round(arr[0] ?? Number.NaN),
    meanMs: round(arr.length ? sum / arr.length : Number.NaN),
    p50Ms: round(percentile(arr, 50)),
    p95Ms: round(percentile(arr, 95)),
    p99Ms: round(percentile(arr, 99)),
    maxMs: round(arr.at(-1) ?? Number.NaN),
  };
}

export const mb = (bytes: number): number => round(bytes / 1024 / 1024, 1);

/**
 * Peak RSS of the whole run, sampled every 100 ms from start-up to the end. `read` gives the RSS in
 * bytes (default: this process; `pidRss(pid)` for another one), or null once it cannot be read.
 */
export function startGlobalRssSampler(intervalMs = 100, read: () => number | null = () => process.memoryUsage().rss) {
  let peak = read() ?? 0;
  const listeners = new Set<(rss: number) => void>();
  const timer = setInterval(() => {
    const rss = read();
    if (rss === null) return;
    if (rss > peak) peak = rss;
    for (const l of listeners) l(rss);
  }, intervalMs);
  timer.unref();
  return {
    peakBytes: () => peak,
    /** Counts an RSS reading taken elsewhere (the timer cannot run while the loop is kept busy). */
    note(rss: number) {
      if (rss > peak) peak = rss;
    },
    subscribe(l: (rss: number) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    stop: () => clearInterval(timer),
  };
}

export type RssSampler = ReturnType<typeof startGlobalRssSampler>;

export interface PhaseResources {
  rssStartMb: number;
  rssEndMb: number;
  /** Highest RSS seen by the 100 ms sampler during the phase. */
  rssPeakMb: number;
  heapUsedEndMb: number;
  /**
   * Event-loop delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution) during the phase. Null when
   * the loop never reached its timers phase (work chained only through microtasks, as with PGlite):
   * then the 100 ms RSS sampler did not run either, and the peak is the larger of start and end.
   */
  eventLoopDelayP99Ms: number | null;
  eventLoopDelayMaxMs: number | null;
  /** How many times the 100 ms RSS sampler ran during the phase. */
  rssSamples: number;
  loadAvg1mStart: number;
  loadAvg1mEnd: number;
  /**
   * CPU time of this process (user + system, all threads) during the phase, in seconds. When the
   * system under test runs in a child process (`sut` below), this process is the load client and
   * the fake Slack only.
   */
  processCpuS: number;
  /** processCpuS / wall time: 100 = one core fully busy. */
  processCpuPctOfOneCore: number;
  /** Whole machine (all processes, PostgreSQL and anything else running) from /proc/stat: 100 = every core busy. Null off Linux. */
  machineCpuBusyPct: number | null;
  /** CPU of the PostgreSQL backends serving the benchmark's database (from /proc): 100 = one core. Null when not on PostgreSQL or off Linux. */
  postgresCpuPctOfOneCore: number | null;
  /** Everything else on the box (other users, PostgreSQL's shared processes): machine − this process − the SUT child − our backends, in one-core %. */
  otherCpuPctOfOneCore: number | null;
  wallS: number;
  /** The system under test in its own process (bench/lib/sut-child.ts), read from /proc/<pid>; absent when it runs in this process. */
  sut?: SutPhaseResources;
}

/** One child process over a phase, read from /proc/<pid>/status and /proc/<pid>/stat. */
export interface SutPhaseResources {
  pid: number;
  /** VmRSS at the start and at the end of the phase. */
  rssStartMb: number | null;
  rssEndMb: number | null;
  /** The highest of: the 100 ms VmRSS samples, the end reading, and VmHWM when it was reset at the start. */
  rssPeakMb: number | null;
  /** VmHWM at the end: the kernel's peak RSS since the phase started (reset through /proc/<pid>/clear_refs), or since the process started if that failed. */
  hwmMb: number | null;
  /** Whether VmHWM was reset at the phase's start (so hwmMb is this phase's peak). */
  hwmReset: boolean;
  rssSamples: number;
  /** utime + stime of the child (all its threads) over the phase. */
  cpuS: number | null;
  cpuPctOfOneCore: number | null;
}

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64

/** CPU ticks (utime + stime) of each PostgreSQL backend whose process title names `database`. */
function postgresBackendTicks(database: string): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.startsWith('postgres:') || !cmd.includes(` ${database} `)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
      out.set(Number(pid), Number(fields[11]) + Number(fields[12])); // utime (14) + stime (15)
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** Busy and total jiffies summed over all CPUs (first line of /proc/stat), or null off Linux. */
function procStat(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Share of all cores busy over `ms` (whole machine), or null off Linux. */
export async function machineBusyPct(ms = 1000): Promise<number | null> {
  const a = procStat();
  await sleep(ms);
  const b = procStat();
  if (!a || !b || b.total === a.total) return null;
  return round((100 * (b.busy - a.busy)) / (b.total - a.total), 1);
}

/** VmRSS and VmHWM of `pid` in bytes, from /proc/<pid>/status; null when it cannot be read (not Linux, process gone). */
export function pidMemory(pid: number): { rss: number; hwm: number } | null {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(st);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(st);
    if (!rss || !hwm) return null;
    return { rss: Number(rss[1]) * 1024, hwm: Number(hwm[1]) * 1024 };
  } catch {
    return null;
  }
}

/** VmRSS of `pid` in bytes, or null. */
export const pidRss = (pid: number) => (): number | null => pidMemory(pid)?.rss ?? null;

/** Resets `pid`'s VmHWM to its current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux ≥ 4.0). False when refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** utime + stime of `pid` (all threads), in clock ticks, or null. */
export function pidCpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** What `watchPhase` needs to watch a child process as well: its pid and a sampler of its RSS. */
export interface SutWatch {
  pid: number;
  sampler: RssSampler;
  /** Reset its VmHWM at the phase's start (default true). Nested phases started together reset it once. */
  resetHwm?: boolean;
}

/** Watches one phase: RSS peak (from the shared 100 ms sampler), event-loop delay, load average. */
export function watchPhase(sampler: RssSampler, o: { postgresDatabase?: string; sut?: SutWatch } = {}) {
  const sutW = o.sut;
  const sutHwmReset = sutW ? (sutW.resetHwm === false ? false : resetPeakRss(sutW.pid)) : false;
  const sutStart = sutW ? pidMemory(sutW.pid) : null;
  const sutTicks0 = sutW ? pidCpuTicks(sutW.pid) : null;
  let sutPeak = sutStart?.rss ?? 0;
  let sutSamples = 0;
  const sutUnsubscribe = sutW
    ? sutW.sampler.subscribe((rss) => {
        sutSamples++;
        if (rss > sutPeak) sutPeak = rss;
      })
    : null;
  const start = process.memoryUsage();
  let peak = start.rss;
  let samples = 0;
  const unsubscribe = sampler.subscribe((rss) => {
    samples++;
    if (rss > peak) peak = rss;
  });
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const load0 = loadavg()[0]!;
  const cpu0 = process.cpuUsage();
  const stat0 = procStat();
  const pg0 = o.postgresDatabase ? postgresBackendTicks(o.postgresDatabase) : null;
  const t0 = performance.now();
  return {
    stop(): PhaseResources {
      eld.disable();
      unsubscribe();
      sutUnsubscribe?.();
      let sut: SutPhaseResources | undefined;
      let sutCpuPct = 0;
      if (sutW) {
        const endMem = pidMemory(sutW.pid);
        const ticks1 = pidCpuTicks(sutW.pid);
        const wall = (performance.now() - t0) / 1000;
        if (endMem) {
          if (endMem.rss > sutPeak) sutPeak = endMem.rss;
          if (sutHwmReset && endMem.hwm > sutPeak) sutPeak = endMem.hwm;
          sutW.sampler.note(endMem.rss);
        }
        const cpuS = ticks1 !== null && sutTicks0 !== null ? (ticks1 - sutTicks0) / CLK_TCK : null;
        sutCpuPct = cpuS === null ? 0 : (100 * cpuS) / wall;
        sut = {
          pid: sutW.pid,
          rssStartMb: sutStart ? mb(sutStart.rss) : null,
          rssEndMb: endMem ? mb(endMem.rss) : null,
          rssPeakMb: sutStart || endMem ? mb(sutPeak) : null,
          hwmMb: endMem ? mb(endMem.hwm) : null,
          hwmReset: sutHwmReset,
          rssSamples: sutSamples,
          cpuS: cpuS === null ? null : round(cpuS, 2),
          cpuPctOfOneCore: cpuS === null ? null : round(sutCpuPct, 1),
        };
      }
      const end = process.memoryUsage();
      if (end.rss > peak) peak = end.rss;
      sampler.note(end.rss);
      const cpu = process.cpuUsage(cpu0);
      const stat1 = procStat();
      const wallS = (performance.now() - t0) / 1000;
      const processCpuS = (cpu.user + cpu.system) / 1e6;
      let postgresCpuPct: number | null = null;
      if (pg0 && o.postgresDatabase) {
        let ticks = 0;
        for (const [pid, t] of postgresBackendTicks(o.postgresDatabase)) ticks += t - (pg0.get(pid) ?? 0);
        postgresCpuPct = round((100 * ticks) / CLK_TCK / wallS, 1);
      }
      const machinePct = stat0 && stat1 && stat1.total > stat0.total ? (100 * (stat1.busy - stat0.busy)) / (stat1.total - stat0.total) : null;
      const processPct = (100 * processCpuS) / wallS;
      return {
        rssStartMb: mb(start.rss),
        rssEndMb: mb(end.rss),
        rssPeakMb: mb(peak),
        heapUsedEndMb: mb(end.heapUsed),
        eventLoopDelayP99Ms: eld.count > 0 ? round(eld.percentile(99) / 1e6) : null,
        eventLoopDelayMaxMs: eld.count > 0 ? round(eld.max / 1e6) : null,
        rssSamples: samples,
        loadAvg1mStart: round(load0),
        loadAvg1mEnd: round(loadavg()[0]!),
        processCpuS: round(processCpuS, 2),
        processCpuPctOfOneCore: round(processPct, 1),
        machineCpuBusyPct: machinePct === null ? null : round(machinePct, 1),
        postgresCpuPctOfOneCore: postgresCpuPct,
        otherCpuPctOfOneCore: machinePct === null ? null : round(Math.max(0, machinePct * cpus().length - processPct - sutCpuPct - (postgresCpuPct ?? 0)), 1),
        wallS: round(wallS, 3),
        ...(sut ? { sut } : {}),
      };
    },
  };
}

let gcFn: (() => void) | null | undefined;

/**
 * Heap still in use after a full garbage collection, in MB: what the process really retains, unlike
 * RSS (which keeps the V8 heap's high-water mark). Uses V8's gc() exposed at run time.
 */
export function heapAfterGcMb(): number | null {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    } catch {
      gcFn = null;
    }
  }
  if (!gcFn) return null;
  gcFn();
  return mb(process.memoryUsage().heapUsed);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
