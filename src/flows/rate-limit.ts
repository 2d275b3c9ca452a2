/**
 * A per-person rate limit on commands and clicks (issue 7), so one person or a script cannot
 * flood the queues: a token bucket per person, `perMinute` tokens refilled evenly, holding at most
 * `burst`. Kept in the process (each bot process limits what it is sent); buckets that have
 * refilled are forgotten, so memory stays bounded by the people active in the last minute or two.
 */
export interface RateLimiter {
  /** Takes one token for `key`: ok, or how long until the next one. Never throws. */
  take(key: string): { ok: true } | { ok: false; retryAfterMs: number };
}

export function createRateLimiter(opts: { perMinute: number; burst?: number; now?: () => number }): RateLimiter {
  const rate = opts.perMinute / 60_000;
  const capacity = Math.max(1, opts.burst ?? opts.perMinute);
  const now = opts.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let sweptAt = now();
  return {
    take(key) {
      const t = now();
      if (t - sweptAt > 60_000) {
        for (const [k, b] of buckets) if (b.tokens + (t - b.at) * rate >= capacity) buckets.delete(k);
        sweptAt = t;
      }
      const b = buckets.get(key) ?? { tokens: capacity, at: t };
      b.tokens = Math.min(capacity, b.tokens + (t - b.at) * rate);
      b.at = t;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterMs: Math.ceil((1 - b.tokens) / rate) };
    },
  };
}
