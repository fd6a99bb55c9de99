/**
 * One CSP: the renderer build writes src/shared/csp.ts into index.html's meta tag (the loupe://
 * header test in main.test.ts checks the other side). Runs Vite's real HTML transform on the real page.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createServer, type Plugin, type PluginOption } from 'vite';
import { describe, expect, it } from 'vitest';
import config, { cspMeta, trainerContentSecurityPolicy } from '../../../electron.vite.config';
import { contentSecurityPolicy } from '../../../src/shared/csp';

const rendererRoot = path.resolve('src/renderer');

function pluginNames(options: PluginOption[] | undefined): string[] {
  return (options ?? []).flat(Infinity as 1).flatMap((p) => (p && typeof p === 'object' && 'name' in p ? [(p as Plugin).name] : []));
}

describe('renderer Content-Security-Policy', () => {
  it('the renderer build uses the CSP plugin', () => {
    const renderer = (config as { renderer?: { plugins?: PluginOption[] } }).renderer;
    expect(pluginNames(renderer?.plugins)).toContain('loupe-csp-meta');
  });

  it('index.html gets exactly one CSP meta, the shared constant, before any script', async () => {
    const source = fs.readFileSync(path.join(rendererRoot, 'index.html'), 'utf8');
    expect(source).not.toMatch(/http-equiv="Content-Security-Policy"/i);
    const server = await createServer({
      configFile: false,
      root: rendererRoot,
      plugins: [cspMeta()],
      logLevel: 'silent',
      appType: 'custom',
      server: { middlewareMode: true, hmr: false, ws: false },
    });
    try {
      const html = await server.transformIndexHtml('/index.html', source);
      const metas = [...html.matchAll(/<meta http-equiv="Content-Security-Policy" content="([^"]*)"/g)];
      expect(metas).toHaveLength(1);
      expect(metas[0]![1]!.replaceAll('&#39;', "'")).toBe(contentSecurityPolicy);
      expect(metas[0]!.index).toBeLessThan(html.indexOf('<script'));
    } finally {
      await server.close();
    }
  });

  it('trainer.html (the GPU training page) gets its own strict CSP: its scripts only, no loupe: images', async () => {
    const source = fs.readFileSync(path.join(rendererRoot, 'trainer.html'), 'utf8');
    const server = await createServer({
      configFile: false,
      root: rendererRoot,
      plugins: [cspMeta()],
      logLevel: 'silent',
      appType: 'custom',
      server: { middlewareMode: true, hmr: false, ws: false },
    });
    try {
      const html = await server.transformIndexHtml('/trainer.html', source);
      const metas = [...html.matchAll(/<meta http-equiv="Content-Security-Policy" content="([^"]*)"/g)];
      expect(metas).toHaveLength(1);
      const policy = metas[0]![1]!.replaceAll('&#39;', "'");
      expect(policy).toBe(trainerContentSecurityPolicy);
      expect(policy).toMatch(/default-src 'none'/);
      expect(policy).not.toMatch(/loupe:/);
      expect(metas[0]!.index).toBeLessThan(html.indexOf('<script'));
    } finally {
      await server.close();
    }
  });
});
