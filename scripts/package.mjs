// `npm run package`: a release build of the Electron app in release/ (after `electron-vite build`),
// with the app in an ASAR archive (native libraries unpacked beside it) and the release fuses flipped.
// Usage: node scripts/package.mjs [--platform=linux|win32|darwin] [--arch=x64|arm64]
import { packager } from '@electron/packager';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fuseHook } from './fuses.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Only the built app, its manifest and its production dependencies go into the package. */
export function isIgnored(file) {
  if (file === '' || file === '/package.json') return false;
  return !/^\/(out|node_modules)(\/|$)/.test(file);
}

/** The @electron/packager options of a release build. */
export function packagerOptions({ platform = process.platform, arch = process.arch } = {}) {
  return {
    dir: root,
    out: path.join(root, 'release'),
    name: 'Loupe',
    executableName: 'loupe',
    appBundleId: 'app.loupe',
    platform,
    arch,
    overwrite: true,
    prune: true,
    ignore: isIgnored,
    // Native addons and the libraries they load cannot be read from inside an archive.
    asar: { unpack: '{*.node,*.so,*.so.*,*.dylib,*.dll}' },
    afterCopy: [fuseHook()],
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { platform: { type: 'string' }, arch: { type: 'string' } } });
  if (!fs.existsSync(path.join(root, 'out', 'main', 'index.js'))) {
    console.error('loupe: the app is not built (out/main/index.js is missing); run `npm run package`, which builds first.');
    process.exit(1);
  }
  const paths = await packager(packagerOptions(values));
  for (const p of paths) console.log(`loupe: packaged ${p} (release fuses flipped)`);
}
