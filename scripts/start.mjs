// `npm start` (and `npm run dev` with --dev): the Electron app. Without the Electron binary
// (installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1) it says so in one line and points to serve mode.
import { spawnSync } from 'node:child_process';
import { electronBinary } from './runtime.mjs';

const dev = process.argv.includes('--dev');
const passThrough = process.argv.slice(2).filter((a) => a !== '--dev');
if (!electronBinary()) {
  console.error(
    'loupe: the Electron binary is not installed (offline install); run `npm run serve` to use Loupe in your browser, or reinstall with network access.',
  );
  process.exit(1);
}
const args = dev ? ['dev', '--', ...passThrough] : ['preview', '--', ...passThrough];
const result = spawnSync('npx', ['electron-vite', ...args], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(result.status ?? 1);
