import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here: run test files in two forks so sharp and SQLite work does not oversubscribe.
    pool: 'forks',
    maxWorkers: 2,
  },
});
