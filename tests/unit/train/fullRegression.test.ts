/**
 * The full model on a regression project: the value target of netBatch.ts (standardised targets,
 * squared or Huber loss, values out in the user's units, a zero output layer), then a real Core that
 * imports a path,value CSV (brightness encodes a 0..100 target) and trains small-cnn on it end to
 * end: a regression run with value predictions for every image and regression metrics that beat
 * the train-mean baseline; k-fold gives every train image an out-of-sample value, and a k-fold run
 * resumes in its final phase; the sanity check overfits on values, the LR finder sweeps their loss,
 * show batch names each image's value; a fine-tune gets a one-output head; a network whose values
 * blow up is refused; export and predict refuse a regression run, searches still refuse the project.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { predictionRows } from '../../../src/main/store/experiments';
import { buildNet, netSpec, smallCnnSpec } from '../../../src/main/model/archSpec';
import { importBackbone, resolveBackbone } from '../../../src/main/model/backbones';
import { loadFinetuneNet } from '../../../src/main/model/finetuneNet';
import { exportTfjs } from '../../../src/main/model/exportTfjs';
import { loadCheckpoint } from '../../../src/main/train/checkpoints';
import { checkLabels, classTarget, initOutput, netLoss, toImageBatch, valueTarget } from '../../../src/main/train/netBatch';
import { spreadOverValues } from '../../../src/main/train/kinds/sanity';
import { fullInputSchema, runFull } from '../../../src/main/train/full';
import type { KindContext } from '../../../src/main/train/kinds/types';
import { cpuDevice } from '../../../src/main/model/backend';
import { valuePredictions } from '../../../src/main/train/runs';
import type { Batch } from '../../../src/main/augment/feeder';
import type { CurvePoint } from '../../../src/shared/train';
import { tempDir, writeRegressionDataset } from '../../helpers/fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
  delete process.env.LOUPE_CACHE_DIR;
});

/** A feeder batch of `y` labels on blank 4x4x1 images. */
const blankBatch = (y: number[]): Batch => ({ x: new Float32Array(y.length * 16), y: Float32Array.from(y), ids: y.map((_, i) => i), size: y.length, index: 0 });

