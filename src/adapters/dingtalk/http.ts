/**
 * Our own HTTP glue for DingTalk's HTTP-mode robot (企业内部机器人 "HTTP 模式" / outgoing):
 * `POST /dingtalk/events`. DingTalk POSTs each robot message (the same JSON as the Stream
 * `TOPIC_ROBOT` frame, PLATFORMS.md §7a) with two headers, `timestamp` (ms) and `sign`
 * (PLATFORMS.md §7b, DingTalk docs "机器人接收消息").
 *
 * Order of work, so nothing unverified is acted on and an unauthenticated caller costs us
 * nothing: method → `timestamp`/`sign` (headers only: DingTalk signs the timestamp, not the body,
 * so the check needs no body at all) → read the raw body (bounded) → parse → hand the payload to
 * `handle` (the same function the Stream connection feeds) and answer with what it returns.
 *
 * Path routing is the caller's (src/http/server.ts); this listener answers whatever it is given.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../../flows/ports';
import { HttpError, parseJsonObject } from '../../http/http-error';

/** Options of {@link createDingTalkHttpHandler}. */
export interface DingTalkHttpOptions {
  /** The app's AppSecret (Stream `clientSecret`): the key of the `sign` header. */
  appSecret: string;
  logger: Logger;
  /**
   * Handles a verified robot message and resolves to the JSON answer (`{}` when it resolves to
   * nothing). Must not throw for bad input; a throw answers 500.
   */
  handle: (payload: Record<string, unknown>) => Promise<unknown>;
  /** The clock in ms, for the timestamp window (tests). */
  now?: () => number;
}

/**
 * How far the `timestamp` header may be from our clock, either way. DingTalk's rule: "if the
 * timestamp differs from the current system time by more than 1 hour, the request is invalid"
 * (PLATFORMS.md §7b). The signature covers only the timestamp, so this window is also how long a
 * captured header pair stays replayable: it is not widened.
 */
export const MAX_SKEW_MS = 3_600_000;

/** DingTalk sends small JSON robot messages; anything this large is not from DingTalk. */
export const MAX_BODY_BYTES = 1_000_000;

/** Outcome of {@link verifyDingTalkSignature}. */
export type DingTalkSignatureCheck = 'ok' | 'missing' | 'bad' | 'stale';

/**
 * Checks the `timestamp` / `sign` headers of an HTTP-mode robot callback:
 * `sign = base64(HMAC_SHA256(key = appSecret, msg = timestamp + "\n" + appSecret))`, and
 * `|now − timestamp| ≤ 1 h` (PLATFORMS.md §7b).
 *
 * - `'missing'`: a header is absent or empty.
 * - `'bad'`: the timestamp is not a millisecond count, or the signature does not match (compared in
 *   constant time), or `appSecret` is empty (nothing can be verified against it).
 * - `'stale'`: correctly signed, but outside the 1 hour window (older, or more than 1 h ahead).
 *
 * The signature is checked before the window, so only a holder of the secret learns anything
 * about the clock. Never throws.
 * @param now our clock, in ms
 */
export function verifyDingTalkSignature(
  input: { timestamp: string | undefined; sign: string | undefined },
  appSecret: string,
  now: number,
): DingTalkSignatureCheck {
  try {
    const { timestamp, sign } = input;
    if (!timestamp || !sign) return 'missing';
    if (!appSecret || !/^\d{1,16}$/.test(timestamp)) return 'bad';
    const expected = Buffer.from(createHmac('sha256', appSecret).update(`${timestamp}\n${appSecret}`, 'utf8').digest('base64'), 'utf8');
    const given = Buffer.from(sign, 'utf8');
    // The exact base64 text is compared (not its lenient decoding), in constant time; the length
    // (always 44) gives nothing away.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad';
    const skew = now - Number(timestamp);
    if (!Number.isFinite(skew) || Math.abs(skew) > MAX_SKEW_MS) return 'stale';
    return 'ok';
  } catch {
    return 'bad';
  }
}

const REFUSAL: Record<Exclude<DingTalkSignatureCheck, 'ok'>, string> = {
  missing: 'missing_signature',
  bad: 'bad_signature',
  stale: 'stale_timestamp',
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    // A declared length over the limit is refused before a byte is read.
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return reject(new HttpError(413, 'body_too_large'));
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        // Stop keeping bytes; the 413 goes out with `Connection: close`, which ends the socket.
        over = true;
        chunks.length = 0;
        reject(new HttpError(413, 'body_too_large'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

const header = (req: IncomingMessage, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The request listener for `POST /dingtalk/events` (HTTP-mode robot messages).
 *
 * Answers: 405 for anything but POST; 401 `{code, msg}` with `msg` `missing_signature`,
 * `bad_signature` or `stale_timestamp` before the body is read; 413 over {@link MAX_BODY_BYTES};
 * 400 `not_json` / `not_an_object`; otherwise 200 with `handle`'s JSON (`{}` for nothing), or 500
 * when it throws (the server keeps serving). Every refusal is logged at warn with its reason,
 * never with the secret or the body.
 * @throws Error at construction when `appSecret` is empty: nothing could be verified.
 */
export function createDingTalkHttpHandler(opts: DingTalkHttpOptions): RequestListener {
  const { logger, appSecret } = opts;
  if (!appSecret) throw new Error('createDingTalkHttpHandler: appSecret is required to verify DingTalk requests');
  return (req, res) => {
    void (async () => {
      try {
        if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed');
        // DingTalk signs `timestamp + "\n" + appSecret` only, so the headers decide alone, before
        // a byte of the body is buffered (PLATFORMS.md §7b).
        const check = verifyDingTalkSignature({ timestamp: header(req, 'timestamp'), sign: header(req, 'sign') }, appSecret, opts.now?.() ?? Date.now());
        if (check !== 'ok') throw new HttpError(401, REFUSAL[check]);
        const raw = await readBody(req);
        const body = parseJsonObject(raw);
        // The answer may carry a reply message (PLATFORMS.md §7b, unverified); `handle` decides.
        answer(res, 200, (await opts.handle(body)) ?? {});
      } catch (err) {
        if (err instanceof HttpError) {
          logger.warn('dingtalk request refused', { status: err.status, reason: err.code, method: req.method, path: req.url });
          const headers: Record<string, string> = err.status === 405 ? { Allow: 'POST' } : err.status === 413 ? { Connection: 'close' } : {};
          return answer(res, err.status, { code: err.status, msg: err.code }, headers);
        }
        logger.error('dingtalk request failed', { error: err instanceof Error ? err.message : String(err) });
        answer(res, 500, { code: 500, msg: 'internal_error' });
      }
    })();
  };
}
