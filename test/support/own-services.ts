/**
 * A PostgreSQL cluster and a Redis server of a test's own, for fault tests that stop and restart
 * them (so the machine's servers, which other test files use, stay up). Shared by the
 * test/faults/ suites.
 *
 * - PostgreSQL: initdb into a temporary directory (as the postgres user when run as root, since
 *   initdb refuses root), its own port, trust auth, fsync off; `stop()` is `pg_ctl -m immediate`
 *   (a crash: backends are killed, nothing is flushed politely), `start()` brings it back.
 * - Redis: `redis-server` without persistence, so a SIGKILL and a restart is also the loss of
 *   every key (an empty Redis comes back).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import type { TestDatabase } from './pg';

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function pgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort() : [];
  const bin = versions.length ? join(root, versions.at(-1)!, 'bin') : '';
  if (!bin || !existsSync(join(bin, 'initdb'))) throw new Error(`PostgreSQL server binaries are required for this test (looked in ${root})`);
  return bin;
}

const run = promisify(execFile);

/**
 * Runs a PostgreSQL binary as the postgres user (initdb refuses root). Asynchronously: the bot
 * under test runs in this process, and a synchronous pg_ctl would freeze it while it waits.
 */
async function pg(bin: string, tool: string, args: string[]): Promise<void> {
  const asPostgres = process.getuid?.() === 0;
  const cmd = asPostgres ? 'runuser' : join(bin, tool);
  const argv = asPostgres ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
  await run(cmd, argv, { timeout: 60_000 });
}

export interface OwnPostgres {
  /** The `firebell` database on this cluster, for startSlackBot's `database` option (drop is a no-op). */
  database: TestDatabase;
  /** `pg_ctl -m immediate stop`: every backend is killed at once, like a crash. */
  stop(): Promise<void>;
  /** Starts the cluster again and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops the cluster (if running) and removes its directory. */
  destroy(): Promise<void>;
}

/** initdb + start + `create database firebell`. */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = pgBin();
  const dir = mkdtempSync(join(tmpdir(), 'fb-pg-'));
  chmodSync(dir, 0o777);
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres', dir]);
  await pg(bin, 'initdb', ['-D', dir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  let running = false;
  const start = async () => {
    await pg(bin, 'pg_ctl', ['-D', dir, '-w', '-t', '30', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    running = true;
  };
  const stop = async () => {
    await pg(bin, 'pg_ctl', ['-D', dir, '-w', '-m', 'immediate', 'stop']);
    running = false;
  };
  await start();
  const admin = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1, onnotice: () => {} });
  await admin.unsafe('create database firebell');
  await admin.end();
  return {
    database: { url: `postgres://postgres@127.0.0.1:${port}/firebell`, drop: async () => {} },
    stop,
    start,
    async destroy() {
      try {
        if (running) await stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts redis-server on `port`; resolves once it answers PING. Fails loudly if it cannot. */
export async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server did not start on ${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return child;
}

/** SIGKILL (no shutdown, no save) and wait for the process to be gone. */
export async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}
