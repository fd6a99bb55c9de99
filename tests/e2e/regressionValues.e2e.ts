/**
 * Numeric targets end to end: import a `path,value` CSV, see the values' histogram, filter and order
 * the gallery by value, train a regression run and order and filter by its residuals, edit one value
 * in the large view (a typo is refused in place) and undo it, turn the values into four quantile
 * classes from the previewed dialog (undo from its toast, then again), train a classifier on them,
 * go back to the values and undo that, and undo the binning: the project is a regression project
 * again, with its values and without the classes. The project's labels are checked through the
 * CLI's JSON as well as the UI.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClassSummary } from '../../src/shared/curation';
import type { DatasetStats } from '../../src/shared/types';
import { writeRegressionDataset, type RegressionDataset } from '../helpers/fixtures';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

const bin = path.resolve('bin/loupe.mjs');
/** Images in the dataset: enough for four quantile bins of 20 and a quick baseline run. */
const imageCount = 80;
let browser: Browser;
let app: ServedApp;
let page: Page;
let dataset: RegressionDataset;

function cli<T>(...args: string[]): T {
  const out = execFileSync(process.execPath, [bin, ...args, '--project', app.projectFile, '--json'], { encoding: 'utf8', env: process.env });
  return JSON.parse(out) as T;
}
const stats = () => cli<DatasetStats>('stats');
/** expect.poll with room for a training run (its process starts from source on first use). */
const poll = <T>(read: () => Promise<T> | T, timeout = 20_000) => expect.poll(read, { timeout });
const task = () => page.getByTestId('overview').getAttribute('data-task');
const binRows = () =>
  page.getByTestId('bin-row').evaluateAll((rows) => rows.map((r) => ({ name: r.getAttribute('data-name')!, total: Number(r.getAttribute('data-total')) })));
const classItems = () =>
  page.getByTestId('class-item').evaluateAll((rows) => rows.map((r) => ({ name: r.getAttribute('data-class')!, total: Number(r.getAttribute('data-total')) })));

/** The shown gallery cells in order, with their value and residual. */
const shownCells = async () =>
  (
    await page.getByTestId('gallery-cell').evaluateAll((cells) =>
      cells.map((c) => ({
        index: Number(c.getAttribute('data-index')),
        value: Number(c.getAttribute('data-value')),
        residual: c.querySelector('[data-testid="cell-residual"]')?.getAttribute('data-residual') ?? null,
      })),
    )
  ).sort((a, b) => a.index - b.index);
const galleryTotal = () => page.getByTestId('gallery-count').getAttribute('data-total');

/** Trains a quick run on the image baseline from the Train view and waits for it to finish. */
async function trainQuick(): Promise<void> {
  await page.getByTestId('nav-train').click();
  const runsBefore = await page.getByTestId('run-select').locator('option').count();
  await page.getByTestId('train-backbone').selectOption('baseline');
  await page.getByRole('spinbutton', { name: 'Views', exact: true }).fill('0');
  await page.getByTestId('train-start').click();
  await poll(() => page.getByTestId('run-select').locator('option').count(), 60_000).toBeGreaterThan(runsBefore);
  await poll(() => page.getByTestId('run-status').textContent(), 90_000).toBe('done');
}

/** Opens "Turn into classes" on Overview, previews quantile bins with prefix `score` and returns the preview's rows. */
async function previewQuartiles(): Promise<Array<{ name: string; total: number }>> {
  await page.getByTestId('nav-overview').click();
  await page.getByTestId('bin-open').click();
  await page.getByTestId('bin-dialog').waitFor();
  await page.getByTestId('bin-method').selectOption('quantile');
  await page.getByTestId('bin-k').fill('4');
  await page.getByTestId('bin-prefix').fill('score');
  await poll(async () => (await binRows()).length).toBe(4);
  await poll(() => page.locator('[data-testid="bin-dialog"] .preview').getAttribute('data-current')).toBe('true');
  return binRows();
}

