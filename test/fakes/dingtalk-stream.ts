/**
 * In-process fake of DingTalk's Stream gateway: the HTTP registration endpoint plus the WebSocket the SDK then opens.
 *
 * Protocol (open-dingtalk developerpedia "Stream 协议描述", the `dingtalk-stream` 2.1.5 client read in full, the Go and
 * Python stream SDKs, and /work/shared/PLATFORMS.md §7a / §8 "DingTalk fake"):
 * 1. `POST /v1.0/gateway/connections/open` (on api.dingtalk.com) with `{ clientId, clientSecret, ua, subscriptions }`
 *    answers `{ endpoint, ticket }`. Wrong credentials are HTTP 401
 *    `{ requestid, code: 'authFailed', message: '鉴权失败' }` (response text reported verbatim in
 *    zfanswer/dify-on-dingtalk#28); a gateway fault is HTTP 400 `{ code: 'systemError', message: '系统错误' }`
 *    (chzealot/dingtalk-dify-connector#5, injectable with {@link FakeDingTalkStream.failNextOpen}).
 * 2. The client opens `${endpoint}?ticket=${ticket}` (here `ws://127.0.0.1:P/connect?ticket=…`). Unknown tickets are
 *    refused with HTTP 401 on the upgrade. Tickets are single-use here: every SDK fetches a new one per connection
 *    (what DingTalk does with a reused ticket is unverified).
 * 3. Downstream frames are JSON text `{ specVersion: '1.0', type: 'SYSTEM'|'EVENT'|'CALLBACK', headers, data }`, `data`
 *    being a JSON string. SYSTEM topics: `CONNECTED`, `REGISTERED`, `ping` (the client echoes
 *    `{ code: 200, headers, message: 'OK', data }`), `KEEPALIVE`, `disconnect` (`data: '{"reason":"…"}'`, as in a frame
 *    captured from the real gateway in the Node SDK's source comments). SYSTEM headers carry only
 *    `contentType, messageId, time, topic`; CALLBACK / EVENT headers also `appId` and `connectionId` (same capture).
 * 4. The client answers CALLBACK frames itself (`socketCallBackResponse` → `data: '{"response":…}'`); the SDK acks EVENT
 *    frames automatically (`data: '{"status":"SUCCESS"|"LATER"}'`). DingTalk re-pushes an un-answered callback
 *    (SDK jsdoc: "如果消息长时间未响应会在一定时间内(60s)重试推消息") with the same `messageId`. That redelivery is off
 *    here unless {@link FakeDingTalkStreamOptions.redeliverUnackedAfterMs} is set; an EVENT acked with `LATER` also
 *    counts as not done.
 *
 * DingTalk delivers each message to one of the app's connections that subscribed to its topic; the fake picks the
 * newest open one and refuses (throws) to push a topic no open connection subscribed to, as the real gateway would
 * simply never push it.
 *
 * Pointing the REAL `DWClient` at the fake: the SDK hard-codes `GATEWAY_URL`, so use {@link GatewayDWClient} (a
 * subclass whose `getEndpoint()` POSTs to a configurable gateway) or {@link createTestDWClient}. Production code can use
 * the same subclass with `gatewayUrl: 'https://api.dingtalk.com/v1.0/gateway/connections/open'`.
 *
 * Usage:
 * ```ts
 * const fake = await createFakeDingTalkStream({ redeliverUnackedAfterMs: 200 });
 * const client = createTestDWClient(fake, { reconnectIntervalMs: 50 });
 * client.registerCallbackListener(TOPIC_ROBOT, (m) => client.socketCallBackResponse(m.headers.messageId, { ok: true }));
 * await client.connect();
 * const id = fake.push(TOPIC_ROBOT, robotMessage({ … }));
 * expect(await fake.waitForAck(id)).toMatchObject({ response: { ok: true } });
 * client.disconnect();
 * await fake.close();
 * ```
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { GatewayDWClient, type GatewayDWClientOptions } from '../../src/adapters/dingtalk/stream';
import { pollUntil } from './wait';

export { DingTalkGatewayError, GatewayDWClient, type GatewayDWClientOptions } from '../../src/adapters/dingtalk/stream';
import { DINGTALK_DEFAULTS } from '../support/dingtalk';

/** The registration path (`GATEWAY_URL` of `dingtalk-stream` minus `https://api.dingtalk.com`). */
export const GATEWAY_OPEN_PATH = '/v1.0/gateway/connections/open';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** One `{ type, topic }` entry of the registration's `subscriptions`. */
export interface DingTalkSubscription {
  type: string;
  topic: string;
}

