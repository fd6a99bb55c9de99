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
});
