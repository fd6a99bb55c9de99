// `npm test`: typecheck, lint, unit tests, build, then e2e tests in Chromium against serve mode.
// `node scripts/test.mjs unit` or `e2e` runs one part. Each step runs under the runtime that
// matches the better-sqlite3 build (scripts/runtime.mjs).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeRuntime } from './runtime.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv[2];
const runtime = nodeRuntime();
const reportDir = path.join(root, '.tmp', 'test-reports');
fs.rmSync(reportDir, { recursive: true, force: true });
fs.mkdirSync(reportDir, { recursive: true });
const bin = (name) => path.join(root, 'node_modules', name);

const steps = [
  { name: 'typecheck', part: 'static', run: ['npm', ['run', 'typecheck']] },
  { name: 'lint', part: 'static', run: ['npm', ['run', 'lint']] },
  { name: 'unit', part: 'unit', run: [runtime.command, [bin('vitest/vitest.mjs'), 'run', ...reporters('unit')]] },
  { name: 'build', part: 'e2e', run: ['npm', ['run', 'build']] },
  {
    name: 'e2e',
    part: 'e2e',
    run: [runtime.command, [bin('vitest/vitest.mjs'), 'run', '--config', 'tests/e2e/vitest.config.ts', ...reporters('e2e')]],
  },
];

// Each vitest run also writes a JSON report, so the end can print one plain total for all of them.
function reporters(name) {
  return ['--reporter=default', '--reporter=json', `--outputFile.json=${path.join(reportDir, `${name}.json`)}`];
}

console.log(`loupe tests run on ${runtime.name}`);
for (const step of steps) {
  if (only && step.part !== only) continue;
  console.log(`\n=== ${step.name} ===`);
  const [command, args] = step.run;
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: runtime.env });
  if (result.status !== 0) {
    console.error(`\n${step.name} failed`);
    printTotals();
    process.exit(result.status ?? 1);
  }
}
printTotals();

function printTotals() {
  const totals = { passed: 0, failed: 0, skipped: 0 };
  for (const file of fs.readdirSync(reportDir)) {
    const report = JSON.parse(fs.readFileSync(path.join(reportDir, file), 'utf8'));
    totals.passed += report.numPassedTests;
    totals.failed += report.numFailedTests;
    totals.skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  }
  if (totals.passed + totals.failed + totals.skipped > 0) {
    console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  }
}
