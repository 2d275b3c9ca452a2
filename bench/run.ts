/**
 * Firebell benchmark runner (`npm run bench`). Measures and reports; it never fails on timing.
 *
 *   1. Slack ack latency / throughput over HTTP (slash commands, then button clicks) at 50 and 200
 *      concurrent clients, against the real bot on a fresh PostgreSQL database and the fake Slack API,
 *      side by side with a bare Bolt app that only acknowledges (bench/lib/bare-bolt.ts), which gets
 *      the same signed requests first. Each of the two runs in its own child process
 *      (bench/lib/sut-child.ts); this process keeps the load client and the fake Slack, and samples
 *      the child's memory from /proc.
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
 * default 2000), --client node-http|fetch (section 1's load client, default node-http),
 * --sut-cpu-prof <dir> (section 1: CPU-profile each system-under-test process into dir), --wait-idle [s]
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
import type { IncidentStore } from '../src/flows/ports';
import { createFakeSlack } from '../test/fakes/slack-api';
import { createTestDatabase } from '../test/support/pg';
import { testPolicy } from '../test/support/policy';
import { BOT_TOKEN, SIGNING_SECRET, type LogCounts } from './lib/bot';
import { benchFlows, type FlowResult } from './lib/flows';
import { benchMajor, type MajorResult } from './lib/major';
import { gitSrcState, machineInfo, pgliteVersion, type MachineInfo } from './lib/machine';
import { benchOutbox, type OutboxResult } from './lib/outbox';
import {
  clickRequest,
  commandRequest,
  runAckLevel,
  runLevel,
  type AckLevelResult,
  type LevelResult,
  type LevelTarget,
  type LoadClient,
  type Prepared,
  type SlackWorkspace,
} from './lib/slack-http';
import { heapAfterGcMb, machineBusyPct, mb, pidMemory, round, startGlobalRssSampler, type LatencySummary } from './lib/stats';
import { startSut, type ChildMemory, type SutProcess } from './lib/sut';
import { benchSweep, type SweepResult } from './lib/sweep';
import { benchTimers, type TimerDriver, type TimerScenarioResult } from './lib/timers';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const outArg = args.indexOf('--out');
const reqArg = args.indexOf('--requests');
const REQUESTS = reqArg >= 0 ? Number(args[reqArg + 1]) : NaN;
const clientArg = args.indexOf('--client');
const LOAD_CLIENT: LoadClient = (() => {
  if (clientArg < 0) return 'node-http';
  const c = args[clientArg + 1];
  if (c === 'fetch' || c === 'node-http') return c;
  process.stderr.write('--client takes node-http (default) or fetch\n');
  process.exit(2);
})();
const profArg = args.indexOf('--sut-cpu-prof');
/** Section 1: run each system-under-test child with `--cpu-prof --cpu-prof-dir=<dir>`. */
const SUT_CPU_PROF = profArg >= 0 && args[profArg + 1] ? resolve(args[profArg + 1]!) : null;
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
  /** Section 1's load client (--client): node:http through a keep-alive Agent per level (maxSockets = its concurrency), or Node's global fetch. */
  slackLoadClient: LOAD_CLIENT,
  /** Section 1: before each timed level, as many concurrent GET /healthz as the level's concurrency open the client's connections. */
  slackWarmConnections: true,
  /** Section 1: each system under test in its own Node process (bench/lib/sut-child.ts); this process holds the client and the fake Slack. */
  slackSutInChildProcess: true,
  slackSutCpuProfDir: SUT_CPU_PROF,
  requestsPerLevel: Number.isInteger(REQUESTS) && REQUESTS > 0 ? REQUESTS : QUICK ? 200 : 2000,
  levelTimeLimitMs: 30_000,
  /** How long a Firebell level waits for its work (replies, outbox) after the last ack; done/s is null past it. */
  drainTimeoutMs: 180_000,
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

interface SutIdle {
  /** VmRSS of the child from /proc right after it started listening, before any request. */
  rssMb: number | null;
  /** The child's process.memoryUsage() at that point, and after a full GC. */
  memory: ChildMemory;
}

