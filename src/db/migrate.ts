/**
 * Applies the committed migrations (drizzle/) with drizzle's migrators. Both drivers read the same
 * SQL files, so PostgreSQL and PGlite always have the same schema.
 */
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgresDb } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

/**
 * The migrations folder, found from this file rather than the cwd so the CLI, the server and the
 * tests work from any directory.
 */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Where drizzle records applied migrations (its defaults, spelled out for the count queries). */
const MIGRATIONS_SCHEMA = 'drizzle';
const MIGRATIONS_TABLE = '__drizzle_migrations';

/**
 * Arbitrary but fixed key of the session-level advisory lock that serialises migrations between
 * processes (several replicas starting at once would otherwise race on CREATE TABLE).
 */
const MIGRATION_LOCK_KEY = 4_611_731_829_017n;

export interface MigrationResult {
  /** Migrations applied by this call (0 when the schema was already current). */
  applied: number;
  /** Migrations recorded in the database afterwards. */
  total: number;
}

// Two statements: a query naming a missing table fails at parse time, whatever guards it.
const TABLE_EXISTS = `select to_regclass('${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}') is not null as present`;
const COUNT_APPLIED = `select count(*)::int as n from ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`;

/**
 * Migrates the PostgreSQL database at `url`. Safe to call from several processes at once: each
 * waits for a session advisory lock, so exactly one applies a pending migration and the others
 * find it applied. Uses its own single connection, because an advisory lock belongs to a session.
 */
export async function migratePostgres(url: string): Promise<MigrationResult> {
  const client = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
    try {
      const before = await countPostgres(client);
      await migratePostgresDb(drizzlePostgres(client), {
        migrationsFolder: MIGRATIONS_FOLDER,
        migrationsSchema: MIGRATIONS_SCHEMA,
        migrationsTable: MIGRATIONS_TABLE,
      });
      const total = await countPostgres(client);
      return { applied: total - before, total };
    } finally {
      // Best effort: if the connection broke, closing it below releases the lock anyway, and the
      // original error is the one worth reporting.
      await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.toString()}::bigint)`.catch(() => {});
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}

async function countPostgres(client: postgres.Sql): Promise<number> {
  const [table] = await client.unsafe<{ present: boolean }[]>(TABLE_EXISTS);
  if (!table?.present) return 0;
  const rows = await client.unsafe<{ n: number }[]>(COUNT_APPLIED);
  return Number(rows[0]?.n ?? 0);
}

/**
 * Migrates an open PGlite database. No lock: a PGlite data directory belongs to one process and
 * PGlite runs one statement at a time.
 */
export async function migratePglite(client: PGlite): Promise<MigrationResult> {
  // Loaded here, not at the top: a PostgreSQL deployment never needs the PGlite driver.
  const [{ drizzle: drizzlePglite }, { migrate: migratePgliteDb }] = await Promise.all([import('drizzle-orm/pglite'), import('drizzle-orm/pglite/migrator')]);
  const before = await countPglite(client);
  await migratePgliteDb(drizzlePglite({ client }), {
    migrationsFolder: MIGRATIONS_FOLDER,
    migrationsSchema: MIGRATIONS_SCHEMA,
    migrationsTable: MIGRATIONS_TABLE,
  });
  const total = await countPglite(client);
  return { applied: total - before, total };
}

async function countPglite(client: PGlite): Promise<number> {
  const table = await client.query<{ present: boolean }>(TABLE_EXISTS);
  if (!table.rows[0]?.present) return 0;
  const result = await client.query<{ n: number }>(COUNT_APPLIED);
  return Number(result.rows[0]?.n ?? 0);
}
