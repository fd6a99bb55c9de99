import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkpoints,
  curves,
  divergence,
  earlyStopping,
  engineEvents,
  fit,
  learningRateSchedule,
  schedules,
  TrainingCancelled,
  validation,
  type Callback,
  type EnginePoint,
  type Trainable,
} from '../../../src/main/train/engine';

interface Batch {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
}

/** y = 3x - 1 with a little noise, as 4 batches of 8. */
function problem(): { batches: Batch[]; model: Trainable<Batch> & { w: tf.Variable; b: tf.Variable } } {
  const batches = Array.from({ length: 4 }, (_, i) => {
    const xs = Array.from({ length: 8 }, (_, j) => (i * 8 + j) / 32);
    return { x: tf.tensor2d(xs, [8, 1]), y: tf.tensor2d(xs.map((v, j) => 3 * v - 1 + ((j % 3) - 1) * 0.01), [8, 1]) };
  });
  const w = tf.variable(tf.zeros([1, 1]));
  const b = tf.variable(tf.zeros([1]));
  return {
    batches,
    model: {
      w,
      b,
      trainable: [w, b],
      loss: (batch) => tf.losses.meanSquaredError(batch.y, tf.add(tf.matMul(batch.x, w), b)) as tf.Scalar,
      sizeOf: (batch) => batch.x.shape[0],
    },
  };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the training engine', () => {
  it('fires its events in order, once per fit, epoch and batch', async () => {
    const { batches, model } = problem();
    const seen: string[] = [];
    const recorder: Callback = Object.fromEntries(engineEvents.map((e) => [e, (s: { epoch: number; batch: number }) => void seen.push(`${e}:${s.epoch}.${s.batch}`)]));
    await fit({ model, batches: () => batches.slice(0, 2), epochs: 2, optimizer: tf.train.adam(0.1), learningRate: 0.1, callbacks: [recorder] });
    expect(seen).toEqual([
      'beforeFit:1.0',
      'beforeEpoch:1.0',
      'beforeBatch:1.0',
      'afterBatch:1.1',
      'beforeBatch:1.1',
      'afterBatch:1.2',
      'afterEpoch:1.2',
      'beforeEpoch:2.0',
      'beforeBatch:2.0',
      'afterBatch:2.1',
      'beforeBatch:2.1',
      'afterBatch:2.2',
      'afterEpoch:2.2',
      'afterFit:2.2',
    ]);
  });

  it('learns, reporting batch and epoch points with the learning rate a schedule set', async () => {
    const { batches, model } = problem();
    const points: EnginePoint[] = [];
    const result = await fit({
      model,
      batches: () => batches,
      batchesPerEpoch: 4,
      epochs: 200,
      optimizer: tf.train.adam(0.1),
      learningRate: 0.1,
      callbacks: [learningRateSchedule(schedules.cosine(0.1)), curves((p) => points.push(p))],
    });
    expect(result).toMatchObject({ epochs: 200, steps: 800, stopped: null });
    expect((await model.w.data())[0]).toBeCloseTo(3, 1);
    expect((await model.b.data())[0]).toBeCloseTo(-1, 1);
    const batchPoints = points.filter((p) => p.kind === 'batch');
    expect(batchPoints).toHaveLength(800);
    expect(batchPoints[0]!.learningRate).toBeCloseTo(0.1, 6);
    expect(batchPoints.at(-1)!.learningRate).toBeLessThan(0.002);
    expect(points.filter((p) => p.kind === 'epoch').at(-1)!.loss).toBeLessThan(0.01);
  });

  it('stops early when the valid loss stops improving and puts back the best weights', async () => {
    const { batches, model } = problem();
    // A validation loss that is best at epoch 3 and worse after it.
    const valLosses = [5, 4, 1, 2, 3, 4, 5, 6];
    let epoch = 0;
    let atBest: number | null = null;
    const stopper = earlyStopping({
      patience: 2,
      snapshot: async () => (await model.w.data())[0]!,
      restore: (w) => model.w.assign(tf.tensor2d([[w]])),
    });
    const result = await fit({
      model,
      batches: () => batches,
      epochs: 8,
      optimizer: tf.train.adam(0.05),
      learningRate: 0.05,
      callbacks: [
        validation(async () => ({ loss: valLosses[epoch++]!, accuracy: null })),
        stopper,
        { afterEpoch: async (s) => void (s.epoch === 3 && (atBest = (await model.w.data())[0]!)) },
      ],
    });
    expect(result.epochs).toBe(5);
    expect(result.stopped).toMatch(/did not improve for 2 epochs \(best: epoch 3\)/);
    expect(stopper.best()).toEqual({ epoch: 3, loss: 1 });
    expect((await model.w.data())[0]).toBeCloseTo(atBest!, 6);
  });

  it('is cancelled between batches by its signal, with a typed error', async () => {
    const { batches, model } = problem();
    const controller = new AbortController();
    let steps = 0;
    const run = fit({
      model,
      batches: () => batches,
      epochs: 10,
      optimizer: tf.train.adam(0.1),
      learningRate: 0.1,
      signal: controller.signal,
      callbacks: [{ afterBatch: (s) => void ((steps = s.step) === 5 && controller.abort()) }],
    });
    await expect(run).rejects.toBeInstanceOf(TrainingCancelled);
    expect(steps).toBe(5);
  });

  it('resumes from a checkpoint and ends exactly where an uninterrupted fit ends', async () => {
    const whole = problem();
    await fit({ model: whole.model, batches: () => whole.batches, epochs: 6, optimizer: tf.train.sgd(0.1), learningRate: 0.1 });

    const part = problem();
    let saved: { epoch: number; step: number; w: tf.Tensor; b: tf.Tensor } | null = null;
    await fit({
      model: part.model,
      batches: () => part.batches,
      epochs: 3,
      optimizer: tf.train.sgd(0.1),
      learningRate: 0.1,
      callbacks: [checkpoints((s) => void (saved = { epoch: s.epoch, step: s.step, w: part.model.w.clone(), b: part.model.b.clone() }))],
    });
    const resumed = problem();
    resumed.model.w.assign(saved!.w);
    resumed.model.b.assign(saved!.b);
    const result = await fit({
      model: resumed.model,
      batches: () => resumed.batches,
      epochs: 6,
      startEpoch: saved!.epoch + 1,
      startStep: saved!.step,
      optimizer: tf.train.sgd(0.1),
      learningRate: 0.1,
    });
    expect(result).toMatchObject({ epochs: 6, steps: 24 });
    expect(Array.from(await resumed.model.w.data())).toEqual(Array.from(await whole.model.w.data()));
    expect(Array.from(await resumed.model.b.data())).toEqual(Array.from(await whole.model.b.data()));
  });

  it('a sweep stops when the loss diverges', async () => {
    const { batches, model } = problem();
    const result = await fit({
      model,
      batches: () => batches,
      batchesPerEpoch: 4,
      epochs: 50,
      optimizer: tf.train.sgd(1e-4),
      learningRate: 1e-4,
      callbacks: [learningRateSchedule(schedules.exponential(1e-4, 100), 200), divergence()],
    });
    expect(result.stopped).toMatch(/loss (rose|became)/);
    expect(result.steps).toBeLessThan(200);
  });

  it('schedules: one-cycle warms up then anneals; exponential spans its range', () => {
    const one = schedules.oneCycle(1e-3);
    expect(one(0, 100)).toBeCloseTo(1e-3 / 25, 8);
    expect(one(30, 100)).toBeCloseTo(1e-3, 8);
    expect(one(100, 100)).toBeLessThan(1e-7);
    const sweep = schedules.exponential(1e-7, 10);
    expect(sweep(0, 100)).toBeCloseTo(1e-7, 12);
    expect(sweep(99, 100)).toBeCloseTo(10, 6);
  });
});
