/**
 * Curation end to end: every gallery action by key or click, the Classes, Splits, Export and
 * Versions views; after each, the project is checked through the CLI's JSON, not the UI alone.
 * One server and one project for the file: the steps build on each other, as a session would.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchInfo, ClassSummary } from '../../src/shared/curation';
import type { DatasetStats } from '../../src/shared/types';
import sharp from 'sharp';
import { launchBrowser, serve, type ServedApp } from './app';

const bin = path.resolve('bin/loupe.mjs');
let browser: Browser;
let app: ServedApp;
let page: Page;

function cli<T>(...args: string[]): T {
  const out = execFileSync(process.execPath, [bin, ...args, '--project', app.projectFile, '--json'], { encoding: 'utf8' });
  return JSON.parse(out) as T;
}
const stats = () => cli<DatasetStats>('stats');
const classes = () => cli<{ classes: ClassSummary[] }>('classes').classes;
const classTotal = (name: string) => stats().classes.find((c) => c.name === name)?.total ?? 0;

/** The text of the newest toast, once it contains `text`. */
async function expectToast(text: string | RegExp): Promise<void> {
  await expect.poll(() => page.getByTestId('toast').last().textContent()).toMatch(text);
}

async function openAt(hash: string): Promise<void> {
  await page.goto(`${app.url}${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
}

const cells = () => page.getByTestId('gallery-cell');
const galleryTotal = () => page.getByTestId('gallery-count').getAttribute('data-total');

/**
 * Like writeClassFolders(…, 'splits'), but each image is seeded noise: the gradient fixtures share
 * one perceptual hash, and a rebalance rightly keeps such "duplicates" together in one split.
 */
async function writeDistinctClassFolders(root: string, names: string[], perClass: number): Promise<void> {
  let seed = 1;
  for (const name of names) {
    for (let i = 0; i < perClass; i++) {
      const split = i % 5 === 0 ? 'valid' : i % 5 === 1 ? 'test' : 'train';
      const pixels = Buffer.alloc(32 * 24 * 3);
      let state = seed++ * 2654435761;
      for (let k = 0; k < pixels.length; k++) {
        state = (state * 1103515245 + 12345) >>> 0;
        pixels[k] = state >>> 24;
      }
      const file = path.join(root, split, name, `${name}_${i}.png`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await sharp(pixels, { raw: { width: 32, height: 24, channels: 3 } }).png().toFile(file);
    }
  }
}

beforeAll(async () => {
  app = await serve();
  const source = path.join(app.dir, 'pets');
  // 20 per class: 12 train, 4 valid, 4 test.
  await writeDistinctClassFolders(source, ['cat', 'dog', 'fox'], 20);
  cli('import', source);
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => console.error('page error:', error.message));
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('curation', () => {
  it('relabels by number key from a filtered view restored from the URL, and reverts it from the history', async () => {
    await openAt('#/gallery?class=cat&split=train');
    await expect.poll(galleryTotal).toBe('12');
    expect(await page.getByTestId('filter-class').inputValue()).toBe('cat');
    expect(new URL(page.url()).searchParams.get('token')).toBe(app.token);

    const order = classes().map((c) => c.name);
    const first = cells().first();
    const id = await first.getAttribute('data-id');
    await first.click();
    await expect.poll(() => first.getAttribute('data-selected')).toBe('true');
    await page.keyboard.press(String(order.indexOf('dog') + 1));
    await expectToast(/dog/);
    await expect.poll(galleryTotal).toBe('11');
    expect(classTotal('cat')).toBe(19);
    expect(classTotal('dog')).toBe(21);

    // The large view of that image: its history, and a one-click revert.
    await page.getByTestId('filter-class').selectOption('dog');
    await expect.poll(galleryTotal).toBe('13');
    await page.locator(`[data-testid="gallery-cell"][data-id="${id}"]`).click();
    await page.keyboard.press(' ');
    await page.getByTestId('image-viewer').waitFor();
    await expect.poll(() => page.getByTestId('image-viewer').getAttribute('data-id')).toBe(id);
    const row = page.getByTestId('history-row').filter({ hasText: 'dog' }).first();
    await row.getByTestId('history-revert').click();
    await expectToast(/Reverted/);
    // Back to cat, the image leaves this dog-filtered view.
    await expect.poll(galleryTotal).toBe('12');
    expect(classTotal('cat')).toBe(20);
    expect(classTotal('dog')).toBe(20);
    await page.keyboard.press('Escape');
    await page.getByTestId('image-viewer').waitFor({ state: 'detached' });
  });

  it('multi-selects with click + shift-click and relabels through the class picker, creating a class', async () => {
    await page.getByTestId('filter-class').selectOption('cat');
    await page.getByTestId('filter-split').selectOption('');
    await expect.poll(galleryTotal).toBe('20');
    await cells().nth(0).click();
    await cells().nth(3).click({ modifiers: ['Shift'] });
    await expect.poll(() => page.getByTestId('selection-count').getAttribute('data-count')).toBe('4');
    expect(await page.locator('[data-testid="gallery-cell"][data-selected="true"]').count()).toBe(4);
    await page.screenshot({ path: '/tmp/cur-gallery.png' });

    await page.keyboard.press('l');
    await page.getByTestId('class-picker').fill('lynx');
    await page.locator('[data-testid="class-picker-option"][data-class="lynx"]').click();
    await expectToast(/lynx/);
    await expect.poll(galleryTotal).toBe('16');
    expect(classTotal('cat')).toBe(16);
    expect(classTotal('lynx')).toBe(4);
    await expect.poll(() => page.getByTestId('selection-count').getAttribute('data-count')).not.toBe('4');

    await page.getByTestId('select-all').click();
    await expect.poll(() => page.getByTestId('selection-count').getAttribute('data-count')).toBe('16');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('[data-testid="gallery-cell"][data-selected="true"]').count()).toBeLessThanOrEqual(1);
  });

  it('removes and restores by key and button, and undoes / redoes with Ctrl+Z / Ctrl+Shift+Z', async () => {
    await cells().first().click();
    await page.keyboard.press('Delete');
    await expectToast(/[Rr]emoved/);
    await expect.poll(galleryTotal).toBe('15');
    expect(stats().removed).toBe(1);
    expect(classTotal('cat')).toBe(15);

    await page.getByTestId('filter-status').selectOption('removed');
    await expect.poll(galleryTotal).toBe('1');
    expect(await cells().first().getAttribute('data-status')).toBe('removed');
    await cells().first().click();
    await page.getByTestId('action-restore').click();
    await expect.poll(galleryTotal).toBe('0');
    expect(stats().removed).toBe(0);
    expect(classTotal('cat')).toBe(16);

    await page.keyboard.press('Control+z');
    await expectToast(/^Undid: .*[Rr]estored/);
    await expect.poll(galleryTotal).toBe('1');
    expect(stats().removed).toBe(1);
    await page.keyboard.press('Control+Shift+Z');
    await expectToast(/^Redid: .*[Rr]estored/);
    await expect.poll(galleryTotal).toBe('0');
    expect(stats().removed).toBe(0);
  });

  it('merges, deletes and renames classes in the Classes view', async () => {
    await page.getByTestId('nav-classes').click();
    const lynx = page.locator('[data-testid="class-item"][data-class="lynx"]');
    await lynx.getByTestId('class-merge').click();
    await page.getByTestId('merge-target').selectOption('fox');
    await expect.poll(() => page.getByTestId('merge-preview').getAttribute('data-images')).toBe('4');
    await page.getByTestId('merge-confirm').click();
    await expect.poll(() => page.locator('[data-testid="class-item"][data-class="fox"]').getAttribute('data-total')).toBe('24');
    expect(classTotal('fox')).toBe(24);
    expect(classes().find((c) => c.name === 'lynx')?.total ?? 0).toBe(0);

    // A class made by hand and never used can be deleted.
    await page.getByTestId('class-create-input').fill('empty');
    await page.getByTestId('class-create').click();
    const empty = page.locator('[data-testid="class-item"][data-class="empty"]');
    await empty.waitFor();
    expect(classes().map((c) => c.name)).toContain('empty');
    await empty.getByTestId('class-delete').click();
    await empty.waitFor({ state: 'detached' });
    expect(classes().map((c) => c.name)).not.toContain('empty');

    const fox = page.locator('[data-testid="class-item"][data-class="fox"]');
    await fox.getByTestId('class-rename').click();
    await page.getByTestId('class-rename-input').fill('vixen');
    await page.getByTestId('class-rename-input').press('Enter');
    await page.locator('[data-testid="class-item"][data-class="vixen"]').waitFor();
    expect(classes().find((c) => c.name === 'vixen')?.total).toBe(24);
    expect(classes().map((c) => c.name)).not.toContain('fox');
  });

  it('rebalances with the test split locked: previews, applies, and test keeps its images', async () => {
    const before = stats();
    await page.getByTestId('nav-splits').click();
    await page.getByTestId('split-table').waitFor();
    await page.getByTestId('rebalance-ratio-train').fill('50');
    await page.getByTestId('rebalance-ratio-valid').fill('50');
    await page.getByTestId('rebalance-lock-test').check();
    await page.getByTestId('rebalance-seed').fill('7');
    await page.getByTestId('rebalance-preview').click();
    const moved = Number(await page.getByTestId('rebalance-moved').getAttribute('data-moved'));
    expect(moved).toBeGreaterThan(0);
    await page.getByTestId('rebalance-apply').click();
    await expectToast(/moved/);

    const after = stats();
    for (const row of before.classes) {
      const now = after.classes.find((c) => c.name === row.name)!;
      expect(now.test).toBe(row.test);
      expect(now.total).toBe(row.total);
      // 50/50 of what train and valid held, give or take one.
      expect(Math.abs(now.train - now.valid)).toBeLessThanOrEqual(1);
    }
    expect(after.splits.test).toBe(before.splits.test);
    const catValid = after.classes.find((c) => c.name === 'cat')!.valid;
    await expect
      .poll(() => page.locator('[data-testid="split-row"][data-class="cat"] [data-split="valid"]').textContent())
      .toMatch(new RegExp(`^\\s*${catValid}\\b`));
    await page.screenshot({ path: '/tmp/cur-splits.png', fullPage: true });
  });

  it('exports a folder tree and lists versions with a diff between two of them', async () => {
    const out = path.join(app.dir, 'export');
    await page.getByTestId('export-open').click();
    await page.getByTestId('export-format').selectOption('folders');
    await page.getByTestId('export-link').selectOption('copy');
    await page.getByTestId('export-out').fill(out);
    await page.getByTestId('export-start').click();
    const done = page.getByTestId('export-done');
    await done.waitFor();
    const images = stats().images;
    expect(Number(await done.getAttribute('data-files'))).toBe(images);
    const written = (fs.readdirSync(out, { recursive: true }) as string[]).filter((f) => f.endsWith('.png'));
    expect(written.length).toBe(images);
    await page.keyboard.press('Escape');

    await page.getByTestId('nav-versions').click();
    const list = cli<{ total: number; version: number; rows: BatchInfo[] }>('versions');
    await expect.poll(() => page.getByTestId('version-row').count()).toBe(list.rows.length);
    // The two newest batches: the rebalance and the rename before it.
    const [newest, previous, third] = list.rows;
    await page.getByTestId('diff-from').fill(String(third!.version));
    await page.getByTestId('diff-to').fill(String(newest!.version));
    await page.getByTestId('diff-run').click();
    const expected = newest!.changes + previous!.changes;
    const cliDiff = cli<{ total: number }>('diff', String(third!.version), String(newest!.version));
    await expect.poll(() => page.getByTestId('diff-total').getAttribute('data-total')).toBe(String(cliDiff.total));
    expect(cliDiff.total).toBeGreaterThan(0);
    expect(cliDiff.total).toBeLessThanOrEqual(expected);
    expect(await page.getByTestId('diff-row').count()).toBe(Math.min(cliDiff.total, 1000));

    await page.screenshot({ path: '/tmp/cur-versions.png' });
  });
});
