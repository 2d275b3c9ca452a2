/**
 * DingTalk's HTTP-mode robot endpoint over real HTTP (src/adapters/dingtalk/http.ts): what is
 * refused before any handler runs (forged, missing or stale `timestamp`/`sign`, oversized bodies,
 * garbage), a throwing handler that does not take the server down, and the signature function
 * against vectors computed without it (PLATFORMS.md §7b).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDingTalkHttpHandler, MAX_BODY_BYTES, verifyDingTalkSignature } from '../../src/adapters/dingtalk/http';
import type { Logger } from '../../src/flows/ports';
import { DINGTALK_DEFAULTS, postDingTalk, robotMessage, signDingTalk } from '../support/dingtalk';

const SECRET = DINGTALK_DEFAULTS.clientSecret;
const HOUR = 3_600_000;
/** The server's clock: fixed, so the window's edges are exact. */
const NOW = 1_735_000_000_000;

/** HMAC-SHA256 + base64 through WebCrypto: independent of node:crypto's createHmac and of signDingTalk. */
async function webCryptoSign(secret: string, timestamp: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await globalThis.crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await globalThis.crypto.subtle.sign('HMAC', key, enc.encode(`${timestamp}\n${secret}`));
  return btoa(String.fromCharCode(...new Uint8Array(mac)));
}

describe('verifyDingTalkSignature', () => {
  // DingTalk's documented example inputs ("机器人接收消息", Java sample); the expected value was
  // computed with `printf '1577262236757\nthis is a secret' | openssl dgst -sha256 -hmac 'this is a secret' -binary | base64`.
  const DOC_TS = '1577262236757';
  const DOC_SECRET = 'this is a secret';
  const DOC_SIGN = 'DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA=';

  it('accepts the independently computed vector (openssl, WebCrypto)', async () => {
    expect(await webCryptoSign(DOC_SECRET, DOC_TS)).toBe(DOC_SIGN);
    expect(verifyDingTalkSignature({ timestamp: DOC_TS, sign: DOC_SIGN }, DOC_SECRET, Number(DOC_TS))).toBe('ok');
    const ts = String(NOW);
    expect(verifyDingTalkSignature({ timestamp: ts, sign: await webCryptoSign(SECRET, ts) }, SECRET, NOW)).toBe('ok');
  });

  it('is missing without either header', () => {
    expect(verifyDingTalkSignature({ timestamp: undefined, sign: DOC_SIGN }, DOC_SECRET, Number(DOC_TS))).toBe('missing');
    expect(verifyDingTalkSignature({ timestamp: DOC_TS, sign: undefined }, DOC_SECRET, Number(DOC_TS))).toBe('missing');
    expect(verifyDingTalkSignature({ timestamp: '', sign: '' }, DOC_SECRET, Number(DOC_TS))).toBe('missing');
  });

  it('is bad for another secret, another timestamp, a tampered or re-encoded sign, a non-numeric timestamp, an empty secret', () => {
    const now = Number(DOC_TS);
    expect(verifyDingTalkSignature({ timestamp: DOC_TS, sign: DOC_SIGN }, 'another secret', now)).toBe('bad');
    expect(verifyDingTalkSignature({ timestamp: String(now + 1), sign: DOC_SIGN }, DOC_SECRET, now)).toBe('bad');
    expect(verifyDingTalkSignature({ timestamp: DOC_TS, sign: `E${DOC_SIGN.slice(1)}` }, DOC_SECRET, now)).toBe('bad');
    expect(verifyDingTalkSignature({ timestamp: DOC_TS, sign: DOC_SIGN.slice(0, -1) }, DOC_SECRET, now)).toBe('bad');
    expect(verifyDingTalkSignature({ timestamp: DOC_TS, sign: encodeURIComponent(DOC_SIGN) }, DOC_SECRET, now)).toBe('bad');
    expect(verifyDingTalkSignature({ timestamp: ' 1577262236757', sign: signDingTalk(DOC_SECRET, ' 1577262236757') }, DOC_SECRET, now)).toBe('bad');
    expect(verifyDingTalkSignature({ timestamp: DOC_TS, sign: signDingTalk('', DOC_TS) }, '', now)).toBe('bad');
  });

  it('allows 1 hour either way and is stale beyond it', () => {
    const at = (ts: number) => verifyDingTalkSignature({ timestamp: String(ts), sign: signDingTalk(SECRET, ts) }, SECRET, NOW);
    expect(at(NOW - HOUR)).toBe('ok');
    expect(at(NOW + HOUR)).toBe('ok');
    expect(at(NOW - HOUR - 1)).toBe('stale');
    expect(at(NOW + HOUR + 1)).toBe('stale');
    expect(at(0)).toBe('stale');
  });
});

