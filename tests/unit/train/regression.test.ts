/**
 * Regression targets end to end in the quick model: hand-computed regression metrics, folds
 * stratified by quantile bins, the head on values (pure, on synthetic embeddings), and a real Core
 * that imports a path,value CSV, trains the quick model with the baseline backbone, stores predicted
 * values and regression metrics, answers runs:values, prints them from the CLI, and refuses the full
 * model on the regression project.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { trainCommand } from '../../../src/main/cli/train';
import { Core } from '../../../src/main/core';
import { searchInProcess } from '../../../src/main/analysis/runSignals';
import { valueIssuePage } from '../../../src/main/analysis/values';
import { sampleEvenly } from '../../../src/main/handlers/runs.handlers';
import { trainingProcess } from '../../../src/main/handlers/train.handlers';
import { datasetVersion } from '../../../src/main/store/changes';
import { foldPredictionRows, predictionRows } from '../../../src/main/store/experiments';
import { seededRandom, stratifiedFolds } from '../../../src/main/train/folds';
import { quantileBins } from '../../../src/main/dataset/quantiles';
import { runQuick, splitCode, type RegressionQuickTask } from '../../../src/main/train/quick';
import { median, regressionSplitMetrics, valueErrors } from '../../../src/main/train/regressionMetrics';
import { createRun } from '../../../src/main/train/runs';
import { quickConfigSchema, type CurvePoint, type TrainConfig } from '../../../src/shared/train';
import type { RegressionRunMetrics } from '../../../src/shared/regression';
import { tempDir, writeRegressionDataset } from '../../helpers/fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

describe('regression metrics', () => {
  it('match MAE, RMSE, R² and median absolute error computed by hand, with the train-mean baseline', () => {
    // errors 0.5, 0, -1, 1: MAE 2.5/4, SSE 2.25 so RMSE sqrt(2.25/4); mean 2.5, SST 5 so R² 1 - 2.25/5;
    // sorted |errors| 0, 0.5, 1, 1: median (0.5 + 1) / 2.
    const m = regressionSplitMetrics([1, 2, 3, 4], [1.5, 2, 2, 5], 2)!;
    expect(m.count).toBe(4);
    expect(m.mean).toBeCloseTo(2.5, 12);
    expect(m.mae).toBeCloseTo(0.625, 12);
    expect(m.rmse).toBeCloseTo(0.75, 12);
    expect(m.r2).toBeCloseTo(0.55, 12);
    expect(m.medianAe).toBeCloseTo(0.75, 12);
    // The baseline predicts 2 for all: errors 1, 0, -1, -2: MAE 1, SSE 6 so RMSE sqrt(1.5), R² 1 - 6/5, median 1.
    expect(m.baseline.mae).toBeCloseTo(1, 12);
    expect(m.baseline.rmse).toBeCloseTo(Math.sqrt(1.5), 12);
    expect(m.baseline.r2).toBeCloseTo(-0.2, 12);
    expect(m.baseline.medianAe).toBeCloseTo(1, 12);
  });

  it('an empty split has none; equal targets give R² 1 when perfect and 0 otherwise; odd counts take the middle', () => {
    expect(regressionSplitMetrics([], [], 3)).toBeNull();
    expect(valueErrors([3, 3], [3, 3]).r2).toBe(1);
    expect(valueErrors([3, 3], [3, 4]).r2).toBe(0);
    expect(median([5, 1, 3])).toBe(3);
    expect(valueErrors([0, 10, 20], [1, 13, 20]).medianAe).toBe(1);
  });
});

describe('quantile folds', () => {
  it('bins values by rank, ties together, and folds stratified on the bins spread every decile', () => {
    expect(quantileBins([10, 50, 20, 40, 30, 60, 80, 70, 90, 100], 5)).toEqual([0, 2, 0, 1, 1, 2, 3, 3, 4, 4]);
    // Equal values always share a bin (here the ties fill the quantile, so the 2 joins them).
    expect(quantileBins([1, 1, 1, 2], 2)).toEqual([1, 1, 1, 1]);
    const values = Array.from({ length: 100 }, (_, i) => (i * 37) % 100);
    const folds = stratifiedFolds(quantileBins(values, 10), 5, 3);
    for (let f = 0; f < 5; f++) {
      const inFold = values.filter((_, i) => folds[i] === f);
      expect(inFold).toHaveLength(20);
      // Two of each decile in every fold.
      for (let d = 0; d < 10; d++) expect(inFold.filter((v) => Math.floor(v / 10) === d)).toHaveLength(2);
    }
  });

  it('sampleEvenly keeps everything under the limit and spreads a sample over the list above it', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    expect(sampleEvenly(items, 20)).toEqual(items);
    expect(sampleEvenly(items, 5)).toEqual([0, 2, 4, 6, 8]);
  });
});

/** Synthetic embeddings whose target is linear in them: value = 50 + 15 * x0 - 10 * x1 + noise, in 8 dimensions. */
function linearTask(n: number, loss: 'squared' | 'huber', seed = 1): RegressionQuickTask {
  const random = seededRandom(seed);
  const dim = 8;
  const data = new Float32Array(n * dim);
  const values = new Float64Array(n);
  const split = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) data[i * dim + d] = (random() - 0.5) * 4;
    values[i] = 50 + 15 * data[i * dim]! - 10 * data[i * dim + 1]! + (random() - 0.5);
    split[i] = i % 10 < 6 ? splitCode.train : i % 10 < 8 ? splitCode.valid : splitCode.test;
  }
  // Two images without a value: predicted by the final head, never counted.
  values[0] = Number.NaN;
  values[1] = Number.NaN;
  return {
    task: 'regression',
    x: { data, rows: n, dim },
    values,
    split,
    views: { x: { data: new Float32Array(0), rows: 0, dim }, owner: new Int32Array(0) },
    config: quickConfigSchema.parse({ mode: 'quick', epochs: 80, batchSize: 32, learningRate: 0.02, folds: 5, patience: 10, regressionLoss: loss }),
  };
}

