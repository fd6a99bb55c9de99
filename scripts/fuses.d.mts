import type { FuseConfig } from '@electron/fuses';

/** The release fuse configuration. */
export const releaseFuses: FuseConfig;
/** The Electron binary while afterCopy runs: `buildPath` is the staged resources/app, the binary not yet renamed. */
export function stagedElectronPath(buildPath: string, platform: string): string;
/** A packager afterCopy hook that flips `releaseFuses`; `flip` is @electron/fuses' flipFuses unless a test passes its own. */
export function fuseHook(
  flip?: (pathToElectron: string, config: FuseConfig) => Promise<unknown>,
): (buildPath: string, electronVersion: string, platform: string, arch: string, callback: (error?: Error | null) => void) => void;
