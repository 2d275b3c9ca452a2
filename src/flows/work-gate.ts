/**
 * Bounds how much acknowledged work runs at once. Chat platforms want an answer fast (Slack 3 s,
 * Feishu 3 s, DingTalk 2 s) and retry when they do not get one, so requests are acknowledged
 * before their work; without a bound, a burst starts all of its work at once and the acks of the
 * requests behind it wait for event-loop turns filled with that work. With the gate, work beyond
 * `limit` waits its turn in arrival order (a closure each, no I/O), and acks stay quick.
 */
export interface WorkGate {
  /**
   * Runs `work` when fewer than `limit` others are running, in the order `run` was called.
   * Resolves or rejects with `work`'s own result; a failure frees the slot like a success.
   */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Work running now and work waiting for a slot. */
  stats(): { running: number; waiting: number };
  /**
   * Resolves once nothing is running or waiting (at once if so now), or after `timeoutMs`,
   * whichever comes first; true when it is idle. Shutdown waits here for acknowledged work.
   */
  idle(timeoutMs: number): Promise<boolean>;
}

/** `limit` 0 or below: no bound (every `run` starts at once). */
export function createWorkGate(limit: number): WorkGate {
  let running = 0;
  const waiting: (() => void)[] = [];
  const idlers: (() => void)[] = [];
  // A freed slot passes straight to the first waiter, so a newcomer can never slip in ahead.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
    if (running === 0) for (const done of idlers.splice(0)) done();
  };
  return {
    async run<T>(work: () => Promise<T>): Promise<T> {
      if (limit > 0 && running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      else running++;
      try {
        return await work();
      } finally {
        release();
      }
    },
    stats: () => ({ running, waiting: waiting.length }),
    idle(timeoutMs) {
      if (running === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        idlers.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
  };
}
