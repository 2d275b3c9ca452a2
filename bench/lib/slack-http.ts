/**
 * Benchmark 1: Slack ack latency and throughput, end to end over HTTP.
 *
 * The system under test runs in its own process (bench/lib/sut-child.ts, started by
 * bench/lib/sut.ts); this process holds the load client and the fake Slack. Signed slash commands
 * and button clicks are POSTed to Bolt's `/slack/events` endpoint by a bounded pool of N workers
 * using `node:http` requests through a keep-alive `Agent` with `maxSockets` = N, made for the
 * level (`client: 'fetch'`: Node's global fetch, undici's global dispatcher, keep-alive). Before
 * the timed window, N concurrent `GET /healthz` open the N connections, so connection setup is not
 * counted as ack latency. The HTTP response time is Slack's ack. Because Firebell acks first and
 * works afterwards, each level also records when the work really finished: the `respond()` reply
 * reaching the fake's response_url sink, and the outbox drained (queue cards and DMs posted to the
 * fake Web API), checked through the parent's own store connection.
 *
 * `runAckLevel` sends the same prepared requests through the same kind of pool to the bare Bolt
 * baseline (bench/lib/bare-bolt.ts), which has no work behind its acks, and records only the acks
 * and the memory.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Incident } from '../../src/flows/incident/model';
import type { IncidentStore } from '../../src/flows/ports';
import type { FakeSlack } from '../../test/fakes/slack-api';
import { signSlack } from '../../test/support/slack';
import { SIGNING_SECRET } from './bot';
import { heapAfterGcMb, round, sleep, summarize, watchPhase, type LatencySummary, type PhaseResources, type RssSampler } from './stats';
import type { ChildMemory, ChildPhase, SutProcess } from './sut';

/** What the request builders take from the fake Slack: the workspace the requests come from, and the response_url origin. */
export type SlackWorkspace = Pick<FakeSlack, 'teamId' | 'teamDomain' | 'appId' | 'origin' | 'botUserId' | 'botId'>;

export interface Prepared {
  body: string;
  headers: Record<string, string>;
  responseId: string;
}

let seq = 0;
const uniq = () => ++seq;

/** Shaped like Slack's: `<digits>.<digits>.<hex>`; unique, so Bolt-side dedupe never drops one. */
function newTriggerId(): string {
  return `${Date.now()}.${String(uniq()).padStart(9, '0')}.${randomBytes(10).toString('hex')}`;
}

function signed(body: string): Record<string, string> {
  return { 'Content-Type': 'application/x-www-form-urlencoded', ...signSlack(SIGNING_SECRET, body) };
}

/** `/incident <text>` from `user` in `channel`, exactly as test/support/slack.ts builds it. */
export function commandRequest(fake: SlackWorkspace, user: string, text: string, channel = 'C0GENERAL'): Prepared {
  const responseId = `bench-cmd-${uniq()}`;
  const body = new URLSearchParams({
    token: 'fake-verification-token',
    team_id: fake.teamId,
    team_domain: fake.teamDomain,
    channel_id: channel,
    channel_name: channel === 'C0GENERAL' ? 'general' : channel.toLowerCase(),
    user_id: user,
    user_name: user.toLowerCase(),
    command: '/incident',
    text,
    api_app_id: fake.appId,
    is_enterprise_install: 'false',
    response_url: `${fake.origin}/response/${responseId}`,
    trigger_id: newTriggerId(),
  }).toString();
  return { body, headers: signed(body), responseId };
}

