/**
 * Firebell benchmark runner (`npm run bench`). Measures and reports; it never fails on timing.
 *
 *   1. Slack ack latency / throughput over HTTP (slash commands, then button clicks) at 50 and 200
 *      concurrent clients, against the real bot on a fresh PostgreSQL database and the fake Slack API,
 *      side by side with a bare Bolt app that only acknowledges (bench/lib/bare-bolt.ts), which gets
 *      the same signed requests first.
 *   2. The flow engine (report → accept → resolve → confirm) through the dispatcher on PostgreSQL
 *      and on in-memory PGlite.
 *   3. Outbox drain of ~2,000 queued effects to the fake Slack API.
 *   4. Timer lateness of both scheduler drivers (in-process, BullMQ on Redis) with 10,000 and
 *      100,000 pending timers (bench/lib/timers.ts).
 *   5. The reconcile sweep's query (IncidentStore.owedTimers) over 1,000,000 incidents of which
 *      100,000 owe a timer, with its EXPLAIN (bench/lib/sweep.ts).
 *   6. Major incident, declare to room ready (issue 4): a signed `/incident major INC-n` over HTTP
 *      until the war room is created, its people invited, the summary pinned and the desk queue
 *      card linked, with the fake Slack answering every Web API call after 50 ms; one at a time,
 *      then 10 at once (bench/lib/major.ts).
 *
 * Prints tables and writes bench/results/latest.json. See BENCHMARKS.md for what each figure means.
 *
 * Options: --quick (small counts, for checking the runner itself), --requests <n> (per Slack level,
 * default 2000), --client fetch|node-http (section 1's load client, default fetch), --wait-idle [s]
 * (first wait up to s seconds, default 60, for the machine to be under 20 % busy), --out <path> (JSON destination, default bench/results/latest.json), --sections a,b
 * (any of slack, outbox, flows, timers, sweep, major; default all). With a subset of sections, the results
 * are merged into the existing JSON file: the sections not run keep their earlier results, and
 * `sectionRuns` records when and on what each section was measured.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { PGlite } from '@electric-sql/pglite';
import { createPostgresStore, pgliteStore } from '../src/db/index';
import type { Incident } from '../src/flows/incident/model';
import { createTestDatabase } from '../test/support/pg';
import { personRef, testPolicy } from '../test/support/policy';
import { startBareBolt } from './lib/bare-bolt';
import { startBenchBot, type BenchBot } from './lib/bot';
import { benchFlows, type FlowResult } from './lib/flows';
import { benchMajor, type MajorResult } from './lib/major';
import { machineInfo, pgliteVersion, type MachineInfo } from './lib/machine';
import { benchOutbox, type OutboxResult } from './lib/outbox';
import {
  clickRequest,
  commandRequest,
  runAckLevel,
  runLevel,
  type AckLevelResult,
  type LevelResult,
  type LoadClient,
  type Prepared,
  type SlackWorkspace,
} from './lib/slack-http';
import { heapAfterGcMb, machineBusyPct, mb, round, startGlobalRssSampler, type LatencySummary } from './lib/stats';
import { benchSweep, type SweepResult } from './lib/sweep';
import { benchTimers, type TimerDriver, type TimerScenarioResult } from './lib/timers';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const outArg = args.indexOf('--out');
const reqArg = args.indexOf('--requests');
const REQUESTS = reqArg >= 0 ? Number(args[reqArg + 1]) : NaN;
const clientArg = args.indexOf('--client');
const LOAD_CLIENT: LoadClient = (() => {
  if (clientArg < 0) return 'fetch';
  const c = args[clientArg + 1];
  if (c === 'fetch' || c === 'node-http') return c;
  process.stderr.write('--client takes fetch (default) or node-http\n');
  process.exit(2);
})();
const idleArg = args.indexOf('--wait-idle');
const WAIT_IDLE_S = idleArg >= 0 ? Number(args[idleArg + 1] ?? 60) || 60 : 0;
const SECTION_NAMES = ['slack', 'outbox', 'flows', 'timers', 'sweep', 'major'] as const;
type SectionName = (typeof SECTION_NAMES)[number];
const sectionsArg = args.indexOf('--sections');
const SECTIONS: SectionName[] = (() => {
  if (sectionsArg < 0) return [...SECTION_NAMES];
  const asked = (args[sectionsArg + 1] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = asked.filter((x) => !(SECTION_NAMES as readonly string[]).includes(x));
  if (asked.length === 0 || unknown.length) {
    process.stderr.write(`--sections takes a comma-separated list of ${SECTION_NAMES.join(', ')}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}\n`);
    process.exit(2);
  }
  return SECTION_NAMES.filter((x) => asked.includes(x)); // always run in the canonical order
})();
const ALL_SECTIONS = SECTIONS.length === SECTION_NAMES.length;
const here = dirname(fileURLToPath(import.meta.url));
const OUT = outArg >= 0 && args[outArg + 1] ? resolve(args[outArg + 1]!) : resolve(here, 'results', 'latest.json');

const CONFIG = {
  quick: QUICK,
  concurrencyLevels: [50, 200],
  /** Section 1's load client (--client): Node's global fetch, or node:http through one keep-alive Agent. */
  slackLoadClient: LOAD_CLIENT,
  requestsPerLevel: Number.isInteger(REQUESTS) && REQUESTS > 0 ? REQUESTS : QUICK ? 200 : 2000,
  levelTimeLimitMs: 30_000,
  drainTimeoutMs: 60_000,
  warmupRequests: QUICK ? 20 : 100,
  warmupConcurrency: 10,
  flowIncidents: QUICK ? 50 : 500,
  flowWarmupIncidents: QUICK ? 5 : 25,
  outboxEffects: QUICK ? 200 : 2000,
  rssSampleIntervalMs: 100,
  reporterSlackUser: 'U0REP',
  clickerSlackUser: 'U0DESK',
  timerDrivers: ['in-process', 'bullmq'] as TimerDriver[],
  timerBackgroundCounts: QUICK ? [1_000] : [10_000, 100_000],
  timerMeasured: QUICK ? 200 : 2_000,
  /** Measured timers are due spread over this window, starting timerFirstDueAfterMs after scheduling begins. */
  timerSpreadMs: { 'in-process': QUICK ? 2_000 : 10_000, bullmq: QUICK ? 4_000 : 20_000 } as Record<TimerDriver, number>,
  timerFirstDueAfterMs: 2_000,
  timerGraceMs: 30_000,
  redisUrl: process.env.FIREBELL_BENCH_REDIS_URL?.trim() || 'redis://127.0.0.1:6379',
  sweepRows: QUICK ? 10_000 : 1_000_000,
  sweepOpen: QUICK ? 1_000 : 100_000,
  sweepRuns: QUICK ? 50 : 200,
  sweepWarmupRuns: QUICK ? 5 : 20,
  sweepWalks: 3,
  /** Major incident: the fake Slack holds every Web API answer back this long (the issue's figure). */
  majorSlackLatencyMs: 50,
  majorSamples: QUICK ? 10 : 100,
  majorWarmup: QUICK ? 1 : 3,
  majorConcurrency: 10,
  majorRounds: QUICK ? 2 : 10,
  majorPollMs: 2,
  majorTimeoutMs: 15_000,
};

