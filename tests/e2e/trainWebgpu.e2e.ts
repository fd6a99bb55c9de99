/**
 * A full run forced onto WebGPU from the Train view in serve mode: the training process (plain
 * Node) trains on dawn.node's adapter (SwiftShader here and in CI, opted in with
 * LOUPE_WEBGPU_SOFTWARE=1), and the run shows its backend, device (flagged software), host and that
 * it was forced. Skipped, with the reason in its name, where dawn.node finds no adapter.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plantedClasses, writePlantedDataset } from '../unit/train/plantedDataset';
import { testAdapter } from '../unit/gpu/webgpuAdapter';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

const adapter = await testAdapter();
const perClass = 6;
let browser: Browser;
let app: ServedApp;
let page: Page;

describe('full run on WebGPU from the Train view', () => {
  if (adapter.skip !== null) {
    it.skip(`skipped: ${adapter.skip}`, () => {});
    return;
  }
  beforeAll(async () => {
    process.env.LOUPE_OFFLINE = '1';
    process.env.LOUPE_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-cache-'));
    process.env.LOUPE_WEBGPU_SOFTWARE = '1';
    browser = await launchBrowser();
    app = await serve();
    const source = path.join(app.dir, 'colours');
    await writePlantedDataset(source, perClass, 0, 16);
    page = await openApp(browser, app);
    await page.getByTestId('import-open').click();
    await page.getByTestId('import-source-input').fill(source);
    await page.getByTestId('import-start').click();
    const done = page.getByTestId('import-done');
    await done.waitFor();
    expect(await done.getAttribute('data-added')).toBe(String(perClass * plantedClasses.length));
    await page.getByTestId('import-close').click();
  });
  afterAll(async () => {
    delete process.env.LOUPE_WEBGPU_SOFTWARE;
    await browser?.close();
    await app?.stop();
  });

  it('trains one epoch on the forced webgpu backend and shows the device, the host and the forcing', async () => {
    await page.getByTestId('nav-train').click();
    await page.getByTestId('train-mode').selectOption('full');
    await page.getByTestId('full-arch').selectOption('small-cnn');
    await page.getByTestId('full-batch-size').fill('8');
    await page.getByTestId('full-augment').selectOption('none');
    await page.getByTestId('full-backend').selectOption('webgpu');
    await page.getByTestId('full-epochs').fill('1');
    await page.getByTestId('full-epochs').press('Enter');
    await expect.poll(() => page.getByTestId('run-status').textContent(), { timeout: 240_000 }).toBe('done');
    expect(await page.getByTestId('backend-name').textContent()).toBe('webgpu');
    const device = page.getByTestId('backend-device');
    expect(await device.textContent()).toContain(adapter.found.device.label);
    expect(await device.getAttribute('data-software')).toBe(String(adapter.found.device.software));
    if (adapter.found.device.software) expect(await device.textContent()).toMatch(/software adapter/);
    expect(await page.getByTestId('backend-host').textContent()).toMatch(/in the training process · forced \(webgpu\)/);
  }, 300_000);
});
