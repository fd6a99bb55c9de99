/**
 * Train and review end to end: import a colour dataset with planted label errors, press Retrain,
 * watch the loss curve stream, open the likely label errors, accept a suggestion, retrain, and see
 * the fixed image gone from the queue; the label change is checked through the CLI's JSON.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyCnn, tinyCnnOnnx } from '../../src/main/model/tinyOnnx';
import type { DatasetStats } from '../../src/shared/types';
import { backendNames } from '../../src/shared/train';
import { writePlantedDataset } from '../unit/train/plantedDataset';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

const bin = path.resolve('bin/loupe.mjs');
let browser: Browser;
let app: ServedApp;
let page: Page;
let planted: string[] = [];

function cli<T>(...args: string[]): T {
  const out = execFileSync(process.execPath, [bin, ...args, '--project', app.projectFile, '--json'], { encoding: 'utf8', env: process.env });
  return JSON.parse(out) as T;
}
const classTotal = (name: string) => cli<DatasetStats>('stats').classes.find((c) => c.name === name)?.total ?? 0;
const itemIds = () => page.getByTestId('review-item').evaluateAll((items) => items.map((i) => Number(i.getAttribute('data-id'))));
/** expect.poll with room for a training run (its process starts from source on first use). */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 45_000 });
const runStatus = () => page.getByTestId('run-status').textContent();