/** A `POST /v1.0/gateway/connections/open` call, in arrival order (failed ones included). */
export interface DingTalkGatewayCall {
  /** Parsed JSON body (`{ _raw }` when it was not JSON). */
  body: any;
  clientId: string | null;
  /** `subscriptions` as sent (the SDK sends `EVENT *` plus one `CALLBACK` per registered listener). */
  subscriptions: DingTalkSubscription[];
  /** `ua` as sent (`''` by default in the Node SDK). */
  ua: string | null;
  /** The `Accept` header (the SDK sets `application/json`: "否则默认返回的会是xml"). */
  accept: string | null;
  at: number;
  status: number;
  response: any;
  /** The ticket issued (successful calls only). */
  ticket?: string;
}

/** A WebSocket connection to the fake (open or closed). */
export interface DingTalkStreamConnection {
  /** `headers.connectionId` of the frames pushed on it. */
  id: string;
  /** 1-based order of acceptance. */
  nth: number;
  ticket: string;
  clientId: string;
  /** The subscriptions registered with the ticket. */
  subscriptions: DingTalkSubscription[];
  ua: string;
  openedAt: number;
  /** Set once closed. */
  closedAt?: number;
  closeCode?: number;
  readonly open: boolean;
  /** The server side of the socket. */
  socket: WebSocket;
}

/** A downstream frame exactly as DingTalk sends it. */
export interface DingTalkDownFrame {
  specVersion: '1.0';
  type: 'SYSTEM' | 'EVENT' | 'CALLBACK';
  headers: Record<string, string>;
  data: string;
}

/** A frame the fake sent. */
export interface DingTalkSentFrame {
  messageId: string;
  type: DingTalkDownFrame['type'];
  topic: string;
  frame: DingTalkDownFrame;
  /** The exact text sent (a redelivery sends the same text). */
  raw: string;
  connectionId: string;
  /** 1 for the first delivery, 2 for the first redelivery, … (SYSTEM frames: 1). */
  attempt: number;
  at: number;
}

/** What kind of client frame this was. */
export type DingTalkReplyKind = 'ack' | 'pong' | 'system-reply' | 'unknown';

/** A frame the client sent (`{ code, headers: { messageId, contentType }, message, data }`). */
export interface DingTalkClientFrame {
  /** `ack` = reply to a CALLBACK/EVENT, `pong` = echo of a `ping`, `system-reply` = reply to another SYSTEM frame. */
  kind: DingTalkReplyKind;
  /** `headers.messageId` (null if absent). */
  messageId: string | null;
  code: number | null;
  message: string | null;
  headers: Record<string, string>;
  /** `data` as sent (a JSON string). */
  data: string | null;
  /** The whole frame parsed (null if not JSON). */
  parsed: any;
  raw: string;
  connectionId: string;
  at: number;
}

/** A client reply to a pushed CALLBACK / EVENT. */
export interface DingTalkAck extends DingTalkClientFrame {
  kind: 'ack';
  messageId: string;
  /** `data` parsed (`{ response }` for callbacks, `{ status, message? }` for events). */
  parsedData: any;
  /** `parsedData.response` for callback acks; `parsedData` itself for event acks (no `response` key). */
  response: any;
  /** True when {@link FakeDingTalkStream.dropNextAck} made the server "lose" it (it does not stop redelivery). */
  dropped: boolean;
}

/** Per-push options of {@link FakeDingTalkStream.push} / {@link FakeDingTalkStream.pushEvent}. */
export interface DingTalkPushOptions {
  /** `headers.messageId` (default a fresh id in DingTalk's `213f1d00_853_187b7df781f_225d` style). */
  messageId?: string;
  /** Push on this connection (`connectionId`) instead of the newest subscribed one. */
  connectionId?: string;
  /** Overrides {@link FakeDingTalkStream.redeliverUnackedAfterMs} for this message (null = never). */
  redeliverUnackedAfterMs?: number | null;
  /** Overrides {@link FakeDingTalkStream.maxRedeliveries} for this message. */
  maxRedeliveries?: number;
  /** Extra / replacement headers. */
  headers?: Record<string, string>;
}