interface SlackSection {
  /** Where everything ran. */
  isolation: string;
  /** This process (load client + fake Slack) before either system under test started. */
  parentBefore: { rssMb: number; heapAfterGcMb: number | null };
  /** Firebell's process right after its bot started (before any request): the floor under its RSS figures. */
  idle: SutIdle;
  /** Firebell's process after every level, once its work was done and a full GC ran. */
  afterLevels: ChildMemory;
  /** This process (load client + fake Slack) with Firebell idle. */
  parentIdle: { rssMb: number; heapAfterGcMb: number | null };
  sut: SutInfo;
  warmup: { commands: LevelResult; clicks: LevelResult };
  commands: LevelResult[];
  clicks: LevelResult[];
  logs: LogCounts;
  /** The baseline: a bare Bolt app that only acks, given the same request shapes first (bench/lib/bare-bolt.ts). */
  bareBolt: BareBoltSection;
  /** Firebell and the bare Bolt app level by level, with issue 7's targets. */
  comparison: ComparisonRow[];
}

interface BareBoltSection {
  setup: string;
  /** Its process right after it started listening. */
  idle: SutIdle;
  warmup: { commands: AckLevelResult; clicks: AckLevelResult };
  commands: AckLevelResult[];
  clicks: AckLevelResult[];
  /** What its listeners saw: acks given and errors (a check that the load reached Bolt's listeners). */
  listenerCounts: { commands: number; actions: number; errors: number };
  sut: SutInfo;
}

interface SutInfo {
  pid: number;
  execArgv: string[];
  exit: { exitCode: number | null; signal: string | null };
  /** HEAD and `git status --porcelain src` just before the process was started (it loads the tree then). */
  code: ReturnType<typeof gitSrcState>;
}

interface ComparisonRow {
  kind: LevelResult['kind'];
  concurrency: number;
  label: string;
  /** Peak RSS of the bare app's own process over the level, and its idle RSS. */
  bareBolt: { ackP50Ms: number; ackP99Ms: number; acksPerSec: number; errors: number; peakRssMb: number | null; rssGrowthMb: number | null; idleRssMb: number | null };
  /** Peak RSS of Firebell's own process from its first request until all its work was done (reply, outbox drained). */
  firebell: {
    ackP50Ms: number;
    ackP99Ms: number;
    acksPerSec: number;
    completedPerSec: number | null;
    errors: number;
    peakRssMb: number | null;
    rssGrowthMb: number | null;
    idleRssMb: number | null;
    heapAfterGcMb: number | null;
    /** This process (load client + fake Slack) over the same span. */
    parentPeakRssMb: number;
  };
  /** Firebell's acks/s ÷ the bare app's. */
  acksPerSecRatio: number;
  /** Firebell's completed requests/s (all work done) ÷ the bare app's acks/s. */
  completedPerSecRatio: number | null;
  targets: {
    /** Firebell's ack p99 < 100 ms; judged at 200 concurrent only (null at 50). */
    ackP99Under100MsAt200: boolean | null;
    throughputAtLeastHalfOfBareBolt: boolean;
    /** Firebell's own process's peak RSS during the level (until its work was done) < 200 MB. */
    peakRssUnder200Mb: boolean | null;
  };
}

/** The fake Slack's default workspace, for the bare app's requests. It never calls response_url, so the origin is a closed port. */
const BARE_WORKSPACE: SlackWorkspace = { teamId: 'T0FIREBELL', teamDomain: 'acme', appId: 'A0FIREBELL', origin: 'http://127.0.0.1:9', botUserId: 'U0BOT', botId: 'B0BOT' };

const commandText = (i: number) => `Printer ${i} on floor 3 jams on every job`;

const ISOLATION =
  'Each system under test (the bare Bolt app, then Firebell) runs alone in its own Node process (bench/lib/sut-child.ts, fork with --import tsx --expose-gc). ' +
  'This process holds the load client and the fake Slack Web API (and, for Firebell, its own store connection for the completion checks). PostgreSQL runs on the same box.';

async function sutIdle(sut: SutProcess): Promise<SutIdle> {
  const rss = pidMemory(sut.pid)?.rss;
  return { rssMb: rss === undefined ? null : mb(rss), memory: await sut.memory(true) };
}

