// After `npm install`: where the Electron binary was downloaded, rebuild better-sqlite3 for it.
// Offline installs (ELECTRON_SKIP_BINARY_DOWNLOAD=1) keep the system-Node build. See tests/README.md.
import { spawnSync } from 'node:child_process';
import { electronBinary } from './runtime.mjs';

if (electronBinary()) {
  console.log('loupe: Electron is installed; rebuilding better-sqlite3 for it');
  const result = spawnSync('npx', ['electron-rebuild', '-f', '-o', 'better-sqlite3'], { stdio: 'inherit', shell: true });
  if (result.status !== 0) {
    console.error('loupe: electron-rebuild failed; `npm start` will not open the project store until it succeeds');
  }
} else {
  console.log('loupe: no Electron binary (offline install); using the system Node build. `npm run serve` runs the app.');
}
