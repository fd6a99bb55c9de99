/**
 * The label-error queue end to end: import a colour dataset with planted label errors, train a quick
 * run through the UI, and check what Review shows a person deciding where to stop: the fused queue
 * (planted errors first) with its why line and signals, the estimated number of wrong labels, the
 * expected precision of the rows after the focus (moving as they go), the single-signal sorts, the
 * run that feeds the queue (and choosing another), the neighbours' thumbnails on demand, the test-set
 * trust beside the test metrics, and after a fix and a second run, the review session's effect in Runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RowSignals } from '../../src/shared/train';
import { plantedClasses, writePlantedDataset } from '../unit/train/plantedDataset';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

let browser: Browser;
let app: ServedApp;
let page: Page;
let planted: string[] = [];

/** expect.poll with room for a training run (its process starts from source on first use). */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 60_000 });
const items = () => page.getByTestId('review-item');
const attr = async (locator: Locator, name: string) => (await locator.getAttribute(name)) ?? '';
/** The queue's rows as shown: id, path, labels and signals. */
const shownRows = () =>
  items().evaluateAll((els) =>
    els.map((e) => ({
      id: Number(e.getAttribute('data-id')),
      path: e.getAttribute('data-path')!,
      given: e.getAttribute('data-given')!,
      predicted: e.getAttribute('data-predicted')!,
      signals: e.getAttribute('data-signals') ? (JSON.parse(e.getAttribute('data-signals')!) as RowSignals) : null,
    })),
  );
const isNonIncreasing = (values: number[]) => values.every((v, i) => i === 0 || values[i - 1]! >= v - 1e-12);
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

async function trainOnce(): Promise<void> {
  const before = await page.getByTestId('run-select').locator('option').count().catch(() => 0);
  await page.getByTestId('nav-train').click();
  await page.getByTestId('retrain').click();
  await poll(() => page.getByTestId('run-select').locator('option').count()).toBeGreaterThan(before);
  await poll(() => page.getByTestId('run-status').textContent()).toBe('done');
}

/** Opens Review on the likely label errors and waits for the queue. */
async function openLabelQueue(): Promise<void> {
  await page.getByTestId('nav-review').click();
  await page.getByTestId('review-queue-select').selectOption('label');
  await poll(() => attr(page.getByTestId('review-total'), 'data-loaded')).toBe('true');
  await poll(() => items().count()).toBeGreaterThan(0);
}

