/**
 * A throwaway PostgreSQL database per test file, on the local server (127.0.0.1:5432, trust auth).
 * PostgreSQL is required: if it is unreachable this throws, so the suite fails instead of
 * quietly testing PGlite alone.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

const HOST = '127.0.0.1';
const PORT = 5432;

/**
 * Admin connections to try, in order. Debian-style servers have the `postgres` role; some
 * containers only have a superuser named after the OS user (`root`) with a database of that name.
 * FIREBELL_TEST_PG_ADMIN_URL overrides both.
 */
function adminCandidates(): string[] {
  const override = process.env.FIREBELL_TEST_PG_ADMIN_URL?.trim();
  if (override) return [override];
  return [`postgres://postgres@${HOST}:${PORT}/postgres`, `postgres://root@${HOST}:${PORT}/root`];
}

export interface TestDatabase {
  /** Connection URL of the fresh, empty database. */
  url: string;
  /** Drops the database, terminating any connection still open on it. */
  drop(): Promise<void>;
}

let cachedAdminUrl: string | undefined;

async function adminUrl(): Promise<string> {
  if (cachedAdminUrl) return cachedAdminUrl;
  const problems: string[] = [];
  for (const url of adminCandidates()) {
    const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      await sql`select 1`;
      cachedAdminUrl = url;
      return url;
    } catch (error) {
      problems.push(`${redact(url)}: ${explain(error)}`);
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }
  throw new Error(
    `PostgreSQL is required for the database tests but could not be reached.\n` +
      `  Start it on ${HOST}:${PORT} (trust auth for local connections) or set FIREBELL_TEST_PG_ADMIN_URL.\n` +
      `  Tried:\n  - ${problems.join('\n  - ')}`,
  );
}

/** Creates a uniquely named empty database (fb_test_<pid>_<random>) and returns its URL. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = await adminUrl();
  const name = `fb_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(admin, (sql) => sql.unsafe(`create database "${name}"`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(admin, (sql) => sql.unsafe(`drop database if exists "${name}" with (force)`));
    },
  };
}

async function withAdmin<T>(url: string, run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    return await run(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function explain(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code ? `${code} ${error.message}` : error.message;
  }
  return String(error);
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
