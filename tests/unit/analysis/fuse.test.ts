import { describe, expect, it } from 'vitest';
import { labelPosterior, normalisedRanks, rankAverage } from '../../../src/main/analysis/fuse';

describe('rank averaging', () => {
  it('ranks in (0, 1], ties sharing their mean rank', () => {
    expect([...normalisedRanks([0.1, 0.5, 0.5, 0.9])]).toEqual([0.25, 0.625, 0.625, 1]);
  });

  it('averages the signals’ ranks: a row high on every signal comes first, split decisions in between', () => {
    const a = [0.9, 0.1, 0.8, 0.2]; // ranks 1, 0.25, 0.75, 0.5
    const b = [0.7, 0.2, 0.1, 0.3]; // ranks 1, 0.5, 0.25, 0.75
    const fused = rankAverage([a, b]);
    expect([...fused]).toEqual([1, 0.375, 0.5, 0.625]);
  });
});

describe('label posterior (model × neighbours)', () => {
  it('neighbours overturn an unsure model: given cat, the model 55/45, all 10 neighbours are dogs', () => {
    const [p] = labelPosterior([[0.55, 0.45]], [new Array(10).fill(1)], [0], 2);
    expect(p![1]).toBeGreaterThan(0.7);
  });

  it('a confident model is not vetoed by disagreeing neighbours (the smoothing)', () => {
    const [p] = labelPosterior([[0.999, 0.001]], [new Array(10).fill(1)], [0], 2);
    expect(p![0]).toBeGreaterThan(0.9);
  });

  it('is the model’s probabilities without neighbours, and a conflicting duplicate halves the given class’s evidence', () => {
    const [plain] = labelPosterior([[0.6, 0.3, 0.1]], null, [0], 3);
    expect([...plain!].map((v) => +v.toFixed(6))).toEqual([0.6, 0.3, 0.1]);
    const [dup] = labelPosterior([[0.6, 0.3, 0.1]], null, [0], 3, [0.5]);
    expect(dup![0]).toBeCloseTo(0.3 / 0.7, 10);
  });
});
