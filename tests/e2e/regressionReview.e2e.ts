/**
 * A regression project end to end in the UI: import a `path,value` CSV with planted wrong values
 * through the import dialog, see the full model refused in the train form, train a quick run from
 * the top bar, read the metrics beside the mean baseline with the predicted-vs-actual scatter and the
 * residual histogram, then in Review fix a planted value by typing its true value (the image's value
 * changes in the core), undo it with Ctrl+Z, and keep a row with K (undone too).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestInput, RequestName, RequestOutput } from '../../src/shared/contract';
import { writeRegressionDataset, type RegressionDataset } from '../helpers/fixtures';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

let browser: Browser;
let app: ServedApp;
let page: Page;
let dataset: RegressionDataset;
let socket: WebSocket;

/** expect.poll with room for a training run (its process starts from source on first use). */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 90_000 });
const attr = async (locator: Locator, name: string) => (await locator.getAttribute(name)) ?? '';
const issues = () => page.getByTestId('value-issue');
const issue = (id: number) => page.locator(`[data-testid="value-issue"][data-id="${id}"]`);

let nextId = 1;
/** One request to the served core over its own socket, as the UI sends them. */
async function call<N extends RequestName>(name: N, input: RequestInput<N>): Promise<RequestOutput<N>> {
  const id = nextId++;
  const reply = new Promise<{ ok: boolean; value?: unknown; error?: { message: string } }>((resolve) => {
    const onMessage = (data: unknown) => {
      const message = JSON.parse(String(data)) as { id?: number; reply?: { ok: boolean; value?: unknown; error?: { message: string } } };
      if (message.id !== id || !message.reply) return;
      socket.off('message', onMessage);
      resolve(message.reply);
    };
    socket.on('message', onMessage);
  });
  socket.send(JSON.stringify({ id, name, input }));
  const answer = await reply;
  if (!answer.ok) throw new Error(`${name} failed: ${answer.error?.message}`);
  return answer.value as RequestOutput<N>;
}

beforeAll(async () => {
  // No download, no native tfjs: the image baseline on the wasm backend, as on a fresh offline machine.
  process.env.LOUPE_OFFLINE = '1';
  process.env.LOUPE_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-cache-'));
  browser = await launchBrowser();
  app = await serve();
  // 80 images whose brightness encodes the value, four of them given a value at least 40 off.
  dataset = await writeRegressionDataset(path.join(app.dir, 'values'), { count: 80, wrong: 4 });
  socket = new WebSocket(`${app.origin.replace('http', 'ws')}/ws?token=${app.token}`, { origin: app.origin });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  page = await openApp(browser, app);
  await page.getByTestId('import-open').click();
  await page.getByTestId('import-source-input').fill(dataset.csv);
  await page.getByTestId('import-kind').selectOption('csv-values');
  await page.getByTestId('import-start').click();
  await page.getByTestId('import-done').waitFor();
  expect(Number(await attr(page.getByTestId('import-done'), 'data-added'))).toBe(80);
  await page.getByTestId('import-close').click();
});
afterAll(async () => {
  socket?.close();
  await browser?.close();
  await app?.stop();
});

