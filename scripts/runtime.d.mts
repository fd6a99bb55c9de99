/** The Electron binary's path, or null when it was not downloaded. */
export function electronBinary(): string | null;
/** The command and environment that run a Node script for Loupe. */
export function nodeRuntime(): { command: string; env: NodeJS.ProcessEnv; name: 'electron-as-node' | 'node' };
