/**
 * Socket Mode for the fake Slack (test/fakes/slack-api.ts), without touching the fake itself.
 *
 * The fake Web API has no hook for `apps.connections.open`, so this is a small HTTP + WebSocket
 * server placed in front of it:
 *
 * - `POST /api/apps.connections.open` is answered here: it needs an app-level token
 *   (`Authorization: Bearer xapp-…`) and returns `{ ok: true, url: 'ws://127.0.0.1:P/link?ticket=…' }`.
 *   The call is also appended to `fake.calls`, so one list still holds every Web API call.
 * - Every other request (`/api/<method>`, `/response/<id>`) is proxied unchanged to the FakeSlack,
 *   which records it, applies `failNext` injections and keeps its message state.
 * - `GET /link?ticket=…` upgrades to a WebSocket (tickets are single-use). On connect the server sends
 *   `{"type":"hello",…}`; Bolt's `app.start()` resolves on that frame.
 * - Tests push envelopes `{ envelope_id, type: 'slash_commands'|'interactive'|'events_api',
 *   accepts_response_payload, payload }` with {@link SocketModeFake.send} (or the `slashCommand` /
 *   `click` / `event` builders) and read the client's acks `{ envelope_id, payload? }` from
 *   {@link SocketModeFake.acks} or {@link SocketModeFake.waitForAck}.
 *
 * Wire format verified against @slack/socket-mode 3.1 (PLATFORMS.md §1 "SocketModeReceiver",
 * /work/shared/platform-experiments/sm-test.mjs). Payloads are the same JSON Slack posts over HTTP
 * (slash command fields as strings, `block_actions` as in test/support/slack.ts); `response_url`s
 * point at the FakeSlack's `/response/<id>` sink, so `respond()` lands in `fake.responses`.
 *
 * Usage:
 * ```ts
 * const fake = await createFakeSlack();
 * const sm = await attachSocketMode(fake);
 * // SLACK_API_URL = sm.url, SLACK_APP_TOKEN = 'xapp-…'
 * const cmd = sm.slashCommand('U0REP', 'Wi-Fi down');
 * await sm.waitForAck(cmd.envelope.envelope_id);
 * sm.send(cmd.envelope); // redeliver the very same envelope
 * await sm.close();      // before fake.close()
 * ```
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import type { FakeSlack } from './slack-api';
import { createSlackPayloads } from '../support/slack';

/** Envelope types Slack sends over Socket Mode (besides the `hello` / `disconnect` control frames). */
export type SocketEnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

/** One envelope as Slack sends it over the socket. */
export interface SocketEnvelope {
  envelope_id: string;
  type: SocketEnvelopeType;
  /** True when the ack may carry a response body (the ack payload becomes the HTTP-style reply). */
  accepts_response_payload: boolean;
  payload: any;
  /** Events API redeliveries only. */
  retry_attempt?: number;
  retry_reason?: string;
}

/** What the client sent back for an envelope. */
export interface SocketAck {
  envelope_id: string;
  /** The ack body (`{}` for a bare `ack()`); absent if the client sent none. */
  payload?: any;
  /** `Date.now()` when it arrived. */
  at: number;
}

/** An `apps.connections.open` call answered by this server. */
export interface ConnectionsOpenCall {
  /** Bearer token the client used (should be the app-level `xapp-…` token). */
  token: string | null;
  at: number;
  /** `{ ok: true, url }` or `{ ok: false, error }`. */
  response: { ok: boolean; url?: string; error?: string };
}

/** An envelope sent by a builder, with the ids the test needs to follow it. */
export interface SentInteraction {
  /** Exactly what went over the socket; `sm.send(x.envelope)` redelivers it unchanged. */
  envelope: SocketEnvelope;
  /** The `trigger_id` in the payload (registered with `fake.issueTrigger`). */
  triggerId: string;
  /** The response_url sink id: `fake.responses.filter((r) => r.id === responseId)`. */
  responseId: string;
}

/** Options for {@link SocketModeFake.slashCommand}. */
export interface SocketCommandOptions {
  /** Channel the command is run in (default `C0GENERAL`). */
  channel?: string;
  /** Slash command (default `/incident`). */
  command?: string;
  triggerId?: string;
  /** `user_name` (default: the fake directory's name, else the lower-cased id). */
  userName?: string;
  envelopeId?: string;
}

/** Options for {@link SocketModeFake.click}: a button press on a message the fake holds. */
export interface SocketClickOptions {
  actionId: string;
  value: string;
  channel: string;
  messageTs: string;
  triggerId?: string;
  envelopeId?: string;
}

