/**
 * Store factories: PostgreSQL when a DATABASE_URL is configured, embedded PGlite otherwise. Both
 * migrate first and hand back the same drizzle implementation (./store).
 */
import { mkdir } from 'node:fs/promises';
// PGlite (about 50 MB resident with its drizzle driver) is loaded only when it is the store.
import type { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { IncidentStore } from '../flows/ports';
import { migratePglite, migratePostgres } from './migrate';
import { createDrizzleStore } from './store';

export { createDrizzleStore } from './store';
export { migratePglite, migratePostgres, MIGRATIONS_FOLDER, type MigrationResult } from './migrate';

/** Connections per process: the bot's work is short transactions, a small pool is plenty. */
const POOL_SIZE = 10;
/** Seconds between reconnect attempts (postgres.js `backoff`). */
const RECONNECT_DELAY_S = 0.1;

/**
 * Opens a store on the PostgreSQL database at `url` (postgres://…), migrating it first. Several
 * processes may start at once: migrations serialise on an advisory lock.
 */
export async function createPostgresStore(url: string): Promise<IncidentStore> {
  await migratePostgres(url);
  const client = postgres(url, {
    max: POOL_SIZE,
    // ON CONFLICT / IF NOT EXISTS notices are expected and would only clutter the logs.
    onnotice: () => {},
    // postgres.js grows one pool-wide reconnect delay with every connection lost, up to 20 s,
    // and queries wait on it instead of failing: after a database restart people were answered
    // 20 s late and forms opened on expired triggers. A short fixed delay keeps "try again"
    // prompt while it is down and service back at once when it returns.
    backoff: () => RECONNECT_DELAY_S,
    // A database that does not answer at all (a partition, not a refusal) fails a query in 5 s.
    connect_timeout: 5,
  });
  const db = drizzlePostgres({ client });
  return createDrizzleStore(db, () => client.end({ timeout: 5 }));
}

/**
 * Opens a store on embedded PGlite under `dir` (created if missing), or in memory when `dir` is
 * null, migrating it first. One process at a time may open a given directory.
 */
export async function createPgliteStore(dir: string | null): Promise<IncidentStore> {
  if (dir !== null) await mkdir(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const client = await PGlite.create(dir ?? undefined);
  return pgliteStore(client);
}

/**
 * Migrates an already open PGlite and builds the store on it; closing the store closes `client`.
 * For callers that need the client too (tests resetting tables between cases).
 */
export async function pgliteStore(client: PGlite): Promise<IncidentStore> {
  try {
    await migratePglite(client);
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
  const { drizzle: drizzlePglite } = await import('drizzle-orm/pglite');
  return createDrizzleStore(drizzlePglite({ client }), () => client.close());
}