const log = (s: string) => process.stdout.write(`${s}\n`);
const sampler = startGlobalRssSampler(CONFIG.rssSampleIntervalMs);
const began = performance.now();

async function countIncidents(h: BenchBot, statuses?: Incident['status'][]): Promise<number> {
  return (await h.store.list({ ...(statuses ? { statuses } : {}), limit: 1_000_000 })).length;
}

interface SlackSection {
  /** The process right after the bot started (before any request): the floor under every RSS figure. */
  idle: { rssMb: number; heapUsedMb: number; heapAfterGcMb: number | null };
  warmup: { commands: LevelResult; clicks: LevelResult };
  commands: LevelResult[];
  clicks: LevelResult[];
  logs: BenchBot['logs'];
  /** The baseline: a bare Bolt app that only acks, given the same request shapes first (bench/lib/bare-bolt.ts). */
  bareBolt: BareBoltSection;
  /** Firebell and the bare Bolt app level by level, with issue 7's targets. */
  comparison: ComparisonRow[];
}

interface BareBoltSection {
  setup: string;
  /** The benchmark process before the bare app started (every module loaded, nothing running). */
  processBefore: { rssMb: number; heapAfterGcMb: number | null };
  /** Right after the bare app started listening. */
  idle: { rssMb: number; heapAfterGcMb: number | null };
  warmup: { commands: AckLevelResult; clicks: AckLevelResult };
  commands: AckLevelResult[];
  clicks: AckLevelResult[];
  /** What its listeners saw: acks given and errors (a check that the load reached Bolt's listeners). */
  listenerCounts: { commands: number; actions: number; errors: number };
  /** Process RSS after the bare app was closed and a full GC ran, just before Firebell's bot started. */
  afterClose: { rssMb: number; heapAfterGcMb: number | null };
}

interface ComparisonRow {
  kind: LevelResult['kind'];
  concurrency: number;
  label: string;
  bareBolt: { ackP50Ms: number; ackP99Ms: number; acksPerSec: number; errors: number; peakRssMb: number; rssGrowthMb: number };
  /** Peak RSS and growth from Firebell's first request until all its work was done (reply, outbox drained). */
  firebell: { ackP50Ms: number; ackP99Ms: number; acksPerSec: number; completedPerSec: number | null; errors: number; peakRssMb: number; rssGrowthMb: number };
  /** Firebell's acks/s ÷ the bare app's. */
  acksPerSecRatio: number;
  targets: {
    /** Firebell's ack p99 < 100 ms; judged at 200 concurrent only (null at 50). */
    ackP99Under100MsAt200: boolean | null;
    throughputAtLeastHalfOfBareBolt: boolean;
    /** Whole-process peak RSS during Firebell's level < 200 MB (the process also holds the client and the fake Slack). */
    peakRssUnder200Mb: boolean;
  };
}

/** The fake Slack's default workspace, for the bare app's requests. It never calls response_url, so the origin is a closed port. */
const BARE_WORKSPACE: SlackWorkspace = { teamId: 'T0FIREBELL', teamDomain: 'acme', appId: 'A0FIREBELL', origin: 'http://127.0.0.1:9', botUserId: 'U0BOT', botId: 'B0BOT' };

const commandText = (i: number) => `Printer ${i} on floor 3 jams on every job`;

