/**
 * Feishu's endpoints over real HTTP (src/adapters/feishu/http.ts): what is refused before any
 * handler runs (forged, missing or wrong signatures, a wrong verification token, garbage), the
 * URL-verification challenge, and a throwing handler that does not take the server down.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFeishuHttpHandler } from '../../src/adapters/feishu/http';
import type { Logger } from '../../src/flows/ports';

const KEY = 'feishu-encrypt-key-test';
const TOKEN = 'feishu-verification-token';

const encrypt = (obj: unknown) => {
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', createHash('sha256').update(KEY).digest(), iv);
  return { encrypt: Buffer.concat([iv, c.update(JSON.stringify(obj), 'utf8'), c.final()]).toString('base64') };
};
const signHeaders = (body: string, key = KEY, at = Date.now()) => {
  const ts = String(Math.floor(at / 1000));
  const nonce = randomBytes(8).toString('hex');
  return {
    'X-Lark-Request-Timestamp': ts,
    'X-Lark-Request-Nonce': nonce,
    'X-Lark-Signature': createHash('sha256').update(ts + nonce + key + body).digest('hex'),
  };
};
const event = (token = TOKEN) => ({
  schema: '2.0',
  header: { event_id: `ev_${randomBytes(6).toString('hex')}`, event_type: 'im.message.receive_v1', create_time: String(Date.now()), token, app_id: 'cli_test', tenant_key: 't' },
  event: { message: { chat_id: 'oc_1', content: '{"text":"报障 打印机卡纸"}' } },
});

function serve(opts: { encryptKey?: string; verificationToken?: string; handle: (p: Record<string, unknown>) => Promise<unknown> }) {
  const logs: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (m, f) => logs.push(`warn ${m} ${JSON.stringify(f)}`), error: (m, f) => logs.push(`error ${m} ${JSON.stringify(f)}`) };
  const server: Server = createServer(createFeishuHttpHandler({ ...opts, logger }));
  return { server, logs };
}

describe('Feishu HTTP endpoints with an encrypt key', () => {
  let server: Server;
  let url = '';
  let handled: Record<string, unknown>[] = [];
  let logs: string[] = [];
  let throwNext = false;
  beforeAll(async () => {
    const s = serve({
      encryptKey: KEY,
      verificationToken: TOKEN,
      handle: async (p) => {
        if (throwNext) {
          throwNext = false;
          throw new Error('handler blew up');
        }
        handled.push(p);
        return { toast: { type: 'success', content: 'ok' } };
      },
    });
    server = s.server;
    logs = s.logs;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feishu/events`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });
  beforeEach(() => {
    handled = [];
  });

  const post = async (body: string, headers: Record<string, string> = {}) => {
    const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };

  it('hands a signed, encrypted event to the handler, decrypted, and answers with its JSON', async () => {
    const payload = event();
    const body = JSON.stringify(encrypt(payload));
    const r = await post(body, signHeaders(body));
    expect(r).toEqual({ status: 200, json: { toast: { type: 'success', content: 'ok' } } });
    expect(handled).toEqual([payload]);
  });

  it('refuses a forged signature, a missing one and one over other bytes, before decrypting: nothing handled', async () => {
    const body = JSON.stringify(encrypt(event()));
    expect((await post(body, signHeaders(body, 'not-our-key'))).status).toBe(401);
    expect((await post(body)).status).toBe(401);
    const headers = signHeaders(body);
    expect((await post(body.replace('{', '{ '), headers)).status).toBe(401);
    expect(handled).toEqual([]);
    expect(logs.some((l) => l.includes('bad_signature'))).toBe(true);
    expect(logs.join('\n')).not.toContain(KEY);
  });

  it('refuses a correctly signed request whose timestamp is over 8 hours old or far ahead: nothing handled', async () => {
    const body = JSON.stringify(encrypt(event()));
    expect((await post(body, signHeaders(body, KEY, Date.now() - 9 * 3_600_000))).status).toBe(401);
    expect((await post(body, signHeaders(body, KEY, Date.now() + 10 * 60_000))).status).toBe(401);
    expect(handled).toEqual([]);
    expect(logs.some((l) => l.includes('stale_timestamp'))).toBe(true);
    // A redelivery hours later (Feishu retries for up to 6 h) is still let in.
    expect((await post(body, signHeaders(body, KEY, Date.now() - 6 * 3_600_000))).status).toBe(200);
    expect(handled).toHaveLength(1);
  });

  it('refuses a signed payload with another verification token, a plain body and garbage', async () => {
    const wrongToken = JSON.stringify(encrypt(event('someone-else')));
    expect((await post(wrongToken, signHeaders(wrongToken))).status).toBe(401);
    const plain = JSON.stringify(event());
    expect((await post(plain, signHeaders(plain))).status).toBe(400);
    expect((await post('not json', signHeaders('not json'))).status).toBe(400);
    const sealedJunk = JSON.stringify({ encrypt: Buffer.alloc(48).toString('base64') });
    expect((await post(sealedJunk, signHeaders(sealedJunk))).status).toBe(401);
    expect(handled).toEqual([]);
  });

  it('answers the URL-verification challenge (encrypted, unsigned), only with our token', async () => {
    const ok = await post(JSON.stringify(encrypt({ type: 'url_verification', challenge: 'ch-123', token: TOKEN })));
    expect(ok).toEqual({ status: 200, json: { challenge: 'ch-123' } });
    const bad = await post(JSON.stringify(encrypt({ type: 'url_verification', challenge: 'ch-123', token: 'nope' })));
    expect(bad.status).toBe(401);
    expect(handled).toEqual([]);
  });

  it('refuses a body over 1 MB with 413', async () => {
    const big = JSON.stringify({ encrypt: 'A'.repeat(1_100_000) });
    const r = await fetch(url, { method: 'POST', headers: signHeaders(big), body: big }).catch(() => null);
    // The server may cut the upload short: either a 413 or a reset connection, never a handled event.
    if (r) expect(r.status).toBe(413);
    expect(handled).toEqual([]);
  });

  it('a handler that throws answers 500 and the next request is served', async () => {
    throwNext = true;
    const body = JSON.stringify(encrypt(event()));
    expect((await post(body, signHeaders(body))).status).toBe(500);
    const again = JSON.stringify(encrypt(event()));
    expect((await post(again, signHeaders(again))).status).toBe(200);
    expect(logs.some((l) => l.includes('handler blew up'))).toBe(true);
  });
});

describe('Feishu HTTP endpoints without an encrypt key', () => {
  it('checks the verification token on plain bodies', async () => {
    const handled: unknown[] = [];
    const { server } = serve({ verificationToken: TOKEN, handle: async (p) => (handled.push(p), {}) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feishu/card`;
    try {
      const ok = await fetch(url, { method: 'POST', body: JSON.stringify(event()) });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({});
      const bad = await fetch(url, { method: 'POST', body: JSON.stringify(event('wrong')) });
      expect(bad.status).toBe(401);
      const sealed = await fetch(url, { method: 'POST', body: JSON.stringify({ encrypt: 'abc' }) });
      expect(sealed.status).toBe(400);
      expect(handled).toHaveLength(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
