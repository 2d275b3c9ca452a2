/**
 * Property-based fuzzing of the HTTP glue (issue 7): Feishu's and DingTalk's handlers on a real
 * `node:http` server, with a recording `handle`, under random bodies, headers and signatures.
 * What must hold for every request: never a 5xx unless `handle` throws, and `handle` is never
 * called for a request that is not signed (and sealed, and carrying our token) as the platform
 * signs it. A correctly signed request with any JSON object in it reaches `handle` exactly once.
 */
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { Agent, createServer, request, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDingTalkHttpHandler, MAX_SKEW_MS } from '../../src/adapters/dingtalk/http';
import { createFeishuHttpHandler, MAX_AGE_MS, MAX_AHEAD_MS } from '../../src/adapters/feishu/http';
import { silentLogger } from '../../src/logger';
import { anyText, jsonish } from './arbitraries';

const FEISHU_KEY = 'fuzz-feishu-encrypt-key';
const FEISHU_TOKEN = 'fuzz-feishu-verification-token';
const DING_SECRET = 'fuzz-dingtalk-app-secret-0123456789';
/** The servers' clock: fixed, so the timestamp windows are exact. */
const NOW = 1_735_000_000_000;
/** Enough runs to cover the request shapes, few enough that the file runs in seconds. */
const RUNS = 200;

// ── A server per handler, and a raw client ──

/** What `handle` saw, and whether the next call should throw (a bug in a handler). */
interface Recorder {
  calls: Record<string, unknown>[];
  throwNext: boolean;
}