/** The bare Bolt baseline: the same request shapes and counts as Firebell's levels, before Firebell's bot starts. */
async function bareBoltSection(): Promise<BareBoltSection> {
  const beforeGc = heapAfterGcMb();
  const processBefore = { rssMb: mb(process.memoryUsage().rss), heapAfterGcMb: beforeGc };
  const bare = await startBareBolt({ botId: BARE_WORKSPACE.botId, botUserId: BARE_WORKSPACE.botUserId });
  try {
    const idle = { rssMb: mb(process.memoryUsage().rss), heapAfterGcMb: heapAfterGcMb() };
    const level = async (kind: AckLevelResult['kind'], label: string, concurrency: number, requests: Prepared[]) => {
      log(`  bare Bolt ${label}: ${requests.length} requests, ${concurrency} concurrent…`);
      const r = await runAckLevel(bare.url, sampler, { kind, label, concurrency, requests, maxMs: CONFIG.levelTimeLimitMs, client: CONFIG.slackLoadClient });
      log(`    ack p50 ${r.ack.p50Ms} ms, p99 ${r.ack.p99Ms} ms, ${r.acksPerSec} acks/s, errors ${r.errors}, RSS ${r.rss.startMb}→peak ${r.rss.peakMb} MB`);
      return r;
    };
    const commands = (n: number) => Array.from({ length: n }, (_, i) => commandRequest(BARE_WORKSPACE, CONFIG.reporterSlackUser, commandText(i)));
    // The values name no real incident: the bare app never reads them.
    const clicks = (n: number) => Array.from({ length: n }, () => clickRequest(BARE_WORKSPACE, CONFIG.clickerSlackUser, { id: randomUUID(), version: 1 }, 'incident.accept'));

    log('Baseline: bare Bolt app (ack only), slash commands');
    const warmCommands = await level('slash_command', 'warm-up (not a result)', CONFIG.warmupConcurrency, commands(CONFIG.warmupRequests));
    const commandLevels: AckLevelResult[] = [];
    for (const c of CONFIG.concurrencyLevels) commandLevels.push(await level('slash_command', `/incident <text> @${c}`, c, commands(CONFIG.requestsPerLevel)));
    log('Baseline: bare Bolt app (ack only), button clicks');
    const warmClicks = await level('button_click', 'warm-up (not a result)', CONFIG.warmupConcurrency, clicks(CONFIG.warmupRequests));
    const clickLevels: AckLevelResult[] = [];
    for (const c of CONFIG.concurrencyLevels) clickLevels.push(await level('button_click', `click incident.accept @${c}`, c, clicks(CONFIG.requestsPerLevel)));
    const listenerCounts = { ...bare.counts };
    await bare.close();
    const afterGc = heapAfterGcMb();
    return {
      setup:
        '@slack/bolt App + HTTPReceiver (same signing secret and endpoint as Firebell, processBeforeResponse false as Firebell leaves it, botId/botUserId given), on a node:http server on an ephemeral port; command(/incident) and action(/.*/) only await ack(). Same process, same client pool, same request builders and counts as Firebell, run before Firebell\'s bot starts.',
      processBefore,
      idle,
      warmup: { commands: warmCommands, clicks: warmClicks },
      commands: commandLevels,
      clicks: clickLevels,
      listenerCounts,
      afterClose: { rssMb: mb(process.memoryUsage().rss), heapAfterGcMb: afterGc },
    };
  } catch (err) {
    await bare.close().catch(() => {});
    throw err;
  }
}

function compare(bare: AckLevelResult[], firebell: LevelResult[]): ComparisonRow[] {
  return firebell.map((f) => {
    const b = bare.find((x) => x.kind === f.kind && x.concurrency === f.concurrency);
    if (!b) throw new Error(`no bare Bolt level for ${f.label}`);
    const fr = f.resourcesUntilDone;
    const ratio = b.acksPerSec > 0 ? round(f.acksPerSec / b.acksPerSec, 2) : Number.NaN;
    return {
      kind: f.kind,
      concurrency: f.concurrency,
      label: f.label,
      bareBolt: { ackP50Ms: b.ack.p50Ms, ackP99Ms: b.ack.p99Ms, acksPerSec: b.acksPerSec, errors: b.errors, peakRssMb: b.rss.peakMb, rssGrowthMb: b.rss.growthMb },
      firebell: {
        ackP50Ms: f.ack.p50Ms,
        ackP99Ms: f.ack.p99Ms,
        acksPerSec: f.acksPerSec,
        completedPerSec: f.completedPerSec,
        errors: f.errors,
        peakRssMb: fr.rssPeakMb,
        rssGrowthMb: round(fr.rssPeakMb - fr.rssStartMb, 1),
      },
      acksPerSecRatio: ratio,
      targets: {
        ackP99Under100MsAt200: f.concurrency === 200 ? f.ack.p99Ms < 100 : null,
        throughputAtLeastHalfOfBareBolt: ratio >= 0.5,
        peakRssUnder200Mb: fr.rssPeakMb < 200,
      },
    };
  });
}

