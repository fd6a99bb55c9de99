// `npm run serve [-- --project P --port N]`: builds the UI when it is missing or older than its
// sources, then runs `loupe serve`, which prints the address (with its token) to open.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeRuntime } from './runtime.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'out/renderer/index.html');

function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return latest;
}

const sourceTime = Math.max(newest(path.join(root, 'src/renderer')), newest(path.join(root, 'src/shared')));
if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < sourceTime) {
  console.log('loupe: building the UI…');
  const build = spawnSync('npx', ['electron-vite', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const runtime = nodeRuntime();
const result = spawnSync(runtime.command, [path.join(root, 'bin/loupe.mjs'), 'serve', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: runtime.env,
});
process.exit(result.status ?? 1);
