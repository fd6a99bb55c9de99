import type { Options } from '@electron/packager';

/** Only the built app, its manifest and its production dependencies go into the package. */
export function isIgnored(file: string): boolean;
/** The @electron/packager options of a release build. */
export function packagerOptions(target?: { platform?: string; arch?: string }): Options & { dir: string };
