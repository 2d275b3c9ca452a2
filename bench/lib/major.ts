/**
 * Benchmark 6: major incident, declare to room ready (issue 4).
 *
 * The real bot over HTTP (bench/lib/bot.ts: createFirebell, Bolt's HTTP receiver, a fresh PostgreSQL
 * database, the in-process scheduler, no Redis) talks to the fake Slack Web API, which holds every
 * answer back by `latencyMs` (50 ms). The policy is test/support/major-scenario.ts `majorPolicy()`:
 * on-duty L2 and L3, so a room has five people to invite (incident manager, project manager, L2,
 * L3, reporter).
 *
 * Each sample: an incident is filed through the dispatcher, and the runner waits until its desk
 * queue card is posted and the outbox is empty. Then, at t0, a signed `/incident major INC-n` from
 * the incident manager is POSTed to Bolt's endpoint, and the fake's state is polled every few ms
 * until the room is ready:
 *   - the channel exists (a successful `conversations.create` named `inc-<n>…`),
 *   - every expected member is in it,
 *   - the summary message in it is pinned,
 *   - the desk queue card's latest version is a `chat.update` that contains `<#<room id>>`.
 * The fake runs each method when the request arrives and only delays the answer, so the room is
 * visible to people as soon as the last of those calls arrives: the wait for its answer is not in
 * the figure (and the call that completes the room is not followed by anything a person sees).
 */
import { performance } from 'node:perf_hooks';
import { slackRoomName } from '../../src/adapters/slack/port';
import type { Incident } from '../../src/flows/incident/model';
import type { Policy } from '../../src/flows/policy/policy';
import type { SlackCall } from '../../test/fakes/slack-api';
import { majorPolicy } from '../../test/support/major-scenario';
import { personRef, TEST_PEOPLE } from '../../test/support/policy';
import { startBenchBot, type BenchBot, type LogCounts } from './bot';
import { commandRequest, type Prepared } from './slack-http';
import { round, sleep, summarize, watchPhase, type LatencySummary, type PhaseResources, type RssSampler } from './stats';

/** Who the room must hold under majorPolicy(): incident manager, project manager, on-duty L2 and L3, the reporter. */
const EXPECTED_MEMBERS = [TEST_PEOPLE['chen.jing'].slack, TEST_PEOPLE['pm.gao'].slack, TEST_PEOPLE['wang.wu'].slack, TEST_PEOPLE['zhao.liu'].slack, TEST_PEOPLE['reporter.a'].slack];
const DECLARER = TEST_PEOPLE['chen.jing'].slack;
const DESK_QUEUE = 'C0DESK';
const DESK_PURPOSE = 'queue:desk';

export interface MajorStep {
  /** Web API method, or `ack` (HTTP answer to the slash command) / `reply` (respond() reaching the response_url). */
  what: string;
  /** Arrival at the fake relative to t0, ms (Date.now() resolution: ±1 ms). */
  atMs: number;
  /** Gap since the previous step, ms. */
  gapMs: number | null;
  /** Channel (or user) the call was about, and a short description. */
  detail: string;
  ok: boolean | null;
  /** After the room was ready (trailing effects of the same declaration). */
  afterReady: boolean;
}

export interface MajorSample {
  number: string;
  room: string | null;
  roomName: string | null;
  /** t0 → the poller saw every ready condition true (performance.now()). Null on timeout. */
  readyMs: number | null;
  /** t0 → arrival at the fake of the call that completed the room (its own clock, ms resolution). */
  lastCallArrivalMs: number | null;
  /** HTTP answer to the slash command (Slack's ack). */
  ackMs: number;
  /** Web API calls that arrived between t0 and the room being ready (10 at once: every room's calls, not only this one's). */
  callsUntilReady: number | null;
  /** Those calls by method. */
  callsUntilReadyByMethod: Record<string, number> | null;
}

export interface MajorVariant {
  label: string;
  /** Declarations in flight together (1 = sequential). */
  concurrency: number;
  rounds: number;
  samples: number;
  timeouts: number;
  readyMs: LatencySummary;
  lastCallArrivalMs: LatencySummary;
  ackMs: LatencySummary;
  /** Sequential: calls on the critical path (t0 → ready) per sample, min / max. Concurrent: all calls of a round / 10. */
  callsUntilReady: { min: number; max: number } | null;
  /** Slowest room of each round (concurrent only). */
  perRoundMaxMs: number[];
  perSample: MajorSample[];
  resources: PhaseResources;
}