/** A gateway failure to inject with {@link FakeDingTalkStream.failNextOpen}. */
export interface DingTalkGatewayFailure {
  /** HTTP status (default 400). */
  status?: number;
  /** `code` (default `systemError`). */
  code?: string;
  /** `message` (default `系统错误`). */
  message?: string;
}

/** Handle on a running fake gateway. */
export interface FakeDingTalkStream {
  /** `http://127.0.0.1:P`: stands in for `https://api.dingtalk.com`. */
  url: string;
  /** `http://127.0.0.1:P/v1.0/gateway/connections/open`: pass as {@link GatewayDWClientOptions.gatewayUrl}. */
  gatewayUrl: string;
  /** `ws://127.0.0.1:P/connect`: the `endpoint` the gateway hands out. */
  endpoint: string;
  /** The default app's AppKey (`clientId`). */
  clientId: string;
  /** The default app's AppSecret. */
  clientSecret: string;
  /** `headers.appId` of CALLBACK / EVENT frames (DingTalk: the app's unified app id, a UUID). */
  appId: string;
  /** clientId → clientSecret accepted by the gateway (the default app plus `opts.apps`). Mutable. */
  apps: Map<string, string>;
  /** Every registration call, in order. */
  gatewayCalls: DingTalkGatewayCall[];
  /** Every connection ever accepted, in order. */
  connectionLog: DingTalkStreamConnection[];
  /** Number of connections currently open. */
  readonly connections: number;
  /** Upgrade attempts that were refused (bad path / unknown or used ticket). */
  refused: { url: string; reason: string; at: number }[];
  /** Every frame sent, in order (redeliveries included). */
  sent: DingTalkSentFrame[];
  /** Every frame the clients sent, in order. */
  received: DingTalkClientFrame[];
  /** The CALLBACK/EVENT replies among {@link FakeDingTalkStream.received} (dropped ones included, marked). */
  acks: DingTalkAck[];
  /**
   * Re-push a CALLBACK/EVENT that got no (kept) ack within this many ms, the same frame with the same `messageId`
   * (DingTalk: about 60 s). null = never. Mutable; applies to later pushes.
   */
  redeliverUnackedAfterMs: number | null;
  /** How many times an un-acked message is re-pushed before the fake gives up (default 3). Mutable. */
  maxRedeliveries: number;
  /** messageIds the fake stopped redelivering without an ack. */
  gaveUp: string[];
  /** messageIds still waiting for an ack with a redelivery scheduled. */
  pendingRedeliveries(): string[];
  /**
   * Push a CALLBACK frame (`TOPIC_ROBOT`, `TOPIC_CARD`, …) with `data: JSON.stringify(data)` (a string is sent as is).
   * Throws when no open connection subscribed to `CALLBACK topic`. Returns the frame's `messageId`.
   */
  push(topic: string, data: unknown, opts?: DingTalkPushOptions): string;
  /**
   * Push an EVENT frame (`headers.topic: '*'`, plus `eventType`, `eventId`, `eventBornTime`, `eventCorpId`,
   * `eventUnifiedAppId`). Needs an `EVENT *` (the SDK default) or `EVENT <eventType>` subscription. Returns its messageId.
   */
  pushEvent(eventType: string, data: unknown, opts?: DingTalkPushOptions & { eventId?: string; corpId?: string }): string;
  /** Send a SYSTEM frame (`CONNECTED`, `REGISTERED`, `ping`, `KEEPALIVE`, `disconnect`, …) on every open connection (or one). */
  sendSystem(topic: string, data?: string, opts?: { connectionId?: string; messageId?: string }): string;
  /** SYSTEM `ping` with `data: '{"opaque":"<uuid>"}'`; the client must echo it. Returns its messageId. */
  ping(opts?: { connectionId?: string; data?: string }): string;
  /** SYSTEM `KEEPALIVE` (the SDK only marks itself alive; no reply). */
  keepalive(opts?: { connectionId?: string }): string;
  /**
   * SYSTEM `disconnect` with `data: '{"reason":…}'` (default reason from the captured frame). The Node SDK only clears
   * its `connected` flag on it and waits for the server to close; pass `closeAfterMs` to close the socket(s) then
   * (DingTalk's delay is unverified).
   */
  sendDisconnect(reason?: string, opts?: { connectionId?: string; closeAfterMs?: number }): string;
  /** Close every open connection from the server side (code 1001) and wait until they are closed. */
  disconnectAll(): Promise<void>;
  /** Make the server "lose" the next ack (of `messageId`, or of any message): it is recorded as dropped and redelivery goes on. */
  dropNextAck(messageId?: string): void;
  /** Make the next `times` (default 1) registration calls fail (default HTTP 400 systemError). */
  failNextOpen(failure?: DingTalkGatewayFailure, times?: number): void;
  /** All acks of one message, in order. */
  acksFor(messageId: string): DingTalkAck[];
  /** The `response` of the first kept (not dropped) ack of `messageId`; undefined if none arrived yet. */
  ackOf(messageId: string): any;
  /** Resolves with the first kept ack of `messageId`; rejects after `timeoutMs` (default 5000) listing what arrived. */
  waitForAck(messageId: string, timeoutMs?: number): Promise<DingTalkAck>;
  /** Any client frame answering `messageId` (acks and ping echoes alike). */
  waitForReply(messageId: string, timeoutMs?: number): Promise<DingTalkClientFrame>;
  /** Every delivery of one message (the first push and each redelivery). */
  deliveriesOf(messageId: string): DingTalkSentFrame[];
  /** Resolves once `messageId` was delivered `count` times (default 1). */
  waitForDelivery(messageId: string, count?: number, timeoutMs?: number): Promise<DingTalkSentFrame[]>;
  /**
   * Resolves with the `nth` connection ever accepted (1-based) once it exists; without `nth`, with the newest open
   * connection once one is open. Default timeout 5000 ms.
   */
  waitForConnection(opts?: { nth?: number; timeoutMs?: number }): Promise<DingTalkStreamConnection>;
  /** Resolves once no connection is open. */
  waitForDisconnect(timeoutMs?: number): Promise<void>;
  /** Polls `predicate` (see test/fakes/wait.ts) and reports the fake's traffic on timeout. */
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Stops timers, closes the sockets (giving clients 1 s to close first) and the server. */
  close(): Promise<void>;
}