describe('the value target', () => {
  it('standardises by the fitted values, scores squared and Huber errors per image as the training loss does, and decodes to the user units', () => {
    // Fitted 10, 20, 30: mean 20, population std sqrt(200/3).
    const scale = Math.sqrt(200 / 3);
    const squared = valueTarget('squared', [10, 20, 30]);
    expect(squared.centre).toBe(20);
    expect(squared.scale).toBeCloseTo(scale, 12);
    expect(Array.from(squared.labels(tf, [10, 20, 30]).dataSync())).toEqual(Array.from(Float32Array.from([-10 / scale, 0, 10 / scale])));
    // A prediction of 40 for an actual 20: a standardised error of 20 / scale (about 2.45).
    const error = 20 / scale;
    expect(squared.score([40], 20)).toEqual({ loss: expect.closeTo(error * error, 9), correct: null });
    const huber = valueTarget('huber', [10, 20, 30]);
    expect(huber.score([40], 20).loss).toBeCloseTo(error - 0.5, 9);
    expect(huber.score([22], 20).loss).toBeCloseTo(0.5 * (2 / scale) ** 2, 9);
    // The batch loss is the mean of the same per-image losses.
    const outputs = tf.tensor2d([[error], [0.1]]);
    const labels = tf.tensor1d([0, 0]);
    expect(huber.loss(tf, labels, outputs).dataSync()[0]).toBeCloseTo((error - 0.5 + 0.5 * 0.01) / 2, 5);
    expect(squared.loss(tf, labels, outputs).dataSync()[0]).toBeCloseTo((error * error + 0.01) / 2, 5);
    expect(Array.from(huber.decode(tf, tf.tensor2d([[0], [1]])).dataSync())).toEqual([20, Math.fround(20 + scale)]);
    // One fitted value (or equal ones): scale 1, never a division by zero.
    expect(valueTarget('huber', [7, 7]).scale).toBe(1);
  });

  it('starts a value network at the mean (zero output layer) and leaves a classifier untouched', () => {
    const value = valueTarget('huber', [0, 10]);
    const net = buildNet(tf, netSpec('small-cnn', [4, 4, 1], 1), 3);
    initOutput(tf, net, value);
    const batch = toImageBatch(tf, blankBatch([0, 10]), [4, 4, 1], value);
    expect(Array.from(net.apply(batch.x, false).dataSync())).toEqual([0, 0]);
    // Targets -1 and 1 against 0: Huber 0.5 each.
    expect(netLoss(tf, net, batch, value, false).dataSync()[0]).toBeCloseTo(0.5, 6);
    const classes = buildNet(tf, netSpec('small-cnn', [4, 4, 1], 3), 3);
    const before = classes.variables.get('logits/kernel')!.dataSync().slice();
    initOutput(tf, classes, classTarget(3));
    expect(classes.variables.get('logits/kernel')!.dataSync()).toEqual(before);
    net.dispose();
    classes.dispose();
  });

  it('checks labels against the target, and spreads the sanity images over the range of the values', () => {
    expect(() => checkLabels({ task: 'classification' }, 2, [0, 2])).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(() => checkLabels({ task: 'classification' }, 1, [0])).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(() => checkLabels({ task: 'regression', loss: 'huber' }, 0, [1.5, Number.NaN])).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(() => checkLabels({ task: 'regression', loss: 'huber' }, 0, [1.5, -3])).not.toThrow();
    const items = [5, 1, 9, 3, 7].map((label, id) => ({ id, label }));
    expect(spreadOverValues(items, 3).map((i) => i.label)).toEqual([1, 5, 9]);
    expect(spreadOverValues(items, 1).map((i) => i.label)).toEqual([9]);
    expect(spreadOverValues(items, 8)).toHaveLength(5);
  });
});

/** A process context on the cpu backend that keeps what the run emits. */
function context(): KindContext {
  return {
    tf: async () => {
      const device = cpuDevice('CPU (cpu)');
      return { tf, report: { name: 'cpu', requested: 'cpu', host: 'process', device, tried: [{ name: 'cpu', loaded: true, reason: null, device }] } };
    },
    signal: new AbortController().signal,
    progress: () => {},
    log: () => {},
    curve: () => {},
    emit: () => {},
  };
}

describe('runFull on values', () => {
  it('refuses a network whose values blew up, naming the learning rate and the fix', async () => {
    const side = 8;
    // Pixels near the float32 limit: the activations overflow, and the network's values are NaN.
    const items = Array.from({ length: 16 }, (_, i) => ({ id: i + 1, file: `img${i}.png`, width: side, height: side, label: i * 100, split: 'train' as const }));
    const input = fullInputSchema.parse({
      runId: 1,
      classes: [],
      items,
      target: { task: 'regression', loss: 'squared' },
      config: { mode: 'full', arch: 'small-cnn', epochs: 3, batchSize: 8, learningRate: 10, seed: 1, regressionLoss: 'squared' },
      arch: 'small-cnn',
      inputSize: side,
      channels: 1,
      resume: null,
    });
    const sources = {
      loadFinetune: null,
      async *batches(request: { items: ReadonlyArray<{ id: number; label: number }>; batchSize: number }) {
        for (let index = 0; index * request.batchSize < request.items.length; index++) {
          const slice = request.items.slice(index * request.batchSize, (index + 1) * request.batchSize);
          const x = new Float32Array(slice.length * side * side);
          slice.forEach((item, k) => x.fill(1e38 * (item.id % 3), k * side * side, (k + 1) * side * side));
          yield { x, y: Float32Array.from(slice, (i) => i.label), ids: slice.map((i) => i.id), size: slice.length, index } satisfies Batch;
        }
      },
    };
    await expect(runFull(input, context(), sources)).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/Training diverged.*learning rate 10.*Huber/) });
  });
});

