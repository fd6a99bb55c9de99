import { describe, expect, it } from 'vitest';
import { findLabelIssues } from '../../../src/main/analysis/confident';
import { seededRandom } from '../../../src/main/train/folds';

describe('findLabelIssues (confident learning)', () => {
  it('finds planted label errors on a synthetic case and ranks them first', () => {
    const random = seededRandom(7);
    const k = 4;
    const n = 400;
    const given: number[] = [];
    const probabilities: number[][] = [];
    const planted = new Set<number>();
    for (let i = 0; i < n; i++) {
      const truth = i % k;
      // A good classifier: the true class gets 0.90-0.99 (above every per-class threshold), the rest share what is left.
      const top = 0.9 + random() * 0.09;
      const p = new Array<number>(k).fill((1 - top) / (k - 1));
      p[truth] = top;
      probabilities.push(p);
      // 8% of labels flipped to another class.
      if (random() < 0.08) {
        planted.add(i);
        given.push((truth + 1 + Math.floor(random() * (k - 1))) % k);
      } else given.push(truth);
    }
    const result = findLabelIssues(given, probabilities, k);
    const found = result.issues.map((issue) => issue.index);
    const hits = found.filter((i) => planted.has(i)).length;
    expect(hits / planted.size).toBeGreaterThan(0.95);
    expect(hits / found.length).toBeGreaterThan(0.95);
    // Ranked by margin: scores never increase down the list.
    for (let r = 1; r < result.issues.length; r++) expect(result.issues[r]!.score).toBeLessThanOrEqual(result.issues[r - 1]!.score);
    // The suggestion is the true class.
    for (const issue of result.issues.filter((x) => planted.has(x.index))) expect(issue.suggested).toBe(issue.index % k);
    expect(result.noiseRate).toBeGreaterThan(0.04);
    expect(result.noiseRate).toBeLessThan(0.15);
  });

  it('uses per-class thresholds: a class the model is unsure of still yields flags only where another class is confident', () => {
    // Class 1 is always predicted weakly (0.4) but correctly; nothing should be flagged.
    const given = [0, 0, 1, 1, 1];
    const probabilities = [
      [0.9, 0.1],
      [0.8, 0.2],
      [0.45, 0.55],
      [0.4, 0.6],
      [0.42, 0.58],
    ];
    expect(findLabelIssues(given, probabilities, 2).issues).toEqual([]);
  });
});