beforeAll(async () => {
  // No download, no native tfjs: the image baseline on the wasm backend, as on a fresh offline machine.
  process.env.LOUPE_OFFLINE = '1';
  process.env.LOUPE_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-cache-'));
  browser = await launchBrowser();
  app = await serve();
  dataset = await writeRegressionDataset(path.join(app.dir, 'values'), { count: imageCount, seed: 5 });
  page = await openApp(browser, app);
  await page.getByTestId('import-open').click();
  await page.getByTestId('import-source-input').fill(dataset.csv);
  await page.getByTestId('import-start').click();
  const done = page.getByTestId('import-done');
  await done.waitFor();
  expect(await done.getAttribute('data-added')).toBe(String(imageCount));
  await page.getByTestId('import-close').click();
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('numeric targets', () => {
  it('shows the values on Overview and per split on Splits', async () => {
    await page.getByTestId('nav-overview').click();
    await poll(task).toBe('regression');
    const histogram = page.getByTestId('value-histogram');
    await poll(() => histogram.getAttribute('data-count')).toBe(String(imageCount));
    expect(Number(await histogram.getAttribute('data-bins'))).toBeGreaterThan(1);

    await page.getByTestId('nav-splits').click();
    await poll(() => page.getByTestId('value-histogram').getAttribute('data-count')).toBe(String(imageCount));
    const perSplit = await page.getByTestId('values-split').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-count'))));
    expect(perSplit.reduce((a, b) => a + b, 0)).toBe(imageCount);
  });

  it('filters the gallery by a value range (kept in the URL) and orders it by value', async () => {
    await page.getByTestId('nav-gallery').click();
    const inRange = [...dataset.truth.values()].filter((v) => v >= 25 && v <= 50).length;
    await page.getByTestId('filter-value-min').fill('25');
    await page.getByTestId('filter-value-max').fill('50');
    await poll(galleryTotal).toBe(String(inRange));
    expect(page.url()).toMatch(/vmin=25&vmax=50/);
    await page.getByTestId('sort-select').selectOption('value');
    await poll(async () => {
      const values = (await shownCells()).map((c) => c.value);
      return values.length === inRange && values.every((v, i) => v >= 25 && v <= 50 && (i === 0 || values[i - 1]! <= v));
    }).toBe(true);
    await page.getByTestId('filter-value-min').fill('');
    await page.getByTestId('filter-value-max').fill('');
    await page.getByTestId('sort-select').selectOption('id');
    await poll(galleryTotal).toBe(String(imageCount));
  });

  it('trains a regression run: the gallery orders and filters by residual, the large view shows the prediction', async () => {
    await trainQuick();
    await page.getByTestId('nav-gallery').click();
    await page.getByTestId('sort-select').selectOption('residual');
    // Largest |predicted - value| first.
    await poll(async () => {
      const cells = await shownCells();
      const sizes = cells.map((c) => (c.residual === null ? Number.NaN : Math.abs(Number(c.residual))));
      return cells.length >= 12 && sizes.every((r, i) => !Number.isNaN(r) && (i === 0 || sizes[i - 1]! >= r));
    }).toBe(true);
    const cells = await shownCells();
    const threshold = Math.abs(Number(cells[4]!.residual));
    await page.getByTestId('filter-residual-min').fill(String(threshold));
    await poll(async () => Number(await galleryTotal())).toBeLessThan(imageCount);
    const kept = Number(await galleryTotal());
    expect(kept).toBeGreaterThanOrEqual(5);
    expect((await shownCells()).every((c) => Math.abs(Number(c.residual)) >= threshold)).toBe(true);

    await page.getByTestId('gallery-cell').first().dblclick();
    const predicted = Number(await page.getByTestId('image-viewer-predicted').getAttribute('data-value'));
    const residual = Number(await page.getByTestId('image-viewer-residual').getAttribute('data-value'));
    expect(residual).toBeCloseTo(predicted - cells[0]!.value, 6);
    await page.keyboard.press('Escape');
    await page.getByTestId('image-viewer').waitFor({ state: 'detached' });
    await page.getByTestId('filter-residual-min').fill('');
    await page.getByTestId('sort-select').selectOption('id');
    await poll(galleryTotal).toBe(String(imageCount));
  });

  it('edits a value in the large view, refuses a typo in place, and undoes the edit with Ctrl+Z', async () => {
    await page.getByTestId('nav-gallery').click();
    const first = page.getByTestId('gallery-cell').first();
    await first.waitFor();
    const id = await first.getAttribute('data-id');
    const cellValue = page.locator(`[data-testid="gallery-cell"][data-id="${id}"] [data-testid="cell-value"]`);
    const before = Number(await cellValue.getAttribute('data-value'));
    const relative = (await first.getAttribute('title'))!;
    expect(before).toBeCloseTo(dataset.truth.get(relative)!, 6);
    const versionBefore = await page.getByTestId('version-badge').textContent();

    await first.dblclick();
    const input = page.getByTestId('image-value-input');
    await poll(() => input.inputValue()).toBe(String(before));
    // Not a number: said beside the field, and nothing is sent.
    await input.fill('12,x');
    await input.press('Enter');
    await poll(() => page.getByTestId('image-value-error').textContent()).toMatch(/is not a number/);
    expect(await page.getByTestId('version-badge').textContent()).toBe(versionBefore);
    expect(await cellValue.getAttribute('data-value')).toBe(String(before));

    // Outside the generated range [0, 100], so it never equals the value it replaces.
    await input.fill('123.4');
    await input.press('Enter');
    await poll(() => cellValue.getAttribute('data-value')).toBe('123.4');
    expect(await cellValue.textContent()).toBe('123.4');
    // The residual is measured against the value now.
    const predicted = Number(await page.getByTestId('image-viewer-predicted').getAttribute('data-value'));
    await poll(async () => Number(await page.getByTestId('image-viewer-residual').getAttribute('data-value'))).toBeCloseTo(predicted - 123.4, 6);
    expect(await page.getByTestId('image-value-error').count()).toBe(0);

    await page.keyboard.press('Control+z');
    await poll(() => cellValue.getAttribute('data-value')).toBe(String(before));
    await poll(() => input.inputValue()).toBe(String(before));
    await page.keyboard.press('Escape');
    await page.getByTestId('image-viewer').waitFor({ state: 'detached' });
  });

  it('refuses edges that are not ascending with the schema message, and never applies them', async () => {
    await page.getByTestId('nav-overview').click();
    await page.getByTestId('bin-open').click();
    await page.getByTestId('bin-method').selectOption('edges');
    await page.getByTestId('bin-edges').fill('35, 12');
    await poll(() => page.getByTestId('bin-error').textContent()).toBe('edges must be strictly ascending');
    expect(await page.getByTestId('bin-apply').isDisabled()).toBe(true);
    // Typed ascending edges preview with their markers drawn over the histogram.
    await page.getByTestId('bin-edges').fill('25, 50, 75');
    await poll(() => page.getByTestId('bin-histogram').getAttribute('data-markers')).toBe('3');
    expect(await page.getByTestId('bin-error').count()).toBe(0);
    await page.keyboard.press('Escape');
    await page.getByTestId('bin-dialog').waitFor({ state: 'detached' });
    expect(stats().classes).toHaveLength(0);
  });

  it('turns the values into four quantile classes, undoes that from the toast, applies again and trains a classifier', async () => {
    let preview = await previewQuartiles();
    expect(preview.reduce((sum, row) => sum + row.total, 0)).toBe(imageCount);
    for (const row of preview) {
      expect(row.name.startsWith('score ')).toBe(true);
      // Quantile bins of 80 values: about 20 each (ties at an edge may move one or two).
      expect(Math.abs(row.total - imageCount / 4)).toBeLessThanOrEqual(2);
    }
    await page.getByTestId('bin-apply').click();
    await page.getByTestId('bin-dialog').waitFor({ state: 'detached' });
    await poll(task).toBe('classification');
    await poll(() => stats().classes.map((c) => c.name).sort()).toEqual(preview.map((row) => row.name).sort());

    // The toast offers Undo of exactly this change.
    await page.getByTestId('toast-action').click();
    await poll(task).toBe('regression');
    expect(stats().classes.filter((c) => c.total > 0)).toHaveLength(0);

    preview = await previewQuartiles();
    await page.getByTestId('bin-k').press('Enter');
    await page.getByTestId('bin-dialog').waitFor({ state: 'detached' });
    await poll(task).toBe('classification');

    await page.getByTestId('nav-classes').click();
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    await poll(async () => (await classItems()).filter((c) => c.total > 0).sort(byName)).toEqual([...preview].sort(byName));
    // The values stay beside the classes: cells show both.
    await page.getByTestId('nav-gallery').click();
    const cell = page.getByTestId('gallery-cell').first();
    await poll(() => cell.getAttribute('data-label')).toMatch(/^score /);
    expect(await cell.getByTestId('cell-value').count()).toBe(1);

    await trainQuick();
  });

  it('goes back to the values and undoes that, then undoes the binning: a regression project again', async () => {
    await page.getByTestId('nav-classes').click();
    const binned = (await classItems()).filter((c) => c.total > 0);
    expect(binned).toHaveLength(4);
    await page.getByTestId('unbin').click();
    await poll(async () => (await classItems()).filter((c) => c.total > 0)).toHaveLength(0);
    await page.getByTestId('nav-overview').click();
    await poll(task).toBe('regression');
    await page.getByTestId('bin-open').waitFor();

    // Ctrl+Z: first the unbinning, then the binning itself.
    await page.keyboard.press('Control+z');
    await poll(task).toBe('classification');
    await page.getByTestId('unbin').waitFor();
    await poll(() => stats().classes.filter((c) => c.total > 0).length).toBe(4);
    await page.keyboard.press('Control+z');
    await poll(task).toBe('regression');

    await poll(() => page.getByTestId('value-histogram').getAttribute('data-count')).toBe(String(imageCount));
    await page.getByTestId('nav-classes').click();
    await poll(() => page.getByTestId('class-item').count()).toBe(0);
    expect(cli<{ classes: ClassSummary[] }>('classes').classes).toHaveLength(0);
    await page.getByTestId('nav-gallery').click();
    const cell = page.getByTestId('gallery-cell').first();
    await poll(() => cell.getAttribute('data-label')).toBe('');
    const value = Number(await cell.getByTestId('cell-value').getAttribute('data-value'));
    expect(value).toBeCloseTo(dataset.truth.get((await cell.getAttribute('title'))!)!, 6);
  });
});