/** A fresh Core with a project into which the regression dataset's CSV was imported. */
async function importRegression(dir: string, count: number) {
  process.env.LOUPE_OFFLINE = '1';
  const dataset = await writeRegressionDataset(path.join(dir, 'data'), { count, size: 16 });
  const c = new Core();
  core = c;
  await c.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  const { jobId } = await c.call('dataset:import', { source: dataset.csv });
  const job = await c.jobs.finished(jobId);
  if (job.state !== 'done') throw new Error(`importing the regression dataset ended ${job.state}: ${job.error?.message ?? ''}`);
  return { core: c, dataset };
}

// Small enough for two busy cores: 16 px inputs, no augmentation, a handful of epochs.
const full = { mode: 'full', arch: 'small-cnn', inputSize: 16, batchSize: 16, augment: 'none', epochs: 8, learningRate: 3e-3, patience: 8, seed: 3 } as const;

describe('a full run on a regression project', () => {
  it('trains small-cnn on the values: a value per image, metrics beating the train-mean baseline, no class predictions; export and predict refuse it', async () => {
    const { core: c, dataset } = await importRegression(tempDir(), 120);
    expect((await c.call('project:current', {}))!.task).toBe('regression');
    const { jobId, runId } = await c.call('train:start', { config: full });
    const job = await c.jobs.finished(jobId);
    expect(job.error).toBeNull();
    const run = await c.call('runs:get', { id: runId });
    expect(run).toMatchObject({ status: 'done', task: 'regression', classes: [], metrics: null });
    expect(run.config).toMatchObject({ mode: 'full', regressionLoss: 'huber' });
    // One output: small-cnn at 16x16x3 is conv1 (896), conv2 (18,496), dense1 on the flattened 4x4x64 (1024 x 128 + 128), then 128 + 1 to one output.
    expect(run.model!.parameters).toBe(896 + 18_496 + 1024 * 128 + 128 + 129);
    const m = run.valueMetrics!;
    // Brightness explains the value: both held-out splits beat predicting the train mean (R² about 0) by far.
    for (const held of [m.valid!, m.test!]) {
      expect(held.count).toBeGreaterThan(0);
      expect(held.r2).toBeGreaterThan(0.5);
      expect(Math.abs(held.baseline.r2)).toBeLessThan(0.1);
      expect(held.mae).toBeLessThan(held.baseline.mae / 2);
    }
    expect(m.train).toBeNull();
    expect(m.trainInSample!.count).toBeGreaterThan(0);
    expect(m.trainMean).toBeGreaterThan(20);
    expect(m.trainMean).toBeLessThan(80);
    // The same curves as classification, without an accuracy.
    const epochs = run.curves.filter((p) => p.kind === 'epoch' && p.phase === 'train');
    expect(epochs.length).toBeGreaterThan(0);
    expect(epochs.every((p) => p.valLoss !== null && Number.isFinite(p.valLoss) && p.valAccuracy === null)).toBe(true);
    expect(run.curves.some((p) => p.kind === 'batch')).toBe(true);

    // Every image with a value has a predicted value in the user's units; train ones are in-sample.
    const db = c.requireProject().db;
    expect(predictionRows(db, runId)).toHaveLength(0);
    const points = valuePredictions(db, runId);
    expect(points).toHaveLength(dataset.truth.size);
    const page = await c.call('images:page', { filter: {}, limit: 500 });
    const pathOf = new Map(page.rows.map((i) => [i.id, i.path]));
    for (const p of points) {
      expect(p.actual).toBeCloseTo(dataset.truth.get(pathOf.get(p.imageId)!)!, 1);
      expect(p.residual).toBeCloseTo(p.predicted - p.actual!, 9);
      expect(p.fold).toBe(-1);
      expect(p.inSample).toBe(p.split === 'train');
    }
    expect((await c.call('runs:values', {})).runId).toBe(runId);

    const refused = { code: 'CONFLICT', message: expect.stringMatching(/export of regression models is not built yet/) };
    await expect(c.call('runs:exportModel', { id: runId, out: path.join(tempDir(), 'model') })).rejects.toMatchObject(refused);
    await expect(c.call('runs:predict', { id: runId, files: [path.join(dataset.root, 'img_0000.png')], images: [] })).rejects.toMatchObject(refused);
    await expect(c.call('runs:predict', { id: runId, files: [path.join(dataset.root, 'img_0000.png')], images: [], tta: true })).rejects.toMatchObject(refused);
    // Searches and ensembles still train classifiers only.
    await expect(c.call('experiments:searchStart', { base: { mode: 'quick' } })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/Searches and ensembles train classifiers/) });
  });

  it('gives every train image an out-of-sample value with k folds; the checks train on the values', async () => {
    const { core: c, dataset } = await importRegression(tempDir(), 60);
    const { jobId, runId } = await c.call('train:start', { config: { ...full, epochs: 2, folds: 2, regressionLoss: 'squared' } });
    expect((await c.jobs.finished(jobId)).error).toBeNull();
    const run = await c.call('runs:get', { id: runId });
    const db = c.requireProject().db;
    const points = valuePredictions(db, runId);
    expect(points).toHaveLength(dataset.truth.size);
    const train = points.filter((p) => p.split === 'train');
    expect(train.length).toBeGreaterThan(0);
    expect(train.every((p) => (p.fold === 0 || p.fold === 1) && !p.inSample)).toBe(true);
    expect(new Set(train.map((p) => p.fold)).size).toBe(2);
    expect(points.filter((p) => p.split !== 'train').every((p) => p.fold === -1 && !p.inSample)).toBe(true);
    expect(run.valueMetrics!.train!.count).toBe(train.length);
    expect(run.curves.some((p) => p.phase === 'fold 1/2')).toBe(true);

    // Overfitting one batch of values: the standardised loss falls near zero.
    const sanity = await c.call('train:sanity', { config: { arch: 'small-cnn', inputSize: 16, learningRate: 1e-3 } });
    const checked = await c.jobs.finished(sanity.jobId);
    expect(checked.error).toBeNull();
    const result = checked.result as { passed: boolean; attempts: Array<{ images: number; losses: number[]; finalLoss: number }> };
    expect(result.attempts.map((a) => a.images)).toEqual([1, 8]);
    for (const attempt of result.attempts) expect(attempt.losses[0]).toBeGreaterThan(0.1);
    expect(result.passed).toBe(true);

    const lr = await c.call('train:lrFind', { config: { arch: 'small-cnn', inputSize: 16, batchSize: 16 } });
    const swept = await c.jobs.finished(lr.jobId);
    expect(swept.error).toBeNull();
    const points2 = (swept.result as { points: Array<{ loss: number }> }).points;
    expect(points2.length).toBeGreaterThan(10);
    expect(points2.slice(0, 10).every((p) => Number.isFinite(p.loss))).toBe(true);

    // Show batch names each image's value as the project holds it.
    const shown = await c.call('train:showBatch', { config: { arch: 'small-cnn', inputSize: 16 }, count: 4, seed: 0 });
    expect(shown.items).toHaveLength(4);
    for (const item of shown.items) expect(Number(item.label)).toBeCloseTo(dataset.truth.get(item.path)!, 6);
  });
});

