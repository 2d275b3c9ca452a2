import { defineConfig } from 'drizzle-kit';

// Only `drizzle-kit generate` uses this (it needs no database). Migrations are applied by
// src/db/migrate.ts at startup or by `npm run db:migrate`, never by drizzle-kit.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
  strict: true,
  verbose: true,
});
