/** The ensemble of a quick run's k fold heads: each fold head predicts the images outside the folds; the ensemble averages them there and keeps out-of-fold predictions elsewhere. */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fullConfigSchema, quickConfigSchema } from '../../../src/shared/train';
import type { ImageId, SplitName } from '../../../src/shared/types';
import type { Core } from '../../../src/main/core';
import { averageFoldHeads } from '../../../src/main/experiments/ensemble';
import { foldPredictionRows, predictionRows } from '../../../src/main/store/experiments';
import { seededRandom } from '../../../src/main/train/folds';
import { runQuick, splitCode, type QuickTask } from '../../../src/main/train/quick';
import { createRun, updateRun } from '../../../src/main/train/runs';
import { tempDir } from '../../helpers/fixtures';
import { expectOneErrorLine, loupe } from '../cli/run';
import { importPlantedProject } from '../train/plantedDataset';

beforeAll(() => tf.setBackend('cpu'));

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

const maxDifference = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('fold heads', () => {
  it('each fold head predicts the images outside the folds: a copy of a held-out image gets exactly that head\'s out-of-fold answer', async () => {
    // Gaussian blobs in 6 dimensions; the last 6 rows are unlabelled copies of the first 6 (labelled train) rows.
    const random = seededRandom(4);
    const [classes, dim, labelled] = [3, 6, 60];
    const n = labelled + 6;
    const data = new Float32Array(n * dim);
    const given = new Int32Array(n);
    const split = new Int8Array(n);
    for (let i = 0; i < labelled; i++) {
      given[i] = i % classes;
      split[i] = i % 10 < 6 ? splitCode.train : i % 10 < 8 ? splitCode.valid : splitCode.test;
      for (let d = 0; d < dim; d++) data[i * dim + d] = (d === i % classes ? 2 : 0) + (random() - 0.5) * 2;
    }
    for (let j = 0; j < 6; j++) {
      data.copyWithin((labelled + j) * dim, j * dim, (j + 1) * dim);
      given[labelled + j] = -1;
      split[labelled + j] = splitCode.train;
    }
    const task: QuickTask = {
      classes: ['a', 'b', 'c'],
      x: { data, rows: n, dim },
      given,
      split,
      views: { x: { data: new Float32Array(0), rows: 0, dim }, owner: new Int32Array(0) },
      config: quickConfigSchema.parse({ mode: 'quick', epochs: 10, batchSize: 16, learningRate: 0.05, folds: 3 }),
    };
    const result = await runQuick(tf, task);
    const outside = Array.from(result.foldHeads.rows);
    // Outside the folds: the labelled test images and the unlabelled copies.
    expect(outside).toEqual([...Array.from({ length: n }, (_, i) => i).filter((i) => split[i] === splitCode.test || given[i] === -1)]);
    expect(result.foldHeads.probabilities).toHaveLength(3 * outside.length * classes);
    const head = (f: number, image: number) => {
      const r = outside.indexOf(image);
      return result.foldHeads.probabilities.subarray((f * outside.length + r) * classes, (f * outside.length + r + 1) * classes);
    };
    for (let j = 0; j < 6; j++) {
      const f = result.fold[j]!;
      expect(f).toBeGreaterThanOrEqual(0);
      const oof = result.probabilities.subarray(j * classes, (j + 1) * classes);
      expect(maxDifference(head(f, labelled + j), oof)).toBeLessThan(1e-6);
      // Another fold's head saw image j: its answer on the copy is not the out-of-fold one.
      expect(maxDifference(head((f + 1) % 3, labelled + j), oof)).toBeGreaterThan(1e-4);
    }
    for (const image of outside) for (let f = 0; f < 3; f++) expect(head(f, image).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
  });

  it('averageFoldHeads: the mean of the heads outside the folds, out-of-fold rows as stored, labels as today, the run as its member', () => {
    const p = (...v: number[]) => Float32Array.from(v);
    const stored = [
      { imageId: 1 as ImageId, split: 'train' as SplitName, fold: 0, given: 0, inSample: false, probabilities: p(0.7, 0.3) },
      { imageId: 2 as ImageId, split: 'valid' as SplitName, fold: 1, given: 1, inSample: false, probabilities: p(0.4, 0.6) },
      { imageId: 3 as ImageId, split: 'test' as SplitName, fold: -1, given: 1, inSample: false, probabilities: p(0.45, 0.55) },
      { imageId: 4 as ImageId, split: null, fold: -1, given: null, inSample: false, probabilities: p(0.5, 0.5) },
    ];
    const heads = [
      { imageId: 3 as ImageId, folds: 3, probabilities: p(0.2, 0.8, 0.5, 0.5, 0.8, 0.2) },
      { imageId: 4 as ImageId, folds: 3, probabilities: p(0.9, 0.1, 0.6, 0.4, 0.3, 0.7) },
    ];
    const today = new Map<ImageId, { label: string | null; split: SplitName | null }>([
      [1 as ImageId, { label: 'cat', split: 'train' }],
      [2 as ImageId, { label: 'dog', split: 'valid' }],
      [3 as ImageId, { label: 'cat', split: 'test' }],
      [4 as ImageId, { label: null, split: null }],
    ]);
    const result = averageFoldHeads({ runId: 7, classes: ['cat', 'dog'] }, stored, heads, today);
    expect(result.rows.map((r) => [r.imageId, r.fold, r.given])).toEqual([
      [1, 0, 0],
      [2, 1, 1],
      [3, -1, 0],
      [4, -1, null],
    ]);
    expect(Array.from(result.rows[2]!.probabilities)).toEqual([expect.closeTo(0.5, 6), expect.closeTo(0.5, 6)]);
    expect(Array.from(result.rows[3]!.probabilities)).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.4, 6)]);
    expect(result.rows[0]!.probabilities).toEqual(stored[0]!.probabilities);
    expect(result.members[0]!.map((m) => Array.from(m))).toEqual(stored.map((s) => Array.from(s.probabilities)));
  });

  it('experiments:ensemble { folds } and `loupe ensemble --folds` on a real quick run: test is the mean of the k heads, train and valid out-of-fold', async () => {
    process.env.LOUPE_OFFLINE = '1';
    const dir = tempDir();
    ({ core } = await importPlantedProject(dir, 14, { errors: 2 }));
    const c = core!;
    const { jobId, runId } = await c.call('train:start', { config: { views: 0, folds: 3, epochs: 8, learningRate: 0.01, batchSize: 32, seed: 3 } });
    expect((await c.jobs.finished(jobId)).error).toBeNull();
    const db = c.requireProject().db;
    const run = await c.call('runs:get', { id: runId });
    const stored = predictionRows(db, runId);
    const heads = foldPredictionRows(db, runId);
    const testIds = new Set((await c.call('images:ids', { filter: { split: 'test' } })).ids);
    expect(testIds.size).toBeGreaterThan(0);
    expect(new Set(heads.map((h) => h.imageId))).toEqual(testIds);
    expect(heads.every((h) => h.folds === 3 && h.probabilities.length === 3 * run.classes.length)).toBe(true);

    const ens = await c.call('experiments:ensemble', { source: { kind: 'folds', runId } });
    expect((await c.jobs.finished(ens.jobId)).state).toBe('done');
    const ensemble = await c.call('runs:get', { id: ens.runId });
    expect(ensemble.status).toBe('done');
    const rows = new Map(predictionRows(db, ens.runId).map((r) => [r.imageId, r]));
    expect(rows.size).toBe(stored.length);
    const k = run.classes.length;
    let differsFromFinal = 0;
    for (const s of stored) {
      const e = rows.get(s.imageId)!;
      if (testIds.has(s.imageId)) {
        const h = heads.find((x) => x.imageId === s.imageId)!;
        const mean = run.classes.map((_, cls) => (h.probabilities[cls]! + h.probabilities[k + cls]! + h.probabilities[2 * k + cls]!) / 3);
        expect(maxDifference(e.probabilities, mean)).toBeLessThan(1e-6);
        expect(e.fold).toBe(-1);
        if (maxDifference(e.probabilities, s.probabilities) > 1e-4) differsFromFinal++;
      } else {
        // Train and valid: the run's own out-of-fold prediction.
        expect(s.fold).toBeGreaterThanOrEqual(0);
        expect(e.fold).toBe(s.fold);
        expect(e.probabilities).toEqual(s.probabilities);
      }
    }
    // The k heads are not the final head.
    expect(differsFromFinal).toBeGreaterThan(0);
    const info = (await c.call('experiments:runs', {})).find((r) => r.runId === ens.runId)!;
    expect(info).toMatchObject({ role: 'ensemble', ensembleSource: 'folds' });
    // Its one member is the run, scored on the same rows: the final head on test, as the run's own test metric.
    expect(info.members.map((m) => m.runId)).toEqual([runId]);
    expect(info.members[0]!.accuracy.test).toBeCloseTo(run.metrics!.test!.accuracy, 10);
    expect(ensemble.metrics!.train!.accuracy).toBeCloseTo(run.metrics!.train!.accuracy, 10);
    // Colour classes: the heads' average classifies the test images.
    expect(ensemble.metrics!.test!.accuracy).toBeGreaterThanOrEqual(0.8);
    expect(ensemble.backbone!.name).toBe(`3 fold heads of run ${runId}`);
    const queue = await c.call('review:queue', { runId: ens.runId, kind: 'loss', limit: 3 });
    expect(queue.rows).toHaveLength(3);

    // Refusals: a full run, a quick run that kept no fold heads, a missing run.
    const full = createRun(db, fullConfigSchema.parse({ mode: 'full', arch: 'small-cnn' }), 1, 'classification');
    updateRun(db, full, { status: 'done', classes: run.classes });
    await expect(c.call('experiments:ensemble', { source: { kind: 'folds', runId: full } })).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/quick runs/) });
    const old = createRun(db, quickConfigSchema.parse({ mode: 'quick' }), 1, 'classification');
    updateRun(db, old, { status: 'done', classes: run.classes });
    await expect(c.call('experiments:ensemble', { source: { kind: 'folds', runId: old } })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/Retrain it/) });
    await expect(c.call('experiments:ensemble', { source: { kind: 'folds', runId: 999 } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await c.shutdown();
    core = null;

    const project = path.join(dir, 'p.loupe');
    const cli = await loupe(['ensemble', '--project', project, '--folds', String(runId), '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const json = JSON.parse(cli.stdout) as { runId: number; state: string; members: Array<{ runId: number }>; metrics: { test: { accuracy: number } } };
    expect(json.state).toBe('done');
    expect(json.members.map((m) => m.runId)).toEqual([runId]);
    expect(json.metrics.test.accuracy).toBeCloseTo(ensemble.metrics!.test!.accuracy, 10);
    const text = await loupe(['ensemble', '--project', project, '--folds', String(runId)]);
    expect(text.stdout).toContain(`of run ${runId}'s fold heads`);
    expectOneErrorLine(await loupe(['ensemble', '--project', project, '--folds', 'x']), /--folds/);
    expect((await loupe(['ensemble', '--help'])).stdout).toContain('--folds');
  }, 300_000);
});