beforeAll(async () => {
  // No download, no native tfjs: the image baseline on the wasm backend, as on a fresh offline machine.
  process.env.LOUPE_OFFLINE = '1';
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
  await page.getByTestId('import-done').waitFor();
  await page.getByTestId('import-close').click();
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('the label-error queue', () => {
  let firstRun = '';

  it('trains a quick run through the UI', async () => {
    await trainOnce();
  });

  it('shows test-set trust beside the test metrics', async () => {
    await page.getByTestId('nav-train').click();
    const trust = page.getByTestId('test-trust');
    await trust.waitFor();
    const testAccuracy = Number(await attr(page.getByTestId('metrics-test-accuracy'), 'data-value'));
    expect(Number(await attr(trust, 'data-accuracy'))).toBeCloseTo(testAccuracy, 6);
    const noise = Number(await attr(trust, 'data-noise-rate'));
    const corrected = Number(await attr(trust, 'data-corrected'));
    expect(noise).toBeGreaterThanOrEqual(0);
    expect(noise).toBeLessThan(1);
    // Misses on wrong labels are not the model's: the corrected accuracy is never below the raw one.
    expect(corrected).toBeGreaterThanOrEqual(testAccuracy - 1e-9);
    expect(corrected).toBeLessThanOrEqual(1);
    expect(await trust.textContent()).toMatch(/about [\d.]+% wrong \(95% [\d.]+%–[\d.]+%, ≈\d+ of \d+\).*corrected for them/s);
  });

  it('orders the fused queue with planted errors first, says why, and estimates the wrong labels', async () => {
    await openLabelQueue();
    firstRun = await attr(page.getByTestId('review-total'), 'data-run');
    expect(await page.getByTestId('review-sort').inputValue()).toBe('fused');
    const rows = await shownRows();
    const top = rows.slice(0, 6).filter((r) => planted.includes(r.path));
    expect(top.length).toBeGreaterThanOrEqual(3);
    expect(rows.every((r) => r.signals !== null)).toBe(true);
    // The fused queue is ordered by each label's estimated chance of being wrong (the fused evidence).
    expect(isNonIncreasing(rows.map((r) => r.signals!.pWrong))).toBe(true);

    // The why line of a planted image names both classes with their probabilities.
    const fix = top[0]!;
    const why = (await page.locator(`[data-testid="review-item"][data-id="${fix.id}"] [data-testid="review-why"]`).textContent()) ?? '';
    expect(why).toContain(`p(${fix.given})`);
    expect(why).toContain(`p(${fix.predicted})`);
    expect(why).toMatch(/\d+ of \d+ nearest/);
    const pWrong = Number(await attr(page.locator(`[data-testid="review-item"][data-id="${fix.id}"] [data-testid="review-pwrong"]`), 'data-value'));
    expect(pWrong).toBeGreaterThan(0.5);

    // How many to expect: a count of wrong labels next to the queue title, around the six planted.
    const estimate = page.getByTestId('noise-estimate');
    expect(await estimate.textContent()).toMatch(/≈\d+ wrong labels \([\d.]+% of 96\)/);
    const labels = Number(await attr(estimate, 'data-labels'));
    expect(labels).toBeGreaterThanOrEqual(2);
    expect(labels).toBeLessThanOrEqual(20);

    // Calibration, before the signals.
    const calibration = page.getByTestId('review-calibration');
    expect(await calibration.textContent()).toMatch(/ECE [\d.]+% → [\d.]+%/);
    // Fitted for log loss, temperature scaling need not lower ECE on 96 images: both are shown as measured.
    for (const name of ['data-ece-before', 'data-ece-after']) {
      const ece = Number(await attr(calibration, name));
      expect(ece).toBeGreaterThanOrEqual(0);
      expect(ece).toBeLessThanOrEqual(1);
      expect(await calibration.textContent()).toContain(`${(ece * 100).toFixed(1)}%`);
    }
  });

  it('shows the expected precision of the rows after the focus, moving as the person goes', async () => {
    const precision = page.getByTestId('queue-precision');
    const rows = await shownRows();
    const window = Math.min(50, rows.length);
    expect(await attr(precision, 'data-from')).toBe('0');
    expect(Number(await attr(precision, 'data-count'))).toBe(window);
    const atStart = Number(await attr(precision, 'data-precision'));
    expect(atStart).toBeCloseTo(mean(rows.slice(0, window).map((r) => r.signals!.pWrong)), 6);
    expect(await precision.textContent()).toMatch(new RegExp(`The next ${window} are about \\d+% likely to be wrong`));

    // Past the planted errors the rows ahead are mostly labelled right: the figure falls.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await poll(() => attr(precision, 'data-from')).toBe('3');
    const ahead = rows.slice(3, 3 + 50);
    expect(Number(await attr(precision, 'data-precision'))).toBeCloseTo(mean(ahead.map((r) => r.signals!.pWrong)), 6);
    expect(Number(await attr(precision, 'data-precision'))).toBeLessThan(atStart);
    expect(await precision.textContent()).toMatch(new RegExp(`From row 4, the next ${ahead.length} are about \\d+% likely to be wrong`));
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await poll(() => attr(precision, 'data-from')).toBe('0');
  });

  it('keeps single-signal queues as sorts, and offers only the signals the run has', async () => {
    const sort = page.getByTestId('review-sort');
    // One finished run: no other run to disagree with.
    expect(await sort.locator('option[value="ensemble"]').isDisabled()).toBe(true);
    expect(await sort.locator('option[value="selfConfidence"]').isDisabled()).toBe(false);
    await sort.selectOption('selfConfidence');
    await poll(() => attr(page.getByTestId('review-total'), 'data-loaded')).toBe('true');
    await poll(() => items().count()).toBeGreaterThan(0);
    const bySelf = await shownRows();
    expect(isNonIncreasing(bySelf.map((r) => r.signals!.selfConfidence))).toBe(true);
    await sort.selectOption('knn');
    await poll(async () => isNonIncreasing((await shownRows()).map((r) => r.signals!.knn ?? -1)) && (await items().count()) > 0).toBe(true);
    await sort.selectOption('fused');
    await poll(async () => isNonIncreasing((await shownRows()).map((r) => r.signals!.pWrong)) && (await items().count()) > 0).toBe(true);
  });

  it("shows an image's nearest neighbours with their labels on demand", async () => {
    const rows = await shownRows();
    const fix = rows.find((r) => planted.includes(r.path))!;
    const item = page.locator(`[data-testid="review-item"][data-id="${fix.id}"]`);
    // The why line's "N of 10 nearest images are labelled X" is what the thumbnails show.
    const why = (await item.getByTestId('review-why').textContent()) ?? '';
    const [, said, of, label] = why.match(/(\d+) of (\d+) nearest images are labelled (\w+)/) ?? [];
    expect(label).toBeDefined();
    await item.getByTestId('review-neighbours').click();
    const strip = item.getByTestId('neighbour-strip');
    await poll(() => attr(strip, 'data-loading')).toBe('false');
    const neighbours = await strip.getByTestId('neighbour').evaluateAll((els) =>
      els.map((e) => ({ given: e.getAttribute('data-given')! })),
    );
    expect(neighbours).toHaveLength(10);
    expect(Number(of)).toBe(10);
    for (const n of neighbours) expect(plantedClasses).toContain(n.given);
    expect(neighbours.filter((n) => n.given === label).length).toBe(Number(said));
    expect(await strip.textContent()).toContain(`${neighbours.filter((n) => n.given === fix.given).length} of 10 nearest labelled ${fix.given}`);
    // The thumbnails are real images.
    await poll(() => strip.locator('img').evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0))).toBe(true);
    // N on the focused row shows and hides them too.
    await item.getByTestId('review-neighbours').click();
    await poll(() => strip.count()).toBe(0);
    await item.click();
    await page.keyboard.press('n');
    await poll(() => item.getByTestId('neighbour').count()).toBe(10);
    await page.keyboard.press('n');
    await poll(() => item.getByTestId('neighbour-strip').count()).toBe(0);
  });

  it('records the review session, and after the next run shows its effect and lets the user choose the source', async () => {
    const rows = await shownRows();
    const [fix, second] = rows.filter((r) => planted.includes(r.path));
    await page.locator(`[data-testid="review-item"][data-id="${fix!.id}"] [data-testid="review-accept"]`).click();
    await poll(async () => (await shownRows()).map((r) => r.id)).not.toContain(fix!.id);
    await page.locator(`[data-testid="review-item"][data-id="${second!.id}"] [data-testid="review-accept"]`).click();
    await poll(async () => (await shownRows()).map((r) => r.id)).not.toContain(second!.id);

    await page.getByTestId('nav-runs').click();
    const session = page.locator(`[data-testid="review-session"][data-before="${firstRun}"]`);
    await poll(() => attr(session, 'data-touched')).toBe('2');
    expect(await attr(session, 'data-after')).toBe('');

    await trainOnce();
    await page.getByTestId('nav-runs').click();
    await poll(() => attr(session, 'data-after')).not.toBe('');
    const secondRun = await attr(session, 'data-after');
    expect(Number(secondRun)).toBeGreaterThan(Number(firstRun));
    // Both fixes are of planted errors, so the new model agrees with them.
    expect(Number(await attr(session, 'data-predicted'))).toBe(2);
    expect(Number(await attr(session, 'data-agrees'))).toBe(2);
    expect(await session.getByTestId('session-agreement').textContent()).toMatch(/agrees with 2 of 2/);
    expect(await session.getByTestId('session-delta').count()).toBeGreaterThan(0);
    expect(await session.locator('[data-testid="session-delta"][data-split="test"]').count()).toBeGreaterThan(0);

    // Two runs now: the queue says which feeds it and why, and another can be chosen.
    await openLabelQueue();
    const reason = page.getByTestId('review-source-reason');
    await reason.waitFor();
    expect((await reason.textContent())!.trim().length).toBeGreaterThan(0);
    expect(await attr(reason, 'data-how')).toBe('best');
    expect(await attr(reason, 'data-run')).toBe(await attr(page.getByTestId('review-total'), 'data-run'));
    // Another run exists: the ensemble signal is there now.
    expect(await page.getByTestId('review-sort').locator('option[value="ensemble"]').isDisabled()).toBe(false);
    const other = (await attr(reason, 'data-run')) === firstRun ? secondRun : firstRun;
    await page.getByTestId('review-source').selectOption(other);
    await poll(() => attr(page.getByTestId('review-total'), 'data-run')).toBe(other);
    await poll(() => attr(reason, 'data-how')).toBe('chosen');
    await page.getByTestId('review-source').selectOption('best');
    await poll(() => attr(reason, 'data-how')).toBe('best');
    await poll(() => attr(page.getByTestId('review-total'), 'data-run')).not.toBe(other);
  });
});
