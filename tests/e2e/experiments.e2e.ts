/**
 * Experiments end to end, in the UI: set a goal, run a hyperparameter search of 8 trials (a tiny
 * ASHA budget on a small generated dataset), watch trials stop early, apply the best configuration
 * to the train form, read the run's diagnosis against the goal, build an ensemble of the best three
 * trials and open its review queue; the Runs view groups the trials under their search and lists the
 * ensemble's members and the baselines' lift. The stored goal is checked through the CLI's JSON.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectGoal } from '../../src/shared/experiments';
import { plantedClasses, writePlantedDataset } from '../unit/train/plantedDataset';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

const bin = path.resolve('bin/loupe.mjs');
let browser: Browser;
let app: ServedApp;
let page: Page;
/** The ensemble run the first test builds; the later tests report on it and compare it. */
let ensembleRunId = 0;

function cli<T>(...args: string[]): T {
  const out = execFileSync(process.execPath, [bin, ...args, '--project', app.projectFile, '--json'], { encoding: 'utf8', env: process.env });
  return JSON.parse(out) as T;
}
/** expect.poll with room for a search (the training process starts from source on first use). */
const poll = <T>(read: () => Promise<T> | T, timeout = 60_000) => expect.poll(read, { timeout });
const trialStatuses = () => page.getByTestId('trial-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')));