/** A `block_actions` click on `actionId` of an incident card (value `<id>|<version>|`). */
export function clickRequest(fake: SlackWorkspace, user: string, incident: Pick<Incident, 'id' | 'version'>, actionId = 'incident.accept', channel = 'C0DESK'): Prepared {
  const responseId = `bench-act-${uniq()}`;
  const team = { id: fake.teamId, domain: fake.teamDomain };
  const messageTs = `${Math.floor(Date.now() / 1000)}.${String(uniq()).padStart(6, '0')}`;
  const value = `${incident.id}|${incident.version}|`;
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: fake.teamId },
    api_app_id: fake.appId,
    token: 'fake-verification-token',
    container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false },
    trigger_id: newTriggerId(),
    team,
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel, name: channel.toLowerCase() },
    message: { type: 'message', text: '', user: fake.botUserId, bot_id: fake.botId, app_id: fake.appId, ts: messageTs, team: fake.teamId, blocks: [] },
    state: { values: {} },
    response_url: `${fake.origin}/response/${responseId}`,
    actions: [
      {
        type: 'button',
        action_id: actionId,
        block_id: 'fb0',
        text: { type: 'plain_text', text: 'Accept', emoji: true },
        value,
        style: 'primary',
        action_ts: `${Math.floor(Date.now() / 1000)}.${String(uniq() % 1_000_000).padStart(6, '0')}`,
      },
    ],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return { body, headers: signed(body), responseId };
}

interface Sent {
  sentAtEpochMs: number;
  ms: number;
  status: number;
  error?: string;
}

/**
 * The load client. `node-http` (the default): `node:http` `request()` through a keep-alive `Agent`
 * with `maxSockets` = the level's concurrency, made for the level and destroyed after it. `fetch`:
 * Node's global fetch (undici's global dispatcher, keep-alive), the client of the runs before the
 * system under test had its own process.
 */
export type LoadClient = 'fetch' | 'node-http';

/** One level's client: the Agent (node-http) or the global dispatcher (fetch). */
interface PoolClient {
  kind: LoadClient;
  agent: Agent | null;
  close(): void;
}

function openClient(kind: LoadClient, concurrency: number): PoolClient {
  const agent = kind === 'node-http' ? new Agent({ keepAlive: true, maxSockets: concurrency }) : null;
  return { kind, agent, close: () => agent?.destroy() };
}

function nodeHttp(url: URL, agent: Agent, method: 'GET' | 'POST', body: string | null, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method, agent, headers: body === null ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } },
      (res) => {
        res.resume(); // read (and drop) the body, as fetch's res.text()
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

/** The connections opened before a timed level: `concurrency` concurrent `GET /healthz`. */
export interface WarmResult {
  requests: number;
  ok: number;
  ms: number;
  /** node-http: idle keep-alive sockets in the Agent afterwards (should equal the concurrency); null for fetch, whose pool is not inspectable. */
  openSockets: number | null;
}

async function warmConnections(client: PoolClient, origin: string, concurrency: number): Promise<WarmResult> {
  const url = new URL('/healthz', origin);
  const t0 = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      try {
        if (client.agent) return await nodeHttp(url, client.agent, 'GET', null, {});
        const res = await fetch(url);
        await res.text();
        return res.status;
      } catch {
        return 0;
      }
    }),
  );
  const openSockets = client.agent ? Object.values(client.agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0) : null;
  return { requests: concurrency, ok: statuses.filter((x) => x === 200).length, ms: round(performance.now() - t0), openSockets };
}