/** Handle on a running Socket Mode front for a FakeSlack. */
export interface SocketModeFake {
  /** Web API base for the bot (`SLACK_API_URL`): `http://127.0.0.1:P/api/`. */
  url: string;
  /** `http://127.0.0.1:P`. */
  origin: string;
  /** The FakeSlack every other call is proxied to. */
  fake: FakeSlack;
  /** `apps.connections.open` calls, in order. */
  opens: ConnectionsOpenCall[];
  /** Every ack received, in arrival order (a redelivered envelope is acked again). */
  acks: SocketAck[];
  /** Frames from the client that were not acks (unparseable, or without `envelope_id`). */
  unexpected: string[];
  /** Envelopes sent, in order. */
  sent: SocketEnvelope[];
  /** Number of WebSocket connections currently open. */
  openConnections(): number;
  /** Resolves once at least one connection is open (after `hello` was sent). Default timeout 5 s. */
  waitForConnection(timeoutMs?: number): Promise<void>;
  /** Resolves once no connection is open (the client closed its socket). Default timeout 5 s. */
  waitForDisconnect(timeoutMs?: number): Promise<void>;
  /**
   * Sends an envelope on the newest open connection (Slack delivers each envelope to one
   * connection). `envelope_id` defaults to a fresh UUID and `accepts_response_payload` to
   * `type !== 'events_api'`. Returns the envelope as sent. Throws when nothing is connected.
   */
  send(envelope: { type: SocketEnvelopeType; payload: any } & Partial<SocketEnvelope>): SocketEnvelope;
  /** Builds and sends a `slash_commands` envelope (payload as Slack's slash command body). */
  slashCommand(user: string, text: string, o?: SocketCommandOptions): SentInteraction;
  /** Builds and sends an `interactive` `block_actions` envelope pressing a button on a message. */
  click(user: string, o: SocketClickOptions): SentInteraction;
  /** Builds and sends an `events_api` envelope wrapping an `event_callback`. */
  event(event: Record<string, any>, o?: { eventId?: string; envelopeId?: string; retryAttempt?: number; retryReason?: string }): { envelope: SocketEnvelope; eventId: string };
  /** All acks for one envelope, in order. */
  acksFor(envelopeId: string): SocketAck[];
  /**
   * Resolves with the `nth` (default 1st) ack for `envelopeId`; rejects after `timeoutMs`
   * (default 5 s) listing the acks seen.
   */
  waitForAck(envelopeId: string, o?: { nth?: number; timeoutMs?: number }): Promise<SocketAck>;
  /** Closes the sockets (giving the client up to 1 s to close its side first) and the server. */
  close(): Promise<void>;
}

let seq = 0;
const uniq = (): number => ++seq;

/** `<digits>.<digits>.<hex>` like Slack's trigger ids. */
const newTriggerId = (): string => `${Date.now()}.${String(uniq()).padStart(9, '0')}.${randomBytes(10).toString('hex')}`;

/**
 * Starts the Socket Mode front for `fake` on 127.0.0.1 (random port).
 * @param opts.appToken when set, `apps.connections.open` accepts only this token (others → `invalid_auth`);
 *   otherwise any `xapp-` token is accepted and anything else is `not_allowed_token_type`, as on Slack.
 */
