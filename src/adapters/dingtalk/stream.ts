/**
 * DingTalk Stream mode (issue 6): the SDK's DWClient with a configurable gateway, and the
 * listeners that hand robot messages and card callbacks to events.ts and acknowledge them.
 *
 * dingtalk-stream 2.1.5 hard-codes its gateway URL, never acks CALLBACK frames by itself (the
 * server re-pushes an un-acked one after about 60 s), and an async listener that throws crashes
 * Node (PLATFORMS.md §7a). So: our own getEndpoint, every listener wrapped, and an explicit
 * `socketCallBackResponse` after the work is saved: a frame is acknowledged once what it asked
 * is committed, and a re-push of it is recognised by its ids and acknowledged at once.
 */
import { DWClient, TOPIC_CARD, TOPIC_ROBOT, EventAck, type DWClientDownStream } from 'dingtalk-stream';
import type { Logger } from '../../flows/ports';
import type { DingTalkEvents } from './events';

/** Thrown by {@link GatewayDWClient.getEndpoint} when the gateway refuses (e.g. 401 `authFailed`). */
export class DingTalkGatewayError extends Error {
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** The parsed JSON answer (`{ requestid, code, message }`), or the raw text. */
    readonly body: any,
  ) {
    super(`DingTalk gateway connections/open failed: HTTP ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.name = 'DingTalkGatewayError';
  }
}

/** Options of {@link GatewayDWClient}: the SDK's own plus the gateway URL and the two knobs it keeps private. */
export interface GatewayDWClientOptions {
  clientId: string;
  clientSecret: string;
  /** Full URL of `connections/open` (production: `https://api.dingtalk.com/v1.0/gateway/connections/open`). */
  gatewayUrl: string;
  ua?: string;
  keepAlive?: boolean;
  debug?: boolean;
  /** SDK default true: reconnect after a close or a failed connect. */
  autoReconnect?: boolean;
  /** The SDK's fixed retry delay (private `reconnectInterval`, default 1000 ms). */
  reconnectIntervalMs?: number;
  /** Timeout of the registration call (default 10 s; the SDK's axios call has none). */
  gatewayTimeoutMs?: number;
}

/**
 * `DWClient` whose `getEndpoint()` POSTs to a configurable gateway instead of the hard-coded `GATEWAY_URL`, with the
 * same body and headers the SDK sends (`{ clientId, clientSecret, ua, subscriptions }`, `Accept: application/json`),
 * then sets the private `dw_url = endpoint + '?ticket=' + ticket` (a cast) and `config.endpoint`, as the SDK does.
 *
 * Everything else is the real SDK: frames, ping echo, event acks, `socketCallBackResponse`, the 1 s reconnect.
 *
 * Two deliberate differences, both SDK bugs: each instance gets its own `subscriptions` array (the SDK shares one
 * between all instances), and after `disconnect()` the instance stays stopped. The SDK's `_connect()` resets its
 * `userDisconnect` flag, so a reconnect timer already pending when `disconnect()` is called would otherwise revive the
 * connection; create a new client to connect again.
 */
export class GatewayDWClient extends DWClient {
  readonly gatewayUrl: string;
  private readonly gatewayTimeoutMs: number;
  private stopped = false;

  constructor(opts: GatewayDWClientOptions) {
    const { gatewayUrl, autoReconnect, reconnectIntervalMs, gatewayTimeoutMs, ...sdk } = opts;
    super(sdk);
    // The SDK builds `config` as `{ ...defaultConfig, ...opts }`, so every DWClient in the process shares ONE
    // `subscriptions` array and `registerCallbackListener` on one client subscribes all of them (verified with
    // dingtalk-stream 2.1.5). Give each instance its own, starting from the SDK's default `EVENT *`.
    this.config.subscriptions = [{ type: 'EVENT', topic: '*' }];
    this.gatewayUrl = gatewayUrl;
    this.gatewayTimeoutMs = gatewayTimeoutMs ?? 10_000;
    if (autoReconnect !== undefined) this.config.autoReconnect = autoReconnect;
    if (reconnectIntervalMs !== undefined) (this as unknown as { reconnectInterval: number }).reconnectInterval = reconnectIntervalMs;
  }

  override async getEndpoint(): Promise<this> {
    const res = await fetch(this.gatewayUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({
        clientId: this.config.clientId,
        clientSecret: this.config.clientSecret,
        ua: this.config.ua,
        subscriptions: this.config.subscriptions,
      }),
      signal: AbortSignal.timeout(this.gatewayTimeoutMs),
    });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    if (!res.ok) throw new DingTalkGatewayError(res.status, body);
    const endpoint = body?.endpoint;
    const ticket = body?.ticket;
    if (!endpoint || !ticket) throw new Error('endpoint or ticket is null');
    (this.config as { endpoint?: unknown }).endpoint = body;
    (this as unknown as { dw_url: string }).dw_url = `${endpoint}?ticket=${ticket}`;
    return this;
  }

  override async connect(): Promise<void> {
    if (this.stopped) return;
    return super.connect();
  }

  override disconnect(): void {
    this.stopped = true;
    super.disconnect();
  }
}


export interface DingTalkStreamOptions {
  clientId: string;
  clientSecret: string;
  gatewayUrl: string;
  events: DingTalkEvents;
  logger: Logger;
  reconnectIntervalMs?: number;
}

/** The Stream connection: robot messages and card callbacks, each acknowledged after it was handled. */
export function createDingTalkStream(opts: DingTalkStreamOptions) {
  const { events, logger } = opts;
  const client = new GatewayDWClient({
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    gatewayUrl: opts.gatewayUrl,
    ...(opts.reconnectIntervalMs ? { reconnectIntervalMs: opts.reconnectIntervalMs } : {}),
  });
  const ack = (messageId: string, response: unknown) => {
    try {
      client.socketCallBackResponse(messageId, response);
    } catch (err) {
      logger.warn('dingtalk ack failed', { messageId, error: err instanceof Error ? err.message : String(err) });
    }
  };
  const parse = (frame: DWClientDownStream): Record<string, unknown> | null => {
    try {
      const data = JSON.parse(frame.data) as unknown;
      return data && typeof data === 'object' ? (data as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  client.registerCallbackListener(TOPIC_ROBOT, (frame: DWClientDownStream) => {
    const messageId = frame.headers.messageId;
    const msg = parse(frame);
    if (!msg) {
      logger.warn('dingtalk robot frame is not JSON', { messageId });
      return ack(messageId, {});
    }
    void events
      .onRobotMessage(msg)
      .catch((err: unknown) => logger.error('dingtalk robot frame failed', { error: err instanceof Error ? err.message : String(err) }))
      .finally(() => ack(messageId, {}));
  });
  client.registerCallbackListener(TOPIC_CARD, (frame: DWClientDownStream) => {
    const messageId = frame.headers.messageId;
    const cb = parse(frame);
    if (!cb) return ack(messageId, {});
    void events
      .onCardCallback(cb, messageId)
      .catch((err: unknown) => {
        logger.error('dingtalk card frame failed', { error: err instanceof Error ? err.message : String(err) });
        return {};
      })
      .then((answer) => ack(messageId, answer));
  });
  // Other events (group changes and the like) are acknowledged and ignored.
  client.registerAllEventListener(() => ({ status: EventAck.SUCCESS }));
  return {
    client,
    async start() {
      await client.connect();
    },
    close() {
      client.disconnect();
    },
  };
}