beforeAll(async () => {
  // No download, no native tfjs: the image baseline on the wasm backend, as on a fresh offline machine.
  process.env.LOUPE_OFFLINE = '1';
  process.env.LOUPE_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-cache-'));
  browser = await launchBrowser();
  app = await serve();
  const source = path.join(app.dir, 'colours');
  // Three colour classes of 20 noisy squares each, and four images filed under the wrong colour.
  await writePlantedDataset(source, 20, 4);
  page = await openApp(browser, app);
  await page.getByTestId('import-open').click();
  await page.getByTestId('import-source-input').fill(source);
  await page.getByTestId('import-start').click();
  const done = page.getByTestId('import-done');
  await done.waitFor();
  expect(await done.getAttribute('data-added')).toBe('64');
  await page.getByTestId('import-close').click();
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('experiments', () => {
  it('sets a goal, searches 8 trials with early stopping, applies the best, diagnoses, ensembles the best three and reviews the ensemble', async () => {
    // The goal, as an accuracy to reach: stored as an error.
    await page.getByTestId('nav-experiments').click();
    await page.getByTestId('goal-edit').click();
    await page.getByTestId('goal-metric').selectOption('accuracy');
    await page.getByTestId('goal-target').fill('95');
    await page.getByTestId('goal-human').fill('99');
    await page.getByTestId('goal-save').click();
    await poll(() => page.getByTestId('goal-value').getAttribute('data-target-error')).toMatch(/^0\.0500/);
    const { goal } = cli<{ goal: ProjectGoal }>('goal');
    expect(goal.metric).toBe('accuracy');
    expect(goal.targetError).toBeCloseTo(0.05, 10);
    expect(goal.humanError).toBeCloseTo(0.01, 10);

    // The base: the train form's quick model on the image baseline, without augmented views (fast).
    await page.getByTestId('nav-train').click();
    await page.getByTestId('train-backbone').selectOption('baseline');
    await page.getByRole('spinbutton', { name: 'Views', exact: true }).fill('0');

    // A search of 8 trials: rungs 1, 2, 4 epochs, the best half promoted at each.
    await page.getByTestId('nav-experiments').click();
    await page.getByTestId('space-views-on').uncheck();
    await page.getByTestId('search-trials').fill('8');
    await page.getByTestId('search-min-budget').fill('1');
    await page.getByTestId('search-max-budget').fill('4');
    await page.getByTestId('search-eta').fill('2');
    await page.getByTestId('search-seed').fill('7');
    expect(await page.getByTestId('search-rungs').textContent()).toMatch(/trains 1 epoch; the best 1 in 2 at each rung go on to\s+2, 4 epochs/);
    await page.getByTestId('search-start').click();

    // The live table: eight trials, running, then trials stopped early and marked on the chart.
    await poll(() => page.getByTestId('trial-row').count()).toBe(8);
    await poll(async () => (await trialStatuses()).some((s) => s === 'running' || s === 'paused' || s === 'done')).toBe(true);
    await poll(() => page.getByTestId('search-status').textContent(), 120_000).toBe('done');
    const statuses = await trialStatuses();
    expect(statuses.filter((s) => s === 'stopped').length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s === 'done').length).toBeGreaterThanOrEqual(1);
    expect(statuses).not.toContain('failed');
    const chart = page.getByTestId('search-chart-wrap');
    expect(Number(await chart.getAttribute('data-stopped'))).toBe(statuses.filter((s) => s === 'stopped').length);
    // One point (and one run) per rung a trial reached; every trial ran the first rung, fewer went on.
    const rungs = await page.getByTestId('trial-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-rungs'))));
    expect(rungs.every((n) => n >= 1)).toBe(true);
    expect(rungs.filter((n) => n >= 2).length).toBeLessThan(8);
    expect(rungs.filter((n) => n >= 3).length).toBeLessThan(rungs.filter((n) => n >= 2).length);
    const trialRuns = rungs.reduce((a, b) => a + b, 0);
    expect(Number(await chart.getAttribute('data-points'))).toBe(trialRuns);

    const best = page.getByTestId('search-best');
    const bestTrial = Number(await best.getAttribute('data-trial'));
    const bestRun = Number(await best.getAttribute('data-run'));
    const bestRow = page.locator(`[data-testid="trial-row"][data-index="${bestTrial}"]`);
    expect(await bestRow.getAttribute('data-status')).toBe('done');
    expect(await bestRow.getAttribute('data-budget')).toBe('4');
    const params = JSON.parse((await bestRow.getAttribute('data-params'))!) as { learningRate: number; weightDecay: number; head: string; hidden: number };
    expect(Object.keys(params).sort()).toEqual(['head', 'hidden', 'learningRate', 'weightDecay']);

    // Apply the best: the train form gets its values and 4 epochs; weight decay (not in the form) rides along.
    await page.getByTestId('search-apply-best').click();
    await poll(() => page.getByTestId('train-head').inputValue()).toBe(params.head);
    expect(Number(await page.getByRole('spinbutton', { name: 'Max epochs', exact: true }).inputValue())).toBe(4);
    expect(Number(await page.getByRole('spinbutton', { name: 'Learning rate', exact: true }).inputValue())).toBeCloseTo(params.learningRate, 12);
    expect(await page.getByRole('spinbutton', { name: 'Views', exact: true }).inputValue()).toBe('0');
    expect(await page.getByTestId('train-extras').textContent()).toMatch(new RegExp(`weightDecay ${Number(params.weightDecay.toPrecision(4))}`));

    // The best trial's run, diagnosed against the goal: errors side by side, gaps named, a verdict, steps.
    await page.getByTestId('run-select').selectOption(String(bestRun));
    const diagnosis = page.getByTestId('diagnosis');
    await poll(() => diagnosis.getAttribute('data-run')).toBe(String(bestRun));
    await poll(() => page.getByTestId('diag-error-goal').getAttribute('data-value')).toMatch(/^0\.0500/);
    expect(await page.getByTestId('diagnosis-verdict').getAttribute('data-verdict')).toMatch(/^(onTarget|underfitting|overfitting|both|shift)$/);
    const validError = Number(await page.getByTestId('diag-error-valid').getAttribute('data-value'));
    expect(validError).toBeCloseTo(1 - Number(await page.getByTestId('metrics-valid-accuracy').getAttribute('data-value')), 6);
    expect(await page.getByTestId('diagnosis-kfold').textContent()).toMatch(/k-fold/);
    expect(await page.getByTestId('run-role').getAttribute('data-role')).toBe('trial');
    // Baselines came with the run: the majority class of 3 balanced classes scores about a third.
    await poll(() => page.getByTestId('baseline-row').count()).toBe(2);
    expect(Number(await page.getByTestId('lift-majority-valid').getAttribute('data-value'))).toBeGreaterThan(0);

    // Ensemble the best three trials.
    await page.getByTestId('nav-experiments').click();
    await page.getByTestId('search-ensemble-best').click();
    const dialog = page.getByTestId('ensemble-dialog');
    await dialog.waitFor();
    const chosen = await dialog.locator('[data-testid="ensemble-candidate"]:has(input:checked)').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-id'))));
    expect(chosen).toHaveLength(3);
    expect(chosen).toContain(bestRun);
    await page.getByTestId('ensemble-build').click();
    const built = page.getByTestId('ensemble-built');
    await built.waitFor({ timeout: 60_000 });
    const ensembleRun = Number(await built.getAttribute('data-run'));
    expect(ensembleRun).toBeGreaterThan(bestRun);

    // Its review queue: the likely label errors of the ensemble run.
    await page.getByTestId('ensemble-open-review').click();
    await poll(() => page.getByTestId('review-total').getAttribute('data-run')).toBe(String(ensembleRun));
    await poll(() => page.getByTestId('review-total').getAttribute('data-loaded')).toBe('true');
    await poll(() => page.getByTestId('review-item').count()).toBeGreaterThan(0);

    // Runs: the trials fold under their search, the ensemble lists its three members, lifts shown.
    await page.getByTestId('nav-runs').click();
    const group = page.getByTestId('search-group');
    await poll(() => group.count()).toBe(1);
    expect(await group.getAttribute('data-runs')).toBe(String(trialRuns));
    await poll(() => page.getByTestId('run-row').count()).toBe(1);
    const ensembleRow = page.locator(`[data-testid="run-row"][data-id="${ensembleRun}"]`);
    expect(await ensembleRow.getAttribute('data-role')).toBe('ensemble');
    const members = await page.locator(`[data-testid="ensemble-member-row"][data-ensemble="${ensembleRun}"]`).evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-id'))));
    expect(members.sort((a, b) => a - b)).toEqual([...chosen].sort((a, b) => a - b));
    await page.getByTestId('search-group-toggle').click();
    await poll(() => page.getByTestId('run-row').count()).toBe(trialRuns + 1);
    const lift = await page.locator(`[data-testid="run-row"][data-id="${bestRun}"] [data-testid="run-lift-linear"]`).getAttribute('data-value');
    expect(lift).not.toBe('');
    ensembleRunId = ensembleRun;
  });

  it('writes a run report and says where', async () => {
    await page.getByTestId('nav-runs').click();
    await page.locator(`[data-testid="run-row"][data-id="${ensembleRunId}"] button`, { hasText: 'Open' }).click();
    await poll(() => page.getByTestId('run-select').inputValue()).toBe(String(ensembleRunId));
    await page.getByTestId('ensemble-members').waitFor();
    expect(await page.getByTestId('ensemble-member').count()).toBe(3);
    await page.getByTestId('run-report').click();
    const shown = page.getByTestId('report-path');
    await shown.waitFor();
    const file = (await shown.locator('.mono').textContent())!;
    expect(path.dirname(file)).toBe(path.dirname(app.projectFile));
    const html = fs.readFileSync(file, 'utf8');
    // Checked without printing the file (it embeds its thumbnails).
    expect(/^<!doctype html>/i.test(html)).toBe(true);
    expect(html.includes(`<h1>Loupe run ${ensembleRunId} `)).toBe(true);
  });

  it("averages a quick run's fold heads into an ensemble without training", async () => {
    await page.getByTestId('nav-experiments').click();
    await page.getByTestId('search-ensemble-best').click();
    const dialog = page.getByTestId('ensemble-dialog');
    await dialog.waitFor();
    await page.getByTestId('ensemble-kind-folds').check();
    const source = Number(await page.getByTestId('ensemble-fold-run').inputValue());
    expect(source).toBeGreaterThan(0);
    await page.getByTestId('ensemble-build').click();
    const built = page.getByTestId('ensemble-built');
    await built.waitFor({ timeout: 60_000 });
    const run = Number(await built.getAttribute('data-run'));
    await page.getByTestId('ensemble-open-run').click();
    await poll(() => page.getByTestId('run-select').inputValue()).toBe(String(run));
    await poll(() => page.getByTestId('ensemble-members').textContent()).toContain(`the fold heads of run ${source}`);
  });

  it('warns when labels changed between two runs, re-scores the older on today\'s labels and filters the changed predictions', async () => {
    // Relabel one valid/test image of the run that feeds the queues, so that its stored score and today's differ by one image.
    const losses = cli<{ runId: number; rows: Array<{ path: string; split: string | null; given: string; predicted: string }> }>('issues', '--kind', 'loss', '--limit', '200');
    const older = losses.runId;
    const row = losses.rows.find((r) => r.split === 'valid' || r.split === 'test')!;
    expect(row).toBeDefined();
    const split = row.split!;
    // Right → wrong when the run agreed with the old label; wrong → right when it did not.
    const relabel = row.predicted === row.given ? plantedClasses.find((c) => c !== row.given)! : row.predicted;
    await page.getByTestId('nav-review').click();
    await page.getByTestId('review-queue-select').selectOption('loss');
    await poll(() => page.getByTestId('review-total').getAttribute('data-run')).toBe(String(older));
    const item = page.locator(`[data-testid="review-item"][data-path="${row.path}"]`);
    await item.waitFor();
    await item.getByTestId('review-pick').selectOption(relabel);
    await poll(() => page.locator(`[data-testid="review-item"][data-path="${row.path}"]`).count()).toBe(0);

    // A new run on today's labels (the best configuration is still in the form).
    await page.getByTestId('nav-train').click();
    await page.getByTestId('run-select').selectOption('');
    await page.getByTestId('train-start').click();
    await poll(() => page.getByTestId('retrain').getAttribute('data-training')).toBe('false');
    await poll(() => page.getByTestId('run-status').textContent()).toBe('done');
    const newRun = Number((await page.getByTestId('run-select').locator('option').nth(1).getAttribute('value'))!);
    expect(newRun).toBeGreaterThan(ensembleRunId);

    // Compare: the warning next to the metrics names the relabelled image.
    await page.getByTestId('nav-runs').click();
    // The older run may be a search trial, folded under its search.
    if ((await page.locator(`[data-testid="run-row"][data-id="${older}"]`).count()) === 0) await page.getByTestId('search-group-toggle').click();
    for (const id of [older, newRun]) await page.locator(`[data-testid="run-row"][data-id="${id}"] input[type="checkbox"]`).check();
    await page.getByTestId('runs-compare').click();
    const warning = page.getByTestId('compare-warning');
    await warning.waitFor();
    expect(await page.locator(`[data-testid="compare-drift"][data-run="${older}"]`).getAttribute('data-relabelled')).toBe('1');

    // Re-scored on today's labels: exactly one image's correctness moved in its split.
    await page.getByTestId('compare-rescore').click();
    const rescored = page.locator(`[data-testid="rescored-row"][data-split="${split}"]`);
    await rescored.waitFor();
    const stored = Number(await rescored.getAttribute('data-stored'));
    const today = Number(await rescored.getAttribute('data-today'));
    expect(Math.abs(today - stored)).toBeGreaterThan(0);
    expect(Math.sign(today - stored)).toBe(row.predicted === row.given ? -1 : 1);

    // The changed predictions: each filter shows only its kind, with the count on its button; ordered by |confidence change|.
    await page.getByTestId('changed-predictions').waitFor();
    const all = await page.getByTestId('changed-image').evaluateAll((els) => els.map((e) => Math.abs(Number(e.getAttribute('data-confidence-change')))));
    expect(all).toEqual([...all].sort((a, b) => b - a));
    for (const kind of ['fixed', 'broken', 'other'] as const) {
      const button = page.getByTestId(`changed-filter-${kind}`);
      await button.click();
      await poll(() => page.getByTestId('changed-predictions').getAttribute('data-filter')).toBe(kind);
      const count = Number(await button.getAttribute('data-count'));
      await poll(() => page.getByTestId('changed-image').count()).toBe(count);
      const kinds = await page.getByTestId('changed-image').evaluateAll((els) => els.map((e) => e.getAttribute('data-change')));
      expect(kinds.every((k) => k === kind)).toBe(true);
    }
    expect(Number(await page.getByTestId('changed-filter-all').getAttribute('data-count'))).toBe(
      (await Promise.all((['fixed', 'broken', 'other'] as const).map(async (k) => Number(await page.getByTestId(`changed-filter-${k}`).getAttribute('data-count'))))).reduce((a, b) => a + b, 0),
    );

    // The comparison's report, next to the project.
    await page.getByTestId('compare-report').click();
    const shown = page.getByTestId('compare-report-path');
    await shown.waitFor();
    const file = (await shown.locator('.mono').textContent())!;
    expect(path.basename(file)).toBe(`e2e-run-${newRun}-vs-${older}-report.html`);
    expect(fs.readFileSync(file, 'utf8').includes(`<h1>Loupe run ${newRun} `)).toBe(true);
  });
});