export interface MajorResult {
  fakeLatencyMs: number;
  pollIntervalMs: number;
  expectedMembers: string[];
  declaredWith: string;
  warmupSamples: number;
  sequential: MajorVariant;
  concurrent: MajorVariant;
  /** Every Web API call of the first measured sequential sample, t0 until its outbox was empty. */
  firstSampleTimeline: MajorStep[];
  /** Every Web API call of the first concurrent round (t0 = the first declaration sent), with the incident it was about when that can be told. */
  firstRoundTimeline: { atMs: number; what: string; incident: string | null; detail: string; completesRoom: boolean }[];
  /** The critical path of that sample: calls until ready, and their minimum cost at fakeLatencyMs each (the last one's answer is not waited for). */
  criticalPath: { calls: number; byMethod: string[]; minimumCostMs: number };
  logs: LogCounts;
}

export interface MajorOptions {
  latencyMs: number;
  samples: number;
  warmup: number;
  concurrency: number;
  rounds: number;
  pollMs: number;
  timeoutMs: number;
  log: (s: string) => void;
}

/** One declaration being measured: what it waits for, filled in as the fake sees the calls. */
interface Pending {
  incident: Incident;
  cardTs: string;
  roomHead: string;
  req: Prepared;
  t0: number;
  t0Epoch: number;
  ackMs: number | null;
  room: string | null;
  roomName: string | null;
  createAt: number | null;
  inviteAt: number | null;
  pinAt: number | null;
  pinnedTs: string | null;
  linkAt: number | null;
  /** Index in fake.calls of the last of the four calls above (the one that completed the room). */
  readyIdx: number | null;
  readyAt: number | null;
  readyCalls: number | null;
  readyByMethod: Record<string, number> | null;
}

const blocksText = (x: unknown) => JSON.stringify(x ?? '');

async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 5): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Outbox has nothing pending (failed items parked for good do not count). */
async function outboxIdle(h: BenchBot): Promise<boolean> {
  const head = await h.store.undelivered(1);
  if (head.length === 0) return true;
  return !(await h.store.undelivered(100_000)).some((x) => x.status === 'pending');
}

let titleSeq = 0;

/** Files an incident and waits until its desk queue card is posted and every effect of the filing is delivered. */
async function fileWithCard(h: BenchBot, timeoutMs: number): Promise<{ incident: Incident; cardTs: string }> {
  const r = await h.bot.dispatcher.report(personRef('reporter.a'), { title: `Payroll export ${++titleSeq} fails for everyone` }, { platform: 'slack', channel: 'C0GENERAL' });
  if (!r.ok || !r.incident) throw new Error(`report refused: ${JSON.stringify(r)}`);
  const incident = r.incident;
  let cardTs = '';
  await waitFor(async () => {
    const b = await h.store.getBinding(incident.id, 'slack', DESK_PURPOSE);
    if (b) cardTs = b.messageId;
    return !!b && h.fake.messages.has(`${DESK_QUEUE}:${cardTs}`);
  }, timeoutMs, `the desk card of ${incident.number}`);
  return { incident, cardTs };
}

function pendingFor(h: BenchBot, policy: Policy, incident: Incident, cardTs: string): Pending {
  return {
    incident,
    cardTs,
    roomHead: slackRoomName(incident.number, '', policy.major.roomPrefix, 0),
    req: commandRequest(h.fake, DECLARER, `major ${incident.number}`),
    t0: 0,
    t0Epoch: 0,
    ackMs: null,
    room: null,
    roomName: null,
    createAt: null,
    inviteAt: null,
    pinAt: null,
    pinnedTs: null,
    linkAt: null,
    readyIdx: null,
    readyAt: null,
    readyCalls: null,
    readyByMethod: null,
  };
}

/** Reads the calls that arrived since `from` into the pending declarations; returns the new cursor. */
function scanCalls(calls: SlackCall[], from: number, pending: Pending[]): number {
  for (let i = from; i < calls.length; i++) {
    const c = calls[i]!;
    const ok = c.status === 200 && c.response?.ok === true;
    if (!ok) continue;
    if (c.method === 'conversations.create') {
      const name = String(c.args.name ?? '');
      const p = pending.find((x) => !x.room && (name === x.roomHead || name.startsWith(`${x.roomHead}-`)));
      if (p) {
        p.room = String(c.response.channel?.id);
        p.roomName = name;
        p.createAt = c.at;
        p.readyIdx = Math.max(p.readyIdx ?? -1, i);
      }
      continue;
    }
    const channel = String(c.args.channel ?? '');
    if (c.method === 'conversations.invite') {
      const p = pending.find((x) => x.room === channel);
      if (p) {
        p.inviteAt = c.at;
        p.readyIdx = Math.max(p.readyIdx ?? -1, i);
      }
    } else if (c.method === 'pins.add') {
      const p = pending.find((x) => x.room === channel);
      if (p) {
        p.pinAt = c.at;
        p.pinnedTs = String(c.args.timestamp ?? '');
        p.readyIdx = Math.max(p.readyIdx ?? -1, i);
      }
    } else if (c.method === 'chat.update' && channel === DESK_QUEUE) {
      const p = pending.find((x) => x.cardTs === String(c.args.ts ?? ''));
      if (p?.room && p.linkAt === null && blocksText(c.args.blocks).includes(`<#${p.room}>`)) {
        p.linkAt = c.at;
        p.readyIdx = Math.max(p.readyIdx ?? -1, i);
      }
    }
  }
  return calls.length;
}