describe('resuming a regression run', () => {
  it('continues a k-fold run cancelled in its final phase to the values of an uninterrupted run', async () => {
    const { core: c } = await importRegression(tempDir(), 48);
    const config = { ...full, epochs: 3, folds: 2 };
    const whole = await c.call('train:start', { config });
    expect((await c.jobs.finished(whole.jobId)).state).toBe('done');
    // Cancel once the final network's first epoch is checkpointed (its epoch point comes after the checkpoint).
    const { jobId, runId } = await c.call('train:start', { config });
    const off = c.subscribe((event, payload) => {
      const { runId: id, points } = payload as { runId: number; points: CurvePoint[] };
      if (event === 'train:curve' && id === runId && points.some((p) => p.kind === 'epoch' && p.phase === 'train')) {
        off();
        c.jobs.cancel(jobId);
      }
    });
    expect((await c.jobs.finished(jobId)).state).toBe('cancelled');
    expect((await c.call('runs:get', { id: runId })).resumable).toBe(true);
    const resumed = await c.call('train:start', { resume: runId });
    expect((await c.jobs.finished(resumed.jobId)).error).toBeNull();
    const db = c.requireProject().db;
    const a = valuePredictions(db, whole.runId);
    const b = valuePredictions(db, runId);
    expect(b.map((p) => [p.imageId, p.fold, p.inSample])).toEqual(a.map((p) => [p.imageId, p.fold, p.inSample]));
    b.forEach((p, i) => expect(p.predicted).toBeCloseTo(a[i]!.predicted, 4));
    const ma = (await c.call('runs:get', { id: whole.runId })).valueMetrics!;
    const mb = (await c.call('runs:get', { id: runId })).valueMetrics!;
    expect(mb.train!.count).toBe(ma.train!.count);
    expect(mb.valid!.mae).toBeCloseTo(ma.valid!.mae, 4);
  });
});

