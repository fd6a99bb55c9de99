/**
 * The full model end to end, from the Train view: on three tiny colour classes, run the LR finder
 * and apply its pick, overfit one batch and see it pass, look at a batch, start a small CNN (Enter),
 * watch the per-batch curve grow, cancel, resume, finish; open its confusion matrix and a Review
 * queue; export the model to a folder, try it on a dropped image, and predict with the CLI.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plantedClasses, writePlantedDataset } from '../unit/train/plantedDataset';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

const bin = path.resolve('bin/loupe.mjs');
const perClass = 12;
let browser: Browser;
let app: ServedApp;
let page: Page;
let source = '';

/** expect.poll with room for the training process (it starts from source on first use) and a small run. */
const poll = <T>(read: () => Promise<T> | T, timeout = 90_000) => expect.poll(read, { timeout });
const attr = (testId: string, name: string) => page.getByTestId(testId).first().getAttribute(name);
const numberAttr = async (testId: string, name: string) => Number(await attr(testId, name));
const runStatus = () => page.getByTestId('run-status').textContent();
const shownRunId = async () => Number((await page.locator('.runhead h2').textContent())!.replace(/\D+/g, ''));

beforeAll(async () => {
  // No download, no native tfjs: the wasm backend, as on a fresh offline machine.
  process.env.LOUPE_OFFLINE = '1';
  process.env.LOUPE_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-cache-'));
  browser = await launchBrowser();
  app = await serve();
  source = path.join(app.dir, 'colours');
  // Three colour classes of tiny (16 px) noisy squares, no planted errors.
  await writePlantedDataset(source, perClass, 0, 16);
  page = await openApp(browser, app);
  await page.getByTestId('import-open').click();
  await page.getByTestId('import-source-input').fill(source);
  await page.getByTestId('import-start').click();
  const done = page.getByTestId('import-done');
  await done.waitFor();
  expect(await done.getAttribute('data-added')).toBe(String(perClass * plantedClasses.length));
  await page.getByTestId('import-close').click();

  await page.getByTestId('nav-train').click();
  await page.getByTestId('train-mode').selectOption('full');
  await page.getByTestId('full-arch').selectOption('small-cnn');
  await page.getByTestId('full-batch-size').fill('8');
  await page.getByTestId('full-augment').selectOption('none');
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('full model', () => {
  it('finds a learning rate and applies its pick', async () => {
    await page.getByTestId('full-find-lr').click();
    await page.getByTestId('lr-panel').waitFor();
    await page.getByTestId('lr-use').waitFor({ timeout: 120_000 });
    await page.getByTestId('lr-chart').waitFor();
    const rate = Number(await attr('lr-use', 'data-rate'));
    expect(rate).toBeGreaterThan(0);
    await page.getByTestId('lr-use').click();
    await poll(async () => Number(await page.getByTestId('full-lr').inputValue())).toBeCloseTo(Number(rate.toPrecision(2)), 12);
    // Esc closes the panel.
    await page.keyboard.press('Escape');
    await poll(() => page.getByTestId('lr-panel').count()).toBe(0);
  });

  it('overfits one batch and passes', async () => {
    await page.getByTestId('full-sanity').click();
    await page.getByTestId('sanity-panel').waitFor();
    await poll(() => attr('sanity-result', 'data-passed'), 120_000).toBe('true');
    expect(await page.getByTestId('sanity-attempt').count()).toBeGreaterThan(0);
    await page.getByTestId('sanity-close').click();
    await poll(() => page.getByTestId('sanity-panel').count()).toBe(0);
  });

  it('shows a batch with its labels and value range', async () => {
    await page.getByTestId('full-show-batch').click();
    await poll(() => page.getByTestId('batch-item').count()).toBeGreaterThan(0);
    const labels = await page.getByTestId('batch-item').evaluateAll((items) => items.map((i) => i.getAttribute('data-label')));
    for (const label of labels) expect(plantedClasses).toContain(label);
    const [min, max] = [await numberAttr('batch-facts', 'data-min'), await numberAttr('batch-facts', 'data-max')];
    expect(min).toBeLessThan(max);
    // The images load through the preview route.
    await poll(() => page.locator('[data-testid="batch-item"] img').first().evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    await page.keyboard.press('Escape');
    await poll(() => page.getByTestId('batch-panel').count()).toBe(0);
  });

  it('trains a small CNN: the curve grows, cancel, resume, finish, metrics, confusion matrix and Review', async () => {
    await page.getByTestId('full-epochs').fill('40');
    await page.getByTestId('full-patience').fill('100');
    // Enter in a field of the form starts the run.
    await page.getByTestId('full-epochs').press('Enter');
    await poll(runStatus).toBe('running');
    const runId = await shownRunId();
    await poll(() => numberAttr('loss-chart', 'data-batch-points')).toBeGreaterThan(0);
    const first = await numberAttr('loss-chart', 'data-batch-points');
    await poll(() => numberAttr('loss-chart', 'data-batch-points')).toBeGreaterThan(first);
    // One epoch done: a checkpoint to resume from.
    await poll(() => numberAttr('epoch-table', 'data-epochs')).toBeGreaterThan(0);
    await page.getByTestId('train-cancel').click();
    await poll(runStatus).toBe('cancelled');
    await page.getByTestId('run-resume').waitFor();
    const beforeResume = await numberAttr('loss-chart', 'data-points');

    await page.getByTestId('run-resume').click();
    await poll(runStatus).toBe('running');
    expect(await shownRunId()).toBe(runId);
    await poll(() => numberAttr('loss-chart', 'data-points')).toBeGreaterThan(beforeResume);
    await poll(runStatus, 150_000).toBe('done');
    expect(await page.getByTestId('run-resume').count()).toBe(0);

    // The network and the per-epoch table.
    expect(await page.getByTestId('model-arch').textContent()).toBe('small-cnn');
    expect(await numberAttr('model-parameters', 'data-value')).toBeGreaterThan(0);
    expect(await page.getByTestId('model-input-shape').textContent()).toMatch(/\d+ × \d+ × [13]/);
    // The resumed run continued from its checkpoint: one row per epoch, in order, to the last.
    await poll(() => numberAttr('epoch-table', 'data-epochs')).toBe(40);
    const epochs = await page.getByTestId('epoch-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-epoch'))));
    expect(epochs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));

    // Metrics and the confusion matrix, as for a quick run.
    await poll(() => numberAttr('metrics-valid-accuracy', 'data-value')).toBeGreaterThan(0.5);
    const cells = await page.getByTestId('confusion-cell').evaluateAll((els) =>
      els.map((e) => ({ given: e.getAttribute('data-given')!, predicted: e.getAttribute('data-predicted')!, count: Number(e.getAttribute('data-count')) })),
    );
    expect(cells).toHaveLength(plantedClasses.length ** 2);
    const cell = cells.find((c) => c.count > 0)!;
    await page.locator(`[data-testid="confusion-cell"][data-given="${cell.given}"][data-predicted="${cell.predicted}"]`).click({ modifiers: ['Shift'] });
    await poll(() => page.getByTestId('review-queue-select').inputValue()).toBe('cell');
    await poll(() => page.getByTestId('review-item').count()).toBe(cell.count);
    for (const item of await page.getByTestId('review-item').all()) {
      expect(await item.getAttribute('data-given')).toBe(cell.given);
      expect(await item.getAttribute('data-predicted')).toBe(cell.predicted);
    }
  });

  it('exports the model, tries it on an image, and predicts with the CLI', async () => {
    await page.getByTestId('nav-train').click();
    await poll(runStatus).toBe('done');
    const runId = await shownRunId();
    const out = path.join(app.dir, 'exported');
    await page.getByTestId('model-export-out').fill(out);
    await page.getByTestId('model-export-start').click();
    await page.getByTestId('model-export-done').waitFor({ timeout: 60_000 });
    const files = await page.locator('[data-testid="model-export-files"] li').allTextContents();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(fs.existsSync(path.isAbsolute(file) ? file : path.join(out, file))).toBe(true);
    const difference = await attr('model-export-onnx', 'data-difference');
    if (difference !== '') expect(Number(difference)).toBeLessThan(1e-3);

    const image = path.join(source, 'red', 'red_0.png');
    await page.getByTestId('try-model-file').setInputFiles(image);
    await poll(() => attr('try-model-result', 'data-predicted'), 30_000).toBe('red');
    expect(await attr('try-model-result', 'data-name')).toBe('red_0.png');

    const answer = JSON.parse(
      execFileSync(process.execPath, [bin, 'predict', '--run', String(runId), '--project', app.projectFile, image, '--json'], { encoding: 'utf8', env: process.env }),
    ) as Array<{ name: string; predicted: string }> | { predictions: Array<{ name: string; predicted: string }> };
    const rows = Array.isArray(answer) ? answer : answer.predictions;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.predicted).toBe('red');
  });
});
