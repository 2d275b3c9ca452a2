/**
 * Store factories: PostgreSQL when a DATABASE_URL is configured, embedded PGlite otherwise. Both
 * migrate first and hand back the same drizzle implementation (./store).
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { IncidentStore } from '../flows/ports';
import { migratePglite, migratePostgres } from './migrate';
import { createDrizzleStore } from './store';

export { createDrizzleStore } from './store';
export { migratePglite, migratePostgres, MIGRATIONS_FOLDER, type MigrationResult } from './migrate';

/** Connections per process: the bot's work is short transactions, a small pool is plenty. */
const POOL_SIZE = 10;

/**
 * Opens a store on the PostgreSQL database at `url` (postgres://…), migrating it first. Several
 * processes may start at once: migrations serialise on an advisory lock.
 */
export async function createPostgresStore(url: string): Promise<IncidentStore> {
  await migratePostgres(url);
  // onnotice: ON CONFLICT / IF NOT EXISTS notices are expected and would only clutter the logs.
  const client = postgres(url, { max: POOL_SIZE, onnotice: () => {} });
  const db = drizzlePostgres({ client });
  return createDrizzleStore(db, () => client.end({ timeout: 5 }));
}

/**
 * Opens a store on embedded PGlite under `dir` (created if missing), or in memory when `dir` is
 * null, migrating it first. One process at a time may open a given directory.
 */
export async function createPgliteStore(dir: string | null): Promise<IncidentStore> {
  if (dir !== null) await mkdir(dir, { recursive: true });
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
  return createDrizzleStore(drizzlePglite({ client }), () => client.close());
}
