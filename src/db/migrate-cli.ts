/**
 * `npm run db:migrate`: applies pending migrations to the database the bot would use:
 * DATABASE_URL when set, else PGlite under `${FIREBELL_DATA_DIR ?? './data'}/pglite`.
 * The server migrates at startup too; this is for deploy pipelines and operators.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { migratePglite, migratePostgres, type MigrationResult } from './migrate';

/** Same reading as src/config/env.ts (blank means unset) without requiring the chat settings. */
function setting(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}

/**
 * A database URL fit for a log line: host, port, database and user, never the password or
 * query parameters (which may carry credentials too).
 */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return `postgres://${user}${u.host}${u.pathname}`;
  } catch {
    return '<DATABASE_URL, unparseable>';
  }
}

function summary(result: MigrationResult): string {
  if (result.applied === 0) return `already up to date (${result.total} migration(s) applied)`;
  return `applied ${result.applied} migration(s), ${result.total} in total`;
}

/** Removes the password from a message, in case a driver error quotes the connection string. */
function scrub(message: string, url: string | undefined): string {
  if (!url) return message;
  let out = message.split(url).join(describeDatabaseUrl(url));
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) out = out.split(password).join('***');
  } catch {
    // An unparseable URL has no password we could find; the whole-URL replacement above still ran.
  }
  return out;
}

async function main(): Promise<void> {
  const url = setting('DATABASE_URL');
  try {
    if (url) {
      const where = describeDatabaseUrl(url);
      console.log(`migrating PostgreSQL ${where} …`);
      console.log(`PostgreSQL ${where}: ${summary(await migratePostgres(url))}`);
    } else {
      const dir = resolve(join(setting('FIREBELL_DATA_DIR') ?? './data', 'pglite'));
      console.log(`DATABASE_URL not set: migrating embedded PGlite in ${dir} …`);
      await mkdir(dir, { recursive: true });
      const client = await PGlite.create(dir);
      try {
        console.log(`PGlite ${dir}: ${summary(await migratePglite(client))}`);
      } finally {
        await client.close();
      }
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown } | null)?.code;
    console.error(`db:migrate failed: ${scrub(message, url)}${typeof code === 'string' ? ` (${code})` : ''}`);
    process.exitCode = 1;
  }
}

await main();
