// `npm test`: typecheck, lint, unit tests, build, then e2e tests in Chromium against serve mode.
// `node scripts/test.mjs unit` or `e2e` runs one part. Each step runs under the runtime that
// matches the better-sqlite3 build (scripts/runtime.mjs).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeRuntime } from './runtime.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv[2];
const runtime = nodeRuntime();
const bin = (name) => path.join(root, 'node_modules', name);

const steps = [
  { name: 'typecheck', part: 'static', run: ['npm', ['run', 'typecheck']] },
  { name: 'lint', part: 'static', run: ['npm', ['run', 'lint']] },
  { name: 'unit', part: 'unit', run: [runtime.command, [bin('vitest/vitest.mjs'), 'run']] },
  { name: 'build', part: 'e2e', run: ['npm', ['run', 'build']] },
  { name: 'e2e', part: 'e2e', run: [runtime.command, [bin('vitest/vitest.mjs'), 'run', '--config', 'tests/e2e/vitest.config.ts']] },
];

console.log(`loupe tests run on ${runtime.name}`);
for (const step of steps) {
  if (only && step.part !== only) continue;
  console.log(`\n=== ${step.name} ===`);
  const [command, args] = step.run;
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: runtime.env });
  if (result.status !== 0) {
    console.error(`\n${step.name} failed`);
    process.exit(result.status ?? 1);
  }
}
