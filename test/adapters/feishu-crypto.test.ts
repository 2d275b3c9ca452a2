/**
 * Feishu request security (src/adapters/feishu/crypto.ts): signatures over the raw body, AES
 * decryption of `{encrypt}` bodies, the verification token. Inputs are built independently here
 * with node:crypto, the way Feishu builds them (open.feishu.cn "事件订阅 · 加密与验签").
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptFeishu, FeishuDecryptError, sameSecret, tokenOf, verifyFeishuSignature } from '../../src/adapters/feishu/crypto';

const KEY = 'test-encrypt-key-0123456789';

function encrypt(key: string, plain: string): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', createHash('sha256').update(key).digest(), iv);
  return Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final()]).toString('base64');
}

function sign(key: string, timestamp: string, nonce: string, body: string): string {
  return createHash('sha256').update(timestamp + nonce + key + body).digest('hex');
}

describe('Feishu signature', () => {
  const body = JSON.stringify({ encrypt: encrypt(KEY, '{"a":1}') });
  const ts = '1700000000';
  const nonce = 'n0nce';

  it('accepts the signature Feishu computes over the raw body', () => {
    expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: sign(KEY, ts, nonce, body), rawBody: body }, KEY)).toBe(true);
  });

  it('refuses a forged, missing, malformed or re-serialised one', () => {
    const good = sign(KEY, ts, nonce, body);
    expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: sign('other-key', ts, nonce, body), rawBody: body }, KEY)).toBe(false);
    expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: undefined, rawBody: body }, KEY)).toBe(false);
    expect(verifyFeishuSignature({ timestamp: undefined, nonce, signature: good, rawBody: body }, KEY)).toBe(false);
    expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: 'zz', rawBody: body }, KEY)).toBe(false);
    // The same JSON with different spacing is different bytes: not what was signed.
    expect(verifyFeishuSignature({ timestamp: ts, nonce, signature: good, rawBody: body.replace(':', ': ') }, KEY)).toBe(false);
    expect(verifyFeishuSignature({ timestamp: String(Number(ts) + 1), nonce, signature: good, rawBody: body }, KEY)).toBe(false);
  });
});

describe('Feishu decryption', () => {
  it('decrypts what Feishu encrypts, Chinese included', () => {
    const payload = { schema: '2.0', header: { event_type: 'im.message.receive_v1', token: 'vt' }, event: { text: '报障 打印机坏了' } };
    expect(decryptFeishu(encrypt(KEY, JSON.stringify(payload)), KEY)).toEqual(payload);
  });

  it('refuses another key, garbage and non-JSON with a FeishuDecryptError', () => {
    const sealed = encrypt(KEY, '{"x":1}');
    expect(() => decryptFeishu(sealed, 'wrong-key')).toThrow(FeishuDecryptError);
    expect(() => decryptFeishu('not base64 at all!!', KEY)).toThrow(FeishuDecryptError);
    expect(() => decryptFeishu(Buffer.alloc(20).toString('base64'), KEY)).toThrow(FeishuDecryptError);
    expect(() => decryptFeishu(encrypt(KEY, 'plain words'), KEY)).toThrow('not JSON');
  });
});

describe('verification token', () => {
  it('reads v2 header.token and v1/challenge token, and compares in constant time', () => {
    expect(tokenOf({ header: { token: 'v2' } })).toBe('v2');
    expect(tokenOf({ type: 'url_verification', token: 'v1', challenge: 'c' })).toBe('v1');
    expect(tokenOf({ header: { token: 5 } })).toBeUndefined();
    expect(tokenOf(null)).toBeUndefined();
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abd')).toBe(false);
    expect(sameSecret(undefined, 'abc')).toBe(false);
  });
});