async function slackSection(): Promise<{ slack: SlackSection; machine: MachineInfo }> {
  // The machine (and its load) before anything runs; then the baseline, in a process with nothing else started.
  const machine = await machineOnly();
  const bareBolt = await bareBoltSection();
  const policy = testPolicy();
  const h = await startBenchBot(policy);
  try {
    const idleMem = process.memoryUsage();
    const idle = { rssMb: mb(idleMem.rss), heapUsedMb: mb(idleMem.heapUsed), heapAfterGcMb: heapAfterGcMb() };
    const level = async (kind: LevelResult['kind'], label: string, concurrency: number, requests: Prepared[]) => {
      log(`  ${label}: ${requests.length} requests, ${concurrency} concurrent…`);
      const before = kind === 'slash_command' ? await countIncidents(h) : await countIncidents(h, ['in_progress']);
      const r = await runLevel(h, sampler, { kind, label, concurrency, requests, maxMs: CONFIG.levelTimeLimitMs, drainTimeoutMs: CONFIG.drainTimeoutMs, client: CONFIG.slackLoadClient });
      const after = kind === 'slash_command' ? await countIncidents(h) : await countIncidents(h, ['in_progress']);
      r.outcome[kind === 'slash_command' ? 'incidentsFiled' : 'incidentsAccepted'] = after - before;
      log(`    ack p50 ${r.ack.p50Ms} ms, p99 ${r.ack.p99Ms} ms, ${r.acksPerSec} acks/s, errors ${r.errors}, all work done in ${r.allWorkDoneS ?? 'n/a'} s`);
      return r;
    };
    const commands = (n: number) => Array.from({ length: n }, (_, i) => commandRequest(h.fake, CONFIG.reporterSlackUser, commandText(i)));

    log('Firebell over HTTP: slash commands');
    const warmCommands = await level('slash_command', 'warm-up (not a result)', CONFIG.warmupConcurrency, commands(CONFIG.warmupRequests));
    const commandLevels: LevelResult[] = [];
    for (const c of CONFIG.concurrencyLevels) commandLevels.push(await level('slash_command', `/incident <text> @${c}`, c, commands(CONFIG.requestsPerLevel)));

    // Distinct incidents still in the desk queue, one per click, so every click is a real CAS write.
    const needed = CONFIG.warmupRequests + CONFIG.concurrencyLevels.length * CONFIG.requestsPerLevel;
    let fresh = await h.store.list({ statuses: ['new'], tiers: ['desk'], limit: 1_000_000 });
    if (fresh.length < needed) {
      log(`  topping up the click pool: ${needed - fresh.length} incidents through the dispatcher`);
      for (let i = fresh.length; i < needed; i++) {
        await h.bot.dispatcher.report(personRef('reporter.a'), { title: `Click pool ${i}` }, { platform: 'slack', channel: 'C0GENERAL' });
      }
      await h.bot.scheduler.flush();
      fresh = await h.store.list({ statuses: ['new'], tiers: ['desk'], limit: 1_000_000 });
    }
    let next = 0;
    const clicks = (n: number) => fresh.slice(next, (next += n)).map((inc) => clickRequest(h.fake, CONFIG.clickerSlackUser, inc, 'incident.accept'));

    log('Firebell over HTTP: button clicks (incident.accept)');
    const warmClicks = await level('button_click', 'warm-up (not a result)', CONFIG.warmupConcurrency, clicks(CONFIG.warmupRequests));
    const clickLevels: LevelResult[] = [];
    for (const c of CONFIG.concurrencyLevels) clickLevels.push(await level('button_click', `click incident.accept @${c}`, c, clicks(CONFIG.requestsPerLevel)));

    const comparison = compare([...bareBolt.commands, ...bareBolt.clicks], [...commandLevels, ...clickLevels]);
    return {
      slack: { idle, warmup: { commands: warmCommands, clicks: warmClicks }, commands: commandLevels, clicks: clickLevels, logs: h.logs, bareBolt, comparison },
      machine,
    };
  } finally {
    await h.close();
  }
}

async function flowSection(machine: MachineInfo): Promise<FlowResult[]> {
  const policy = testPolicy();
  const out: FlowResult[] = [];
  log('Flow engine: PostgreSQL');
  const db = await createTestDatabase();
  const pg = await createPostgresStore(db.url);
  try {
    const postgresDatabase = new URL(db.url).pathname.slice(1);
    out.push(await benchFlows('postgres', pg, policy, sampler, { incidents: CONFIG.flowIncidents, warmup: CONFIG.flowWarmupIncidents, postgresDatabase }));
  } finally {
    await pg.close();
    await db.drop();
  }
  log('Flow engine: PGlite (in memory)');
  // createPgliteStore(null) is PGlite.create() + pgliteStore(); opened here to ask its version too.
  const rssBeforeOpen = process.memoryUsage().rss;
  const client = await PGlite.create();
  machine.pglite = await pgliteVersion(client);
  const lite = await pgliteStore(client);
  const rssAfterOpen = process.memoryUsage().rss;
  sampler.note(rssAfterOpen);
  try {
    const r = await benchFlows('pglite (memory)', lite, policy, sampler, { incidents: CONFIG.flowIncidents, warmup: CONFIG.flowWarmupIncidents });
    r.storeOpened = { rssBeforeMb: mb(rssBeforeOpen), rssAfterMb: mb(rssAfterOpen) };
    out.push(r);
  } finally {
    await lite.close();
  }
  for (const r of out) log(`  ${r.store}: ${r.commandsPerSec} commands/s, p99 ${r.all.p99Ms} ms, failures ${r.failures}`);
  return out;
}

async function outboxSection(): Promise<OutboxResult> {
  log('Outbox drain');
  const r = await benchOutbox(testPolicy(), sampler, { effects: CONFIG.outboxEffects });
  log(`  ${r.delivered} effects in ${r.durationS} s: ${r.effectsPerSec} effects/s (retried ${r.retried}, failed ${r.failed})`);
  return r;
}