describe('fine-tuning on a regression project', () => {
  it('puts a one-output head, started at zero, on the backbone and stores values', async () => {
    const dir = tempDir();
    // A backbone: small-cnn at 16x16x3 with its weights from a seed (its features are random, but a network to tune).
    const net = buildNet(tf, smallCnnSpec([16, 16, 3], 4), 1);
    const weights = await net.readWeights();
    net.dispose();
    const folder = path.join(dir, 'backbone');
    fs.mkdirSync(folder, { recursive: true });
    for (const file of exportTfjs(smallCnnSpec([16, 16, 3], 4), weights)) fs.writeFileSync(path.join(folder, file.name), file.data);
    process.env.LOUPE_CACHE_DIR = path.join(dir, 'cache');
    await importBackbone(path.join(folder, 'model.json'), 'seeded', { preprocessing: { scaling: 'unit', inputSize: 16 } });
    // The head of a value network starts at zero, as a built-in one's output layer does.
    const tuned = await loadFinetuneNet(tf, (await resolveBackbone('seeded')).spec, 1, 3);
    expect(Array.from(tuned.variables.get('finetune_head/kernel')!.dataSync()).some((w) => w !== 0)).toBe(true);
    initOutput(tf, tuned, valueTarget('huber', [0, 1]));
    expect(Array.from(tuned.variables.get('finetune_head/kernel')!.dataSync()).every((w) => w === 0)).toBe(true);
    tuned.dispose();
    const { core: c, dataset } = await importRegression(dir, 60);
    const { inputSize: _inputSize, ...rest } = full;
    const { jobId, runId } = await c.call('train:start', { config: { ...rest, arch: 'finetune', backbone: 'seeded', frozenEpochs: 1, epochs: 4 } });
    expect((await c.jobs.finished(jobId)).error).toBeNull();
    const run = await c.call('runs:get', { id: runId });
    expect(run).toMatchObject({ status: 'done', task: 'regression', classes: [], metrics: null, model: { arch: 'finetune' } });
    const best = loadCheckpoint(c.requireProject().db, runId, 'best')!;
    expect(best.weights.get('finetune_head/kernel')!.shape).toEqual([128, 1]);
    expect(valuePredictions(c.requireProject().db, runId)).toHaveLength(dataset.truth.size);
    expect(run.valueMetrics!.valid!.mae).toBeLessThan(run.valueMetrics!.valid!.baseline.mae);
  });
});
