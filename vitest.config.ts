import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file gets its own fresh database; files run in parallel processes.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Unhandled errors fail the run instead of being ignored.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