async function serve(make: (handle: (p: Record<string, unknown>) => Promise<unknown>) => RequestListener) {
  const rec: Recorder = { calls: [], throwNext: false };
  const server: Server = createServer(
    make(async (payload) => {
      rec.calls.push(payload);
      if (rec.throwNext) {
        rec.throwNext = false;
        throw new Error('handler bug');
      }
      return { handled: true };
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, rec, port: (server.address() as AddressInfo).port };
}

// One keep-alive agent: hundreds of requests without hundreds of sockets.
const agent = new Agent({ keepAlive: true, maxSockets: 4 });
interface Answer {
  status: number;
  json: unknown;
}

/** Sends exactly these bytes and headers (fetch would normalise both), and reads the JSON answer. */
function send(port: number, opts: { method?: string; path?: string; headers?: Record<string, string | string[]>; body?: Buffer | string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, 'utf8');
    const req = request(
      { host: '127.0.0.1', port, agent, method: opts.method ?? 'POST', path: opts.path ?? '/', headers: { ...(opts.headers ?? {}), ...(body ? { 'content-length': String(body.length) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ── Generators ──

/** A header value HTTP can carry (printable ASCII); node refuses control characters client-side. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 70 }),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }),
  fc.integer({ min: 0, max: 2 * NOW }).map(String),
  fc.constantFrom('', '0', '-1', 'NaN', '1e3', String(Math.floor(NOW / 1000)), String(NOW)),
);

/** Request bodies of every kind: text, invalid UTF-8, JSON of any shape, and the platforms' own JSON. */
function bodyOf(sealedExamples: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    anyText.map((s) => Buffer.from(s, 'utf8')),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    jsonish.map((v) => Buffer.from(JSON.stringify(v) ?? 'null', 'utf8')),
    sealedExamples.map((s) => Buffer.from(s, 'utf8')),
  );
}

/** A JSON object a platform could send (what a signed request may carry). */
const jsonObject = fc.dictionary(fc.string({ maxLength: 8 }), jsonish, { maxKeys: 6 });

// ── Feishu ──

function seal(plain: string, key = FEISHU_KEY): string {
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', createHash('sha256').update(key).digest(), iv);
  return Buffer.concat([iv, c.update(plain, 'utf8'), c.final()]).toString('base64');
}
const feishuSignature = (ts: string, nonce: string, body: Buffer | string, key = FEISHU_KEY) => createHash('sha256').update(ts + nonce + key + body.toString('utf8')).digest('hex');
const feishuTs = (at = NOW) => String(Math.floor(at / 1000));

/** An event envelope as Feishu sends it, with our token and random content. */
const feishuEvent = fc.tuple(jsonObject, fc.constantFrom('im.message.receive_v1', 'card.action.trigger', 'application.bot.menu_v6', 'other')).map(([extra, type]) => ({
  ...extra,
  schema: '2.0',
  header: { event_id: `ev_${randomBytes(4).toString('hex')}`, event_type: type, token: FEISHU_TOKEN },
  event: extra,
}));

/** Bodies sealed the way Feishu seals them: a real event (our key or another), or random bytes. */
const sealedFeishu = fc.oneof(
  feishuEvent.map((e) => JSON.stringify({ encrypt: seal(JSON.stringify(e)) })),
  feishuEvent.map((e) => JSON.stringify({ encrypt: seal(JSON.stringify(e), 'another-key') })),
  fc.base64String({ maxLength: 120 }).map((b) => JSON.stringify({ encrypt: b })),
);

/** Headers that do not prove the request is Feishu's: missing, random, another key, other bytes, stale. */
type FeishuForgery = { kind: 'none' } | { kind: 'random'; ts?: string; nonce?: string; sig?: string } | { kind: 'otherKey' } | { kind: 'otherBytes' } | { kind: 'stale'; offsetMs: number };
const feishuForgery: fc.Arbitrary<FeishuForgery> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('random' as const), ts: headerValue, nonce: headerValue, sig: headerValue }, { requiredKeys: ['kind'] }),
  fc.constant({ kind: 'otherKey' as const }),
  fc.constant({ kind: 'otherBytes' as const }),
  fc.record({
    kind: fc.constant('stale' as const),
    offsetMs: fc.oneof(fc.integer({ min: MAX_AGE_MS + 1000, max: 30 * MAX_AGE_MS }), fc.integer({ min: -30 * MAX_AGE_MS, max: -MAX_AHEAD_MS - 1000 })),
  }),
);

function forgedFeishuHeaders(f: FeishuForgery, body: Buffer): Record<string, string> {
  const nonce = randomBytes(6).toString('hex');
  const signed = (ts: string, key: string, bytes: Buffer | string) => ({ 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': nonce, 'x-lark-signature': feishuSignature(ts, nonce, bytes, key) });
  switch (f.kind) {
    case 'none':
      return {};
    case 'random':
      return {
        ...(f.ts !== undefined ? { 'x-lark-request-timestamp': f.ts } : {}),
        ...(f.nonce !== undefined ? { 'x-lark-request-nonce': f.nonce } : {}),
        ...(f.sig !== undefined ? { 'x-lark-signature': f.sig } : {}),
      };
    case 'otherKey':
      return signed(feishuTs(), `${FEISHU_KEY}-not`, body);
    case 'otherBytes':
      return signed(feishuTs(), FEISHU_KEY, Buffer.concat([body, Buffer.from(' ')]));
    case 'stale':
      return signed(feishuTs(NOW - f.offsetMs), FEISHU_KEY, body);
  }
}

describe('Feishu endpoint with an encrypt key and a verification token', () => {
  let port = 0;
  let rec: Recorder;
  let server: Server;
  beforeAll(async () => {
    ({ server, rec, port } = await serve((handle) => createFeishuHttpHandler({ encryptKey: FEISHU_KEY, verificationToken: FEISHU_TOKEN, logger: silentLogger, handle, now: () => NOW })));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('an unsigned or forged request is refused with a 4xx and never handled, whatever its body', async () => {
    await fc.assert(
      fc.asyncProperty(bodyOf(sealedFeishu), feishuForgery, async (body, forgery) => {
        const before = rec.calls.length;
        const r = await send(port, { path: '/feishu/events', headers: { 'content-type': 'application/json', ...forgedFeishuHeaders(forgery, body) }, body });
        expect(r.status, JSON.stringify(r.json)).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(rec.calls.length).toBe(before);
      }),
      { numRuns: RUNS },
    );
  });

  it('a signed, sealed request with our token reaches handle once, decrypted; only a throwing handle answers 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(feishuEvent, fc.integer({ min: -MAX_AHEAD_MS, max: MAX_AGE_MS }), fc.boolean(), async (event, ageMs, handlerThrows) => {
        const body = JSON.stringify({ encrypt: seal(JSON.stringify(event)) });
        const ts = feishuTs(NOW - ageMs);
        const nonce = randomBytes(6).toString('hex');
        const before = rec.calls.length;
        rec.throwNext = handlerThrows;
        const r = await send(port, { path: '/feishu/card', headers: { 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': nonce, 'x-lark-signature': feishuSignature(ts, nonce, body) }, body });
        rec.throwNext = false;
        // Seconds are what Feishu signs: an age at the window's edge may round past it.
        if (Number(ts) * 1000 < NOW - MAX_AGE_MS || Number(ts) * 1000 > NOW + MAX_AHEAD_MS) {
          expect(r.status).toBe(401);
          return;
        }
        expect(rec.calls.slice(before)).toEqual([JSON.parse(JSON.stringify(event))]);
        expect(r).toEqual(handlerThrows ? { status: 500, json: { code: 500, msg: 'internal_error' } } : { status: 200, json: { handled: true } });
      }),
      { numRuns: RUNS },
    );
  });

  it('a signed request with another token, a plain body or a random payload is refused with a 4xx, never handled', async () => {
    const payload = fc.oneof(
      jsonObject.map((o) => ({ ...o, header: { token: 'someone-else', event_type: 'im.message.receive_v1' } })),
      jsonObject.filter((o) => !('token' in o) && !('header' in o)),
      jsonObject.map((o) => ({ ...o, type: 'url_verification', token: `${FEISHU_TOKEN}x` })),
    );
    await fc.assert(
      fc.asyncProperty(payload, fc.constantFrom('sealed', 'plain', 'notJson'), async (p, how) => {
        const body = how === 'sealed' ? JSON.stringify({ encrypt: seal(JSON.stringify(p)) }) : how === 'plain' ? JSON.stringify(p) : JSON.stringify({ encrypt: seal(`${JSON.stringify(p)},`) });
        const ts = feishuTs();
        const nonce = 'n0nce';
        const before = rec.calls.length;
        const r = await send(port, { headers: { 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': nonce, 'x-lark-signature': feishuSignature(ts, nonce, body) }, body });
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(rec.calls.length).toBe(before);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('Feishu endpoint with a verification token only (no encrypt key)', () => {
  let port = 0;
  let rec: Recorder;
  let server: Server;
  beforeAll(async () => {
    ({ server, rec, port } = await serve((handle) => createFeishuHttpHandler({ verificationToken: FEISHU_TOKEN, logger: silentLogger, handle, now: () => NOW })));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('never a 5xx; handle sees only JSON objects carrying our token, exactly as sent', async () => {
    let handled = 0;
    const withToken = jsonObject.chain((o) => fc.constantFrom({ ...o, header: { token: FEISHU_TOKEN } }, { ...o, token: FEISHU_TOKEN }, { ...o, header: { token: 'nope' } }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(bodyOf(sealedFeishu), withToken.map((o) => Buffer.from(JSON.stringify(o)))), fc.dictionary(fc.constantFrom('x-lark-signature', 'x-lark-request-timestamp', 'x-lark-request-nonce', 'content-type'), headerValue), async (body, headers) => {
        const before = rec.calls.length;
        const r = await send(port, { headers, body });
        expect(r.status).toBeLessThan(500);
        const seen = rec.calls.slice(before);
        if (r.status !== 200 || (r.json as { challenge?: unknown })?.challenge !== undefined) {
          expect(seen).toEqual([]);
          return;
        }
        // Handled: it was a JSON object (not sealed) with our token, passed on untouched.
        expect(seen).toHaveLength(1);
        const sent = JSON.parse(body.toString('utf8')) as { header?: { token?: unknown }; token?: unknown };
        expect(sent.header?.token ?? sent.token).toBe(FEISHU_TOKEN);
        expect(seen[0]).toEqual(sent);
        handled++;
      }),
      { numRuns: RUNS },
    );
    // The generator must reach handle, or only the refusals were tested.
    expect(handled).toBeGreaterThan(10);
  });
});

// ── DingTalk ──

const dingSign = (ts: string, secret = DING_SECRET) => createHmac('sha256', secret).update(`${ts}\n${secret}`, 'utf8').digest('base64');

/** Headers that do not prove the request is DingTalk's. */
type DingForgery = { kind: 'none' } | { kind: 'random'; ts?: string; sign?: string } | { kind: 'otherSecret' } | { kind: 'otherTimestamp' } | { kind: 'stale'; offsetMs: number } | { kind: 'tampered'; at: number };
const dingForgery: fc.Arbitrary<DingForgery> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('random' as const), ts: headerValue, sign: fc.oneof(headerValue, fc.base64String({ minLength: 44, maxLength: 44 })) }, { requiredKeys: ['kind'] }),
  fc.constant({ kind: 'otherSecret' as const }),
  fc.constant({ kind: 'otherTimestamp' as const }),
  fc.record({ kind: fc.constant('stale' as const), offsetMs: fc.oneof(fc.integer({ min: MAX_SKEW_MS + 1, max: 50 * MAX_SKEW_MS }), fc.integer({ min: -50 * MAX_SKEW_MS, max: -MAX_SKEW_MS - 1 })) }),
  fc.record({ kind: fc.constant('tampered' as const), at: fc.nat({ max: 42 }) }),
);

function forgedDingHeaders(f: DingForgery): Record<string, string> {
  const ts = String(NOW);
  switch (f.kind) {
    case 'none':
      return {};
    case 'random':
      return { ...(f.ts !== undefined ? { timestamp: f.ts } : {}), ...(f.sign !== undefined ? { sign: f.sign } : {}) };
    case 'otherSecret':
      return { timestamp: ts, sign: dingSign(ts, `${DING_SECRET}-not`) };
    case 'otherTimestamp':
      return { timestamp: String(NOW + 1), sign: dingSign(ts) };
    case 'stale': {
      const old = String(NOW - f.offsetMs);
      return { timestamp: old, sign: dingSign(old) };
    }
    case 'tampered': {
      const s = dingSign(ts);
      return { timestamp: ts, sign: `${s.slice(0, f.at)}${s[f.at] === 'A' ? 'B' : 'A'}${s.slice(f.at + 1)}` };
    }
  }
}

/** A robot message as DingTalk posts it, with random content. */
const robotMessage = fc.tuple(jsonObject, fc.string({ maxLength: 30 })).map(([extra, text]) => ({ ...extra, msgtype: 'text', text: { content: text }, senderStaffId: 'staff1', msgId: `msg${randomBytes(4).toString('hex')}` }));

describe('DingTalk HTTP-mode robot endpoint', () => {
  let port = 0;
  let rec: Recorder;
  let server: Server;
  beforeAll(async () => {
    ({ server, rec, port } = await serve((handle) => createDingTalkHttpHandler({ appSecret: DING_SECRET, logger: silentLogger, handle, now: () => NOW })));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('an unsigned, forged or stale request, or another method, is refused (401/405) and never handled', async () => {
    await fc.assert(
      fc.asyncProperty(bodyOf(robotMessage.map((m) => JSON.stringify(m))), dingForgery, fc.constantFrom('POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), async (body, forgery, method) => {
        const before = rec.calls.length;
        const withBody = method !== 'GET' && method !== 'OPTIONS';
        const r = await send(port, { method, path: '/dingtalk/events', headers: { 'content-type': 'application/json', ...forgedDingHeaders(forgery) }, ...(withBody ? { body } : {}) });
        expect(r.status).toBe(method === 'POST' ? 401 : 405);
        expect(rec.calls.length).toBe(before);
      }),
      { numRuns: RUNS },
    );
  });

  it('a signed POST reaches handle once with its JSON object, or is refused with 400; only a throwing handle answers 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(bodyOf(robotMessage.map((m) => JSON.stringify(m))), jsonObject.map((o) => Buffer.from(JSON.stringify(o)))), fc.integer({ min: -MAX_SKEW_MS, max: MAX_SKEW_MS }), fc.boolean(), async (body, skew, handlerThrows) => {
        const ts = String(NOW + skew);
        const before = rec.calls.length;
        rec.throwNext = handlerThrows;
        const r = await send(port, { headers: { timestamp: ts, sign: dingSign(ts) }, body });
        rec.throwNext = false;
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {
          parsed = undefined;
        }
        const isObject = !!parsed && typeof parsed === 'object' && !Array.isArray(parsed);
        if (!isObject) {
          expect(r.status).toBe(400);
          expect(rec.calls.length).toBe(before);
          return;
        }
        expect(rec.calls.slice(before)).toEqual([parsed]);
        expect(r.status).toBe(handlerThrows ? 500 : 200);
      }),
      { numRuns: RUNS },
    );
  });
});

afterAll(() => agent.destroy());
