import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { quickConfigSchema } from '../../../src/shared/train';
import { seededRandom, stratifiedFolds } from '../../../src/main/train/folds';
import { runQuick, splitCode, type QuickTask } from '../../../src/main/train/quick';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Gaussian blobs: class c centred at 3 * e_c in 8 dimensions. */
function blobs(perClass: number, classes: number, seed: number): QuickTask {
  const random = seededRandom(seed);
  const dim = 8;
  const n = perClass * classes;
  const data = new Float32Array(n * dim);
  const given = new Int32Array(n);
  const split = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    given[i] = c;
    split[i] = i % 10 < 6 ? splitCode.train : i % 10 < 8 ? splitCode.valid : splitCode.test;
    for (let d = 0; d < dim; d++) data[i * dim + d] = (d === c ? 3 : 0) + (random() - 0.5) * 2;
  }
  return {
    classes: Array.from({ length: classes }, (_, c) => `c${c}`),
    x: { data, rows: n, dim },
    given,
    split,
    views: { x: { data: new Float32Array(0), rows: 0, dim }, owner: new Int32Array(0) },
    config: quickConfigSchema.parse({ mode: 'quick', epochs: 40, batchSize: 32, learningRate: 0.01, folds: 5 }),
  };
}

describe('stratifiedFolds', () => {
  it('puts about 1/k of every class in each fold, the same for the same seed', () => {
    const labels = Array.from({ length: 100 }, (_, i) => i % 4);
    const folds = stratifiedFolds(labels, 5, 3);
    expect(stratifiedFolds(labels, 5, 3)).toEqual(folds);
    for (let f = 0; f < 5; f++) {
      for (let c = 0; c < 4; c++) {
        const count = labels.filter((l, i) => l === c && folds[i] === f).length;
        expect(count).toBe(5);
      }
    }
  });
});

describe('runQuick', () => {
  it('never lets an image be predicted by a head that saw it, and predicts every image', async () => {
    const task = blobs(40, 3, 1);
    const audit: Array<{ phase: string; seen: Set<number>; predicted: readonly number[] }> = [];
    const result = await runQuick(tf, task, {
      onFit: (phase, seen, predicted) => audit.push({ phase, seen: new Set(seen), predicted }),
    });
    expect(audit.map((a) => a.phase)).toEqual(['fold 1/5', 'fold 2/5', 'fold 3/5', 'fold 4/5', 'fold 5/5', 'final']);
    const predictedBy = new Map<number, string>();
    for (const { phase, seen, predicted } of audit) {
      for (const image of predicted) {
        expect(seen.has(image)).toBe(false);
        expect(predictedBy.has(image)).toBe(false);
        predictedBy.set(image, phase);
      }
    }
    // Every image predicted exactly once; train and valid images by a fold head, test by the final one.
    expect(predictedBy.size).toBe(task.x.rows);
    for (let i = 0; i < task.x.rows; i++) {
      const byFold = result.fold[i]! >= 0;
      expect(byFold).toBe(task.split[i] !== splitCode.test);
      if (byFold) expect(predictedBy.get(i)).toBe(`fold ${result.fold[i]! + 1}/5`);
      const row = result.probabilities.subarray(i * 3, i * 3 + 3);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    }
    expect(result.metrics.train!.accuracy).toBeGreaterThan(0.9);
    expect(result.metrics.valid!.accuracy).toBeGreaterThan(0.9);
    expect(result.metrics.test!.accuracy).toBeGreaterThan(0.9);
  });

  it('stops between batches when cancelled', async () => {
    const task = blobs(20, 2, 2);
    let batches = 0;
    const cancel = new AbortController();
    const onCurve = (p: { kind: string }) => {
      if (p.kind === 'batch' && ++batches >= 3) cancel.abort();
    };
    await expect(runQuick(tf, task, { onCurve, signal: cancel.signal })).rejects.toThrow(/cancelled/);
    expect(batches).toBe(3);
  });

  it('trains the MLP head too', async () => {
    const task = blobs(30, 3, 3);
    task.config = { ...task.config, head: 'mlp', hidden: 16, folds: 3 };
    const result = await runQuick(tf, task);
    expect(result.folds).toBe(3);
    expect(result.metrics.test!.accuracy).toBeGreaterThan(0.85);
  });
});
