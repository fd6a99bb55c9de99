import { describe, expect, it } from 'vitest';
import { linearBaseline, liftOver, majorityBaseline, type BaselineExample } from '../../../src/main/experiments/baselines';
import type { SplitName } from '../../../src/shared/types';

const ex = (split: SplitName, label: number, ...x: number[]): BaselineExample => ({ split, label, x: Float32Array.from(x) });

describe('baselines', () => {
  it('majority: the most common train class, scored on valid and test by hand', () => {
    // train: a a a b  -> majority a. valid: a b b (1/3), test: a a b b (2/4).
    const examples = [ex('train', 0), ex('train', 0), ex('train', 0), ex('train', 1), ex('valid', 0), ex('valid', 1), ex('valid', 1), ex('test', 0), ex('test', 0), ex('test', 1), ex('test', 1)];
    const m = majorityBaseline(['a', 'b'], examples);
    expect(m.className).toBe('a');
    expect(m.valid).toEqual({ count: 3, accuracy: 1 / 3 });
    expect(m.test).toEqual({ count: 4, accuracy: 0.5 });
  });

  it('linear: separates a separable set and misses exactly the valid point on the wrong side', async () => {
    // One informative pixel: class 0 dark, class 1 bright; a second pixel is noise.
    const train: BaselineExample[] = [];
    for (let i = 0; i < 20; i++) train.push(ex('train', 0, 10 + i, (i * 37) % 255), ex('train', 1, 200 + i, (i * 53) % 255));
    const valid = [ex('valid', 0, 15, 100), ex('valid', 1, 210, 30), ex('valid', 1, 220, 80), ex('valid', 0, 230, 10)];
    const test = [ex('test', 0, 5, 0), ex('test', 1, 250, 255)];
    const scores = await linearBaseline(2, [...train, ...valid, ...test]);
    expect(scores.train).toEqual({ count: 40, accuracy: 1 });
    // The last valid image is labelled 0 but bright: a linear model on pixels calls it 1, so 3 of 4.
    expect(scores.valid).toEqual({ count: 4, accuracy: 0.75 });
    expect(scores.test).toEqual({ count: 2, accuracy: 1 });
  });

  it('linear: fits on an even spread of at most maxTrain train images per class, and lets the event loop run meanwhile', async () => {
    const train: BaselineExample[] = [];
    for (let i = 0; i < 300; i++) train.push(ex('train', 0, 10 + (i % 20), i % 7), ex('train', 1, 200 + (i % 20), i % 5));
    const order: string[] = [];
    const fitting = linearBaseline(2, [...train, ex('valid', 0, 12, 3), ex('valid', 1, 205, 1)], { maxTrain: 40 }).then((scores) => {
      order.push('done');
      return scores;
    });
    setImmediate(() => order.push('tick'));
    const scores = await fitting;
    expect(order).toEqual(['tick', 'done']);
    // Scored on every train image, fitted on 20 of each class.
    expect(scores.train!.count).toBe(600);
    expect(scores.train!.accuracy).toBeGreaterThan(0.9);
    expect(scores.valid).toEqual({ count: 2, accuracy: 1 });
  });

  it('lift is the model accuracy minus the baseline accuracy', () => {
    const split = (accuracy: number) => ({ count: 10, accuracy, macroF1: 0, logLoss: 0, perClass: [], confusion: [] });
    const lift = liftOver({ train: null, valid: split(0.9), test: split(0.8) }, { valid: { count: 10, accuracy: 0.3 }, test: { count: 10, accuracy: 0.5 } });
    expect(lift.valid).toBeCloseTo(0.6);
    expect(lift.test).toBeCloseTo(0.3);
    expect(liftOver(null, null)).toEqual({ valid: null, test: null });
  });
});
