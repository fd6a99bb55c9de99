import { describe, expect, it } from 'vitest';
import { applyTemperature } from '../../../src/main/analysis/calibrate';
import { findLabelIssues } from '../../../src/main/analysis/confident';
import { computeSignals, type SignalInput, type SplitGroup } from '../../../src/main/analysis/signals';

/** Two classes; rows 0-9 labelled a (0), 10-19 labelled b (1); row 3 looks like b, row 15 like a. */
function twoClassInput(overrides: Partial<SignalInput> = {}): SignalInput {
  const given = Array.from({ length: 20 }, (_, i) => (i < 10 ? 0 : 1));
  const probabilities = given.map((g, i) => {
    if (i === 3) return [0.1, 0.9];
    if (i === 15) return [0.8, 0.2];
    const onGiven = 0.75 + (i % 5) * 0.05;
    return g === 0 ? [onGiven, 1 - onGiven] : [1 - onGiven, onGiven];
  });
  // Neighbours: each row's 4 nearest are rows of its look (row 3 sits among the b rows, 15 among the a rows).
  const look = given.map((g, i) => (i === 3 ? 1 : i === 15 ? 0 : g));
  const neighbours = given.map((_, i) =>
    given
      .map((__, j) => j)
      .filter((j) => j !== i && look[j] === look[i])
      .slice(0, 4),
  );
  return { classCount: 2, given, probabilities, group: given.map((): SplitGroup => 'trainValid'), neighbours, ensemble: null, duplicate: null, ...overrides };
}

describe('label-error signals', () => {
  it('self-confidence and normalised margin from the calibrated probabilities', () => {
    const s = computeSignals(twoClassInput());
    const q = applyTemperature(twoClassInput().probabilities, s.calibration.temperature);
    for (let i = 0; i < 20; i++) {
      const g = i < 10 ? 0 : 1;
      expect(s.selfConfidence[i]).toBeCloseTo(1 - q[i]![g]!, 10);
      expect(s.margin[i]).toBeCloseTo((q[i]![1 - g]! - q[i]![g]! + 1) / 2, 10);
    }
    expect(s.selfConfidence[3]!).toBeGreaterThan(0.5);
    expect(s.margin[3]!).toBeGreaterThan(0.5);
    expect(s.margin[0]!).toBeLessThan(0.5);
  });

  it('kNN disagreement: the share of neighbours labelled otherwise', () => {
    const s = computeSignals(twoClassInput());
    // Row 3 (labelled a) has 4 neighbours among the b rows, of which row 15 is labelled a: 3 of 4 disagree.
    expect(s.knn![3]).toBeCloseTo(1, 10);
    expect(s.knn![15]).toBeCloseTo(1, 10);
    expect(s.knn![0]).toBe(0);
    expect(s.knn![16]).toBe(0.25); // its b-looking neighbours 3, 10, 11, 12: row 3 is labelled a
    expect(s.available).toContain('knn');
    expect(computeSignals(twoClassInput({ neighbours: null })).knn).toBeNull();
  });

  it('ensemble disagreement: the share of other runs predicting another class; duplicates flag and penalise', () => {
    const ensemble = Array.from({ length: 20 }, (_, i) => (i === 3 ? [[0.2, 0.8], [0.6, 0.4]] : [[i < 10 ? 0.9 : 0.1, i < 10 ? 0.1 : 0.9]]));
    const duplicate = Array.from({ length: 20 }, (_, i) => i === 7);
    const s = computeSignals(twoClassInput({ ensemble, duplicate }));
    expect(s.ensemble![3]).toBe(0.5);
    expect(s.ensemble![0]).toBe(0);
    expect(s.duplicate[7]).toBe(true);
    const without = computeSignals(twoClassInput());
    expect(s.fused[7]!).toBeGreaterThan(without.fused[7]!);
    expect(s.available).toEqual(expect.arrayContaining(['ensemble', 'duplicate']));
    expect(without.available).not.toContain('duplicate');
  });

  it('fuses into one order: the two planted errors first, and P(wrong) follows the fused score', () => {
    const s = computeSignals(twoClassInput());
    const order = [...s.fused.keys()].sort((a, b) => s.pWrong[b]! - s.pWrong[a]!);
    expect(order.slice(0, 2).sort((a, b) => a - b)).toEqual([3, 15]);
    expect(s.suggested[3]).toBe(1);
    expect(s.suggested[15]).toBe(0);
    expect(s.groups.trainValid.noiseRate).toBeGreaterThan(0.03);
    expect(s.groups.trainValid.noiseRate).toBeLessThan(0.3);
  });

  it('computes confident learning and the noise rate per split group, never mixing test rows with train rows', () => {
    // Train rows: confident (thresholds high). Test rows: a less confident model on the same classes.
    const train = twoClassInput();
    const testProbabilities = train.given.map((g, i) => (i === 5 ? [0.4, 0.6] : g === 0 ? [0.8, 0.2] : [0.42, 0.58]));
    const input: SignalInput = {
      classCount: 2,
      given: [...train.given, ...train.given],
      probabilities: [...train.probabilities, ...testProbabilities],
      group: [...train.group, ...train.given.map((): SplitGroup => 'test')],
      neighbours: null,
      ensemble: null,
      duplicate: null,
    };
    const s = computeSignals(input);
    const t = s.calibration.temperature;
    // The test group alone, at the same temperature: the same membership and rate.
    const alone = findLabelIssues(train.given, applyTemperature(testProbabilities, t), 2);
    const testFlags = s.confident.slice(20);
    expect(testFlags.map((f, i) => (f ? i : -1)).filter((i) => i >= 0)).toEqual(alone.issues.map((x) => x.index).sort((a, b) => a - b));
    expect(alone.issues.map((x) => x.index)).toContain(5);
    expect(s.groups.test.confidentLearningRate).toBeCloseTo(alone.noiseRate, 10);
    expect(s.groups.test.rows).toBe(20);
    expect(s.groups.trainValid.rows).toBe(20);
    // Mixed together, the train rows' high thresholds would decide the test rows differently.
    const mixed = findLabelIssues(input.given, applyTemperature(input.probabilities, t), 2);
    const mixedTest = mixed.issues.filter((x) => x.index >= 20).map((x) => x.index - 20);
    expect(mixedTest).not.toEqual(alone.issues.map((x) => x.index).sort((a, b) => a - b));
    // The temperature is fitted on train+valid rows only: the test rows do not move it.
    const trainOnly = computeSignals(train);
    expect(s.calibration.temperature).toBeCloseTo(trainOnly.calibration.temperature, 6);
  });

  it('never fits the temperature on test rows: without train or valid rows T stays 1', () => {
    const input = twoClassInput();
    const all = computeSignals(input);
    expect(all.calibration.temperature).not.toBeCloseTo(1, 2);
    const testOnly = computeSignals(twoClassInput({ group: input.given.map((): SplitGroup => 'test') }));
    expect(testOnly.calibration).toMatchObject({ temperature: 1, rows: 0 });
    expect(testOnly.calibrated[3]![1]).toBeCloseTo(0.9, 10);
  });
});