describe('DingTalk HTTP endpoint', () => {
  let server: Server;
  let url = '';
  let handled: Record<string, unknown>[] = [];
  const logs: string[] = [];
  let throwNext = false;
  let reply: unknown;
  const logger: Logger = {
    debug: (m, f) => logs.push(`debug ${m} ${JSON.stringify(f)}`),
    info: (m, f) => logs.push(`info ${m} ${JSON.stringify(f)}`),
    warn: (m, f) => logs.push(`warn ${m} ${JSON.stringify(f)}`),
    error: (m, f) => logs.push(`error ${m} ${JSON.stringify(f)}`),
  };

  beforeAll(async () => {
    server = createServer(
      createDingTalkHttpHandler({
        appSecret: SECRET,
        logger,
        now: () => NOW,
        handle: async (p) => {
          if (throwNext) {
            throwNext = false;
            throw new Error('handler blew up');
          }
          handled.push(p);
          return reply;
        },
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dingtalk/events`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });
  beforeEach(() => {
    handled = [];
    reply = undefined;
  });

  const message = () => robotMessage({ staffId: 'user123', conversationId: 'cidOps==', conversationType: '2', text: 'declare sev1 db down', createAt: NOW });
  const post = (body: unknown, o: Parameters<typeof postDingTalk>[2] = {}) => postDingTalk(url, body, { appSecret: SECRET, timestamp: NOW, ...o });
  const raw = async (body: string, headers: Record<string, string>) => {
    const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };
  const signed = (ts = NOW) => ({ timestamp: String(ts), sign: signDingTalk(SECRET, ts) });

  it('hands a correctly signed robot message to the handler and answers with its JSON', async () => {
    const msg = message();
    reply = { msgtype: 'text', text: { content: 'INC-1 declared' } };
    const r = await post(msg);
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^application\/json/);
    expect(r.json).toEqual(reply);
    expect(handled).toEqual([msg]);
  });

  it('answers {} when the handler resolves to nothing', async () => {
    const r = await post(message());
    expect({ status: r.status, json: r.json }).toEqual({ status: 200, json: {} });
    expect(handled).toHaveLength(1);
  });

  it('refuses a forged or missing signature with 401: nothing handled, the reason logged', async () => {
    const forged = await post(message(), { sign: 'bad' });
    expect({ status: forged.status, json: forged.json }).toEqual({ status: 401, json: { code: 401, msg: 'bad_signature' } });
    const missing = await post(message(), { sign: false });
    expect({ status: missing.status, json: missing.json }).toEqual({ status: 401, json: { code: 401, msg: 'missing_signature' } });
    const noSign = await raw(JSON.stringify(message()), { timestamp: String(NOW) });
    expect(noSign).toEqual({ status: 401, json: { code: 401, msg: 'missing_signature' } });
    // A sign made for one timestamp does not cover another.
    const moved = await raw(JSON.stringify(message()), { timestamp: String(NOW + 1), sign: signDingTalk(SECRET, NOW) });
    expect(moved.status).toBe(401);
    expect(handled).toEqual([]);
    expect(logs.some((l) => l.startsWith('warn') && l.includes('bad_signature'))).toBe(true);
    expect(logs.some((l) => l.startsWith('warn') && l.includes('missing_signature'))).toBe(true);
  });

  it('refuses a correctly signed request more than 1 hour old or ahead: nothing handled', async () => {
    for (const ts of [NOW - HOUR - 1000, NOW + HOUR + 1000]) {
      const r = await post(message(), { timestamp: ts });
      expect({ status: r.status, json: r.json }).toEqual({ status: 401, json: { code: 401, msg: 'stale_timestamp' } });
    }
    expect(handled).toEqual([]);
    expect(logs.some((l) => l.startsWith('warn') && l.includes('stale_timestamp'))).toBe(true);
    // Just inside the window is fine.
    expect((await post(message(), { timestamp: NOW - HOUR + 1000 })).status).toBe(200);
    expect(handled).toHaveLength(1);
  });

  it('checks the signature before the body: unsigned garbage is 401, not 400', async () => {
    expect((await raw('not json', {})).status).toBe(401);
    expect((await raw('not json', { timestamp: String(NOW), sign: 'x' })).status).toBe(401);
    expect(handled).toEqual([]);
  });

  it('refuses signed garbage and non-objects with 400', async () => {
    expect(await raw('not json', signed())).toEqual({ status: 400, json: { code: 400, msg: 'not_json' } });
    expect(await raw('', signed())).toEqual({ status: 400, json: { code: 400, msg: 'not_json' } });
    expect(await raw('[1,2]', signed())).toEqual({ status: 400, json: { code: 400, msg: 'not_an_object' } });
    expect(await raw('null', signed())).toEqual({ status: 400, json: { code: 400, msg: 'not_an_object' } });
    expect(handled).toEqual([]);
  });

  it('refuses a signed body over 1 MB with 413 (declared length or streamed)', async () => {
    const big = JSON.stringify({ ...message(), pad: 'A'.repeat(MAX_BODY_BYTES) });
    const declared = await raw(big, signed());
    expect(declared).toEqual({ status: 413, json: { code: 413, msg: 'body_too_large' } });
    // Chunked, no Content-Length: cut off while reading.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        const chunk = new TextEncoder().encode(big.slice(0, 100_000));
        for (let i = 0; i < 11; i++) c.enqueue(chunk);
        c.close();
      },
    });
    const streamed = await fetch(url, { method: 'POST', headers: signed(), body: stream, duplex: 'half' } as RequestInit).catch(() => null);
    // The server may close the socket mid-upload: a 413 or a reset, never a handled message.
    if (streamed) expect(streamed.status).toBe(413);
    expect(handled).toEqual([]);
    expect(logs.some((l) => l.startsWith('warn') && l.includes('body_too_large'))).toBe(true);
    // The server still serves.
    expect((await post(message())).status).toBe(200);
  });

  it('a handler that throws answers 500 and the next request is served', async () => {
    throwNext = true;
    const failed = await post(message());
    expect({ status: failed.status, json: failed.json }).toEqual({ status: 500, json: { code: 500, msg: 'internal_error' } });
    expect(logs.some((l) => l.startsWith('error') && l.includes('handler blew up'))).toBe(true);
    const again = await post(message());
    expect(again.status).toBe(200);
    expect(handled).toHaveLength(1);
  });

  it('answers 405 to anything but POST', async () => {
    const r = await fetch(url, { method: 'GET', headers: signed() });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
    expect(await r.json()).toEqual({ code: 405, msg: 'method_not_allowed' });
    expect(handled).toEqual([]);
  });

  // Runs last in this block: every refusal and failure above has been logged by now.
  it('never logs the secret, a signature or a body', () => {
    const all = logs.join('\n');
    expect(logs.length).toBeGreaterThan(5);
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(signDingTalk(SECRET, NOW));
    expect(all).not.toContain('declare sev1');
    expect(all).not.toContain('not json');
  });
});

describe('createDingTalkHttpHandler', () => {
  it('refuses to start without an AppSecret (nothing could be verified)', () => {
    const logger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
    expect(() => createDingTalkHttpHandler({ appSecret: '', logger, handle: async () => ({}) })).toThrow(/appSecret/);
  });
});
