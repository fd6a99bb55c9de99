/** Dropout in the quick model's head: only in the training loss, seeded, off (and bit-exact with no dropout) at 0; the search samples it. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSearchSpaces } from '../../../src/shared/experiments';
import { quickConfigSchema, type TrainConfig } from '../../../src/shared/train';
import { checkSpace, sampleTrials } from '../../../src/main/experiments/search.job';
import { trainHead, type HeadOptions, type Matrix } from '../../../src/main/model/head';
import { seededRandom } from '../../../src/main/train/folds';
import { runQuick, splitCode, type QuickTask } from '../../../src/main/train/quick';

beforeAll(() => tf.setBackend('cpu'));

/** Noisy blobs: class c around 1.5 * e_c in `dim` dimensions. */
function blobs(n: number, classes: number, dim: number, seed: number): { x: Matrix; y: number[] } {
  const random = seededRandom(seed);
  const data = new Float32Array(n * dim);
  const y = Array.from({ length: n }, (_, i) => i % classes);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) data[i * dim + d] = (d === y[i] ? 1.5 : 0) + (random() - 0.5) * 2;
  return { x: { data, rows: n, dim }, y };
}

const base: HeadOptions = { classes: 3, kind: 'softmax', hidden: 16, learningRate: 0.05, weightDecay: 1e-4, epochs: 12, batchSize: 16, patience: 50, seed: 5 };

async function trained(options: Partial<HeadOptions>, withVal = true) {
  const train = blobs(90, 3, 8, 1);
  const val = blobs(30, 3, 8, 2);
  const head = await trainHead(tf, train.x, train.y, withVal ? val : null, { ...base, ...options });
  const p = head.predict(val.x);
  const again = head.predict(val.x);
  const loss = val.y.reduce((s, label, i) => s - Math.log(Math.max(1e-7, p[i * 3 + label]!)), 0) / val.y.length;
  const best = head.bestValLoss;
  head.dispose();
  return { p, again, loss, best };
}

describe('head dropout', () => {
  it('dropout 0 or absent trains the same head; dropout > 0 trains another, the same for the same seed', async () => {
    for (const kind of ['softmax', 'mlp'] as const) {
      const none = await trained({ kind });
      expect((await trained({ kind, dropout: 0 })).p).toEqual(none.p);
      const half = await trained({ kind, dropout: 0.5 });
      expect(half.p).not.toEqual(none.p);
      expect(Array.from(half.p).reduce((m, v, i) => Math.max(m, Math.abs(v - none.p[i]!)), 0)).toBeGreaterThan(1e-3);
      expect((await trained({ kind, dropout: 0.5 })).p).toEqual(half.p);
      expect((await trained({ kind, dropout: 0.5, seed: 6 })).p).not.toEqual(half.p);
    }
  });

  it('acts only while training: predictions repeat, and the early-stopping valid loss is the restored head\'s loss without dropout', async () => {
    for (const kind of ['softmax', 'mlp'] as const) {
      const r = await trained({ kind, dropout: 0.6 });
      expect(r.again).toEqual(r.p);
      for (let i = 0; i < r.p.length / 3; i++) expect(r.p[i * 3]! + r.p[i * 3 + 1]! + r.p[i * 3 + 2]!).toBeCloseTo(1, 5);
      expect(r.best).not.toBeNull();
      expect(r.loss).toBeCloseTo(r.best!, 4);
    }
  });

  it('the quick config takes 0..0.9 and runQuick trains with it; absent, the config is as before', async () => {
    expect(quickConfigSchema.parse({ mode: 'quick' })).not.toHaveProperty('dropout');
    expect(quickConfigSchema.parse({ mode: 'quick', dropout: 0.3 }).dropout).toBe(0.3);
    expect(() => quickConfigSchema.parse({ mode: 'quick', dropout: 0.95 })).toThrow();
    const { x, y } = blobs(80, 2, 6, 3);
    const task = (dropout?: number): QuickTask => ({
      classes: ['a', 'b'],
      x,
      given: Int32Array.from(y.map((v) => v % 2)),
      split: Int8Array.from(y.map((_, i) => (i % 5 === 4 ? splitCode.test : i % 5 === 3 ? splitCode.valid : splitCode.train))),
      views: { x: { data: new Float32Array(0), rows: 0, dim: 6 }, owner: new Int32Array(0) },
      config: quickConfigSchema.parse({ mode: 'quick', folds: 2, epochs: 6, batchSize: 16, learningRate: 0.05, ...(dropout === undefined ? {} : { dropout }) }),
    });
    const plain = await runQuick(tf, task());
    expect((await runQuick(tf, task(0))).probabilities).toEqual(plain.probabilities);
    expect((await runQuick(tf, task(0.5))).probabilities).not.toEqual(plain.probabilities);
  });

  it('the default quick search space samples dropout into the trials\' configs; a full search refuses it', () => {
    expect(defaultSearchSpaces.quick.dropout).toEqual([0, 0.25, 0.5]);
    const baseConfig = quickConfigSchema.parse({ mode: 'quick' }) as TrainConfig;
    const trials = sampleTrials(baseConfig, defaultSearchSpaces.quick, 24, 7);
    const values = trials.map((t) => t.params.dropout);
    for (const v of values) expect([0, 0.25, 0.5]).toContain(v);
    expect(new Set(values).size).toBe(3);
    for (const t of trials) expect((t.config as { dropout?: number }).dropout).toBe(t.params.dropout);
    expect(sampleTrials(baseConfig, defaultSearchSpaces.quick, 24, 7)).toEqual(trials);
    // A space without dropout leaves the base config's (none).
    const { dropout: _, ...without } = defaultSearchSpaces.quick;
    expect(sampleTrials(baseConfig, without, 3, 7).every((t) => !('dropout' in t.config))).toBe(true);
    expect(() => checkSpace('full', { dropout: [0.2] })).toThrow(/space.dropout: does not apply to full runs/);
    expect(() => checkSpace('quick', { dropout: [0.2] })).not.toThrow();
  });
});
