import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, externalizeDepsPlugin } from 'electron-vite';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { contentSecurityPolicy } from './src/shared/csp';

/** Writes the renderer's CSP (src/shared/csp.ts, also sent on loupe:// responses) into index.html, first in <head>. */
export function cspMeta(): Plugin {
  return {
    name: 'loupe-csp-meta',
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy }, injectTo: 'head-prepend' },
    ],
  };
}

// main: the Electron entry (the core is bundled in; native deps stay external).
// preload: the contextBridge script. renderer: the Svelte app, also served by `loupe serve`.
export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    build: {
      rollupOptions: {
        // The training process is its own entry: the app forks it, so a native crash in training
        // never takes the window down (src/main/train/client.ts finds it beside index.js).
        input: { index: resolve('src/main/electron/index.ts'), trainProcess: resolve('src/main/train/process.ts') },
      },
    },
  },
  preload: {
    plugins: [externalizeDepsPlugin({ exclude: ['zod'] })],
    build: {
      rollupOptions: {
        input: { index: resolve('src/preload/index.ts') },
        // Sandboxed preloads must be CommonJS.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve('src/renderer'),
    plugins: [svelte(), cspMeta()],
    build: { rollupOptions: { input: { index: resolve('src/renderer/index.html') } } },
  },
});
