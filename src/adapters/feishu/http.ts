/**
 * Our own HTTP glue for Feishu's `POST /feishu/events` and `POST /feishu/card` (issue 5). The
 * SDK's `adaptDefault` crashes the process when a handler throws, hangs on a query string and
 * answers without a Content-Type (PLATFORMS.md §5), so it is not used.
 *
 * Order of work, so nothing unverified is acted on: read the raw body (bounded) → with an encrypt
 * key, check the signature over those bytes and the timestamp's age → parse → decrypt → answer the URL-verification
 * challenge → check the verification token → hand the payload to `handle` (the same function the
 * long connection feeds) and answer with what it returns, inside Feishu's 3 s.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../../flows/ports';
import { decryptFeishu, FeishuDecryptError, sameSecret, tokenOf, verifyFeishuSignature } from './crypto';
import { HttpError, parseJsonObject } from '../../http/http-error';

export interface FeishuHttpOptions {
  /** FEISHU_ENCRYPT_KEY: bodies are encrypted and every request must be signed with it. */
  encryptKey?: string;
  /** FEISHU_VERIFICATION_TOKEN: the token every payload must carry. */
  verificationToken?: string;
  logger: Logger;
  /**
   * Handles a verified, decrypted payload and resolves to the JSON answer (`{}` for events; a
   * toast and card for card callbacks). Must not throw for bad input; a throw answers 500.
   */
  handle: (payload: Record<string, unknown>) => Promise<unknown>;
  /** The clock, for the timestamp window (tests). */
  now?: () => number;
}

/**
 * How old a signed request may be. Feishu documents no window, and redelivers an unanswered event
 * for up to 6 hours (15 s, 5 min, 1 h, 6 h). 8 hours lets every redelivery in and stays well
 * inside the 24 hours event ids are remembered, so a replayed request is either refused here or
 * recognised as a duplicate, never acted on twice.
 */
export const MAX_AGE_MS = 8 * 3_600_000;
/** Clocks differ a little: a timestamp up to 5 minutes ahead is accepted. */
export const MAX_AHEAD_MS = 5 * 60_000;

/** Feishu sends small JSON bodies; anything this large is not from Feishu. */
export const MAX_BODY_BYTES = 1_000_000;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'body_too_large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown) {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

const header = (req: IncomingMessage, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** The request listener for both Feishu endpoints (events and card callbacks share one format). */
export function createFeishuHttpHandler(opts: FeishuHttpOptions): RequestListener {
  const { logger } = opts;
  return (req, res) => {
    void (async () => {
      try {
        const raw = await readBody(req);
        const signature = header(req, 'x-lark-signature');
        const signed = { timestamp: header(req, 'x-lark-request-timestamp'), nonce: header(req, 'x-lark-request-nonce'), signature, rawBody: raw };
        // With an encrypt key every event and callback is signed. The URL-verification challenge
        // is the one request Feishu sends unsigned: it is let through only to be decrypted below,
        // where only our key opens it, and only a challenge with our token is answered.
        const verified = opts.encryptKey ? verifyFeishuSignature(signed, opts.encryptKey) : false;
        if (opts.encryptKey && signature !== undefined && !verified) throw new HttpError(401, 'bad_signature');
        if (verified) {
          const age = (opts.now?.() ?? Date.now()) - Number(signed.timestamp) * 1000;
          if (!Number.isFinite(age) || age > MAX_AGE_MS || age < -MAX_AHEAD_MS) throw new HttpError(401, 'stale_timestamp');
        }
        let payload = parseJsonObject(raw);
        if (typeof payload.encrypt === 'string') {
          if (!opts.encryptKey) throw new HttpError(400, 'encrypted_without_key');
          try {
            payload = decryptFeishu(payload.encrypt, opts.encryptKey) as Record<string, unknown>;
          } catch (err) {
            if (err instanceof FeishuDecryptError) throw new HttpError(401, 'cannot_decrypt');
            throw err;
          }
          if (!payload || typeof payload !== 'object') throw new HttpError(400, 'not_an_object');
        } else if (opts.encryptKey) {
          // The console is set to encrypt: a plain body did not come from Feishu.
          throw new HttpError(400, 'expected_encrypted_body');
        }
        const tokenOk = !opts.verificationToken || sameSecret(tokenOf(payload), opts.verificationToken);
        if (payload.type === 'url_verification') {
          if (!tokenOk) throw new HttpError(401, 'bad_token');
          return answer(res, 200, { challenge: String(payload.challenge ?? '') });
        }
        if (opts.encryptKey && !verified) throw new HttpError(401, 'missing_signature');
        if (!tokenOk) throw new HttpError(401, 'bad_token');
        answer(res, 200, (await opts.handle(payload)) ?? {});
      } catch (err) {
        if (err instanceof HttpError) {
          logger.warn('feishu request refused', { status: err.status, reason: err.code, path: req.url });
          return answer(res, err.status, { code: err.status, msg: err.code });
        }
        logger.error('feishu request failed', { error: err instanceof Error ? err.message : String(err) });
        answer(res, 500, { code: 500, msg: 'internal_error' });
      }
    })();
  };
}
