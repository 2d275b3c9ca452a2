/**
 * Our own client of DingTalk's two HTTP APIs (issue 6; PLATFORMS.md §7b): the new API
 * (`https://api.dingtalk.com`, `/v1.0/…`, the token in `x-acs-dingtalk-access-token`, errors as
 * HTTP 4xx `{code, message}`) and the old oapi (`https://oapi.dingtalk.com`, `?access_token=`,
 * always HTTP 200 `{errcode, errmsg}`). Both bases are configurable (DINGTALK_API_URL,
 * DINGTALK_OAPI_URL) so a local fake works; `dingtalk-stream`'s own token helper hard-codes oapi
 * and is not used.
 *
 * One access token serves both APIs. It is cached and fetched again 5 minutes before it expires
 * (7200 s), once for all callers at a time; a call refused for its token drops it and is retried
 * once with a fresh one.
 */
import { ChatDeliveryError, type Logger } from '../../flows/ports';

export interface DingTalkClientOptions {
  /** AppKey (Client ID). */
  clientId: string;
  /** AppSecret (Client Secret). */
  clientSecret: string;
  /** New API base (default `https://api.dingtalk.com`). */
  apiUrl?: string;
  /** Old oapi base (default `https://oapi.dingtalk.com`). */
  oapiUrl?: string;
  logger: Logger;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  now?: () => number;
}

/** A failed DingTalk call, with what the platform said. */
export class DingTalkApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'DingTalkApiError';
  }
}

/** Token problems: a fresh token fixes them (new API `InvalidAuthentication`; oapi 88 / 40014 / 42001 / 40001). */
const TOKEN_CODES = new Set(['InvalidAuthentication', '40014', '42001', '40001', '88/40014', '88/42001', '88/40001']);
/**
 * Throttling (docs "调用频次与限流"): new API HTTP 403 `Forbidden.AccessDenied.QpsLimit…` (or 429);
 * oapi errcode 90018 (per app and API), 90002 / 90019 (global). The per-group send lock of
 * robots ("每分钟最多发送20条…限流10分钟"): `send.too.fast`, errcode 410100.
 */
const THROTTLE = /QpsLimit|Throttl|^9001[89]$|^90002$|^429$/;
const GROUP_LOCK = /send\.too\.fast|^410100$/;

/** What the outbox should do with a failed call. */
export function toDingTalkDeliveryError(err: unknown): ChatDeliveryError {
  if (err instanceof ChatDeliveryError) return err;
  if (err instanceof DingTalkApiError) {
    // A locked group opens again after 10 minutes: try every 2.5 minutes rather than hammering it.
    if (GROUP_LOCK.test(err.code)) return new ChatDeliveryError(`dingtalk group send limit: ${err.message}`, 150_000, false, true);
    if (THROTTLE.test(err.code) || err.status === 429) return new ChatDeliveryError(`dingtalk throttled: ${err.code}`, err.retryAfterMs ?? 1000, false, true);
    if (err.status >= 500 || err.status === 0 || TOKEN_CODES.has(err.code)) return new ChatDeliveryError(`dingtalk ${err.status} ${err.code}: ${err.message}`, null, false);
    return new ChatDeliveryError(`dingtalk ${err.status} ${err.code}: ${err.message}`, null, true);
  }
  return new ChatDeliveryError(`dingtalk request failed: ${err instanceof Error ? err.message : String(err)}`, null, false);
}