beforeAll(async () => {
  // No download, no native tfjs: the image baseline on the wasm backend, as on a fresh offline machine.
  process.env.LOUPE_OFFLINE = '1';
  // Imported models go to a cache of the test's own, never the user's.
  process.env.LOUPE_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-cache-'));
  browser = await launchBrowser();
  app = await serve();
  const source = path.join(app.dir, 'colours');
  // Three colour classes of 30 noisy squares each, and six images filed under the wrong colour.
  planted = await writePlantedDataset(source, 30, 6);
  page = await openApp(browser, app);
  await page.getByTestId('import-open').click();
  await page.getByTestId('import-source-input').fill(source);
  await page.getByTestId('import-start').click();
  const done = page.getByTestId('import-done');
  await done.waitFor();
  expect(await done.getAttribute('data-added')).toBe('96');
  await page.getByTestId('import-close').click();
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('train and review', () => {
  it('imports an ONNX model file as a backbone and selects it', async () => {
    const file = path.join(app.dir, 'tiny.onnx');
    fs.writeFileSync(file, tinyCnnOnnx(tinyCnn(32, 4, 8)));
    await page.getByTestId('nav-train').click();
    await page.getByTestId('backbone-file').fill(file);
    await page.getByTestId('backbone-import').click();
    await poll(() => page.getByTestId('train-backbone').inputValue()).toBe('tiny');
    expect(await page.locator('[data-testid="train-backbone"] option').allTextContents()).toContain('tiny');
    // Back to the image baseline for the runs below.
    await page.getByTestId('train-backbone').selectOption('default');
  });

  it('imports a backbone with its declared input scaling, prefilled from the file, and shows its preprocessing, engine and rate', async () => {
    const file = path.join(app.dir, 'unitnet.onnx');
    fs.writeFileSync(file, tinyCnnOnnx(tinyCnn(32, 4, 8, 3)));
    await page.getByTestId('nav-train').click();
    await page.getByTestId('backbone-file').fill(file);
    await page.getByTestId('backbone-file').press('Tab');
    // What the file says: its 32 px input, prefilled.
    await poll(() => page.getByTestId('backbone-file-facts').textContent()).toMatch(/input 32x32x3/);
    expect(await page.getByTestId('backbone-size').inputValue()).toBe('32');
    await page.getByTestId('backbone-scaling').selectOption('unit');
    await page.getByTestId('backbone-resize').selectOption('lanczos3');
    await page.getByTestId('backbone-import').click();
    await poll(() => page.getByTestId('train-backbone').inputValue()).toBe('unitnet');
    await poll(() => page.getByTestId('backbone-preprocessing').textContent()).toMatch(/unit \(mean 0, 0, 0; std 1, 1, 1\) · 32 px · rgb · lanczos3 resize/);
    expect(await page.getByTestId('backbone-engine').textContent()).toMatch(/onnxruntime-node/);
    expect(await page.getByTestId('backbone-rate').textContent()).toMatch(/not measured yet/);
    await poll(() => page.getByTestId('embed-estimate').textContent()).toMatch(/\d+ vectors to embed/);
    await page.getByTestId('train-backbone').selectOption('default');
  });

  it('retrains with one click, streams the loss, finds planted label errors, fixes one and retrains', async () => {
    await page.getByTestId('nav-train').click();
    await page.getByTestId('retrain').click();
    await poll(async () => Number(await page.getByTestId('loss-chart').getAttribute('data-points'))).toBeGreaterThan(0);
    await poll(runStatus).toBe('done');
    expect(backendNames).toContain(await page.getByTestId('backend-name').textContent());
    await page.getByTestId('baseline-note').waitFor();
    await poll(async () => Number(await page.getByTestId('metrics-valid-accuracy').getAttribute('data-value'))).toBeGreaterThan(0.5);
    expect(Number(await page.getByTestId('metrics-test-accuracy').getAttribute('data-value'))).toBeGreaterThan(0.5);
    const counts = await page.getByTestId('confusion-cell').evaluateAll((cells) => cells.map((c) => Number(c.getAttribute('data-count'))));
    expect(counts).toHaveLength(9);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(96);

    // A confusion cell opens its images in the Gallery, filtered to that (given, predicted) pair...
    const cells = await page.getByTestId('confusion-cell').evaluateAll((els) =>
      els.map((e) => ({ given: e.getAttribute('data-given')!, predicted: e.getAttribute('data-predicted')!, count: Number(e.getAttribute('data-count')) })),
    );
    const cell = cells.find((c) => c.given !== c.predicted && c.count > 0)!;
    expect(cell).toBeDefined();
    const cellButton = page.locator(`[data-testid="confusion-cell"][data-given="${cell.given}"][data-predicted="${cell.predicted}"]`);
    await cellButton.click();
    await poll(async () => Number(await page.getByTestId('gallery-count').getAttribute('data-total'))).toBe(cell.count);
    await poll(() => page.getByTestId('gallery-cell').count()).toBe(cell.count);
    for (const galleryCell of await page.getByTestId('gallery-cell').all()) {
      expect(await galleryCell.getAttribute('data-label')).toBe(cell.given);
      expect(await galleryCell.getByTestId('cell-prediction').textContent()).toContain(cell.predicted);
    }
    expect(await page.getByTestId('filter-predicted').inputValue()).toBe(cell.predicted);

    // ...and, shift-clicked, as a Review queue.
    await page.getByTestId('nav-train').click();
    await cellButton.click({ modifiers: ['Shift'] });
    await poll(() => page.getByTestId('review-queue-select').inputValue()).toBe('cell');
    await poll(() => page.getByTestId('review-item').count()).toBe(cell.count);
    for (const item of await page.getByTestId('review-item').all()) {
      expect(await item.getAttribute('data-given')).toBe(cell.given);
      expect(await item.getAttribute('data-predicted')).toBe(cell.predicted);
    }

    // Likely label errors: the planted ones come first.
    await page.getByTestId('review-queue-select').selectOption('label');
    await poll(() => page.getByTestId('review-total').getAttribute('data-loaded')).toBe('true');
    await poll(() => page.getByTestId('review-item').count()).toBeGreaterThan(0);
    const firstRun = await page.getByTestId('review-total').getAttribute('data-run');
    const top = await page
      .getByTestId('review-item')
      .evaluateAll((items) => items.slice(0, 6).map((i) => ({ id: Number(i.getAttribute('data-id')), path: i.getAttribute('data-path')!, predicted: i.getAttribute('data-predicted')! })));
    const found = top.filter((t) => planted.includes(t.path));
    expect(found.length).toBeGreaterThanOrEqual(2);
    const fix = found[0]!;
    // planted_<n>_really_<truth>.png sits in the wrong colour's folder.
    const truth = fix.path.match(/really_(\w+)\.png$/)![1]!;
    const wrong = fix.path.split('/')[0]!;
    expect(fix.predicted).toBe(truth);
    const before = { truth: classTotal(truth), wrong: classTotal(wrong) };

    await page.locator(`[data-testid="review-item"][data-id="${fix.id}"] [data-testid="review-accept"]`).click();
    await poll(itemIds).not.toContain(fix.id);
    expect(classTotal(truth)).toBe(before.truth + 1);
    expect(classTotal(wrong)).toBe(before.wrong - 1);

    // Keyboard: K keeps the focused image (it leaves the queue), Ctrl+Z brings it back.
    const focused = Number(await page.locator('[data-testid="review-item"][aria-current="true"]').getAttribute('data-id'));
    await page.keyboard.press('k');
    await poll(itemIds).not.toContain(focused);
    await page.keyboard.press('Control+z');
    await poll(itemIds).toContain(focused);

    // Retrain on the fixed data: the queue refreshes from the run that scores best on today's labels
    // (the new one or the first), and the fixed image stays out of it.
    await page.getByTestId('retrain').click();
    await poll(() => page.getByTestId('retrain').getAttribute('data-training')).toBe('true');
    await poll(() => page.getByTestId('retrain').getAttribute('data-training')).toBe('false');
    const issues = cli<{ runId: number; rows: Array<{ path: string }>; source: { runId: number } }>('issues', '--kind', 'label', '--limit', '200');
    expect(issues.runId).toBe(issues.source.runId);
    await poll(() => page.getByTestId('review-total').getAttribute('data-run')).toBe(String(issues.runId));
    expect(firstRun).toBeTruthy();
    expect(await itemIds()).not.toContain(fix.id);
    expect(issues.rows.map((r) => r.path)).not.toContain(fix.path);

    // Two runs now: the Runs view lists them and compares them.
    await page.getByTestId('nav-runs').click();
    await poll(() => page.getByTestId('run-row').count()).toBe(2);
    for (const row of await page.getByTestId('run-row').all()) await row.locator('input[type="checkbox"]').check();
    await page.getByTestId('runs-compare').click();
    await poll(() => page.getByTestId('delta-row').count()).toBeGreaterThan(0);
  });
});