export async function attachSocketMode(fake: FakeSlack, opts: { appToken?: string } = {}): Promise<SocketModeFake> {
  const tickets = new Set<string>();
  const connections = new Set<WebSocket>();
  let newest: WebSocket | null = null;
  const ackWaiters = new Set<() => void>();
  const upstream = new URL(fake.origin);
  // No keep-alive towards the fake: nothing is left open when either side closes.
  const agent = new http.Agent({ keepAlive: false });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      if (path === '/api/apps.connections.open') return connectionsOpen(req, res, body);
      const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
      const out = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on('error', (e) => {
        if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(`fake socket-mode proxy: ${e.message}`);
      });
      out.end(body);
    });
  });

  function connectionsOpen(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) {
    const bearer = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''))?.[1] ?? null;
    const formToken = new URLSearchParams(body.toString('utf8')).get('token');
    const token = bearer ?? (formToken || null);
    let response: ConnectionsOpenCall['response'];
    if (!token) response = { ok: false, error: 'not_authed' };
    else if (!token.startsWith('xapp-')) response = { ok: false, error: 'not_allowed_token_type' };
    else if (opts.appToken && token !== opts.appToken) response = { ok: false, error: 'invalid_auth' };
    else {
      const ticket = randomUUID();
      tickets.add(ticket);
      response = { ok: true, url: `ws://127.0.0.1:${port}/link?ticket=${ticket}` };
    }
    const at = Date.now();
    sm.opens.push({ token, at, response });
    fake.calls.push({ method: 'apps.connections.open', args: {}, token, at, status: 200, response });
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(response));
  }

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url ?? '/', 'http://fake');
    const ticket = u.searchParams.get('ticket');
    if (u.pathname !== '/link' || !ticket || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections.add(ws);
      newest = ws;
      ws.on('close', () => {
        connections.delete(ws);
        if (newest === ws) newest = [...connections].at(-1) ?? null;
        for (const w of ackWaiters) w();
      });
      ws.on('message', (data) => {
        const raw = data.toString();
        let frame: any;
        try {
          frame = JSON.parse(raw);
        } catch {
          sm.unexpected.push(raw);
          return;
        }
        if (!frame || typeof frame.envelope_id !== 'string') {
          sm.unexpected.push(raw);
          return;
        }
        sm.acks.push({ envelope_id: frame.envelope_id, ...(frame.payload !== undefined ? { payload: frame.payload } : {}), at: Date.now() });
        for (const w of ackWaiters) w();
      });
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: connections.size,
          debug_info: { host: 'fake-socket-mode', build_number: 1, approximate_connection_time: 18060 },
          connection_info: { app_id: fake.appId },
        }),
      );
      for (const w of ackWaiters) w();
    });
  });

  /** Waits until `check()` returns a value (re-checked on every socket event), or times out. */
  function until<T>(check: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const first = check();
      if (first !== undefined) return resolve(first);
      const waiter = () => {
        const v = check();
        if (v === undefined) return;
        clearTimeout(timer);
        ackWaiters.delete(waiter);
        resolve(v);
      };
      const timer = setTimeout(() => {
        ackWaiters.delete(waiter);
        reject(new Error(`${describe()} (timed out after ${timeoutMs}ms)`));
      }, timeoutMs);
      ackWaiters.add(waiter);
    });
  }

  const payloads = createSlackPayloads(fake);

  const sm: SocketModeFake = {
    url: '',
    origin: '',
    fake,
    opens: [],
    acks: [],
    unexpected: [],
    sent: [],
    openConnections: () => [...connections].filter((c) => c.readyState === WebSocket.OPEN).length,
    waitForConnection(timeoutMs = 5000) {
      return until(() => (sm.openConnections() > 0 ? true : undefined), timeoutMs, () => 'no Socket Mode connection').then(() => {});
    },
    waitForDisconnect(timeoutMs = 5000) {
      return until(() => (connections.size === 0 ? true : undefined), timeoutMs, () => `${connections.size} Socket Mode connection(s) still open`).then(() => {});
    },
    send(e) {
      const ws = newest;
      if (!ws || ws.readyState !== WebSocket.OPEN) throw new Error('fake Socket Mode: no open connection to send on');
      const envelope: SocketEnvelope = {
        envelope_id: e.envelope_id ?? randomUUID(),
        type: e.type,
        accepts_response_payload: e.accepts_response_payload ?? e.type !== 'events_api',
        payload: e.payload,
        ...(e.retry_attempt !== undefined ? { retry_attempt: e.retry_attempt } : {}),
        ...(e.retry_reason !== undefined ? { retry_reason: e.retry_reason } : {}),
      };
      sm.sent.push(envelope);
      ws.send(JSON.stringify(envelope));
      return envelope;
    },
    slashCommand(user, text, o = {}) {
      const channel = o.channel ?? 'C0GENERAL';
      const triggerId = o.triggerId ?? newTriggerId();
      fake.issueTrigger(triggerId);
      const responseId = `sm-cmd-${uniq()}`;
      // Slash command fields as Slack sends them (all strings), now as JSON.
      const payload = payloads.slashCommand(user, text, { ...o, channel, triggerId, responseId });
      const envelope = sm.send({ type: 'slash_commands', payload, ...(o.envelopeId ? { envelope_id: o.envelopeId } : {}) });
      return { envelope, triggerId, responseId };
    },
    click(user, o) {
      const triggerId = o.triggerId ?? newTriggerId();
      fake.issueTrigger(triggerId);
      const responseId = `sm-act-${uniq()}`;
      const payload = payloads.blockActions(user, { ...o, triggerId, responseId });
      const envelope = sm.send({ type: 'interactive', payload, ...(o.envelopeId ? { envelope_id: o.envelopeId } : {}) });
      return { envelope, triggerId, responseId };
    },
    event(event, o = {}) {
      const eventId = o.eventId ?? `Ev${String(uniq()).padStart(9, '0')}`;
      const payload = payloads.eventCallback(event, eventId);
      const envelope = sm.send({
        type: 'events_api',
        payload,
        ...(o.envelopeId ? { envelope_id: o.envelopeId } : {}),
        ...(o.retryAttempt !== undefined ? { retry_attempt: o.retryAttempt } : {}),
        ...(o.retryReason !== undefined ? { retry_reason: o.retryReason } : {}),
      });
      return { envelope, eventId };
    },
    acksFor: (envelopeId) => sm.acks.filter((a) => a.envelope_id === envelopeId),
    waitForAck(envelopeId, o = {}) {
      const nth = o.nth ?? 1;
      return until(
        () => sm.acksFor(envelopeId)[nth - 1],
        o.timeoutMs ?? 5000,
        () =>
          `fake Socket Mode: ack #${nth} for envelope ${envelopeId} not received; acks seen: ` +
          (JSON.stringify(sm.acks.map((a) => ({ envelope_id: a.envelope_id, payload: a.payload }))) || '[]'),
      );
    },
    async close() {
      // The client should have closed its side on stop; give it a moment, then cut what is left.
      await sm.waitForDisconnect(1000).catch(() => {});
      for (const ws of connections) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  sm.origin = `http://127.0.0.1:${port}`;
  sm.url = `${sm.origin}/api/`;
  return sm;
}
