/**
 * Benchmark 1: Slack ack latency and throughput, end to end over HTTP.
 *
 * Signed slash commands and button clicks are POSTed to Bolt's `/slack/events` endpoint by a bounded
 * pool of `fetch` calls (Node's global undici dispatcher, keep-alive), or with `client: 'node-http'`
 * of `node:http` requests through one shared keep-alive `Agent`. The HTTP response time is
 * Slack's ack. Because Firebell acks first and works afterwards, each level also records when the
 * work really finished: the `respond()` reply reaching the fake's response_url sink, and the outbox
 * drained (queue cards and DMs posted to the fake Web API).
 *
 * `runAckLevel` sends the same prepared requests through the same pool to the bare Bolt baseline
 * (bench/lib/bare-bolt.ts), which has no work behind its acks, and records only the acks and RSS.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Incident } from '../../src/flows/incident/model';
import type { FakeSlack } from '../../test/fakes/slack-api';
import { signSlack } from '../../test/support/slack';
import { SIGNING_SECRET, type BenchBot } from './bot';
import { heapAfterGcMb, round, sleep, summarize, watchPhase, type LatencySummary, type PhaseResources, type RssSampler } from './stats';

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
 * The load client. `fetch`: Node's global fetch (undici's global dispatcher, keep-alive), the
 * client of every published run. `node-http`: `node:http` `request()` through one keep-alive
 * `Agent` (no socket limit) shared by every level of the run, as the global dispatcher is.
 */
export type LoadClient = 'fetch' | 'node-http';

const httpAgent = new Agent({ keepAlive: true, maxSockets: Infinity });

function postWithNodeHttp(url: URL, r: Prepared): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: httpAgent, headers: { ...r.headers, 'Content-Length': String(Buffer.byteLength(r.body)) } },
      (res) => {
        res.resume(); // read (and drop) the body, as fetch's res.text()
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

/** N workers, each sending the next prepared request as soon as its previous one was answered. */
async function runPool(endpoint: string, reqs: Prepared[], concurrency: number, maxMs: number, client: LoadClient) {
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
        if (client === 'node-http') status = await postWithNodeHttp(url, r);
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

/** Waits until every acked request has its reply at the fake and the outbox holds nothing pending. */
async function waitForWork(h: BenchBot, responseIds: Set<string>, fromIndex: number, timeoutMs: number) {
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
  /** Heap in use after a forced full GC once the level's work was done (the RSS figures keep V8's high-water mark). */
  heapAfterGcMb: number | null;
  /** What the fake Slack holds at that point (its messages and their versions are part of the process memory). */
  fakeSlackState: { messages: number; messageVersions: number; dms: number };
  /** Whole process (client + server + fake Slack) during the send window. */
  resources: PhaseResources;
  /** The same, from the first request until all work was done. */
  resourcesUntilDone: PhaseResources;
}

export async function runLevel(
  h: BenchBot,
  sampler: RssSampler,
  o: { kind: LevelResult['kind']; label: string; concurrency: number; requests: Prepared[]; maxMs: number; drainTimeoutMs: number; client?: LoadClient },
): Promise<LevelResult> {
  const fromIndex = h.fake.responses.length;
  const watch = { postgresDatabase: new URL(h.db.url).pathname.slice(1) };
  const whole = watchPhase(sampler, watch);
  const send = watchPhase(sampler, watch);
  const pool = await runPool(h.endpoint, o.requests, o.concurrency, o.maxMs, o.client ?? 'fetch');
  const resources = send.stop();

  const { okIdx } = poolFigures(pool);

  const expected = new Set(okIdx.map((i) => o.requests[i]!.responseId));
  const work = await waitForWork(h, expected, fromIndex, o.drainTimeoutMs);
  const resourcesUntilDone = whole.stop();
  // The fake's call and reply logs are test-harness memory, not Firebell's: drop them between
  // levels (its messages, channels and DMs stay, since later card updates need them).
  h.fake.calls.length = 0;
  h.fake.responses.length = 0;
  h.fake.ephemerals.length = 0;
  let versions = 0;
  for (const m of h.fake.messages.values()) versions += m.history.length;
  const fakeSlackState = { messages: h.fake.messages.size, messageVersions: versions, dms: h.fake.dms.size };
  const heapAfterGc = heapAfterGcMb();

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
    heapAfterGcMb: heapAfterGc,
    fakeSlackState,
    resources,
    resourcesUntilDone,
  };
}

/** One level against the bare Bolt baseline (bench/lib/bare-bolt.ts): acks only, there is no work behind them. */
export interface AckLevelResult {
  kind: LevelResult['kind'];
  label: string;
  concurrency: number;
  planned: number;
  sent: number;
  ok: number;
  errors: number;
  statusCounts: Record<string, number>;
  errorSamples: string[];
  stoppedByTimeLimit: boolean;
  sendWindowS: number;
  acksPerSec: number;
  ack: LatencySummary;
  /**
   * Whole-process RSS over the level (first request to last ack, plus the end reading). Growth is
   * peak − start: the level's own addition, since the process also holds the client and whatever
   * ran before (V8 keeps its high-water mark, so a later level grows less than a fresh process would).
   */
  rss: { startMb: number; peakMb: number; endMb: number; growthMb: number };
  heapAfterGcMb: number | null;
  resources: PhaseResources;
}

/** Sends `requests` to `endpoint` through the same pool as `runLevel`, and records only the acks. */
export async function runAckLevel(
  endpoint: string,
  sampler: RssSampler,
  o: { kind: LevelResult['kind']; label: string; concurrency: number; requests: Prepared[]; maxMs: number; client?: LoadClient },
): Promise<AckLevelResult> {
  const phase = watchPhase(sampler);
  const pool = await runPool(endpoint, o.requests, o.concurrency, o.maxMs, o.client ?? 'fetch');
  const resources = phase.stop();
  return {
    ...ackFields(o, pool),
    rss: { startMb: resources.rssStartMb, peakMb: resources.rssPeakMb, endMb: resources.rssEndMb, growthMb: round(resources.rssPeakMb - resources.rssStartMb, 1) },
    heapAfterGcMb: heapAfterGcMb(),
    resources,
  };
}
