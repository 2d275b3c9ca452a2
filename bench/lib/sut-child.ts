/**
 * The system under test of benchmark 1, in its own Node process, so that the load client and the
 * fake Slack (which stay in the parent, bench/run.ts) do not share its event loop, and so that its
 * memory can be read on its own (the parent samples /proc/<pid>/status).
 *
 * Started by bench/lib/sut.ts with `fork(this file, { execArgv: ['--import', 'tsx', '--expose-gc'] })`.
 * The parent sends one `start` message naming the system:
 *
 * - `bare-bolt`: bench/lib/bare-bolt.ts, a Bolt app that only acks. Only Bolt is imported.
 * - `firebell`: started the way test/support/slack-bot.ts `startSlackBot` starts it: `loadEnv`
 *   (SLACK_API_URL at the parent's fake Slack, DATABASE_URL at the database the parent created,
 *   FIREBELL_RATE_LIMIT=0, PORT=0) + its own `createPostgresStore` + `createFirebell({ env, policy,
 *   logger, store, slackIdentity, outboxIntervalMs })` + `bot.start()`. The policy is rebuilt here
 *   with test/support/policy.ts `testPolicy()`, as bench/run.ts builds it; the logger is the
 *   counting logger at `info` (bench/lib/counting-logger.ts).
 *
 * It answers `{ type: 'ready', port, pid }`, then requests `{ type: 'req', id, op, ... }` with
 * `{ type: 'res', id, ok, value | error }`: `memory` (process.memoryUsage(), and after `global.gc()`
 * when asked), `phase-start` / `phase-end` (its own event-loop delay over a level), `stats` (log or
 * listener counts), `top-up` (files incidents through the dispatcher, for the click levels) and
 * `close` (bot.stop() / server close, then exit). It exits if the parent goes away.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export type StartMessage =
  | { type: 'start'; sut: 'bare-bolt'; botId: string; botUserId: string; signingSecret: string; botToken: string }
  | {
      type: 'start';
      sut: 'firebell';
      env: Record<string, string>;
      slackIdentity: { botId: string; botUserId: string };
      outboxIntervalMs: number;
      logSecrets: string[];
    };

export type RequestMessage =
  | { type: 'req'; id: number; op: 'memory'; gc: boolean }
  | { type: 'req'; id: number; op: 'phase-start' }
  | { type: 'req'; id: number; op: 'phase-end' }
  | { type: 'req'; id: number; op: 'stats' }
  | { type: 'req'; id: number; op: 'top-up'; count: number; from: number }
  | { type: 'req'; id: number; op: 'close' };

export interface ChildMemory {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** Heap in use after `global.gc()` (null when not asked, or the child lacks --expose-gc). */
  heapAfterGcMb: number | null;
  rssAfterGcMb: number | null;
}