async function timersSection(): Promise<TimerScenarioResult[]> {
  log(`Timer lateness (${CONFIG.timerDrivers.join(', ')}; Redis ${CONFIG.redisUrl})`);
  return benchTimers(sampler, {
    drivers: CONFIG.timerDrivers,
    backgroundCounts: CONFIG.timerBackgroundCounts,
    measured: CONFIG.timerMeasured,
    spreadMs: CONFIG.timerSpreadMs,
    firstDueAfterMs: CONFIG.timerFirstDueAfterMs,
    graceMs: CONFIG.timerGraceMs,
    redisUrl: CONFIG.redisUrl,
    log,
  });
}

async function sweepSection(): Promise<SweepResult> {
  log('Reconcile sweep query (PostgreSQL)');
  return benchSweep(sampler, {
    rows: CONFIG.sweepRows,
    open: CONFIG.sweepOpen,
    runs: CONFIG.sweepRuns,
    warmup: CONFIG.sweepWarmupRuns,
    walks: CONFIG.sweepWalks,
    restoreDrivers: CONFIG.timerDrivers,
    redisUrl: CONFIG.redisUrl,
    log,
  });
}

async function majorSection(): Promise<MajorResult> {
  log(`Major incident: declare to room ready (fake Slack answers after ${CONFIG.majorSlackLatencyMs} ms)`);
  return benchMajor(sampler, {
    latencyMs: CONFIG.majorSlackLatencyMs,
    samples: CONFIG.majorSamples,
    warmup: CONFIG.majorWarmup,
    concurrency: CONFIG.majorConcurrency,
    rounds: CONFIG.majorRounds,
    pollMs: CONFIG.majorPollMs,
    timeoutMs: CONFIG.majorTimeoutMs,
    log,
  });
}

/** The machine description when the Slack section (which normally takes it) is not run. */
async function machineOnly(): Promise<MachineInfo> {
  const db = await createTestDatabase();
  try {
    return await machineInfo(db.url);
  } finally {
    await db.drop();
  }
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

function table(title: string, header: string[], rows: (string | number | null)[][]) {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null ? 'n/a' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  log('');
  log(title);
  log(line(cells[0]!));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) log(line(r));
}

const lat = (s: LatencySummary) => [s.p50Ms, s.p95Ms, s.p99Ms, s.maxMs];

interface Results {
  slack?: SlackSection;
  flows?: FlowResult[];
  outbox?: OutboxResult;
  timers?: TimerScenarioResult[];
  sweep?: SweepResult;
  major?: MajorResult;
  machine: MachineInfo;
  peakRssMb: number;
  durationS: number;
}

function printTables(r: Results) {
  const { machine: m } = r;
  log('');
  log(`Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryTotalMb} MB RAM, Node ${m.node}, ${m.postgres.split(' on ')[0]}, PGlite ${m.pglite?.split(' ')[0] ?? '?'}, ${m.date}`);
  log(`Load average (1/5/15 min) at start: ${m.loadAvgAtStart.join(' / ')}; machine CPU busy over 1 s before the run: ${m.machineCpuBusyPctAtStart ?? 'n/a'} %`);
  printCoreTables(r);
  if (r.timers) printTimerTable(r.timers);
  if (r.sweep) printSweepTable(r.sweep);
  if (r.major) printMajorTables(r.major);
  log(`Total runtime: ${r.durationS} s.`);
}

function printTimerTable(rows: TimerScenarioResult[]) {
  table(
    'Timer lateness (fake hooks: fire only records; times in ms; RSS is the whole process)',
    ['driver', 'pending', 'restore s', 'restored/s', 'sched p50', 'sched p99', 'measured', 'fired', 'missing', 'late p50', 'p95', 'p99', 'max', 'RSS MB before→after restore', 'heap@GC MB before→after', 'Redis MB', 'CPU proc %'],
    rows.map((t) => [
      t.driver,
      t.backgroundTimers,
      t.restore.seconds,
      t.restore.timersPerSec,
      t.scheduleCall.p50Ms,
      t.scheduleCall.p99Ms,
      t.measuredTimers,
      t.fired,
      t.missing,
      t.lateness?.p50Ms ?? null,
      t.lateness?.p95Ms ?? null,
      t.lateness?.p99Ms ?? null,
      t.lateness?.maxMs ?? null,
      `${t.rss.beforeRestoreMb}→${t.rss.afterRestoreMb}`,
      `${t.rss.heapAfterGcBeforeRestoreMb ?? 'n/a'}→${t.rss.heapAfterGcAfterRestoreMb ?? 'n/a'}`,
      t.redisUsedMemoryMb ? `${t.redisUsedMemoryMb.before}→${t.redisUsedMemoryMb.afterRestore}` : null,
      t.resources.processCpuPctOfOneCore,
    ]),
  );
  const odd = rows.filter((t) => t.duplicates || t.early || t.backgroundFired || t.scheduledAfterDue);
  for (const t of odd) log(`  ${t.driver} @${t.backgroundTimers}: duplicates ${t.duplicates}, early ${t.early}, background fired ${t.backgroundFired}, scheduled after due ${t.scheduledAfterDue}`);
}

