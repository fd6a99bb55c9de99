import { defineConfig } from 'vitest/config';

// e2e: Chromium (Debian's, driven by playwright-core) against `loupe serve`. One file at a time:
// each test owns a server, a browser and a project folder.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['tests/e2e/**/*.e2e.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // Polls wait for app state (a refetch after an event, a job's end); on a loaded CI machine that
    // can take longer than vitest's default second.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    pool: 'forks',
  },
});