describe('runQuick on values', () => {
  it('predicts every image out of sample in the target units, with R² near 1 and far better than the baseline', async () => {
    for (const loss of ['squared', 'huber'] as const) {
      const task = linearTask(200, loss);
      const audit: Array<{ seen: Set<number>; predicted: readonly number[] }> = [];
      const curves: CurvePoint[] = [];
      const result = await runQuick(tf, task, { onFit: (_phase, seen, predicted) => audit.push({ seen: new Set(seen), predicted }), onCurve: (p) => curves.push(p) });
      expect(result.task).toBe('regression');
      expect(result.predicted).toHaveLength(200);
      const predictedBy = new Set<number>();
      for (const { seen, predicted } of audit) {
        for (const image of predicted) {
          expect(seen.has(image)).toBe(false);
          expect(predictedBy.has(image)).toBe(false);
          predictedBy.add(image);
        }
      }
      expect(predictedBy.size).toBe(200);
      for (let i = 0; i < 200; i++) {
        const labelled = !Number.isNaN(task.values[i]!);
        expect(result.fold[i]! >= 0).toBe(labelled && task.split[i] !== splitCode.test);
      }
      const m: RegressionRunMetrics = result.metrics;
      for (const split of [m.train!, m.valid!, m.test!]) {
        expect(split.r2).toBeGreaterThan(0.95);
        expect(split.mae).toBeLessThan(split.baseline.mae / 4);
      }
      expect(m.train!.count).toBe(120 - 2);
      // The targets' own units: the mean is near 50, and predictions of labelled images sit near their values.
      expect(m.trainMean).toBeGreaterThan(40);
      expect(m.trainMean).toBeLessThan(60);
      for (let i = 2; i < 200; i++) expect(Math.abs(result.predicted[i]! - task.values[i]!)).toBeLessThan(8);
      // The same curves as classification: batch losses, epoch valid losses, no accuracy.
      const epochs = curves.filter((c) => c.kind === 'epoch');
      expect(curves.some((c) => c.kind === 'batch')).toBe(true);
      expect(epochs.length).toBeGreaterThan(0);
      expect(epochs.every((c) => c.valLoss !== null && c.valAccuracy === null)).toBe(true);
    }
  });
});

/** A fresh Core with a project into which the regression dataset's CSV was imported. */
async function importRegression(dir: string, options: { count?: number; wrong?: number } = {}) {
  process.env.LOUPE_OFFLINE = '1';
  const dataset = await writeRegressionDataset(path.join(dir, 'data'), options);
  const c = new Core();
  core = c;
  await c.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  const { jobId } = await c.call('dataset:import', { source: dataset.csv });
  const job = await c.jobs.finished(jobId);
  if (job.state !== 'done') throw new Error(`importing the regression dataset ended ${job.state}: ${job.error?.message ?? ''}`);
  return { core: c, dataset };
}