/** Options for {@link createFakeDingTalkStream}. */
export interface FakeDingTalkStreamOptions {
  /** Default {@link DINGTALK_DEFAULTS}.clientId. */
  clientId?: string;
  /** Default {@link DINGTALK_DEFAULTS}.clientSecret. */
  clientSecret?: string;
  /** More apps the gateway accepts (clientId → clientSecret). */
  apps?: Record<string, string>;
  /** `headers.appId` (default a UUID). */
  appId?: string;
  /** Initial {@link FakeDingTalkStream.redeliverUnackedAfterMs} (default null: no redelivery). */
  redeliverUnackedAfterMs?: number | null;
  /** Initial {@link FakeDingTalkStream.maxRedeliveries} (default 3). */
  maxRedeliveries?: number;
  /** Send SYSTEM `CONNECTED` when a connection opens (default true). */
  sendConnected?: boolean;
  /** Also send SYSTEM `REGISTERED` (the SDK then sets `registered`; whether DingTalk sends it is unverified). Default false. */
  sendRegistered?: boolean;
}

// ---------------------------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------------------------

interface Pending {
  messageId: string;
  raw: string;
  type: 'EVENT' | 'CALLBACK';
  topic: string;
  frame: DingTalkDownFrame;
  attempts: number;
  afterMs: number | null;
  max: number;
  done: boolean;
  timer?: NodeJS.Timeout;
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** Start a fake DingTalk Stream gateway on 127.0.0.1 (random port). */
export async function createFakeDingTalkStream(opts: FakeDingTalkStreamOptions = {}): Promise<FakeDingTalkStream> {
  const clientId = opts.clientId ?? DINGTALK_DEFAULTS.clientId;
  const clientSecret = opts.clientSecret ?? DINGTALK_DEFAULTS.clientSecret;
  const tickets = new Map<string, { clientId: string; subscriptions: DingTalkSubscription[]; ua: string }>();
  const open = new Map<WebSocket, DingTalkStreamConnection>();
  const pending = new Map<string, Pending>();
  const systemIds = new Map<string, string>(); // messageId → SYSTEM topic
  const dropRules: (string | null)[] = [];
  const openFailures: { failure: DingTalkGatewayFailure; left: number }[] = [];
  const closeTimers = new Set<NodeJS.Timeout>();
  let seq = 0;
  let closed = false;

  /** DingTalk-style message ids: `213f1d00_853_187b7df781f_225d`, `c0a800e9168327945646012d43`. */
  const newMessageId = (): string => `${hex(4)}_${++seq}_${Date.now().toString(16)}_${hex(2)}`;
  const newSystemId = (): string => `${hex(6)}${Date.now().toString(16)}${(++seq).toString(16).padStart(2, '0')}`;

  const report = (): string =>
    [
      `gateway calls: ${JSON.stringify(fake.gatewayCalls.map((c) => ({ clientId: c.clientId, status: c.status })))}`,
      `connections: ${JSON.stringify(fake.connectionLog.map((c) => ({ nth: c.nth, id: c.id, open: c.open, subscriptions: c.subscriptions })))}`,
      `sent: ${JSON.stringify(fake.sent.map((s) => ({ type: s.type, topic: s.topic, messageId: s.messageId, attempt: s.attempt })))}`,
      `received: ${JSON.stringify(fake.received.map((r) => ({ kind: r.kind, messageId: r.messageId, data: r.data, dropped: (r as DingTalkAck).dropped })))}`,
    ].join('\n');

  // --- HTTP: registration ------------------------------------------------------------------
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      const send = (status: number, body: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json;charset=utf-8' });
        res.end(JSON.stringify(body));
      };
      const requestid = randomUUID().toUpperCase();
      if (req.method !== 'POST' || path !== GATEWAY_OPEN_PATH) {
        // Unverified body; api.dingtalk.com answers unknown APIs with a 404 JSON error.
        send(404, { requestid, code: 'InvalidAction.NotFound', message: `Specified api is not found: ${req.method} ${path}` });
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let body: any;
      try {
        body = text === '' ? {} : JSON.parse(text);
      } catch {
        body = { _raw: text };
      }
      const call: DingTalkGatewayCall = {
        body,
        clientId: typeof body?.clientId === 'string' ? body.clientId : null,
        subscriptions: Array.isArray(body?.subscriptions) ? body.subscriptions : [],
        ua: typeof body?.ua === 'string' ? body.ua : null,
        accept: typeof req.headers.accept === 'string' ? req.headers.accept : null,
        at: Date.now(),
        status: 200,
        response: null,
      };
      const answer = (status: number, response: any): void => {
        call.status = status;
        call.response = response;
        fake.gatewayCalls.push(call);
        send(status, response);
      };
      const injected = openFailures[0];
      if (injected) {
        if (--injected.left <= 0) openFailures.shift();
        const f = injected.failure;
        answer(f.status ?? 400, { requestid, code: f.code ?? 'systemError', message: f.message ?? '系统错误' });
        return;
      }
      if (!call.clientId || typeof body?.clientSecret !== 'string' || body.clientSecret === '') {
        // Missing credentials: code and message unverified.
        answer(400, { requestid, code: 'MissingParameter', message: 'clientId or clientSecret is missing' });
        return;
      }
      if (fake.apps.get(call.clientId) !== body.clientSecret) {
        answer(401, { requestid, code: 'authFailed', message: '鉴权失败' });
        return;
      }
      const ticket = randomUUID();
      tickets.set(ticket, { clientId: call.clientId, subscriptions: call.subscriptions.map((s) => ({ type: String(s.type), topic: String(s.topic) })), ua: call.ua ?? '' });
      call.ticket = ticket;
      answer(200, { endpoint: fake.endpoint, ticket });
    });
  });

  // --- WebSocket -----------------------------------------------------------------------------
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url ?? '/', 'http://fake');
    const ticket = u.searchParams.get('ticket');
    const grant = ticket ? tickets.get(ticket) : undefined;
    if (u.pathname !== '/connect' || !ticket || !grant) {
      fake.refused.push({ url: req.url ?? '', reason: u.pathname !== '/connect' ? 'bad path' : 'unknown ticket', at: Date.now() });
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\ninvalid ticket');
      return;
    }
    tickets.delete(ticket);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: DingTalkStreamConnection = {
        id: randomUUID(),
        nth: fake.connectionLog.length + 1,
        ticket,
        clientId: grant.clientId,
        subscriptions: grant.subscriptions,
        ua: grant.ua,
        openedAt: Date.now(),
        get open() {
          return this.closedAt === undefined && ws.readyState === WebSocket.OPEN;
        },
        socket: ws,
      };
      fake.connectionLog.push(conn);
      open.set(ws, conn);
      ws.on('close', (code) => {
        conn.closedAt = Date.now();
        conn.closeCode = code;
        open.delete(ws);
      });
      ws.on('error', () => {});
      ws.on('message', (data) => onClientFrame(conn, data.toString()));
      if (opts.sendConnected ?? true) sendSystemOn(conn, 'CONNECTED', '');
      if (opts.sendRegistered) sendSystemOn(conn, 'REGISTERED', '');
    });
  });

  function onClientFrame(conn: DingTalkStreamConnection, raw: string): void {
    let parsed: any = null;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = null;
    }
    const headers: Record<string, string> = parsed && typeof parsed.headers === 'object' && parsed.headers ? parsed.headers : {};
    const messageId = typeof headers.messageId === 'string' ? headers.messageId : null;
    const base: DingTalkClientFrame = {
      kind: 'unknown',
      messageId,
      code: typeof parsed?.code === 'number' ? parsed.code : null,
      message: typeof parsed?.message === 'string' ? parsed.message : null,
      headers,
      data: typeof parsed?.data === 'string' ? parsed.data : null,
      parsed,
      raw,
      connectionId: conn.id,
      at: Date.now(),
    };
    const sys = messageId ? systemIds.get(messageId) : undefined;
    const target = messageId ? pending.get(messageId) : undefined;
    if (sys !== undefined) {
      fake.received.push({ ...base, kind: sys === 'ping' ? 'pong' : 'system-reply' });
      return;
    }
    if (!messageId || !target) {
      fake.received.push(base);
      return;
    }
    let parsedData: any = null;
    try {
      parsedData = base.data === null || base.data === '' ? null : JSON.parse(base.data);
    } catch {
      parsedData = null;
    }
    const ruleAt = dropRules.findIndex((r) => r === null || r === messageId);
    const dropped = ruleAt >= 0;
    if (dropped) dropRules.splice(ruleAt, 1);
    const response = parsedData && typeof parsedData === 'object' && 'response' in parsedData ? parsedData.response : parsedData;
    const ack: DingTalkAck = { ...base, kind: 'ack', messageId, parsedData, response, dropped };
    fake.received.push(ack);
    fake.acks.push(ack);
    const later = target.type === 'EVENT' && parsedData?.status === 'LATER';
    if (!dropped && !later && base.code === 200) {
      target.done = true;
      if (target.timer) clearTimeout(target.timer);
      target.timer = undefined;
    }
  }

  function openConnections(): DingTalkStreamConnection[] {
    return [...open.values()].filter((c) => c.open);
  }

  function pick(type: 'EVENT' | 'CALLBACK', topic: string, eventType: string | null, connectionId?: string): DingTalkStreamConnection | undefined {
    const candidates = openConnections().filter((c) => connectionId === undefined || c.id === connectionId);
    const subscribed = candidates.filter((c) =>
      c.subscriptions.some((s) => s.type === type && (s.topic === topic || (type === 'EVENT' && (s.topic === '*' || s.topic === eventType)))),
    );
    return subscribed.at(-1);
  }

  function transmit(conn: DingTalkStreamConnection, p: { messageId: string; type: DingTalkDownFrame['type']; topic: string; frame: DingTalkDownFrame; raw: string }, attempt: number): void {
    fake.sent.push({ messageId: p.messageId, type: p.type, topic: p.topic, frame: p.frame, raw: p.raw, connectionId: conn.id, attempt, at: Date.now() });
    conn.socket.send(p.raw);
  }

  function sendSystemOn(conn: DingTalkStreamConnection, topic: string, data: string, messageId = newSystemId()): void {
    const frame: DingTalkDownFrame = {
      specVersion: '1.0',
      type: 'SYSTEM',
      headers: { contentType: 'application/json', messageId, time: String(Date.now()), topic },
      data,
    };
    systemIds.set(messageId, topic);
    transmit(conn, { messageId, type: 'SYSTEM', topic, frame, raw: JSON.stringify(frame) }, 1);
  }

  function systemTargets(connectionId?: string): DingTalkStreamConnection[] {
    const targets = openConnections().filter((c) => connectionId === undefined || c.id === connectionId);
    if (targets.length === 0) throw new Error(`fake DingTalk stream: no open connection${connectionId ? ` ${connectionId}` : ''} to send a SYSTEM frame on\n${report()}`);
    return targets;
  }

  function schedule(p: Pending): void {
    if (p.afterMs === null || p.done || closed) return;
    p.timer = setTimeout(() => {
      p.timer = undefined;
      if (p.done || closed) return;
      if (p.attempts - 1 >= p.max) {
        p.done = true;
        fake.gaveUp.push(p.messageId);
        return;
      }
      const conn = pick(p.type, p.topic, p.type === 'EVENT' ? (p.frame.headers.eventType ?? null) : null);
      if (conn) {
        p.attempts++;
        transmit(conn, p, p.attempts);
      }
      // No subscribed connection right now: try again after the same interval (not counted as an attempt).
      schedule(p);
    }, p.afterMs);
  }

  function deliver(type: 'EVENT' | 'CALLBACK', topic: string, eventType: string | null, headers: Record<string, string>, data: unknown, o: DingTalkPushOptions): string {
    const conn = pick(type, topic, eventType, o.connectionId);
    if (!conn) {
      throw new Error(
        `fake DingTalk stream: no open connection${o.connectionId ? ` ${o.connectionId}` : ''} subscribed to ${type} ${eventType ?? topic} ` +
          `(DingTalk would not push it)\n${report()}`,
      );
    }
    const messageId = o.messageId ?? newMessageId();
    const frame: DingTalkDownFrame = {
      specVersion: '1.0',
      type,
      headers: { appId: fake.appId, connectionId: conn.id, contentType: 'application/json', messageId, time: String(Date.now()), topic, ...headers, ...(o.headers ?? {}) },
      data: typeof data === 'string' ? data : JSON.stringify(data),
    };
    const p: Pending = {
      messageId,
      raw: JSON.stringify(frame),
      type,
      topic,
      frame,
      attempts: 1,
      afterMs: o.redeliverUnackedAfterMs !== undefined ? o.redeliverUnackedAfterMs : fake.redeliverUnackedAfterMs,
      max: o.maxRedeliveries ?? fake.maxRedeliveries,
      done: false,
    };
    const previous = pending.get(messageId);
    if (previous?.timer) clearTimeout(previous.timer);
    pending.set(messageId, p);
    transmit(conn, p, 1);
    schedule(p);
    return messageId;
  }

  const fake: FakeDingTalkStream = {
    url: '',
    gatewayUrl: '',
    endpoint: '',
    clientId,
    clientSecret,
    appId: opts.appId ?? randomUUID(),
    apps: new Map([[clientId, clientSecret], ...Object.entries(opts.apps ?? {})]),
    gatewayCalls: [],
    connectionLog: [],
    get connections() {
      return openConnections().length;
    },
    refused: [],
    sent: [],
    received: [],
    acks: [],
    redeliverUnackedAfterMs: opts.redeliverUnackedAfterMs ?? null,
    maxRedeliveries: opts.maxRedeliveries ?? 3,
    gaveUp: [],
    pendingRedeliveries: () => [...pending.values()].filter((p) => !p.done && p.timer !== undefined).map((p) => p.messageId),
    push(topic, data, o = {}) {
      return deliver('CALLBACK', topic, null, {}, data, o);
    },
    pushEvent(eventType, data, o = {}) {
      const now = String(Date.now());
      return deliver(
        'EVENT',
        '*',
        eventType,
        {
          eventType,
          eventId: o.eventId ?? hex(16),
          eventBornTime: now,
          eventCorpId: o.corpId ?? DINGTALK_DEFAULTS.corpId,
          eventUnifiedAppId: fake.appId,
        },
        data,
        o,
      );
    },
    sendSystem(topic, data = '', o = {}) {
      const messageId = o.messageId ?? newSystemId();
      for (const c of systemTargets(o.connectionId)) sendSystemOn(c, topic, data, messageId);
      return messageId;
    },
    ping(o = {}) {
      return fake.sendSystem('ping', o.data ?? JSON.stringify({ opaque: randomUUID() }), o);
    },
    keepalive(o = {}) {
      return fake.sendSystem('KEEPALIVE', '', o);
    },
    sendDisconnect(reason = 'persistent connection is timeout', o = {}) {
      const targets = systemTargets(o.connectionId);
      const id = fake.sendSystem('disconnect', JSON.stringify({ reason }), o);
      if (o.closeAfterMs !== undefined) {
        const t = setTimeout(() => {
          closeTimers.delete(t);
          for (const c of targets) c.socket.close(1000, 'disconnect');
        }, o.closeAfterMs);
        closeTimers.add(t);
      }
      return id;
    },
    async disconnectAll() {
      for (const c of openConnections()) c.socket.close(1001, 'fake disconnectAll');
      await pollUntil(() => open.size === 0, 2000, 'fakeDingTalkStream.disconnectAll', report).catch(() => {
        for (const ws of open.keys()) ws.terminate();
      });
      await pollUntil(() => open.size === 0, 2000, 'fakeDingTalkStream.disconnectAll', report);
    },
    dropNextAck(messageId) {
      dropRules.push(messageId ?? null);
    },
    failNextOpen(failure = {}, times = 1) {
      openFailures.push({ failure, left: times });
    },
    acksFor: (messageId) => fake.acks.filter((a) => a.messageId === messageId),
    ackOf: (messageId) => fake.acksFor(messageId).find((a) => !a.dropped)?.response,
    async waitForAck(messageId, timeoutMs = 5000) {
      await pollUntil(() => fake.acksFor(messageId).some((a) => !a.dropped), timeoutMs, `fakeDingTalkStream.ack(${messageId})`, report);
      return fake.acksFor(messageId).find((a) => !a.dropped) as DingTalkAck;
    },
    async waitForReply(messageId, timeoutMs = 5000) {
      await pollUntil(() => fake.received.some((r) => r.messageId === messageId), timeoutMs, `fakeDingTalkStream.reply(${messageId})`, report);
      return fake.received.find((r) => r.messageId === messageId) as DingTalkClientFrame;
    },
    deliveriesOf: (messageId) => fake.sent.filter((s) => s.messageId === messageId),
    async waitForDelivery(messageId, count = 1, timeoutMs = 5000) {
      await pollUntil(() => fake.deliveriesOf(messageId).length >= count, timeoutMs, `fakeDingTalkStream.delivery(${messageId} x${count})`, report);
      return fake.deliveriesOf(messageId);
    },
    async waitForConnection(o = {}) {
      const timeoutMs = o.timeoutMs ?? 5000;
      if (o.nth !== undefined) {
        const nth = o.nth;
        await pollUntil(() => fake.connectionLog.length >= nth, timeoutMs, `fakeDingTalkStream.connection(#${nth})`, report);
        return fake.connectionLog[nth - 1] as DingTalkStreamConnection;
      }
      await pollUntil(() => openConnections().length > 0, timeoutMs, 'fakeDingTalkStream.connection', report);
      return openConnections().at(-1) as DingTalkStreamConnection;
    },
    async waitForDisconnect(timeoutMs = 5000) {
      await pollUntil(() => open.size === 0, timeoutMs, 'fakeDingTalkStream.disconnect', report);
    },
    async waitFor(predicate, timeoutMs = 5000, what = 'fakeDingTalkStream') {
      await pollUntil(predicate, timeoutMs, what, report);
    },
    async close() {
      closed = true;
      for (const p of pending.values()) if (p.timer) clearTimeout(p.timer);
      for (const t of closeTimers) clearTimeout(t);
      closeTimers.clear();
      // Clients should have disconnected themselves; give them a moment, then cut what is left.
      await pollUntil(() => open.size === 0, 1000, 'fakeDingTalkStream.close', report).catch(() => {});
      for (const ws of open.keys()) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  fake.url = `http://127.0.0.1:${port}`;
  fake.gatewayUrl = `${fake.url}${GATEWAY_OPEN_PATH}`;
  fake.endpoint = `ws://127.0.0.1:${port}/connect`;
  return fake;
}

// ---------------------------------------------------------------------------------------------
// A DWClient with a configurable gateway
// ---------------------------------------------------------------------------------------------

/** A {@link GatewayDWClient} registered with `fake`'s gateway and default app (override anything in `opts`). */
export function createTestDWClient(fake: FakeDingTalkStream, opts: Partial<GatewayDWClientOptions> = {}): GatewayDWClient {
  return new GatewayDWClient({ clientId: fake.clientId, clientSecret: fake.clientSecret, gatewayUrl: fake.gatewayUrl, ...opts });
}