describe('a regression project', () => {
  it('offers the regression loss for the quick and the full model', async () => {
    await page.getByTestId('nav-train').click();
    const loss = page.getByTestId('train-regression-loss');
    await loss.waitFor();
    expect(await loss.inputValue()).toBe('huber');
    // The full model trains on values too: its own options, with its loss.
    await page.getByTestId('train-mode').selectOption('full');
    const fullLoss = page.getByTestId('full-regression-loss');
    await fullLoss.waitFor();
    expect(await fullLoss.inputValue()).toBe('huber');
    expect(await page.getByTestId('full-options').count()).toBe(1);
    await page.getByTestId('train-mode').selectOption('quick');
    await loss.waitFor();
  });

  it('trains a quick run from the top bar and shows its metrics beside the mean baseline, the scatter and the residuals', async () => {
    await page.getByTestId('retrain').click();
    await poll(() => page.getByTestId('run-status').textContent()).toBe('done');
    const table = page.getByTestId('regression-metrics');
    await table.waitFor();
    // No classification tables on a regression run.
    expect(await page.getByTestId('per-class').count()).toBe(0);
    expect(await page.getByTestId('confusion-split').count()).toBe(0);
    for (const split of ['train', 'valid', 'test']) {
      for (const metric of ['mae', 'rmse', 'r2', 'medianAe']) {
        const cell = page.locator(`[data-testid="regression-metric"][data-split="${split}"][data-metric="${metric}"]`);
        expect(await cell.count()).toBe(1);
      }
    }
    const r2 = Number(await attr(page.locator('[data-testid="regression-metric"][data-split="valid"][data-metric="r2"]'), 'data-value'));
    const mae = Number(await attr(page.locator('[data-testid="regression-metric"][data-split="valid"][data-metric="mae"]'), 'data-value'));
    expect(Number.isFinite(r2)).toBe(true);
    expect(r2).toBeLessThanOrEqual(1);
    expect(mae).toBeGreaterThan(0);
    // Brightness encodes the value: even the image baseline beats predicting the train mean.
    const verdict = page.getByTestId('regression-verdict');
    expect(await attr(verdict, 'data-beats')).toBe('true');
    expect(await verdict.textContent()).toMatch(/Beats the mean baseline by \d+% on valid/);

    const scatter = page.getByTestId('value-scatter');
    await poll(() => attr(scatter, 'data-points').then(Number)).toBeGreaterThan(0);
    // Every image was predicted out-of-sample (train by its fold, valid and test by the final head): all 80 are points.
    expect(Number(await attr(scatter, 'data-points'))).toBe(80);
    const histogram = page.getByTestId('residual-histogram');
    expect(Number(await attr(histogram, 'data-count'))).toBe(80);
    expect(Number(await attr(histogram, 'data-bins'))).toBeGreaterThanOrEqual(6);
  });

  it('lists likely target errors with planted values first, and fixes one by typing its true value, undone by Ctrl+Z', async () => {
    await page.getByTestId('nav-review').click();
    await page.locator('[data-testid="value-queue-tab"][data-kind="target"]').click();
    await poll(() => attr(page.getByTestId('value-queue'), 'data-kind')).toBe('target');
    await poll(() => attr(page.getByTestId('value-total'), 'data-loaded')).toBe('true');
    await poll(() => issues().count()).toBeGreaterThan(0);
    const rows = await issues().evaluateAll((els) => els.map((e) => ({ id: Number(e.getAttribute('data-id')), path: e.getAttribute('data-path')! })));
    const planted = rows.slice(0, 8).filter((r) => dataset.wrong.includes(r.path));
    expect(planted.length).toBeGreaterThanOrEqual(2);

    const fix = planted[0]!;
    const truth = dataset.truth.get(fix.path)!;
    const given = (await call('images:get', { id: fix.id })).value!;
    expect(Math.abs(given - truth)).toBeGreaterThanOrEqual(40);
    const index = rows.findIndex((r) => r.id === fix.id);

    // Focus the row, then type: the first digit lands in its value field, Enter sets the value.
    await issue(fix.id).locator('.path').click();
    await poll(() => attr(issue(fix.id), 'aria-current')).toBe('true');
    await page.keyboard.type(String(truth));
    expect(Number(await issue(fix.id).getByTestId('value-input').inputValue())).toBe(truth);
    await page.keyboard.press('Enter');

    await poll(async () => (await call('images:get', { id: fix.id })).value).toBe(truth);
    // The row stays, shown as fixed with its new value; the focus moved to the next row.
    await poll(() => attr(issue(fix.id), 'data-fixed')).toBe('true');
    expect(Number(await attr(issue(fix.id), 'data-value'))).toBe(truth);
    if (index + 1 < rows.length) await poll(() => attr(issues().nth(index + 1), 'aria-current')).toBe('true');

    await page.keyboard.press('Control+z');
    await poll(async () => (await call('images:get', { id: fix.id })).value).toBe(given);
    await poll(() => attr(issue(fix.id), 'data-fixed')).toBe('false');
    expect(Number(await attr(issue(fix.id), 'data-value'))).toBe(given);
  });

  it('refuses a value that is not a number, in the row', async () => {
    const first = issues().first();
    const input = first.getByTestId('value-input');
    await input.focus();
    await page.keyboard.press('Enter');
    await first.getByTestId('value-input-error').waitFor();
    expect(await first.getByTestId('value-input-error').textContent()).toMatch(/type a number/i);
    // Text that is not a number is refused in place too (the row stays as it was).
    await input.fill('12,5kg');
    await page.keyboard.press('Enter');
    await poll(() => first.getByTestId('value-input-error').textContent()).toMatch(/"12,5kg" is not a number/);
    await page.keyboard.press('Escape');
  });

  it('keeps a row with K (it leaves the queue, marked reviewed) and brings it back with Ctrl+Z', async () => {
    const before = Number(await attr(page.getByTestId('value-total'), 'data-total'));
    const first = issues().first();
    const id = Number(await attr(first, 'data-id'));
    await first.locator('.path').click();
    await page.keyboard.press('k');
    await poll(() => issue(id).count()).toBe(0);
    await poll(async () => (await call('images:get', { id: id })).reviewed).toBe(true);
    await poll(() => attr(page.getByTestId('value-total'), 'data-total').then(Number)).toBe(before - 1);
    await page.keyboard.press('Control+z');
    await poll(async () => (await call('images:get', { id: id })).reviewed).toBe(false);
    await poll(() => issue(id).count()).toBe(1);
  });

  it('removes a row with its button, undone from the bar', async () => {
    const first = issues().first();
    const id = Number(await attr(first, 'data-id'));
    await first.getByTestId('value-remove').click();
    await poll(() => issue(id).count()).toBe(0);
    await poll(async () => (await call('images:get', { id: id })).status).toBe('removed');
    await page.getByTestId('value-undo').click();
    await poll(async () => (await call('images:get', { id: id })).status).toBe('active');
    await poll(() => issue(id).count()).toBe(1);
  });

  it('opens the largest residuals, ordered by their absolute residual', async () => {
    await page.locator('[data-testid="value-queue-tab"][data-kind="residual"]').click();
    await poll(() => attr(page.getByTestId('value-queue'), 'data-kind')).toBe('residual');
    await poll(() => issues().count()).toBeGreaterThan(1);
    const residuals = await issues().evaluateAll((els) => els.map((e) => Math.abs(Number(e.getAttribute('data-residual')))));
    expect(residuals.every((r, i) => i === 0 || residuals[i - 1]! >= r - 1e-9)).toBe(true);
  });
});
