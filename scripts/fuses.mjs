// The Electron fuses every release build flips (https://www.electronjs.org/docs/latest/tutorial/fuses),
// applied by scripts/package.mjs through packager's afterCopy hook, before any signing.
import fuses from '@electron/fuses';
import path from 'node:path';

const { flipFuses, FuseV1Options, FuseVersion } = fuses;

/** The release fuse configuration. */
export const releaseFuses = {
  version: FuseVersion.V1,
  // ELECTRON_RUN_AS_NODE would turn the app into a plain Node with the app's privileges.
  [FuseV1Options.RunAsNode]: false,
  [FuseV1Options.EnableCookieEncryption]: true,
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
};

/** The Electron binary while afterCopy runs: `buildPath` is the staged resources/app, the binary not yet renamed. */
export function stagedElectronPath(buildPath, platform) {
  if (platform === 'darwin' || platform === 'mas') return path.resolve(buildPath, '../../..'); // Electron.app
  return path.resolve(buildPath, '../..', platform === 'win32' ? 'electron.exe' : 'electron');
}

/** A packager afterCopy hook that flips `releaseFuses`; `flip` is @electron/fuses' flipFuses unless a test passes its own. */
export function fuseHook(flip = flipFuses) {
  return (buildPath, _electronVersion, platform, arch, callback) => {
    // Flipping fuses breaks the ad-hoc signature arm64 macOS binaries need; re-sign ad hoc there.
    const config = { ...releaseFuses, resetAdHocDarwinSignature: platform === 'darwin' && arch === 'arm64' };
    flip(stagedElectronPath(buildPath, platform), config).then(() => callback(), callback);
  };
}
