import { describe, expect, it } from 'vitest';
import { estimateNoise, expectedPrecision, wilsonInterval, wrongPosterior } from '../../../src/main/analysis/noise';
import { seededRandom } from '../../../src/main/train/folds';

/**
 * Rows of a K-class problem with a calibrated model: its probabilities p (sure about one class on
 * 70% of rows, split between two on the rest), the true class drawn from p, then each label flipped
 * to another class with probability eta. Returns c = p(given), and the naive count's share: labels
 * the model does not predict.
 */
function simulate(eta: number, n: number, k: number, seed: number): { c: number[]; disagree: number } {
  const random = seededRandom(seed);
  const c: number[] = [];
  let disagree = 0;
  for (let i = 0; i < n; i++) {
    const top = Math.floor(random() * k);
    const sure = random() < 0.7;
    const onTop = sure ? 0.9 + random() * 0.099 : 0.45 + random() * 0.2;
    const second = (top + 1) % k;
    const p = new Array<number>(k).fill(((1 - onTop) * 0.2) / (k - 2));
    p[top] = onTop;
    p[second] = (1 - onTop) * 0.8;
    let u = random();
    let truth = 0;
    while (truth < k - 1 && u > p[truth]!) u -= p[truth++]!;
    let given = truth;
    if (random() < eta) {
      given = Math.floor(random() * (k - 1));
      if (given >= truth) given++;
    }
    if (given !== top) disagree++;
    c.push(p[given]!);
  }
  return { c, disagree: disagree / n };
}

describe('noise-rate estimate', () => {
  for (const eta of [0.05, 0.1, 0.2]) {
    it(`recovers a planted ${eta * 100}% within ±25% where counting the model's disagreements overstates it`, () => {
      const { c, disagree } = simulate(eta, 8000, 10, 42 + eta * 100);
      const { rate, pWrong } = estimateNoise(c, 10);
      expect(Math.abs(rate - eta) / eta).toBeLessThan(0.25);
      expect(pWrong.reduce((a, b) => a + b, 0) / c.length).toBeCloseTo(rate, 5);
      // The naive estimate, labels the model does not predict, counts its honest mistakes too.
      expect(disagree).toBeGreaterThan(eta * 1.4);
    });
  }

  it('is 0 when every label is certain, and rises as c falls', () => {
    expect(estimateNoise([1, 1, 1, 1], 3).rate).toBeLessThan(1e-6);
    const p = wrongPosterior([0.9, 0.3, 0.01], 0.1, 10);
    expect(p[0]!).toBeLessThan(p[1]!);
    expect(p[1]!).toBeLessThan(p[2]!);
    // A hard image the model is unsure of stays mostly right; a contradicted label is mostly wrong.
    expect(p[1]!).toBeLessThan(0.1);
    expect(p[2]!).toBeGreaterThan(0.5);
  });

  it('Wilson intervals hold the proportion and stay in [0, 1]; expected precision is the mean P(wrong)', () => {
    const [lo, hi] = wilsonInterval(10, 100);
    expect(lo).toBeLessThan(0.1);
    expect(hi).toBeGreaterThan(0.1);
    expect(wilsonInterval(0, 50)[0]).toBe(0);
    expect(wilsonInterval(0, 50)[1]).toBeGreaterThan(0);
    expect(expectedPrecision([0.9, 0.5, 0.1])).toEqual({ count: 3, expectedWrong: 1.5, precision: 0.5 });
  });
});
