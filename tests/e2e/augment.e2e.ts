import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeClassFolders } from '../helpers/fixtures';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

let browser: Browser;
let app: ServedApp | null = null;

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await app?.stop();
  app = null;
});

/** Waits until the grid shows a preview other than `previous` with every image loaded; returns its id. */
async function nextPreview(page: Page, previous: string | null): Promise<string> {
  const grid = page.getByTestId('augment-preview');
  await expect
    .poll(async () => {
      const [id, state] = [await grid.getAttribute('data-preview-id'), await grid.getAttribute('data-state')];
      return id !== null && id !== previous && state === 'ready';
    })
    .toBe(true);
  return (await grid.getAttribute('data-preview-id'))!;
}

/** The decoded pixels of every preview image, as one string per image. */
function pixels(page: Page): Promise<string[]> {
  return page.getByTestId('augment-preview-img').evaluateAll((imgs) =>
    imgs.map((img) => {
      const image = img as HTMLImageElement;
      const canvas = document.createElement('canvas');
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let hash = 0;
      for (let i = 0; i < data.length; i++) hash = (Math.imul(hash, 31) + data[i]!) | 0;
      return `${canvas.width}x${canvas.height}:${hash}`;
    }),
  );
}

describe('the Augment view', () => {
  it('previews 12 augmentations at the input size and changes them when a preset or a slider changes', async () => {
    app = await serve();
    const source = path.join(app.dir, 'pets');
    await writeClassFolders(source, ['cat', 'dog'], 8);
    const page = await openApp(browser, app);
    await page.getByTestId('import-open').click();
    await page.getByTestId('import-source-input').fill(source);
    await page.getByTestId('import-start').click();
    await page.getByTestId('import-done').waitFor();
    await page.getByTestId('import-close').click();

    await page.getByTestId('nav-augment').click();
    let id = await nextPreview(page, null);
    expect(await page.getByTestId('augment-preset').inputValue()).toBe('standard');
    const standard = await pixels(page);
    expect(standard).toHaveLength(12);
    for (const image of standard) expect(image).toMatch(/^224x224:/);

    await page.getByTestId('augment-preset').selectOption('none');
    id = await nextPreview(page, id);
    const none = await pixels(page);
    expect(none).toHaveLength(12);
    expect(none).not.toEqual(standard);

    await page.getByTestId('augment-preset').selectOption('light');
    id = await nextPreview(page, id);
    const light = await pixels(page);

    // A slider: brightness always on, at its widest range.
    await page.getByTestId('augment-brightness-p').fill('1');
    await page.getByTestId('augment-brightness-amount').fill('1');
    id = await nextPreview(page, id);
    expect(await page.getByTestId('augment-preset').inputValue()).toBe('custom');
    const brighter = await pixels(page);
    expect(brighter).not.toEqual(light);

    // Re-roll: new augmentations of the same images.
    await page.getByTestId('augment-reroll').click();
    id = await nextPreview(page, id);
    expect(await pixels(page)).not.toEqual(brighter);

    // One image, twelve augmentations.
    await page.getByTestId('augment-mode-one').click();
    await nextPreview(page, id);
    const captions = await page.locator('[data-testid="augment-preview"] figcaption').allTextContents();
    expect(new Set(captions).size).toBe(1);
    expect(new Set(await pixels(page)).size).toBeGreaterThan(6);
  });

  it('opens with the preset a diagnosis step asks for (#/augment?preset=strong)', async () => {
    app = await serve();
    const source = path.join(app.dir, 'pets');
    await writeClassFolders(source, ['cat', 'dog'], 4);
    const setup = await openApp(browser, app);
    await setup.getByTestId('import-open').click();
    await setup.getByTestId('import-source-input').fill(source);
    await setup.getByTestId('import-start').click();
    await setup.getByTestId('import-done').waitFor();
    await setup.close();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${app.url}#/augment?preset=strong`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.getByTestId('augment-preview').waitFor();
    await expect.poll(() => page.getByTestId('augment-preset').inputValue()).toBe('strong');
    await page.close();
  });
});
