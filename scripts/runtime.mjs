// Which JavaScript runtime runs Loupe's Node code (CLI, serve, tests).
//
// better-sqlite3 is not N-API: one build serves one runtime. Where the Electron binary is installed,
// postinstall rebuilds it for Electron, so the CLI and the tests run under Electron as Node
// (ELECTRON_RUN_AS_NODE=1). Where it is not (offline installs, CI here), everything runs on the
// system Node with the ordinary build. See tests/README.md.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));

/** The Electron binary's path, or null when it was not downloaded. */
export function electronBinary() {
  try {
    const file = require('electron');
    return typeof file === 'string' && fs.existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

/** The command and environment that run a Node script for Loupe. */
export function nodeRuntime() {
  const electron = electronBinary();
  if (electron && process.env.LOUPE_SYSTEM_NODE !== '1') {
    return { command: electron, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, name: 'electron-as-node' };
  }
  return { command: process.execPath, env: { ...process.env }, name: 'node' };
}