function printSweepTable(w: SweepResult) {
  table(
    `owedTimers over ${w.rows.toLocaleString('en')} incidents, ${w.openRows.toLocaleString('en')} owing a timer (${w.runs} runs after ${w.warmupRuns} warm-up; ms)`,
    ['query', 'rows returned', 'p50', 'p95', 'p99', 'max'],
    [
      ['periodic sweep: owedTimers(now + 120 s, 500, null)', `${w.periodicSweep.rowsReturned.min}–${w.periodicSweep.rowsReturned.max}`, w.periodicSweep.p50Ms, w.periodicSweep.p95Ms, w.periodicSweep.p99Ms, w.periodicSweep.maxMs],
      ['restore page: owedTimers(far future, 500, after)', `${w.restorePage.rowsReturned.min}–${w.restorePage.rowsReturned.max}`, w.restorePage.p50Ms, w.restorePage.p95Ms, w.restorePage.p99Ms, w.restorePage.maxMs],
    ],
  );
  log(`Full keyset walk of ${w.fullWalk.timersSeen} owed timers in ${w.fullWalk.pages} pages: ${w.fullWalk.secondsEach.join(' / ')} s.`);
  log(`Load: ${w.loadS} s (ANALYZE ${w.analyzeS} s); table ${w.tableSizeMb} MB, incidents_next_timer_idx ${w.nextTimerIndexSizeMb} MB, primary key ${w.pkeyIndexSizeMb} MB.`);
  for (const e of w.explain) log(`EXPLAIN ${e.label}: ${e.nodes.join(' → ')}; incidents_next_timer_idx: ${e.nextTimerIndexAccess ?? 'NOT used'}; execution ${e.executionMs} ms`);
  log('(The store sends unnamed statements, so its calls get the custom plans; the generic ones are shown for comparison.)');
  for (const d of w.driverRestore) log(`Full restore through the ${d.driver} driver from this database: ${d.scheduled} timers in ${d.seconds} s (${d.pendingAfter} pending after).`);
}

function printMajorTables(m: MajorResult) {
  const calls = (v: MajorResult['sequential']) => (v.callsUntilReady ? `${v.callsUntilReady.min}–${v.callsUntilReady.max}` : null);
  table(
    `Major incident: declare (/incident major) to room ready, fake Slack answering after ${m.fakeLatencyMs} ms (ms; polled every ${m.pollIntervalMs} ms)`,
    ['variant', 'samples', 'timeouts', 'ready p50', 'p95', 'p99', 'max', 'fake-side p50', 'fake-side p99', 'ack p50', 'ack p99', 'Slack calls until ready', 'CPU proc %', 'pg %', 'other %'],
    [m.sequential, m.concurrent].map((v) => [
      v.concurrency === 1 ? 'one at a time' : `${v.concurrency} at once × ${v.rounds} rounds`,
      v.samples,
      v.timeouts,
      ...lat(v.readyMs),
      v.lastCallArrivalMs.p50Ms,
      v.lastCallArrivalMs.p99Ms,
      v.ackMs.p50Ms,
      v.ackMs.p99Ms,
      v.concurrency === 1 ? calls(v) : `${calls(v)} per round`,
      v.resources.processCpuPctOfOneCore,
      v.resources.postgresCpuPctOfOneCore,
      v.resources.otherCpuPctOfOneCore,
    ]),
  );
  log('fake-side: t0 → arrival at the fake of the call that completed the room (its Date.now(), 1 ms resolution), without the poll.');
  if (m.concurrent.perRoundMaxMs.length) log(`Slowest room of each concurrent round: ${m.concurrent.perRoundMaxMs.map((x) => round(x, 0)).join(', ')} ms.`);
  log(`Critical path of the first measured sample: ${m.criticalPath.calls} Slack calls, one after the other: at least ${m.criticalPath.minimumCostMs} ms of waiting for answers at ${m.fakeLatencyMs} ms each (the last answer is not waited for).`);
  table(
    'Timeline of the first measured sample (ms after t0; calls at their arrival at the fake)',
    ['at', 'gap', 'step', 'detail', ''],
    m.firstSampleTimeline.map((s) => [s.atMs, s.gapMs, s.what, s.detail, s.afterReady ? '(after ready)' : s.ok === false ? 'NOT ok' : '']),
  );
}

const yesNo = (x: boolean | null) => (x === null ? '—' : x ? 'met' : 'NOT met');

