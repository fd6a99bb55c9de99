import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron as electron } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { electronBinary } from '../../scripts/runtime.mjs';
import { writeClassFolders } from '../helpers/fixtures';

const binary = electronBinary();
const repo = path.resolve(import.meta.dirname, '../..');

describe('Electron app', () => {
  if (!binary) {
    it.skip('skipped: the Electron binary is not installed (offline install with ELECTRON_SKIP_BINARY_DOWNLOAD=1)', () => {});
    return;
  }
  it('opens a project given on the command line and serves thumbnails through loupe://', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-electron-'));
    const source = path.join(dir, 'pets');
    await writeClassFolders(source, ['cat', 'dog'], 5);
    const projectFile = path.join(dir, 'app.loupe');
    const app = await electron.launch({
      executablePath: binary,
      args: [path.join(repo, 'out/main/index.js'), projectFile],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '' },
    });
    try {
      const page = await app.firstWindow();
      await page.waitForSelector('body[data-ready="true"]');
      await page.getByTestId('import-open').click();
      await page.getByTestId('import-source-input').fill(source);
      await page.getByTestId('import-start').click();
      await page.getByTestId('import-done').waitFor();
      await page.getByTestId('import-close').click();
      await page.getByTestId('nav-gallery').click();
      await page.getByTestId('gallery-cell').first().waitFor();
      await expect
        .poll(() => page.locator('[data-testid="gallery-cell"] img').evaluateAll((imgs) => imgs.filter((i) => (i as HTMLImageElement).naturalWidth > 0).length))
        .toBeGreaterThan(0);
    } finally {
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // WebGPU training in the app's hidden window (dawn.node cannot load in Electron): a full run that
  // asks for 'webgpu' trains a few steps there for real. LOUPE_WEBGPU_SOFTWARE=1 gives SwiftShader's
  // adapter on a machine without a GPU (CI); without any adapter the run is refused with the reason.
  it('trains a full run on WebGPU in the hidden GPU window', async (ctx) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-electron-'));
    const source = path.join(dir, 'pets');
    await writeClassFolders(source, ['cat', 'dog'], 6);
    const app = await electron.launch({
      executablePath: binary,
      args: [path.join(repo, 'out/main/index.js'), path.join(dir, 'gpu.loupe')],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '', LOUPE_WEBGPU_SOFTWARE: '1' },
    });
    try {
      const page = await app.firstWindow();
      await page.waitForSelector('body[data-ready="true"]');
      type Bridge = { request: Record<string, (input: unknown) => Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }>> };
      const call = (name: string, input: unknown) =>
        page.evaluate(([n, i]) => (window as unknown as { loupeBridge: Bridge }).loupeBridge.request[n as string]!(i), [name, input] as const);
      const imported = await call('dataset:import', { source });
      expect(imported.ok).toBe(true);
      await expect.poll(async () => ((await call('jobs:list', {})).value as Array<{ state: string }>).every((j) => j.state !== 'running'), { timeout: 60_000 }).toBe(true);
      const started = await call('train:start', { config: { mode: 'full', arch: 'small-cnn', epochs: 1, batchSize: 4, inputSize: 16, backend: 'webgpu' } });
      expect(started.ok, JSON.stringify(started.error)).toBe(true);
      const { runId } = started.value as { runId: number };
      let run: { status: string; error: string | null; backend: { name: string; host: string } | null } = { status: 'running', error: null, backend: null };
      await expect
        .poll(async () => {
          run = (await call('runs:get', { id: runId })).value as typeof run;
          return run.status;
        }, { timeout: 100_000 })
        .not.toBe('running');
      if (run.status === 'failed' && /WebGPU is not available in the app/.test(run.error ?? '')) {
        ctx.skip(`no WebGPU adapter in Electron here: ${run.error}`);
        return;
      }
      expect(run.error).toBeNull();
      expect(run.status).toBe('done');
      expect(run.backend).toMatchObject({ name: 'webgpu', host: 'window' });
    } finally {
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
