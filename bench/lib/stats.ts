/**
 * Small measurement helpers for the benchmark runner: latency summaries, an RSS sampler and an
 * event-loop delay monitor. Nothing here asserts anything; it only records.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';

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

/** Peak RSS of the whole run, sampled every 100 ms from start-up to the end. */
export function startGlobalRssSampler(intervalMs = 100) {
  let peak = process.memoryUsage().rss;
  const listeners = new Set<(rss: number) => void>();
  const timer = setInterval(() => {
    const rss = process.memoryUsage().rss;
    if (rss > peak) peak = rss;
    for (const l of listeners) l(rss);
  }, intervalMs);
  timer.unref();
  return {
    peakBytes: () => peak,
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
  /** Event-loop delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution) during the phase. */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  loadAvg1mStart: number;
  loadAvg1mEnd: number;
  /** CPU time of this process (user + system, all threads) during the phase, in seconds. */
  processCpuS: number;
  /** processCpuS / wall time: 100 = one core fully busy. */
  processCpuPctOfOneCore: number;
  /** Whole machine (all processes, PostgreSQL and anything else running) from /proc/stat: 100 = every core busy. Null off Linux. */
  machineCpuBusyPct: number | null;
  wallS: number;
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

/** Watches one phase: RSS peak (from the shared 100 ms sampler), event-loop delay, load average. */
export function watchPhase(sampler: RssSampler) {
  const start = process.memoryUsage();
  let peak = start.rss;
  const unsubscribe = sampler.subscribe((rss) => {
    if (rss > peak) peak = rss;
  });
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const load0 = loadavg()[0]!;
  const cpu0 = process.cpuUsage();
  const stat0 = procStat();
  const t0 = performance.now();
  return {
    stop(): PhaseResources {
      eld.disable();
      unsubscribe();
      const end = process.memoryUsage();
      if (end.rss > peak) peak = end.rss;
      const cpu = process.cpuUsage(cpu0);
      const stat1 = procStat();
      const wallS = (performance.now() - t0) / 1000;
      const processCpuS = (cpu.user + cpu.system) / 1e6;
      return {
        rssStartMb: mb(start.rss),
        rssEndMb: mb(end.rss),
        rssPeakMb: mb(peak),
        heapUsedEndMb: mb(end.heapUsed),
        eventLoopDelayP99Ms: round(eld.percentile(99) / 1e6),
        eventLoopDelayMaxMs: round(eld.max / 1e6),
        loadAvg1mStart: round(load0),
        loadAvg1mEnd: round(loadavg()[0]!),
        processCpuS: round(processCpuS, 2),
        processCpuPctOfOneCore: round((100 * processCpuS) / wallS, 1),
        machineCpuBusyPct: stat0 && stat1 && stat1.total > stat0.total ? round((100 * (stat1.busy - stat0.busy)) / (stat1.total - stat0.total), 1) : null,
        wallS: round(wallS, 3),
      };
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