describe('the quick model on a regression project', () => {
  it('trains through the core, stores a value per image and regression metrics, answers runs:values and prints them from the CLI', async () => {
    const { core: c, dataset } = await importRegression(tempDir());
    expect((await c.call('project:current', {}))!.task).toBe('regression');
    // The defaults a person gets: 5 folds, 4 augmented views, a linear head with the Huber loss.
    const { jobId, runId } = await c.call('train:start', { config: { mode: 'quick' } });
    const job = await c.jobs.finished(jobId);
    expect(job.error).toBeNull();
    const run = await c.call('runs:get', { id: runId });
    expect(run).toMatchObject({ status: 'done', task: 'regression', classes: [], metrics: null });
    const m = run.valueMetrics!;
    // Out of sample (k-fold over train+valid) the brightness explains the value.
    expect(m.train!.r2).toBeGreaterThan(0.9);
    expect(m.train!.mae).toBeLessThan(8);
    expect(m.train!.mae).toBeLessThan(m.train!.baseline.mae / 3);
    expect(m.valid!.r2).toBeGreaterThan(0.85);
    expect(m.trainMean).toBeGreaterThan(20);
    expect(m.trainMean).toBeLessThan(80);
    expect(run.curves.some((p) => p.kind === 'epoch' && p.phase === 'final' && p.valLoss !== null && p.valAccuracy === null)).toBe(true);
    // No class predictions and no fold-head rows for a regression run.
    const db = c.requireProject().db;
    expect(predictionRows(db, runId)).toHaveLength(0);
    expect(foldPredictionRows(db, runId)).toHaveLength(0);

    // Every labelled image has a predicted value; actual is its CSV value; residual = predicted - actual.
    const values = await c.call('runs:values', {});
    expect(values.runId).toBe(runId);
    expect(values.total).toBe(dataset.truth.size);
    expect(values.points).toHaveLength(dataset.truth.size);
    const page = await c.call('images:page', { filter: {}, limit: 500 });
    const pathOf = new Map(page.rows.map((i) => [i.id, i.path]));
    for (const p of values.points) {
      expect(p.actual).toBeCloseTo(dataset.truth.get(pathOf.get(p.imageId)!)!, 1);
      expect(p.residual).toBeCloseTo(p.predicted - p.actual!, 9);
      expect(p.inSample).toBe(false);
      expect(p.fold >= 0).toBe(p.split === 'train' || p.split === 'valid');
    }
    const valid = await c.call('runs:values', { runId, split: 'valid', limit: 5 });
    expect(valid.total).toBe(values.points.filter((p) => p.split === 'valid').length);
    expect(valid.points).toHaveLength(5);
    expect(valid.points.every((p) => p.split === 'valid')).toBe(true);

    // The CLI prints the regression metrics (JSON and words), from the cache this time.
    const printed: Array<{ json: unknown; text: string }> = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await trainCommand(c, { folds: '3', epochs: '30' }, (json, text) => printed.push({ json, text }))).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const summary = printed[0]!.json as { task: string; valueMetrics: RegressionRunMetrics; metrics: unknown };
    expect(summary.task).toBe('regression');
    expect(summary.metrics).toBeNull();
    expect(summary.valueMetrics.train!.r2).toBeGreaterThan(0.85);
    expect(summary.valueMetrics.train!.baseline.mae).toBeGreaterThan(summary.valueMetrics.train!.mae);
    expect(printed[0]!.text).toMatch(/train \(out-of-sample\) \(\d+\): MAE [\d.]+ \/ [\d.]+, RMSE [\d.]+ \/ [\d.]+, R² 0\.\d+ \/ -?0\.\d+, median AE/);
    expect(printed[0]!.text).toMatch(/baseline \(predict the train mean, [\d.]+\)/);
  });

  it('refuses searches and ensembles on a regression project; runs:values refuses a classification run', async () => {
    const { core: c } = await importRegression(tempDir(), { count: 30 });
    const conflict = { code: 'CONFLICT', message: expect.stringMatching(/Searches and ensembles train classifiers for now; .*Bin/) };
    await expect(c.call('experiments:searchStart', { base: { mode: 'quick' } })).rejects.toMatchObject(conflict);
    await expect(c.call('experiments:ensemble', { source: { kind: 'folds', runId: 1 } })).rejects.toMatchObject(conflict);
    await expect(c.call('runs:values', {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const db = c.requireProject().db;
    const classifier = createRun(db, quickConfigSchema.parse({ mode: 'quick' }) as TrainConfig, datasetVersion(db), 'classification');
    await expect(c.call('runs:values', { runId: classifier })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/classification run/) });
  });

  it("puts planted wrong values at the top of the 'target' queue", async () => {
    const { core: c, dataset } = await importRegression(tempDir(), { count: 120, wrong: 8 });
    expect(dataset.wrong).toHaveLength(8);
    const { jobId, runId } = await c.call('train:start', { config: { mode: 'quick' } });
    expect((await c.jobs.finished(jobId)).error).toBeNull();
    const page = await valueIssuePage(
      c.requireProject().db,
      { runId, kind: 'target', includeReviewed: false, offset: 0, limit: 8 },
      searchInProcess(trainingProcess(c)),
    );
    expect(page.runId).toBe(runId);
    const top = page.rows.map((r) => r.path);
    const found = top.filter((p) => dataset.wrong.includes(p));
    expect(found.length).toBeGreaterThanOrEqual(6);
    // Each flagged planted value is far from what the model predicts for it.
    for (const row of page.rows.filter((r) => dataset.wrong.includes(r.path))) expect(Math.abs(row.residual)).toBeGreaterThan(20);
  });
});
