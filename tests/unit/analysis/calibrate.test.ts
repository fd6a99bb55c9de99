import { describe, expect, it } from 'vitest';
import { applyTemperature, expectedCalibrationError, fitTemperature, nllAt } from '../../../src/main/analysis/calibrate';
import { seededRandom } from '../../../src/main/train/folds';

/** Rows whose true class follows calibrated probabilities, then sharpened (p^3): an overconfident model. */
function overconfident(n: number, k: number, seed: number): { probabilities: Float64Array[]; given: number[] } {
  const random = seededRandom(seed);
  const probabilities: Float64Array[] = [];
  const given: number[] = [];
  for (let i = 0; i < n; i++) {
    const logits = Array.from({ length: k }, () => random() * 3);
    const sum = logits.reduce((a, b) => a + Math.exp(b), 0);
    const p = logits.map((l) => Math.exp(l) / sum);
    // The label is drawn from the calibrated p.
    let u = random();
    let label = 0;
    while (label < k - 1 && u > p[label]!) u -= p[label++]!;
    given.push(label);
    const sharp = p.map((v) => v ** 3);
    const s = sharp.reduce((a, b) => a + b, 0);
    probabilities.push(Float64Array.from(sharp, (v) => v / s));
  }
  return { probabilities, given };
}

describe('temperature scaling', () => {
  it('softens an overconfident model: the fitted temperature is near 3, NLL and ECE fall', () => {
    const { probabilities, given } = overconfident(4000, 5, 7);
    const fit = fitTemperature(probabilities, given);
    expect(fit.temperature).toBeGreaterThan(2.5);
    expect(fit.temperature).toBeLessThan(3.5);
    expect(fit.eceAfter).toBeLessThan(fit.eceBefore / 2);
    expect(fit.eceAfter).toBeLessThan(0.03);
    expect(nllAt(probabilities, given, fit.temperature)).toBeLessThan(nllAt(probabilities, given, 1));
    expect(fit.rows).toBe(4000);
  });

  it('keeps rows summing to 1 and the argmax, and leaves probabilities unchanged at T = 1', () => {
    const p = [Float64Array.of(0.7, 0.2, 0.1), Float64Array.of(0.05, 0.05, 0.9)];
    for (const t of [0.5, 1, 4]) {
      const q = applyTemperature(p, t);
      for (const [i, row] of q.entries()) {
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
        expect(row.indexOf(Math.max(...row))).toBe(p[i]!.indexOf(Math.max(...p[i]!)));
      }
    }
    expect([...applyTemperature(p, 1)[0]!]).toEqual([0.7, 0.2, 0.1].map((v) => expect.closeTo(v, 10)));
    expect(applyTemperature(p, 4)[0]![0]).toBeLessThan(0.7);
  });

  it('ECE: 0 for a perfectly calibrated bin, the gap for an overconfident one', () => {
    // Ten rows at confidence 0.95, 9.5 right on average would be calibrated; all 10 right: gap 0.05.
    const rows = Array.from({ length: 10 }, () => Float64Array.of(0.95, 0.05));
    expect(expectedCalibrationError(rows, new Array(10).fill(0))).toBeCloseTo(0.05, 10);
    const half = Array.from({ length: 10 }, () => Float64Array.of(0.5, 0.5));
    expect(expectedCalibrationError(half, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1])).toBeCloseTo(0, 10);
  });
});