function printSlackTables(slack: SlackSection) {
  const levels = [...slack.commands, ...slack.clicks];
  table(
    `Slack ack over HTTP (client, bot and fake Slack in ONE process; load client: ${CONFIG.slackLoadClient}; RSS is the whole process)`,
    ['level', 'sent', 'non-200', 'acks/s', 'ack p50', 'p95', 'p99', 'max ms', 'reply p50', 'reply p99', 'done/s', 'peak RSS MB', 'heap@GC MB', 'CPU proc %', 'pg %', 'other %'],
    levels.map((l) => [
      l.label,
      l.sent,
      l.errors,
      l.acksPerSec,
      ...lat(l.ack),
      l.reply.p50Ms,
      l.reply.p99Ms,
      l.completedPerSec,
      l.resourcesUntilDone.rssPeakMb,
      l.heapAfterGcMb,
      l.resourcesUntilDone.processCpuPctOfOneCore,
      l.resourcesUntilDone.postgresCpuPctOfOneCore,
      l.resourcesUntilDone.otherCpuPctOfOneCore,
    ]),
  );
  const b = slack.bareBolt;
  table(
    'Baseline: bare Bolt app, ack only (same process, same client, same requests; run before Firebell; RSS is the whole process)',
    ['level', 'sent', 'non-200', 'acks/s', 'ack p50', 'p95', 'p99', 'max ms', 'RSS start MB', 'peak RSS MB', 'growth MB', 'heap@GC MB', 'CPU proc %', 'other %'],
    [...b.commands, ...b.clicks].map((l) => [
      l.label,
      l.sent,
      l.errors,
      l.acksPerSec,
      ...lat(l.ack),
      l.rss.startMb,
      l.rss.peakMb,
      l.rss.growthMb,
      l.heapAfterGcMb,
      l.resources.processCpuPctOfOneCore,
      l.resources.otherCpuPctOfOneCore,
    ]),
  );
  log(`Bare app: process RSS ${b.processBefore.rssMb} MB before it started, ${b.idle.rssMb} MB listening, ${b.afterClose.rssMb} MB after it closed (heap after GC ${b.processBefore.heapAfterGcMb ?? 'n/a'} → ${b.afterClose.heapAfterGcMb ?? 'n/a'} MB); its listeners acked ${b.listenerCounts.commands} commands and ${b.listenerCounts.actions} clicks, ${b.listenerCounts.errors} errors.`);
  table(
    'Issue 7, side by side: bare Bolt (ack only) vs Firebell (ack + database writes + replies); ack in ms; targets: Firebell p99 < 100 ms at 200, acks/s ratio >= 0.5, peak RSS < 200 MB',
    ['level', 'Bolt p50', 'Bolt p99', 'Bolt acks/s', 'Bolt peak RSS', 'Firebell p50', 'Firebell p99', 'Firebell acks/s', 'Firebell done/s', 'Firebell peak RSS', 'ratio', 'p99 < 100 @200', 'ratio >= 0.5', 'RSS < 200 MB'],
    slack.comparison.map((c) => [
      c.label,
      c.bareBolt.ackP50Ms,
      c.bareBolt.ackP99Ms,
      c.bareBolt.acksPerSec,
      c.bareBolt.peakRssMb,
      c.firebell.ackP50Ms,
      c.firebell.ackP99Ms,
      c.firebell.acksPerSec,
      c.firebell.completedPerSec,
      c.firebell.peakRssMb,
      c.acksPerSecRatio,
      yesNo(c.targets.ackP99Under100MsAt200),
      yesNo(c.targets.throughputAtLeastHalfOfBareBolt),
      yesNo(c.targets.peakRssUnder200Mb),
    ]),
  );
  log('ratio = Firebell acks/s ÷ bare Bolt acks/s. Peak RSS is the whole process (load client + server, + fake Slack for Firebell), in MB;');
  log("Firebell's from its first request until all its work was done. Timing is only reported: no target fails the run.");
}

function printCoreTables(r: { slack?: SlackSection; flows?: FlowResult[]; outbox?: OutboxResult; peakRssMb: number }) {
  if (r.slack) printSlackTables(r.slack);
  if (r.flows) {
    table(
      'Flow engine through the dispatcher, sequential (report → accept → resolve → confirm)',
      ['store', 'commands', 'cmds/s', 'p50 ms', 'p95', 'p99', 'max', 'report p99', 'accept p99', 'resolve p99', 'confirm p99', 'failures', 'CPU proc %', 'pg %', 'other %'],
      r.flows.map((f) => [
        f.store,
        f.commands,
        f.commandsPerSec,
        f.all.p50Ms,
        f.all.p95Ms,
        f.all.p99Ms,
        f.all.maxMs,
        f.byCommand.report.p99Ms,
        f.byCommand.accept.p99Ms,
        f.byCommand.resolve.p99Ms,
        f.byCommand.confirm.p99Ms,
        f.failures,
        f.resources.processCpuPctOfOneCore,
        f.resources.postgresCpuPctOfOneCore,
        f.resources.otherCpuPctOfOneCore,
      ]),
    );
  }
  const o = r.outbox;
  if (o) {
    table('Outbox drain to the fake Slack Web API (PostgreSQL)', ['queued', 'delivered', 'retried', 'failed', 'seconds', 'effects/s', 'peak RSS MB', 'CPU proc %', 'pg %', 'other %'], [
      [
        o.queued,
        o.delivered,
        o.retried,
        o.failed,
        o.durationS,
        o.effectsPerSec,
        o.resources.rssPeakMb,
        o.resources.processCpuPctOfOneCore,
        o.resources.postgresCpuPctOfOneCore,
        o.resources.otherCpuPctOfOneCore,
      ],
    ]);
  }
  if (!r.slack && !r.flows && !r.outbox) return;
  log('');
  log('CPU columns are % of ONE core over the phase: this process (client + bot + fake Slack), the PostgreSQL backends of');
  log("the benchmark's database, and everything else on the box (other users' work, PostgreSQL's shared processes).");
  if (r.slack) {
    const levels = [...r.slack.commands, ...r.slack.clicks];
    log(`RSS right after the bot started, before any request: ${r.slack.idle.rssMb} MB (heap after GC ${r.slack.idle.heapAfterGcMb ?? 'n/a'} MB).`);
    log('heap@GC: heap in use after a forced full GC once the level was done (bot + fake Slack state + client).');
    log(`Peak RSS during the Slack levels: ${Math.max(...levels.map((l) => l.resourcesUntilDone.rssPeakMb))} MB; process peak over the whole run${r.flows ? ' (PGlite included)' : ''}: ${r.peakRssMb} MB.`);
  }
  const lite = r.flows?.find((f) => f.storeOpened);
  if (lite?.storeOpened) log(`Opening in-memory PGlite and migrating it took RSS from ${lite.storeOpened.rssBeforeMb} to ${lite.storeOpened.rssAfterMb} MB.`);
}