/** N workers, each sending the next prepared request as soon as its previous one was answered. */
async function runPool(endpoint: string, reqs: Prepared[], concurrency: number, maxMs: number, client: PoolClient) {
  const results: (Sent | undefined)[] = new Array(reqs.length);
  const url = new URL(endpoint);
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  let stoppedByTime = false;
  async function worker() {
    for (;;) {
      if (next >= reqs.length) return;
      if (performance.now() > deadline) {
        stoppedByTime = true;
        return;
      }
      const i = next++;
      const r = reqs[i]!;
      const sentAtEpochMs = Date.now();
      const s = performance.now();
      try {
        let status: number;
        if (client.agent) status = await nodeHttp(url, client.agent, 'POST', r.body, r.headers);
        else {
          const res = await fetch(endpoint, { method: 'POST', headers: r.headers, body: r.body });
          await res.text();
          status = res.status;
        }
        results[i] = { sentAtEpochMs, ms: performance.now() - s, status };
      } catch (err) {
        results[i] = { sentAtEpochMs, ms: performance.now() - s, status: 0, error: err instanceof Error ? err.message : String(err) };
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return { results, durationMs: performance.now() - t0, stoppedByTime };
}

/** What a Firebell level needs: the fake Slack and the database (this process's own store connection), and the child serving the endpoint. */
export interface LevelTarget {
  fake: FakeSlack;
  store: IncidentStore;
  dbUrl: string;
  sut: SutProcess;
}

/** Waits until every acked request has its reply at the fake and the outbox holds nothing pending. */
async function waitForWork(h: LevelTarget, responseIds: Set<string>, fromIndex: number, timeoutMs: number) {
  const repliesAt = new Map<string, { at: number; body: any }>();
  let cursor = fromIndex;
  const start = performance.now();
  for (;;) {
    const responses = h.fake.responses;
    for (; cursor < responses.length; cursor++) {
      const r = responses[cursor]!;
      if (responseIds.has(r.id) && !repliesAt.has(r.id)) repliesAt.set(r.id, { at: r.at, body: r.body });
    }
    if (repliesAt.size >= responseIds.size) {
      const head = await h.store.undelivered(1);
      let drained = head.length === 0;
      if (!drained && head[0]!.status === 'failed') drained = !(await h.store.undelivered(100_000)).some((x) => x.status === 'pending');
      if (drained) return { repliesAt, drained: true, waitedMs: performance.now() - start };
    }
    if (performance.now() - start > timeoutMs) return { repliesAt, drained: false, waitedMs: performance.now() - start };
    await sleep(repliesAt.size >= responseIds.size ? 50 : 20);
  }
}

/** Counts and ack samples of one pool run (shared by Firebell's levels and the bare Bolt baseline's). */
function poolFigures(pool: Awaited<ReturnType<typeof runPool>>) {
  const sent = pool.results.filter((r): r is Sent => r !== undefined);
  const okIdx = pool.results.flatMap((r, i) => (r && r.status === 200 ? [i] : []));
  const statusCounts: Record<string, number> = {};
  for (const r of sent) statusCounts[String(r.status)] = (statusCounts[String(r.status)] ?? 0) + 1;
  const errorSamples = [...new Set(sent.filter((r) => r.status !== 200).map((r) => r.error ?? `HTTP ${r.status}`))].slice(0, 5);
  return { sent, okIdx, statusCounts, errorSamples, ackSamplesMs: sent.map((r) => r.ms) };
}

/** The ack figures of one level, the same for Firebell's levels and the bare Bolt baseline's. */
function ackFields(o: { kind: LevelResult['kind']; label: string; concurrency: number; requests: Prepared[] }, pool: Awaited<ReturnType<typeof runPool>>) {
  const { sent, okIdx, statusCounts, errorSamples, ackSamplesMs } = poolFigures(pool);
  return {
    kind: o.kind,
    label: o.label,
    concurrency: o.concurrency,
    planned: o.requests.length,
    sent: sent.length,
    ok: okIdx.length,
    errors: sent.length - okIdx.length,
    statusCounts,
    errorSamples,
    stoppedByTimeLimit: pool.stoppedByTime,
    sendWindowS: round(pool.durationMs / 1000, 3),
    acksPerSec: round(okIdx.length / (pool.durationMs / 1000), 1),
    ack: summarize(ackSamplesMs),
  };
}

export interface LevelResult {
  kind: 'slash_command' | 'button_click';
  label: string;
  concurrency: number;
  planned: number;
  sent: number;
  /** HTTP 200 acks. */
  ok: number;
  /** Any non-200 answer or network failure. */
  errors: number;
  statusCounts: Record<string, number>;
  errorSamples: string[];
  stoppedByTimeLimit: boolean;
  /** First request sent → last ack received. */
  sendWindowS: number;
  acksPerSec: number;
  /** HTTP response time = the ack Slack waits for (3 s limit). */
  ack: LatencySummary;
  /** Request sent → Firebell's `respond()` reply received by the fake response_url (ms resolution). */
  reply: LatencySummary & { received: number };
  /** First request sent → every reply received and the outbox drained (polled every 20–50 ms). */
  allWorkDoneS: number | null;
  /** ok / allWorkDoneS: requests whose whole work (DB writes, reply, cards, DMs) finished per second. */
  completedPerSec: number | null;
  /** What the requests did to the database, checked afterwards. */
  outcome: Record<string, number>;
  /** The SUT child's heap in use after a forced full GC once the level's work was done (RSS keeps V8's high-water mark). */
  heapAfterGcMb: number | null;
  /** The SUT child's process.memoryUsage() once the work was done, before and after that GC. */
  sutMemoryAfter: ChildMemory | null;
  /** This process's (load client + fake Slack) heap after a full GC at the same point. */
  parentHeapAfterGcMb: number | null;
  /** What the fake Slack holds at that point (in this process, not the bot's). */
  fakeSlackState: { messages: number; messageVersions: number; dms: number };
  /** The connections opened before the timed window. */
  warm: WarmResult;
  /** The SUT child's own view of the level (first request to all work done): event-loop delay, CPU. */
  sutPhase: ChildPhase | null;
  /** During the send window: this process (load client + fake Slack) and, under `sut`, the SUT child. */
  resources: PhaseResources;
  /** The same, from the first request until all work was done. */
  resourcesUntilDone: PhaseResources;
}

export async function runLevel(
  h: LevelTarget,
  sampler: RssSampler,
  o: { kind: LevelResult['kind']; label: string; concurrency: number; requests: Prepared[]; maxMs: number; drainTimeoutMs: number; client?: LoadClient },
): Promise<LevelResult> {
  const fromIndex = h.fake.responses.length;
  const client = openClient(o.client ?? 'node-http', o.concurrency);
  let pool: Awaited<ReturnType<typeof runPool>>;
  let warm: WarmResult;
  let resources: PhaseResources;
  let resourcesUntilDone: PhaseResources;
  let work: Awaited<ReturnType<typeof waitForWork>>;
  let sutPhase: ChildPhase | null = null;
  try {
    warm = await warmConnections(client, h.sut.origin, o.concurrency);
    await h.sut.phaseStart();
    const postgresDatabase = new URL(h.dbUrl).pathname.slice(1);
    const whole = watchPhase(sampler, { postgresDatabase, sut: h.sut.watch(true) });
    const send = watchPhase(sampler, { postgresDatabase, sut: h.sut.watch(false) }); // started with `whole`: its VmHWM reset serves both
    pool = await runPool(h.sut.endpoint, o.requests, o.concurrency, o.maxMs, client);
    resources = send.stop();
    const { okIdx } = poolFigures(pool);
    const expected = new Set(okIdx.map((i) => o.requests[i]!.responseId));
    work = await waitForWork(h, expected, fromIndex, o.drainTimeoutMs);
    resourcesUntilDone = whole.stop();
    sutPhase = await h.sut.phaseEnd();
  } finally {
    client.close();
  }
  const { okIdx } = poolFigures(pool);
  // The fake's call and reply logs are test-harness memory, not Firebell's: drop them between
  // levels (its messages, channels and DMs stay, since later card updates need them).
  h.fake.calls.length = 0;
  h.fake.responses.length = 0;
  h.fake.ephemerals.length = 0;
  let versions = 0;
  for (const m of h.fake.messages.values()) versions += m.history.length;
  const fakeSlackState = { messages: h.fake.messages.size, messageVersions: versions, dms: h.fake.dms.size };
  const sutMemoryAfter = await h.sut.memory(true);
  const parentHeapAfterGcMb = heapAfterGcMb();

  const replyMs: number[] = [];
  for (const i of okIdx) {
    const rep = work.repliesAt.get(o.requests[i]!.responseId);
    if (!rep) continue;
    replyMs.push(rep.at - pool.results[i]!.sentAtEpochMs);
  }
  const allWorkDoneS = work.drained ? round((pool.durationMs + work.waitedMs) / 1000, 3) : null;
  const replies = [...work.repliesAt.values()].map((r) => String(r.body?.text ?? ''));
  const outcome: Record<string, number> = {
    replies: replies.length,
    repliesNamingAnIncident: replies.filter((t) => /INC-\d+/.test(t)).length,
  };

  return {
    ...ackFields(o, pool),
    reply: { ...summarize(replyMs), received: replyMs.length },
    allWorkDoneS,
    completedPerSec: allWorkDoneS ? round(okIdx.length / allWorkDoneS, 1) : null,
    outcome,
    heapAfterGcMb: sutMemoryAfter.heapAfterGcMb,
    sutMemoryAfter,
    parentHeapAfterGcMb,
    fakeSlackState,
    warm,
    sutPhase,
    resources,
    resourcesUntilDone,
  };
}

/** One level against the bare Bolt baseline (bench/lib/bare-bolt.ts): acks only, there is no work behind them. */
export interface AckLevelResult
  extends Pick<
    LevelResult,
    'kind' | 'label' | 'concurrency' | 'planned' | 'sent' | 'ok' | 'errors' | 'statusCounts' | 'errorSamples' | 'stoppedByTimeLimit' | 'sendWindowS' | 'acksPerSec' | 'ack'
  > {
  /**
   * The bare app's process (the SUT child) over the level, first request to last ack: VmRSS at the
   * start, the peak (100 ms samples, the end reading and VmHWM reset at the start), and the end.
   * Growth is peak − start.
   */
  rss: { startMb: number | null; peakMb: number | null; endMb: number | null; growthMb: number | null };
  /** The child's heap after a full GC once the level was done. */
  heapAfterGcMb: number | null;
  sutMemoryAfter: ChildMemory | null;
  /** This process (load client; the fake Slack is idle here) after a full GC. */
  parentHeapAfterGcMb: number | null;
  warm: WarmResult;
  sutPhase: ChildPhase | null;
  /** This process (load client) and, under `sut`, the child. */
  resources: PhaseResources;
}

/** Sends `requests` to the child's endpoint through the same kind of pool as `runLevel`, and records only the acks. */
export async function runAckLevel(
  sut: SutProcess,
  sampler: RssSampler,
  o: { kind: LevelResult['kind']; label: string; concurrency: number; requests: Prepared[]; maxMs: number; client?: LoadClient },
): Promise<AckLevelResult> {
  const client = openClient(o.client ?? 'node-http', o.concurrency);
  let pool: Awaited<ReturnType<typeof runPool>>;
  let warm: WarmResult;
  let resources: PhaseResources;
  let sutPhase: ChildPhase | null;
  try {
    warm = await warmConnections(client, sut.origin, o.concurrency);
    await sut.phaseStart();
    const phase = watchPhase(sampler, { sut: sut.watch(true) });
    pool = await runPool(sut.endpoint, o.requests, o.concurrency, o.maxMs, client);
    resources = phase.stop();
    sutPhase = await sut.phaseEnd();
  } finally {
    client.close();
  }
  const r = resources.sut;
  const sutMemoryAfter = await sut.memory(true);
  return {
    ...ackFields(o, pool),
    rss: {
      startMb: r?.rssStartMb ?? null,
      peakMb: r?.rssPeakMb ?? null,
      endMb: r?.rssEndMb ?? null,
      growthMb: r?.rssPeakMb != null && r.rssStartMb != null ? round(r.rssPeakMb - r.rssStartMb, 1) : null,
    },
    heapAfterGcMb: sutMemoryAfter.heapAfterGcMb,
    sutMemoryAfter,
    parentHeapAfterGcMb: heapAfterGcMb(),
    warm,
    sutPhase,
    resources,
  };
}
