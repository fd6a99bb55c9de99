#!/usr/bin/env node
// The `loupe` command. The CLI is TypeScript run through tsx, so it works straight after install.
// Where the Electron binary is installed, better-sqlite3 is built for Electron, so the CLI re-runs
// itself under Electron as Node (see tests/README.md).
import { spawn } from 'node:child_process';
import { nodeRuntime } from '../scripts/runtime.mjs';

const runtime = nodeRuntime();
if (runtime.name === 'electron-as-node' && !process.env.ELECTRON_RUN_AS_NODE) {
  const child = spawn(runtime.command, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: runtime.env,
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  try {
    await import('../src/main/cli/main.ts');
  } catch (error) {
    // The CLI failed to load (a native module built for another runtime, say): one line here too.
    const first = String(error?.message ?? error).split('\n')[0];
    console.error(`loupe: cannot start: ${first}${process.env.LOUPE_DEBUG ? '' : ' (set LOUPE_DEBUG=1 for the details)'}`);
    if (process.env.LOUPE_DEBUG) console.error(error);
    process.exitCode = 1;
  }
}
