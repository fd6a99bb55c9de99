/**
 * Regression runs where classifier tools would misread them: runs:compare compares two regression
 * runs on MAE, RMSE, R² and median AE (and refuses a pair of different tasks); re-scoring, reports,
 * classifier baselines and ensembles refuse a regression run with CONFLICT naming what to use.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { datasetVersion } from '../../../src/main/store/changes';
import type { Db } from '../../../src/main/store/db';
import { createRun, updateRun } from '../../../src/main/train/runs';
import type { RegressionRunMetrics, RegressionSplitMetrics } from '../../../src/shared/regression';
import { trainConfigSchema } from '../../../src/shared/train';
import { tempDir } from '../../helpers/fixtures';
import { writeValueProject } from './valuesData';

let core: Core;
let db: Db;

beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'compare.loupe'), create: true });
  db = core.requireProject().db;
});
afterEach(async () => {
  await core.shutdown();
});

const split = (mae: number, r2: number): RegressionSplitMetrics => ({ count: 10, mae, rmse: mae * 1.5, r2, medianAe: mae * 0.8, mean: 50, baseline: { mae: 25, rmse: 30, r2: 0, medianAe: 22 } });
const metrics = (mae: number, r2: number): RegressionRunMetrics => ({ train: split(mae, r2), valid: split(mae + 1, r2 - 0.02), test: null, trainMean: 50 });

describe('regression runs in comparisons and classifier tools', () => {
  it('compares two regression runs on their regression metrics, b minus a, with no changed-prediction list', async () => {
    const first = writeValueProject(db).runId;
    updateRun(db, first, { valueMetrics: metrics(6, 0.9) });
    const second = createRun(db, trainConfigSchema.parse({ mode: 'quick', backbone: 'baseline' }), datasetVersion(db), 'regression');
    updateRun(db, second, { status: 'done', valueMetrics: metrics(4, 0.95), finishedAt: Date.now() });
    const comparison = await core.call('runs:compare', { a: first, b: second });
    const mae = comparison.deltas.find((d) => d.split === 'train' && d.metric === 'mae')!;
    expect(mae).toMatchObject({ a: 6, b: 4 });
    expect(mae.delta).toBeCloseTo(-2);
    expect(comparison.deltas.find((d) => d.split === 'valid' && d.metric === 'r2')!.delta).toBeCloseTo(0.05);
    // Every regression metric of both splits that have one; none of a classifier's; test is null in both.
    expect(comparison.deltas.map((d) => `${d.split}:${d.metric}`).sort()).toEqual(
      ['mae', 'rmse', 'r2', 'medianAe'].flatMap((m) => [`train:${m}`, `valid:${m}`]).sort(),
    );
    expect(comparison).toMatchObject({ changed: [], changedTotal: 0 });
  });

  it('refuses to compare runs of different tasks, and classifier tools refuse a regression run, naming the fix', async () => {
    const regression = writeValueProject(db).runId;
    const classifier = createRun(db, trainConfigSchema.parse({ mode: 'quick', backbone: 'baseline' }), datasetVersion(db), 'classification');
    updateRun(db, classifier, { status: 'done', finishedAt: Date.now() });
    await expect(core.call('runs:compare', { a: regression, b: classifier })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/regression/) });
    await expect(core.call('experiments:compare', { a: classifier, b: regression })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(core.call('experiments:report', { runId: regression })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/regression run/) });
    await expect(core.call('experiments:baselines', { runId: regression })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(core.call('experiments:diagnose', { runId: regression })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/MAE and R²/) });
  });
});
