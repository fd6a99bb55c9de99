import type * as Tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNet, netSpec } from '../../../src/main/model/archSpec';
import { selectBackend } from '../../../src/main/model/backend';
import { TrainingCancelled } from '../../../src/main/train/engine';
import { overfitCauses, overfitCheck, overfitSymptom, type OverfitAttempt } from '../../../src/main/train/sanity';
import { colourBatch } from './toolsData';

let tf: typeof Tf;
const spec = () => netSpec('small-cnn', [16, 16, 3], 3);

beforeAll(async () => {
  tf = (await selectBackend()).tf;
});

/** One image, then eight, each with a fresh small-cnn from the same seed. */
function attempts(trainable?: Tf.Variable[]): OverfitAttempt[] {
  return [
    { batch: colourBatch(tf, 1, 16, 1), net: buildNet(tf, spec(), 3), trainable },
    { batch: colourBatch(tf, 8, 16, 2), net: buildNet(tf, spec(), 3), trainable },
  ];
}

describe('overfit one batch', () => {
  it('small-cnn drives the loss of 1 and then 8 images to near zero in 100 Adam steps at 1e-3', async () => {
    const result = await overfitCheck(tf, attempts());
    expect(result.passed).toBe(true);
    expect(result.causes).toEqual([]);
    expect(result.attempts.map((a) => [a.images, a.steps, a.losses.length])).toEqual([
      [1, 100, 100],
      [8, 100, 100],
    ]);
    for (const a of result.attempts) {
      expect(a.passed).toBe(true);
      expect(a.finalLoss).toBeLessThan(0.05);
      expect(a.losses[0]!).toBeGreaterThan(0.3);
    }
  });

  it('a frozen network (no trainable variables) fails, and says it is frozen', async () => {
    const result = await overfitCheck(tf, attempts([]));
    expect(result.passed).toBe(false);
    expect(result.attempts.map((a) => [a.passed, a.steps, a.losses.length])).toEqual([
      [false, 0, 1],
      [false, 0, 1],
    ]);
    expect(result.attempts[1]!.finalLoss).toBeGreaterThan(0.3);
    expect(result.causes).toHaveLength(1);
    expect(result.causes[0]).toMatch(/frozen/);
  });

  it('a learning rate of 50 fails, and says the rate is far too high', async () => {
    const result = await overfitCheck(tf, attempts(), { learningRate: 50 });
    expect(result.passed).toBe(false);
    expect(result.causes.some((c) => /far too high/.test(c))).toBe(true);
    expect(result.causes.some((c) => /too low/.test(c))).toBe(false);
  });

  it('names causes from the curve: flat, rising, and 1 image passing where 8 do not', () => {
    expect(overfitSymptom([1.1, 1.1, 1.1], 5)).toBe('flat');
    expect(overfitSymptom([1.1, Number.NaN], 5)).toBe('rising');
    expect(overfitSymptom([1.1, 40, 0.9], 5)).toBe('rising');
    expect(overfitSymptom([1.1, 0.6, 0.5], 5)).toBe('slow');
    expect(overfitSymptom([1.1, 0.01], 5)).toBeNull();
    expect(overfitSymptom([1.1, 1.1], 0)).toBe('frozen');
    const mismatch = overfitCauses(
      [
        { images: 1, passed: true, symptom: null },
        { images: 8, passed: false, symptom: 'slow' },
      ],
      1e-3,
    );
    expect(mismatch).toHaveLength(1);
    expect(mismatch[0]).toMatch(/labels/);
    expect(overfitCauses([{ images: 1, passed: false, symptom: 'flat' }], 1e-9)[0]).toMatch(/too low/);
  });

  it('stops with TrainingCancelled when cancelled', async () => {
    const controller = new AbortController();
    const check = overfitCheck(tf, attempts(), { signal: controller.signal, onLoss: (_a, step) => step === 3 && controller.abort() });
    await expect(check).rejects.toBeInstanceOf(TrainingCancelled);
  });
});
