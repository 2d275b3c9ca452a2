/** What the figures were measured on: CPU, cores, memory, Node, PostgreSQL, PGlite, date, commit. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import type { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import { machineBusyPct, mb, round } from './stats';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  memoryTotalMb: number;
  os: string;
  node: string;
  postgres: string;
  /** Filled in by the PGlite flow benchmark (opening PGlite earlier would inflate the Slack RSS figures). */
  pglite: string | null;
  bolt: string;
  date: string;
  gitCommit: string | null;
  loadAvgAtStart: number[];
  /** Whole-machine CPU busy share over 1 s just before the run (other work on the box skews results). */
  machineCpuBusyPctAtStart: number | null;
}

function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const m = /^model name\s*:\s*(.+)$/m.exec(info);
    if (m) return m[1]!.trim();
  } catch {
    // not Linux: fall through
  }
  return cpus()[0]?.model ?? 'unknown';
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function postgresVersion(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ version: string }[]>`select version()`;
    return row?.version ?? 'unknown';
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** PGlite's package version and the PostgreSQL it embeds, asked on an open client. */
export async function pgliteVersion(client: PGlite): Promise<string> {
  const r = await client.query<{ version: string }>('select version()');
  return `${packageVersion('@electric-sql/pglite')} (${r.rows[0]?.version ?? 'unknown'})`;
}

function gitCommit(): string | null {
  try {
    // Read-only: names the commit the working tree was based on (it may hold uncommitted edits).
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/**
 * The code a process is about to load: HEAD and `git status --porcelain src` (read-only git). Taken
 * when a system-under-test process starts, since tsx reads the source tree then and other people may
 * be editing it.
 */
export function gitSrcState(): { at: string; commit: string | null; srcStatus: string[] | null } {
  let srcStatus: string[] | null = null;
  try {
    srcStatus = execFileSync('git', ['status', '--porcelain', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean);
  } catch {
    srcStatus = null;
  }
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = null;
  }
  return { at: new Date().toISOString(), commit, srcStatus };
}

export async function machineInfo(postgresUrl: string): Promise<MachineInfo> {
  return {
    cpuModel: cpuModel(),
    cores: cpus().length,
    availableParallelism: availableParallelism(),
    memoryTotalMb: mb(totalmem()),
    os: `${osType()} ${release()}`,
    node: process.version,
    postgres: await postgresVersion(postgresUrl),
    pglite: null,
    bolt: packageVersion('@slack/bolt'),
    date: new Date().toISOString(),
    gitCommit: gitCommit(),
    loadAvgAtStart: loadavg().map((x) => round(x)),
    machineCpuBusyPctAtStart: await machineBusyPct(1000),
  };
}