const sutExtraArgv = () => (SUT_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${SUT_CPU_PROF}`] : []);

/** The bare Bolt baseline, in its own process: the same request shapes and counts as Firebell's levels, before Firebell starts. */
async function bareBoltSection(): Promise<BareBoltSection> {
  const code = gitSrcState();
  const sut = await startSut(
    { sut: 'bare-bolt', botId: BARE_WORKSPACE.botId, botUserId: BARE_WORKSPACE.botUserId, signingSecret: SIGNING_SECRET, botToken: BOT_TOKEN },
    { intervalMs: CONFIG.rssSampleIntervalMs, extraExecArgv: sutExtraArgv() },
  );
  log(`  bare Bolt app in its own process, pid ${sut.pid}, port ${sut.port}`);
  try {
    const idle = await sutIdle(sut);
    const level = async (kind: AckLevelResult['kind'], label: string, concurrency: number, requests: Prepared[]) => {
      log(`  bare Bolt ${label}: ${requests.length} requests, ${concurrency} concurrent…`);
      const r = await runAckLevel(sut, sampler, { kind, label, concurrency, requests, maxMs: CONFIG.levelTimeLimitMs, client: CONFIG.slackLoadClient });
      log(`    ack p50 ${r.ack.p50Ms} ms, p99 ${r.ack.p99Ms} ms, ${r.acksPerSec} acks/s, errors ${r.errors}, its RSS ${r.rss.startMb}→peak ${r.rss.peakMb} MB (warmed ${r.warm.openSockets ?? r.warm.ok} connections)`);
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
    const { listenerCounts } = await sut.stats<{ listenerCounts: BareBoltSection['listenerCounts'] }>();
    const exit = await sut.close();
    return {
      setup:
        "@slack/bolt App + HTTPReceiver (same signing secret and endpoint as Firebell, processBeforeResponse false as Firebell leaves it, botId/botUserId given), on a node:http server on an ephemeral port; command(/incident) and action(/.*/) only await ack(). In its own process (only Bolt imported); same client pool, same request builders and counts as Firebell, run before Firebell's process starts.",
      idle,
      warmup: { commands: warmCommands, clicks: warmClicks },
      commands: commandLevels,
      clicks: clickLevels,
      listenerCounts,
      sut: { pid: sut.pid, execArgv: sut.execArgv, exit, code },
    };
  } catch (err) {
    await sut.close().catch(() => {});
    throw err;
  }
}

function compare(bare: BareBoltSection, firebellIdle: SutIdle, firebell: LevelResult[]): ComparisonRow[] {
  const bareLevels = [...bare.commands, ...bare.clicks];
  return firebell.map((f) => {
    const b = bareLevels.find((x) => x.kind === f.kind && x.concurrency === f.concurrency);
    if (!b) throw new Error(`no bare Bolt level for ${f.label}`);
    const fr = f.resourcesUntilDone;
    const ratio = b.acksPerSec > 0 ? round(f.acksPerSec / b.acksPerSec, 2) : Number.NaN;
    const peak = fr.sut?.rssPeakMb ?? null;
    return {
      kind: f.kind,
      concurrency: f.concurrency,
      label: f.label,
      bareBolt: { ackP50Ms: b.ack.p50Ms, ackP99Ms: b.ack.p99Ms, acksPerSec: b.acksPerSec, errors: b.errors, peakRssMb: b.rss.peakMb, rssGrowthMb: b.rss.growthMb, idleRssMb: bare.idle.rssMb },
      firebell: {
        ackP50Ms: f.ack.p50Ms,
        ackP99Ms: f.ack.p99Ms,
        acksPerSec: f.acksPerSec,
        completedPerSec: f.completedPerSec,
        errors: f.errors,
        peakRssMb: peak,
        rssGrowthMb: peak !== null && fr.sut?.rssStartMb != null ? round(peak - fr.sut.rssStartMb, 1) : null,
        idleRssMb: firebellIdle.rssMb,
        heapAfterGcMb: f.heapAfterGcMb,
        parentPeakRssMb: fr.rssPeakMb,
      },
      acksPerSecRatio: ratio,
      completedPerSecRatio: f.completedPerSec !== null && b.acksPerSec > 0 ? round(f.completedPerSec / b.acksPerSec, 2) : null,
      targets: {
        ackP99Under100MsAt200: f.concurrency === 200 ? f.ack.p99Ms < 100 : null,
        throughputAtLeastHalfOfBareBolt: ratio >= 0.5,
        peakRssUnder200Mb: peak === null ? null : peak < 200,
      },
    };
  });
}

async function slackSection(): Promise<{ slack: SlackSection; machine: MachineInfo }> {
  // The machine (and its load) before anything runs; then the baseline, with nothing else started.
  const machine = await machineOnly();
  const parentBefore = { rssMb: mb(process.memoryUsage().rss), heapAfterGcMb: heapAfterGcMb() };
  const bareBolt = await bareBoltSection();

  // Firebell: the fake Slack and the database here, the bot in its own process.
  const fake = await createFakeSlack();
  const db = await createTestDatabase();
  let store: IncidentStore | null = null;
  let sut: SutProcess | null = null;
  try {
    // Migrated here, before the child opens its own store on the same database.
    store = await createPostgresStore(db.url);
    const code = gitSrcState();
    sut = await startSut(
      {
        sut: 'firebell',
        env: {
          PORT: '0',
          SLACK_BOT_TOKEN: BOT_TOKEN,
          SLACK_SIGNING_SECRET: SIGNING_SECRET,
          SLACK_API_URL: fake.url,
          DATABASE_URL: db.url,
          // One reporter sends thousands of commands here, standing in for thousands of people: the
          // per-person rate limit would (rightly) stop it, so the benchmark turns it off.
          FIREBELL_RATE_LIMIT: '0',
        },
        slackIdentity: { botId: fake.botId, botUserId: fake.botUserId },
        outboxIntervalMs: 50,
        logSecrets: [BOT_TOKEN, SIGNING_SECRET],
      },
      { intervalMs: CONFIG.rssSampleIntervalMs, extraExecArgv: sutExtraArgv() },
    );
    log(`  Firebell in its own process, pid ${sut.pid}, port ${sut.port}; code: ${code.commit?.slice(0, 7) ?? '?'}, ${code.srcStatus === null ? 'src status unknown' : code.srcStatus.length ? `uncommitted in src: ${code.srcStatus.join('; ')}` : 'no uncommitted change in src'}`);
    const child = sut;
    const st = store;
    const h: LevelTarget = { fake, store: st, dbUrl: db.url, sut: child };
    const idle = await sutIdle(child);
    const parentIdle = { rssMb: mb(process.memoryUsage().rss), heapAfterGcMb: heapAfterGcMb() };
    const countIncidents = async (statuses?: Incident['status'][]) => (await st.list({ ...(statuses ? { statuses } : {}), limit: 1_000_000 })).length;
    const level = async (kind: LevelResult['kind'], label: string, concurrency: number, requests: Prepared[]) => {
      log(`  ${label}: ${requests.length} requests, ${concurrency} concurrent…`);
      const before = kind === 'slash_command' ? await countIncidents() : await countIncidents(['in_progress']);
      const r = await runLevel(h, sampler, { kind, label, concurrency, requests, maxMs: CONFIG.levelTimeLimitMs, drainTimeoutMs: CONFIG.drainTimeoutMs, client: CONFIG.slackLoadClient });
      const after = kind === 'slash_command' ? await countIncidents() : await countIncidents(['in_progress']);
      r.outcome[kind === 'slash_command' ? 'incidentsFiled' : 'incidentsAccepted'] = after - before;
      log(
        `    ack p50 ${r.ack.p50Ms} ms, p99 ${r.ack.p99Ms} ms, ${r.acksPerSec} acks/s, errors ${r.errors}, all work done in ${r.allWorkDoneS ?? 'n/a'} s; ` +
          `bot RSS ${r.resourcesUntilDone.sut?.rssStartMb ?? 'n/a'}→peak ${r.resourcesUntilDone.sut?.rssPeakMb ?? 'n/a'} MB (warmed ${r.warm.openSockets ?? r.warm.ok} connections)`,
      );
      return r;
    };
    const commands = (n: number) => Array.from({ length: n }, (_, i) => commandRequest(fake, CONFIG.reporterSlackUser, commandText(i)));

    log('Firebell over HTTP: slash commands');
    const warmCommands = await level('slash_command', 'warm-up (not a result)', CONFIG.warmupConcurrency, commands(CONFIG.warmupRequests));
    const commandLevels: LevelResult[] = [];
    for (const c of CONFIG.concurrencyLevels) commandLevels.push(await level('slash_command', `/incident <text> @${c}`, c, commands(CONFIG.requestsPerLevel)));

    // Distinct incidents still in the desk queue, one per click, so every click is a real CAS write.
    const needed = CONFIG.warmupRequests + CONFIG.concurrencyLevels.length * CONFIG.requestsPerLevel;
    let fresh = await st.list({ statuses: ['new'], tiers: ['desk'], limit: 1_000_000 });
    if (fresh.length < needed) {
      log(`  topping up the click pool: ${needed - fresh.length} incidents through the dispatcher (in the bot's process)`);
      await child.topUp(needed - fresh.length, fresh.length);
      fresh = await st.list({ statuses: ['new'], tiers: ['desk'], limit: 1_000_000 });
    }
    let next = 0;
    const clicks = (n: number) => fresh.slice(next, (next += n)).map((inc) => clickRequest(fake, CONFIG.clickerSlackUser, inc, 'incident.accept'));

    log('Firebell over HTTP: button clicks (incident.accept)');
    const warmClicks = await level('button_click', 'warm-up (not a result)', CONFIG.warmupConcurrency, clicks(CONFIG.warmupRequests));
    const clickLevels: LevelResult[] = [];
    for (const c of CONFIG.concurrencyLevels) clickLevels.push(await level('button_click', `click incident.accept @${c}`, c, clicks(CONFIG.requestsPerLevel)));

    const { logs } = await child.stats<{ logs: LogCounts }>();
    const afterLevels = await child.memory(true);
    const comparison = compare(bareBolt, idle, [...commandLevels, ...clickLevels]);
    sut = null;
    const exit = await child.close();
    return {
      slack: {
        isolation: ISOLATION,
        parentBefore,
        idle,
        afterLevels,
        parentIdle,
        sut: { pid: child.pid, execArgv: child.execArgv, exit, code },
        warmup: { commands: warmCommands, clicks: warmClicks },
        commands: commandLevels,
        clicks: clickLevels,
        logs,
        bareBolt,
        comparison,
      },
      machine,
    };
  } finally {
    if (sut) await sut.close().catch(() => {});
    if (store) await store.close().catch(() => {});
    await fake.close();
    await db.drop();
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
const maxOf = (xs: (number | null | undefined)[]) => {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? Math.max(...v) : null;
};

function printSlackTables(slack: SlackSection) {
  const levels = [...slack.commands, ...slack.clicks];
  table(
    `Firebell: Slack ack over HTTP (the bot in its own process, pid ${slack.sut.pid}; load client ${CONFIG.slackLoadClient}, connections warmed; bot RSS = its process's)`,
    ['level', 'sent', 'non-200', 'acks/s', 'ack p50', 'p95', 'p99', 'max ms', 'reply p50', 'reply p99', 'done/s', 'bot RSS start', 'bot peak RSS', 'bot heap@GC', 'client+fake peak RSS', 'bot loop p99', 'CPU bot %', 'client+fake %', 'pg %', 'other %'],
    levels.map((l) => {
      const u = l.resourcesUntilDone;
      return [
        l.label,
        l.sent,
        l.errors,
        l.acksPerSec,
        ...lat(l.ack),
        l.reply.p50Ms,
        l.reply.p99Ms,
        l.completedPerSec,
        u.sut?.rssStartMb ?? null,
        u.sut?.rssPeakMb ?? null,
        l.heapAfterGcMb,
        u.rssPeakMb,
        l.sutPhase?.eventLoopDelayP99Ms ?? null,
        u.sut?.cpuPctOfOneCore ?? null,
        u.processCpuPctOfOneCore,
        u.postgresCpuPctOfOneCore,
        u.otherCpuPctOfOneCore,
      ];
    }),
  );
  const b = slack.bareBolt;
  table(
    `Baseline: bare Bolt app, ack only (its own process, pid ${b.sut.pid}; same client, same requests; run before Firebell)`,
    ['level', 'sent', 'non-200', 'acks/s', 'ack p50', 'p95', 'p99', 'max ms', 'its RSS start', 'peak', 'growth', 'heap@GC', 'client peak RSS', 'its loop p99', 'CPU its %', 'client %', 'other %'],
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
      l.resources.rssPeakMb,
      l.sutPhase?.eventLoopDelayP99Ms ?? null,
      l.resources.sut?.cpuPctOfOneCore ?? null,
      l.resources.processCpuPctOfOneCore,
      l.resources.otherCpuPctOfOneCore,
    ]),
  );
  log(
    `Bare app's process: ${b.idle.rssMb ?? 'n/a'} MB RSS idle (heap ${b.idle.memory.heapUsedMb} MB, after GC ${b.idle.memory.heapAfterGcMb ?? 'n/a'} MB); ` +
      `its listeners acked ${b.listenerCounts.commands} commands and ${b.listenerCounts.actions} clicks, ${b.listenerCounts.errors} errors; exit code ${b.sut.exit.exitCode ?? b.sut.exit.signal}.`,
  );
  table(
    'Issue 7, side by side: bare Bolt (ack only) vs Firebell (ack + database writes + replies); each in its own process; ack in ms; RSS of that process in MB; targets: Firebell p99 < 100 ms at 200, acks/s ratio >= 0.5, its peak RSS < 200 MB',
    ['level', 'Bolt p50', 'Bolt p99', 'Bolt acks/s', 'Bolt peak RSS', 'Firebell p50', 'Firebell p99', 'Firebell acks/s', 'Firebell done/s', 'Firebell peak RSS', 'ratio', 'done ratio', 'p99 < 100 @200', 'ratio >= 0.5', 'RSS < 200 MB'],
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
      c.completedPerSecRatio,
      yesNo(c.targets.ackP99Under100MsAt200),
      yesNo(c.targets.throughputAtLeastHalfOfBareBolt),
      yesNo(c.targets.peakRssUnder200Mb),
    ]),
  );
  log('ratio = Firebell acks/s ÷ bare Bolt acks/s; done ratio = Firebell done/s ÷ bare Bolt acks/s. Peak RSS is the system under test\'s own process;');
  log("Firebell's from its first request until all its work was done. Timing is only reported: no target fails the run.");
  log(
    `Firebell's process: ${slack.idle.rssMb ?? 'n/a'} MB RSS idle after start (heap ${slack.idle.memory.heapUsedMb} MB, after GC ${slack.idle.memory.heapAfterGcMb ?? 'n/a'} MB); ` +
      `after all levels and a GC: ${slack.afterLevels.rssAfterGcMb ?? slack.afterLevels.rssMb} MB RSS, heap ${slack.afterLevels.heapAfterGcMb ?? 'n/a'} MB; peak over the levels ${maxOf(levels.map((l) => l.resourcesUntilDone.sut?.rssPeakMb)) ?? 'n/a'} MB.`,
  );
  log(
    `Load client + fake Slack (this process): ${slack.parentBefore.rssMb} MB RSS before any server, ${slack.parentIdle.rssMb} MB with Firebell idle, peak ${maxOf(levels.map((l) => l.resourcesUntilDone.rssPeakMb)) ?? 'n/a'} MB over Firebell's levels.`,
  );
  log(`Firebell's logs: ${slack.logs.info} info, ${slack.logs.warn} warn, ${slack.logs.error} error${slack.logs.samples.length ? `; first: ${slack.logs.samples[0]}` : ''}.`);
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
  log('CPU columns are % of ONE core over the phase: the PostgreSQL backends of the benchmark\'s database, everything else on the');
  log("box (other users' work, PostgreSQL's shared processes), and: for the Slack tables, the system under test's own process");
  log('and this process (load client + fake Slack) apart; for the flow and outbox tables, this one process.');
  if (r.slack) {
    log("heap@GC (Slack): the system under test's heap in use after a forced full GC in its process once the level was done.");
    log(`This process's peak RSS over the whole run${r.flows ? ' (PGlite included)' : ''}: ${r.peakRssMb} MB (the Slack section's systems under test are not in it).`);
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
        slackParentPeakRssMb: slack ? maxOf([...slack.commands, ...slack.clicks].map((l) => l.resourcesUntilDone.rssPeakMb)) : null,
        slackFirebellProcessPeakRssMb: slack ? maxOf([...slack.commands, ...slack.clicks].map((l) => l.resourcesUntilDone.sut?.rssPeakMb)) : null,
        bareBoltProcessPeakRssMb: slack ? maxOf([...slack.bareBolt.commands, ...slack.bareBolt.clicks].map((l) => l.rss.peakMb)) : null,
        note: "peakRssMb is this Node process, sampled every 100 ms: the load client and fake Slack of section 1 (whose systems under test each ran in their own child process, measured from /proc/<pid>), and everything of sections 2-6, which run in this process.",
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
