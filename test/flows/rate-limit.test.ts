/** The per-person token bucket (src/flows/rate-limit.ts) on an injected clock. */
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/flows/rate-limit';

describe('per-person rate limit', () => {
  it('lets a burst through, refuses the next with the wait, refills evenly, and keeps people apart', () => {
    let now = 1_000_000;
    const limiter = createRateLimiter({ perMinute: 6, now: () => now });
    for (let i = 0; i < 6; i++) expect(limiter.take('li.wei')).toEqual({ ok: true });
    expect(limiter.take('li.wei')).toEqual({ ok: false, retryAfterMs: 10_000 });
    expect(limiter.take('zhang.san')).toEqual({ ok: true });
    now += 9_999;
    expect(limiter.take('li.wei').ok).toBe(false);
    now += 1;
    expect(limiter.take('li.wei')).toEqual({ ok: true });
    // A long pause refills to the burst, never beyond it.
    now += 3_600_000;
    for (let i = 0; i < 6; i++) expect(limiter.take('li.wei').ok).toBe(true);
    expect(limiter.take('li.wei').ok).toBe(false);
  });
});