export interface ChildPhase {
  /** The child's own event-loop delay between phase-start and phase-end (10 ms resolution). */
  eventLoopDelayP99Ms: number | null;
  eventLoopDelayMaxMs: number | null;
  /** process.cpuUsage() over the phase, as the child sees it. */
  cpuUserS: number;
  cpuSystemS: number;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100;

function send(msg: unknown): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

interface Running {
  stats(): unknown;
  topUp?(count: number, from: number): Promise<number>;
  close(): Promise<void>;
}

async function start(m: StartMessage): Promise<{ port: number; running: Running }> {
  if (m.sut === 'bare-bolt') {
    const { startBareBolt } = await import('./bare-bolt');
    const bare = await startBareBolt({ botId: m.botId, botUserId: m.botUserId, signingSecret: m.signingSecret, botToken: m.botToken });
    const port = Number(new URL(bare.url).port);
    return { port, running: { stats: () => ({ listenerCounts: { ...bare.counts } }), close: () => bare.close() } };
  }
  const [{ loadEnv }, { createFirebell }, { createPostgresStore }, { testPolicy, personRef }, { countingLoggerWithSecrets }] = await Promise.all([
    import('../../src/config/env'),
    import('../../src/app'),
    import('../../src/db/index'),
    import('../../test/support/policy'),
    import('./counting-logger'),
  ]);
  const env = loadEnv(m.env);
  const { logger, counts } = countingLoggerWithSecrets('info', m.logSecrets);
  const store = await createPostgresStore(env.DATABASE_URL!);
  const bot = await createFirebell({ env, policy: testPolicy(), logger, store, slackIdentity: m.slackIdentity, outboxIntervalMs: m.outboxIntervalMs });
  const { port } = await bot.start();
  if (port === null) throw new Error('Firebell started without an HTTP port');
  return {
    port,
    running: {
      stats: () => ({ logs: counts }),
      async topUp(count: number, from: number) {
        let filed = 0;
        for (let i = 0; i < count; i++) {
          const r = await bot.dispatcher.report(personRef('reporter.a'), { title: `Click pool ${from + i}` }, { platform: 'slack', channel: 'C0GENERAL' });
          if (r.ok) filed++;
        }
        await bot.scheduler.flush();
        return filed;
      },
      async close() {
        await bot.stop();
        await store.close();
      },
    },
  };
}

function memory(gc: boolean): ChildMemory {
  const m = process.memoryUsage();
  const g = (globalThis as { gc?: () => void }).gc;
  let heapAfterGcMb: number | null = null;
  let rssAfterGcMb: number | null = null;
  if (gc && g) {
    g();
    const after = process.memoryUsage();
    heapAfterGcMb = mb(after.heapUsed);
    rssAfterGcMb = mb(after.rss);
  }
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers), heapAfterGcMb, rssAfterGcMb };
}

async function main() {
  if (!process.send) throw new Error('sut-child.ts is started by bench/lib/sut.ts with an IPC channel');
  // The parent gone (crashed, killed): nothing would ever close this process otherwise.
  process.on('disconnect', () => process.exit(3));
  let running: Running | null = null;
  let eld: IntervalHistogram | null = null;
  let cpu0: NodeJS.CpuUsage | null = null;
  process.on('message', (raw: StartMessage | RequestMessage) => {
    if (raw.type === 'start') {
      start(raw).then(
        (r) => {
          running = r.running;
          void send({ type: 'ready', port: r.port, pid: process.pid });
        },
        (err: unknown) => {
          void send({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }).then(() => process.exit(1));
        },
      );
      return;
    }
    const reply = (value: unknown) => send({ type: 'res', id: raw.id, ok: true, value });
    const fail = (err: unknown) => send({ type: 'res', id: raw.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    void (async () => {
      try {
        if (!running) throw new Error('not started');
        switch (raw.op) {
          case 'memory':
            return await reply(memory(raw.gc));
          case 'phase-start':
            eld?.disable();
            eld = monitorEventLoopDelay({ resolution: 10 });
            eld.enable();
            cpu0 = process.cpuUsage();
            return await reply(null);
          case 'phase-end': {
            const h = eld;
            h?.disable();
            eld = null;
            const cpu = process.cpuUsage(cpu0 ?? undefined);
            const value: ChildPhase = {
              eventLoopDelayP99Ms: h && h.count > 0 ? ms(h.percentile(99)) : null,
              eventLoopDelayMaxMs: h && h.count > 0 ? ms(h.max) : null,
              cpuUserS: Math.round(cpu.user / 1e4) / 100,
              cpuSystemS: Math.round(cpu.system / 1e4) / 100,
            };
            return await reply(value);
          }
          case 'stats':
            return await reply(running.stats());
          case 'top-up':
            if (!running.topUp) throw new Error('this system cannot file incidents');
            return await reply(await running.topUp(raw.count, raw.from));
          case 'close':
            await running.close();
            await reply(null);
            process.exit(0);
        }
      } catch (err) {
        await fail(err);
      }
    })();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`sut-child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
