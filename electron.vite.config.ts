import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, externalizeDepsPlugin } from 'electron-vite';
import { basename, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { contentSecurityPolicy } from './src/shared/csp';

/**
 * The GPU training page's CSP (trainer.html): its own bundled scripts and nothing else. It shows
 * no images (bar its empty data: icon), loads no styles, and fetches nothing: its batches come over
 * its MessagePort.
 */
export const trainerContentSecurityPolicy = "default-src 'none'; script-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

/**
 * Writes each page's CSP into its <head>, first: index.html gets the renderer's (src/shared/csp.ts,
 * also sent on loupe:// responses), trainer.html its own strict one.
 */
export function cspMeta(): Plugin {
  return {
    name: 'loupe-csp-meta',
    transformIndexHtml: (_html, context) => [
      {
        tag: 'meta',
        attrs: { 'http-equiv': 'Content-Security-Policy', content: basename(context.filename) === 'trainer.html' ? trainerContentSecurityPolicy : contentSecurityPolicy },
        injectTo: 'head-prepend',
      },
    ],
  };
}

// main: the Electron entry (the core is bundled in; native deps stay external).
// preload: the contextBridge script, and the GPU training page's (it hands the page its port).
// renderer: the Svelte app, also served by `loupe serve`; and trainer.html, the GPU training page
// (src/trainer: TF.js on WebGPU, no Node) that the app loads in a hidden window.
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
        input: { index: resolve('src/preload/index.ts'), trainer: resolve('src/preload/trainer.ts') },
        // Sandboxed preloads must be CommonJS.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve('src/renderer'),
    plugins: [svelte(), cspMeta()],
    build: { rollupOptions: { input: { index: resolve('src/renderer/index.html'), trainer: resolve('src/renderer/trainer.html') } } },
  },
});