/** True when the fake's state shows the room complete: channel, members, pinned summary, linked origin card. */
function isReady(h: BenchBot, p: Pending): boolean {
  if (!p.room || !p.pinnedTs) return false;
  const ch = h.fake.channels.get(p.room);
  if (!ch || !EXPECTED_MEMBERS.every((u) => ch.members.has(u))) return false;
  if (!h.fake.messages.get(`${p.room}:${p.pinnedTs}`)?.pinned) return false;
  const card = h.fake.messages.get(`${DESK_QUEUE}:${p.cardTs}`);
  const last = card?.history.at(-1);
  return !!last && last.via === 'chat.update' && blocksText({ text: last.text, blocks: last.blocks }).includes(`<#${p.room}>`);
}

/** Sends the declarations at once (t0 each just before its fetch) and polls until every room is ready or the timeout. */
async function declareAndWait(h: BenchBot, batch: Pending[], o: MajorOptions): Promise<void> {
  let cursor = h.fake.calls.length;
  const failures: string[] = [];
  const acks = batch.map(async (p) => {
    p.t0Epoch = Date.now();
    p.t0 = performance.now();
    try {
      const res = await fetch(h.endpoint, { method: 'POST', headers: p.req.headers, body: p.req.body });
      await res.text();
      p.ackMs = performance.now() - p.t0;
      if (res.status !== 200) failures.push(`${p.incident.number}: slash command answered HTTP ${res.status}`);
    } catch (err) {
      failures.push(`${p.incident.number}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  const startCursor = cursor;
  const deadline = performance.now() + o.timeoutMs;
  let left = batch.length;
  while (left > 0 && performance.now() < deadline) {
    cursor = scanCalls(h.fake.calls, cursor, batch);
    for (const p of batch) {
      if (p.readyAt !== null || !isReady(h, p)) continue;
      p.readyAt = performance.now();
      left--;
      const window = h.fake.calls.slice(startCursor, (p.readyIdx ?? h.fake.calls.length - 1) + 1);
      p.readyCalls = window.length;
      const by: Record<string, number> = {};
      for (const c of window) by[c.method] = (by[c.method] ?? 0) + 1;
      p.readyByMethod = by;
    }
    if (left > 0) await sleep(o.pollMs);
  }
  await Promise.all(acks);
  if (failures.length) throw new Error(`declaration not acked: ${failures.join('; ')}`);
}

/** When the fake's state became ready: the arrival of the last of create, invite, pin and the linking card update. */
function readyEpoch(p: Pending): number | null {
  if (p.createAt === null || p.inviteAt === null || p.pinAt === null || p.linkAt === null) return null;
  return Math.max(p.createAt, p.inviteAt, p.pinAt, p.linkAt);
}

function toSample(p: Pending): MajorSample {
  const ready = readyEpoch(p);
  const last = ready === null ? null : ready - p.t0Epoch;
  return {
    number: p.incident.number,
    room: p.room,
    roomName: p.roomName,
    readyMs: p.readyAt === null ? null : round(p.readyAt - p.t0),
    lastCallArrivalMs: p.readyAt === null ? null : last,
    ackMs: round(p.ackMs ?? Number.NaN),
    callsUntilReady: p.readyCalls,
    callsUntilReadyByMethod: p.readyByMethod,
  };
}

/** The incident a call of a concurrent round was about: its room, its desk card, or its number in the text. */
function incidentOfCall(c: SlackCall, batch: Pending[]): Pending | undefined {
  const where = String(c.args.channel ?? '');
  const byPlace = batch.find((p) => (p.room !== null && where === p.room) || (where === DESK_QUEUE && (String(c.args.ts ?? '') === p.cardTs || String(c.args.thread_ts ?? '') === p.cardTs)));
  if (byPlace) return byPlace;
  if (c.method === 'conversations.create') return batch.find((p) => p.roomName === String(c.args.name ?? ''));
  const text = blocksText({ text: c.args.text, blocks: c.args.blocks });
  return batch.find((p) => new RegExp(`${p.incident.number}(?!\\d)`).test(text));
}

function roundTimeline(h: BenchBot, batch: Pending[]): MajorResult['firstRoundTimeline'] {
  const t0 = Math.min(...batch.map((p) => p.t0Epoch));
  return h.fake.calls.map((c, i) => {
    const p = incidentOfCall(c, batch);
    return { atMs: c.at - t0, what: c.method, incident: p?.incident.number ?? null, detail: p ? describeCall(c, p) : String(c.args.channel ?? ''), completesRoom: !!p && p.readyIdx === i };
  });
}

function describeCall(c: SlackCall, p: Pending): string {
  const a = c.args;
  const where = String(a.channel ?? a.channel_id ?? '');
  const label =
    where === p.room ? 'room' : where === DESK_QUEUE ? (String(a.ts ?? '') === p.cardTs ? 'desk queue card' : a.thread_ts ? 'desk card thread' : 'desk queue') : /^[UD]/.test(where) ? `DM ${where}` : where;
  switch (c.method) {
    case 'conversations.create':
      return `create #${String(a.name)}`;
    case 'conversations.invite':
      return `invite ${String(a.users ?? '').split(',').length} users to room`;
    case 'pins.add':
      return 'pin the summary';
    case 'chat.update':
      return `update ${label}${blocksText(a.blocks).includes(`<#${p.room}>`) ? ' (links the room)' : ''}`;
    case 'chat.postMessage':
      return `post in ${label}${a.thread_ts ? ' (thread)' : ''}`;
    default:
      return label;
  }
}

/** Every call from `fromCursor` (taken just before t0) in arrival order; the ones after the room was complete are marked. */
function timelineOf(h: BenchBot, p: Pending, fromCursor: number): MajorStep[] {
  const steps: { what: string; at: number; detail: string; ok: boolean | null; after: boolean }[] = [];
  h.fake.calls.forEach((c, i) => {
    if (i < fromCursor) return;
    steps.push({ what: c.method, at: c.at - p.t0Epoch, detail: describeCall(c, p), ok: c.status === 200 && c.response?.ok === true, after: p.readyIdx === null || i > p.readyIdx });
  });
  const readyAt = readyEpoch(p);
  const late = (at: number) => readyAt === null || at > readyAt - p.t0Epoch;
  if (p.ackMs !== null) steps.push({ what: 'ack', at: round(p.ackMs), detail: 'HTTP 200 to the slash command', ok: true, after: late(p.ackMs) });
  const reply = h.fake.responses.find((r) => r.id === p.req.responseId);
  if (reply) steps.push({ what: 'reply', at: reply.at - p.t0Epoch, detail: String(reply.body?.text ?? '').slice(0, 80), ok: true, after: late(reply.at - p.t0Epoch) });
  // Stable sort: calls keep their arrival order within a millisecond.
  steps.sort((x, y) => x.at - y.at);
  let prev: number | null = null;
  return steps.map((s) => {
    const call = s.what !== 'ack' && s.what !== 'reply';
    const gap = prev === null || !call ? null : s.at - prev;
    if (call) prev = s.at;
    return { what: s.what, atMs: s.at, gapMs: gap, detail: s.detail, ok: s.ok, afterReady: s.after };
  });
}

/** Clears the fake's call and reply logs (harness memory, not the bot's); messages and channels stay. */
function trimFake(h: BenchBot) {
  h.fake.calls.length = 0;
  h.fake.responses.length = 0;
  h.fake.ephemerals.length = 0;
}

function variant(label: string, concurrency: number, rounds: number, samples: MajorSample[], perRoundMaxMs: number[], resources: PhaseResources, roundCalls: number[] | null): MajorVariant {
  const done = samples.filter((s) => s.readyMs !== null);
  const calls = roundCalls ?? done.map((s) => s.callsUntilReady).filter((x): x is number => x !== null);
  return {
    label,
    concurrency,
    rounds,
    samples: samples.length,
    timeouts: samples.length - done.length,
    readyMs: summarize(done.map((s) => s.readyMs!)),
    lastCallArrivalMs: summarize(done.map((s) => s.lastCallArrivalMs).filter((x): x is number => x !== null)),
    ackMs: summarize(samples.map((s) => s.ackMs)),
    callsUntilReady: calls.length ? { min: Math.min(...calls), max: Math.max(...calls) } : null,
    perRoundMaxMs,
    perSample: samples,
    resources,
  };
}

export async function benchMajor(sampler: RssSampler, o: MajorOptions): Promise<MajorResult> {
  const policy = majorPolicy();
  const h = await startBenchBot(policy);
  try {
    h.fake.latencyMs = o.latencyMs;
    const watch = { postgresDatabase: new URL(h.db.url).pathname.slice(1) };
    const settle = () => waitFor(() => outboxIdle(h), o.timeoutMs, 'the outbox to drain', 10);

    // Warm-up (JIT, pool, Bolt): not reported.
    for (let i = 0; i < o.warmup; i++) {
      const { incident, cardTs } = await fileWithCard(h, o.timeoutMs);
      await settle();
      await declareAndWait(h, [pendingFor(h, policy, incident, cardTs)], o);
      await settle();
      trimFake(h);
    }

    o.log(`  sequential: ${o.samples} declarations, one at a time (fake Slack answers after ${o.latencyMs} ms)…`);
    const seq: MajorSample[] = [];
    let firstSampleTimeline: MajorStep[] = [];
    const seqPhase = watchPhase(sampler, watch);
    for (let i = 0; i < o.samples; i++) {
      const { incident, cardTs } = await fileWithCard(h, o.timeoutMs);
      await settle();
      trimFake(h);
      const p = pendingFor(h, policy, incident, cardTs);
      await declareAndWait(h, [p], o);
      await settle();
      await waitFor(() => h.fake.responses.some((r) => r.id === p.req.responseId), 2000, 'the reply').catch(() => {});
      if (i === 0) firstSampleTimeline = timelineOf(h, p, 0);
      seq.push(toSample(p));
      trimFake(h);
    }
    const seqResources = seqPhase.stop();
    const sequential = variant('sequential', 1, o.samples, seq, [], seqResources, null);
    o.log(`    ready p50 ${sequential.readyMs.p50Ms} ms, p99 ${sequential.readyMs.p99Ms} ms, max ${sequential.readyMs.maxMs} ms; timeouts ${sequential.timeouts}`);

    o.log(`  concurrent: ${o.rounds} rounds of ${o.concurrency} declarations sent at the same moment…`);
    const conc: MajorSample[] = [];
    const perRoundMaxMs: number[] = [];
    const roundCalls: number[] = [];
    let firstRoundTimeline: MajorResult['firstRoundTimeline'] = [];
    const concPhase = watchPhase(sampler, watch);
    for (let r = 0; r < o.rounds; r++) {
      const filed: { incident: Incident; cardTs: string }[] = [];
      for (let i = 0; i < o.concurrency; i++) filed.push(await fileWithCard(h, o.timeoutMs));
      await settle();
      trimFake(h);
      const batch = filed.map((f) => pendingFor(h, policy, f.incident, f.cardTs));
      await declareAndWait(h, batch, o);
      const lastReady = Math.max(...batch.map((p) => readyEpoch(p) ?? Number.NaN));
      roundCalls.push(h.fake.calls.filter((c) => c.at <= lastReady).length);
      await settle();
      if (r === 0) firstRoundTimeline = roundTimeline(h, batch);
      const samples = batch.map(toSample);
      conc.push(...samples);
      perRoundMaxMs.push(Math.max(...samples.map((s) => s.readyMs ?? Number.POSITIVE_INFINITY)));
      trimFake(h);
    }
    const concResources = concPhase.stop();
    const concurrent = variant(`${o.concurrency} at once`, o.concurrency, o.rounds, conc, perRoundMaxMs, concResources, roundCalls);
    o.log(`    ready p50 ${concurrent.readyMs.p50Ms} ms, p95 ${concurrent.readyMs.p95Ms} ms, p99 ${concurrent.readyMs.p99Ms} ms, max ${concurrent.readyMs.maxMs} ms; timeouts ${concurrent.timeouts}`);

    const critical = firstSampleTimeline.filter((s) => !s.afterReady && s.what !== 'ack' && s.what !== 'reply');
    return {
      fakeLatencyMs: o.latencyMs,
      pollIntervalMs: o.pollMs,
      expectedMembers: EXPECTED_MEMBERS,
      declaredWith: `signed slash command "/incident major INC-n" from ${DECLARER} (incident manager), POSTed to Bolt's /slack/events`,
      warmupSamples: o.warmup,
      sequential,
      concurrent,
      firstSampleTimeline,
      firstRoundTimeline,
      criticalPath: {
        calls: critical.length,
        byMethod: critical.map((s) => `${s.what}: ${s.detail}`),
        // Each call waits for the previous one's answer; the last one's answer is not waited for.
        minimumCostMs: Math.max(0, critical.length - 1) * o.latencyMs,
      },
      logs: h.logs,
    };
  } finally {
    await h.close();
  }
}
