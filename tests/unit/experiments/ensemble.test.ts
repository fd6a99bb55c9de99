import { describe, expect, it } from 'vitest';
import { averageMembers, scoreRows } from '../../../src/main/experiments/ensemble';
import type { StoredPrediction } from '../../../src/main/store/experiments';
import type { ImageId, SplitName } from '../../../src/shared/types';

const row = (imageId: number, split: SplitName, given: number, p: number[], extra: Partial<StoredPrediction> = {}): StoredPrediction => ({
  imageId: imageId as ImageId,
  split,
  fold: -1,
  given,
  inSample: false,
  probabilities: Float32Array.from(p),
  ...extra,
});

describe('ensembles', () => {
  it('averages two members that err on different images and scores no worse than the worse member', () => {
    // Six valid images, truth 0 0 0 1 1 1. Member A is confidently right except on image 1 (mildly wrong);
    // member B is wrong (mildly) on image 4 only. The average is right everywhere.
    const truth = [0, 0, 0, 1, 1, 1];
    const a = truth.map((t, i) => row(i + 1, 'valid', t, i === 0 ? [0.4, 0.6] : t === 0 ? [0.9, 0.1] : [0.1, 0.9]));
    const b = truth.map((t, i) => row(i + 1, 'valid', t, i === 3 ? [0.55, 0.45] : t === 0 ? [0.8, 0.2] : [0.2, 0.8]));
    const today = new Map(truth.map((t, i) => [(i + 1) as ImageId, { label: t === 0 ? 'cat' : 'dog', split: 'valid' as SplitName }]));
    const result = averageMembers(
      [
        { runId: 1, classes: ['cat', 'dog'], rows: a },
        { runId: 2, classes: ['cat', 'dog'], rows: b },
      ],
      today,
    );
    expect(result.rows).toHaveLength(6);
    expect(Array.from(result.rows[0]!.probabilities)).toEqual([expect.closeTo(0.6, 5), expect.closeTo(0.4, 5)]);
    const ensemble = scoreRows(result.classes, result.rows, result.rows.map((r) => r.probabilities)).valid!;
    const members = result.members.map((probs) => scoreRows(result.classes, result.rows, probs).valid!);
    expect(members.map((m) => m.accuracy)).toEqual([5 / 6, 5 / 6]);
    expect(ensemble.accuracy).toBe(1);
    expect(ensemble.accuracy).toBeGreaterThanOrEqual(Math.min(...members.map((m) => m.accuracy)));
    expect(ensemble.logLoss).toBeLessThanOrEqual(Math.max(...members.map((m) => m.logLoss)));
  });

  it('aligns class orders by name, keeps only images every member predicted out-of-sample, and labels them as today', () => {
    const a = [row(1, 'train', 0, [0.7, 0.3], { fold: 0 }), row(2, 'train', 1, [0.2, 0.8], { fold: 1 }), row(3, 'test', 0, [0.9, 0.1])];
    // Member B lists its classes the other way round; its image 2 is in-sample (a full run's train image).
    const b = [row(1, 'train', 1, [0.4, 0.6], { fold: 0 }), row(2, 'train', 0, [0.1, 0.9], { inSample: true }), row(3, 'test', 1, [0.3, 0.7])];
    const today = new Map<ImageId, { label: string | null; split: SplitName | null }>([
      [1 as ImageId, { label: 'cat', split: 'train' }],
      [2 as ImageId, { label: 'dog', split: 'train' }],
      [3 as ImageId, { label: 'dog', split: 'test' }],
    ]);
    const result = averageMembers(
      [
        { runId: 1, classes: ['cat', 'dog'], rows: a },
        { runId: 2, classes: ['dog', 'cat'], rows: b },
      ],
      today,
    );
    expect(result.rows.map((r) => r.imageId)).toEqual([1, 3]);
    // Image 1: A says cat .7, B says cat .6 -> .65. Fold 0 from both: out-of-fold.
    expect(result.rows[0]!.probabilities[0]).toBeCloseTo(0.65);
    expect(result.rows[0]!.fold).toBe(0);
    // Image 3 is labelled dog today (was cat at training time): given follows today.
    expect(result.rows[1]!).toMatchObject({ given: 1, split: 'test', fold: -1 });
    // A: cat .9; B (dog, cat order) [.3, .7]: cat .7 -> .8.
    expect(result.rows[1]!.probabilities[0]).toBeCloseTo(0.8);
    expect(() => averageMembers([{ runId: 1, classes: ['cat', 'dog'], rows: a }, { runId: 3, classes: ['cat', 'emu'], rows: b }], today)).toThrow(/other classes/);
  });
});
