/**
 * Feishu request security, done before anything else looks at a request (issue 5; PLATFORMS.md §5).
 *
 * - Signature: `X-Lark-Signature` = hex sha256(`X-Lark-Request-Timestamp` + `X-Lark-Request-Nonce`
 *   + encrypt key + the raw body). The SDK hashes a re-serialised parse of the body; we hash the
 *   bytes as received, which is what Feishu signs, and compare in constant time.
 * - Encryption: with an encrypt key set, the body is `{"encrypt": base64}`: AES-256-CBC, key =
 *   sha256(encrypt key), the first 16 bytes of the ciphertext are the IV.
 * - Verification token: the v2 envelope's `header.token` (the v1 `token`) must be the app's.
 *   The SDK ignores it for events; we refuse a mismatch.
 */
import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';

export interface SignedRequest {
  timestamp: string | undefined;
  nonce: string | undefined;
  signature: string | undefined;
  rawBody: string;
}

/** True when the request carries a valid signature for `encryptKey`. Never throws. */
export function verifyFeishuSignature(req: SignedRequest, encryptKey: string): boolean {
  if (!req.timestamp || !req.nonce || !req.signature || !/^[0-9a-f]{64}$/i.test(req.signature)) return false;
  const expected = createHash('sha256').update(req.timestamp + req.nonce + encryptKey + req.rawBody).digest();
  const given = Buffer.from(req.signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Decrypts an `encrypt` field; throws FeishuDecryptError when it is not ours or not JSON. */
export function decryptFeishu(encrypted: string, encryptKey: string): unknown {
  let plain: string;
  try {
    const data = Buffer.from(encrypted, 'base64');
    // AES block: 16-byte IV plus at least one block of ciphertext.
    if (data.length < 32 || data.length % 16 !== 0) throw new Error('bad length');
    const key = createHash('sha256').update(encryptKey).digest();
    const decipher = createDecipheriv('aes-256-cbc', key, data.subarray(0, 16));
    plain = Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]).toString('utf8');
  } catch {
    throw new FeishuDecryptError('cannot decrypt: wrong key or not an encrypted Feishu body');
  }
  try {
    return JSON.parse(plain);
  } catch {
    throw new FeishuDecryptError('decrypted body is not JSON');
  }
}

export class FeishuDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeishuDecryptError';
  }
}

/** The verification token a payload carries: v2 `header.token`, v1 and challenges `token`. */
export function tokenOf(payload: unknown): string | undefined {
  if (!payload || typeof payload !== 'object') return undefined;
  const p = payload as { header?: { token?: unknown }; token?: unknown };
  const t = p.header?.token ?? p.token;
  return typeof t === 'string' ? t : undefined;
}

/** Constant-time string equality (for the verification token). */
export function sameSecret(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}