/** Waits (up to `maxS`) until the whole machine is under 20 % busy over 2 s: other work on a 2-core box skews everything. */
async function waitForIdleMachine(maxS: number): Promise<{ waitedS: number; lastBusyPct: number | null }> {
  const t0 = performance.now();
  let last: number | null = null;
  while ((performance.now() - t0) / 1000 < maxS) {
    last = await machineBusyPct(2000);
    if (last === null || last < 20) break;
    log(`  machine ${last} % busy; waiting for it to quieten (up to ${maxS} s)…`);
  }
  return { waitedS: round((performance.now() - t0) / 1000, 1), lastBusyPct: last };
}

async function main() {
  log(`Firebell benchmarks${QUICK ? ' (--quick: small counts, not for publishing)' : ''}${ALL_SECTIONS ? '' : ` (sections: ${SECTIONS.join(', ')})`}`);
  const idleWait = WAIT_IDLE_S > 0 ? await waitForIdleMachine(WAIT_IDLE_S) : null;
  const has = (x: SectionName) => SECTIONS.includes(x);
  const sectionTimes: Partial<Record<SectionName, { finishedAt: string; durationS: number }>> = {};
  const timed = async <T>(name: SectionName, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const v = await f();
    sectionTimes[name] = { finishedAt: new Date().toISOString(), durationS: round((performance.now() - t0) / 1000, 1) };
    return v;
  };
  let slack: SlackSection | undefined;
  let machine: MachineInfo;
  if (has('slack')) ({ slack, machine } = await timed('slack', slackSection));
  else machine = await machineOnly();
  // The outbox runs before the flows because PGlite (last of the original three) leaves a large RSS behind it.
  const outbox = has('outbox') ? await timed('outbox', outboxSection) : undefined;
  const flows = has('flows') ? await timed('flows', () => flowSection(machine)) : undefined;
  const timers = has('timers') ? await timed('timers', timersSection) : undefined;
  const sweep = has('sweep') ? await timed('sweep', sweepSection) : undefined;
  const major = has('major') ? await timed('major', majorSection) : undefined;
  const durationS = round((performance.now() - began) / 1000, 1);
  const peakRssMb = mb(sampler.peakBytes());
  sampler.stop();
  const targets = {
    slackAckDeadlineMs: 3000,
    issue7: { ackP99MsAt200Concurrent: 100, memoryMb: 200, acksPerSecAtLeastThisShareOfBareBolt: 0.5 },
    timers: { latenessP99Ms: 1000, withPendingTimers: [10_000, 100_000] },
    reconcileSweep: { maxMs: 100, incidents: 1_000_000, open: 100_000, mustUseIndex: 'incidents_next_timer_idx' },
    majorRoomReady: { p99Ms: 1000, slackAnswersAfterMs: 50, ready: 'created, members invited, summary pinned, origin card linked' },
  };
  const ran = { slack, outbox, flows, timers, sweep, major };
  const sectionRuns: Record<string, unknown> = {};
  for (const name of SECTIONS) sectionRuns[name] = { ...sectionTimes[name], machine, quick: QUICK, idleWait, processPeakRssMbSoFar: peakRssMb };

  let result: Record<string, unknown>;
  let merged = false;
  if (ALL_SECTIONS) {
    result = {
      schema: 1,
      tool: 'bench/run.ts',
      machine,
      config: CONFIG,
      idleWait,
      finishedAt: new Date().toISOString(),
      durationS,
      process: {
        peakRssMb,
        slackPhasePeakRssMb: slack ? Math.max(...[...slack.commands, ...slack.clicks].map((l) => l.resourcesUntilDone.rssPeakMb)) : null,
        bareBoltPhasePeakRssMb: slack ? Math.max(...[...slack.bareBolt.commands, ...slack.bareBolt.clicks].map((l) => l.rss.peakMb)) : null,
        note: 'RSS is sampled every 100 ms for the whole Node process, which holds the load-generating client, the bot and the fake Slack API (which keeps every call, message and reply in memory).',
      },
      targets,
      sectionRuns,
      ...ran,
    };
  } else {
    // A subset: keep the other sections' earlier results (and the run they came from) in the file.
    let previous: Record<string, unknown> = {};
    try {
      const p = JSON.parse(await readFile(OUT, 'utf8')) as Record<string, unknown>;
      if (p && typeof p === 'object' && p.schema === 1) previous = p;
    } catch {
      // no earlier file: write the subset alone
    }
    merged = Object.keys(previous).length > 0;
    const fresh: Record<string, unknown> = {};
    for (const name of SECTIONS) fresh[name] = ran[name];
    result = {
      ...previous,
      schema: 1,
      tool: 'bench/run.ts',
      ...(merged ? {} : { machine, config: CONFIG, idleWait, finishedAt: new Date().toISOString(), durationS }),
      targets: { ...((previous.targets as object | undefined) ?? {}), ...targets },
      sectionConfig: { ...((previous.sectionConfig as object | undefined) ?? {}), ...Object.fromEntries(SECTIONS.map((n) => [n, CONFIG])) },
      sectionRuns: { ...((previous.sectionRuns as object | undefined) ?? {}), ...sectionRuns },
      ...fresh,
    };
  }
  printTables({ ...ran, machine, peakRssMb, durationS });
  await mkdir(dirname(OUT), { recursive: true });
  const tmp = `${OUT}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(result, null, 2)}\n`);
  await rename(tmp, OUT);
  log(`Wrote ${OUT}${merged ? ` (sections ${SECTIONS.join(', ')} merged into the earlier results)` : ''}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
