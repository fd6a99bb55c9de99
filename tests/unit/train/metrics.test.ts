import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../../src/main/train/metrics';

describe('computeMetrics', () => {
  it('matches hand-computed accuracy, precision, recall, F1, log loss and confusion', () => {
    // Three classes, six images. Predictions (argmax): a a b | b c | c
    const given = [0, 0, 0, 1, 1, 2];
    const probabilities = [
      [0.8, 0.1, 0.1],
      [0.6, 0.3, 0.1],
      [0.2, 0.7, 0.1],
      [0.1, 0.8, 0.1],
      [0.1, 0.4, 0.5],
      [0.25, 0.25, 0.5],
    ];
    const m = computeMetrics(['a', 'b', 'c'], given, probabilities);
    expect(m.count).toBe(6);
    expect(m.confusion).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    expect(m.accuracy).toBeCloseTo(4 / 6, 10);
    // a: P 2/2, R 2/3, F1 0.8; b: P 1/2, R 1/2, F1 0.5; c: P 1/2, R 1, F1 2/3
    const [a, b, c] = m.perClass;
    expect(a).toMatchObject({ name: 'a', support: 3 });
    expect(a!.precision).toBeCloseTo(1, 10);
    expect(a!.recall).toBeCloseTo(2 / 3, 10);
    expect(a!.f1).toBeCloseTo(0.8, 10);
    expect(b!.precision).toBeCloseTo(0.5, 10);
    expect(b!.recall).toBeCloseTo(0.5, 10);
    expect(b!.f1).toBeCloseTo(0.5, 10);
    expect(c!.precision).toBeCloseTo(0.5, 10);
    expect(c!.recall).toBeCloseTo(1, 10);
    expect(c!.f1).toBeCloseTo(2 / 3, 10);
    expect(m.macroF1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 10);
    const logLoss = -(Math.log(0.8) + Math.log(0.6) + Math.log(0.2) + Math.log(0.8) + Math.log(0.4) + Math.log(0.5)) / 6;
    expect(m.logLoss).toBeCloseTo(logLoss, 10);
  });

  it('gives a never-predicted class precision 0 and clips log loss at p = 0', () => {
    const m = computeMetrics(['a', 'b'], [1], [[1, 0]]);
    expect(m.perClass[1]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(m.logLoss).toBeCloseTo(-Math.log(1e-7), 6);
  });
});