export interface DingTalkClient {
  /**
   * Calls the new API (`/v1.0/…`). Resolves to the JSON answer; rejects with DingTalkApiError
   * (HTTP status and `code`). Retries once when the token was refused. Not idempotent by itself.
   */
  api(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<any>;
  /** Calls the old oapi (`/topapi/…`): resolves when `errcode` is 0; rejects with DingTalkApiError otherwise. */
  oapi(path: string, body: unknown): Promise<any>;
  /** POSTs a robot reply to a `sessionWebhook` URL (no token; `errcode` checked). */
  session(url: string, body: unknown): Promise<void>;
  /** The current access token (fetched or refreshed when needed). */
  token(): Promise<string>;
}

export function createDingTalkClient(opts: DingTalkClientOptions): DingTalkClient {
  const apiUrl = (opts.apiUrl ?? 'https://api.dingtalk.com').replace(/\/+$/, '');
  const oapiUrl = (opts.oapiUrl ?? 'https://oapi.dingtalk.com').replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const now = opts.now ?? Date.now;
  let cached: { token: string; refreshAt: number } | null = null;
  let fetching: Promise<string> | null = null;

  async function request(url: string, init: RequestInit): Promise<{ status: number; body: any; retryAfterMs: number | null }> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new DingTalkApiError(0, 'network', err instanceof Error ? err.message : String(err));
    }
    const text = await res.text();
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = { message: text.slice(0, 200) };
    }
    // DingTalk's gateway may throttle a caller's IP with HTTP 200 `{status: 1111, wait: <s>}`.
    if (res.status === 200 && body && body.status === 1111 && body.wait !== undefined) {
      throw new DingTalkApiError(429, 'ip_throttled', 'throttled by the DingTalk gateway', Math.max(1, Number(body.wait) || 1) * 1000);
    }
    const retryAfter = Number(res.headers.get('retry-after'));
    return { status: res.status, body, retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : null };
  }

  async function fetchToken(): Promise<string> {
    const r = await request(`${apiUrl}/v1.0/oauth2/accessToken`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ appKey: opts.clientId, appSecret: opts.clientSecret }),
    });
    if (r.status !== 200 || typeof r.body?.accessToken !== 'string') {
      throw new DingTalkApiError(r.status, String(r.body?.code ?? 'token_failed'), String(r.body?.message ?? 'could not get an access token'));
    }
    const ttl = Number(r.body.expireIn ?? 7200) * 1000;
    cached = { token: r.body.accessToken, refreshAt: now() + Math.max(60_000, ttl - 5 * 60_000) };
    return cached.token;
  }

  async function token(): Promise<string> {
    if (cached && now() < cached.refreshAt) return cached.token;
    fetching ??= fetchToken().finally(() => {
      fetching = null;
    });
    return fetching;
  }

  async function api(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, retried = false): Promise<any> {
    const r = await request(`${apiUrl}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', 'x-acs-dingtalk-access-token': await token() },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (r.status >= 200 && r.status < 300) return r.body ?? {};
    const code = String(r.body?.code ?? r.status);
    if (!retried && TOKEN_CODES.has(code)) {
      cached = null;
      return api(method, path, body, true);
    }
    throw new DingTalkApiError(r.status, code, String(r.body?.message ?? ''), r.retryAfterMs);
  }

  async function oapi(path: string, body: unknown, retried = false): Promise<any> {
    const r = await request(`${oapiUrl}${path}?access_token=${encodeURIComponent(await token())}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const errcode = r.body?.errcode;
    if (r.status === 200 && (errcode === 0 || errcode === '0')) return r.body;
    const code = errcode === 88 && r.body?.sub_code ? `88/${String(r.body.sub_code)}` : String(errcode ?? r.status);
    if (!retried && TOKEN_CODES.has(code)) {
      cached = null;
      return oapi(path, body, true);
    }
    throw new DingTalkApiError(r.status === 200 ? 400 : r.status, code, String(r.body?.errmsg ?? r.body?.sub_msg ?? ''), r.retryAfterMs);
  }

  async function session(url: string, body: unknown): Promise<void> {
    const r = await request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const errcode = r.body?.errcode;
    if (r.status === 200 && (errcode === undefined || errcode === 0)) return;
    throw new DingTalkApiError(r.status === 200 ? 400 : r.status, String(errcode ?? r.status), String(r.body?.errmsg ?? ''));
  }

  return {
    api: (method, path, body) => api(method, path, body),
    oapi: (path, body) => oapi(path, body),
    session,
    token,
  };
}
