import { describe, expect, it } from 'vitest';
import { diagnose } from '../../../src/main/experiments/diagnosis';
import type { ProjectGoal } from '../../../src/shared/experiments';
import { quickConfigSchema, fullConfigSchema, type RunMetrics, type SplitMetrics } from '../../../src/shared/train';

/** A split with the given error over n images of two classes (per-class support as given). */
function split(error: number, n = 1000, supports: [number, number] = [n / 2, n / 2]): SplitMetrics {
  return {
    count: n,
    accuracy: 1 - error,
    macroF1: 1 - error,
    logLoss: error,
    perClass: [
      { name: 'a', precision: 1 - error, recall: 1 - error, f1: 1 - error, support: supports[0] },
      { name: 'b', precision: 1 - error, recall: 1 - error, f1: 1 - error, support: supports[1] },
    ],
    confusion: [],
  };
}
const metrics = (train: number, valid: number, test: number, kFold = valid): RunMetrics => ({ trainInSample: split(train), train: split(kFold), valid: split(valid), test: split(test) });
const goal = (targetError: number, humanError: number | null = null): ProjectGoal => ({ metric: 'error', targetError, humanError, setAt: 0 });
const quick = quickConfigSchema.parse({ mode: 'quick' });

describe('diagnose', () => {
  it('calls goal 1%, train 20%, valid 27%, test 28% "both: address underfitting first", underfitting steps first', () => {
    const d = diagnose({ runId: 1, config: quick, metrics: metrics(0.2, 0.27, 0.28), goal: goal(0.01) });
    expect(d.verdict).toBe('both');
    expect(d.summary).toMatch(/^Both: address underfitting first/);
    expect(d.gaps.avoidableBias).toBeCloseTo(0.19);
    expect(d.gaps.variance).toBeCloseTo(0.07);
    expect(d.gaps.shift).toBeCloseTo(0.01);
    for (const [k, v] of Object.entries({ goal: 0.01, train: 0.2, valid: 0.27, test: 0.28 })) expect(d.errors[k as keyof typeof d.errors]).toBeCloseTo(v);
    expect(d.steps[0]!.category).toBe('underfitting');
    const categories = d.steps.map((s) => s.category);
    expect(categories.lastIndexOf('underfitting')).toBeLessThan(categories.indexOf('overfitting'));
    expect(categories).not.toContain('shift');
    expect(d.steps.map((s) => s.priority)).toEqual(d.steps.map((_, i) => i + 1));
    // The quick model's "bigger model" button pre-fills an MLP head.
    expect(d.steps[0]!.action).toEqual({ kind: 'train', config: { head: 'mlp', hidden: 256 } });
  });

  it('calls a low train error with a high valid error overfitting, with a strong-augmentation button', () => {
    const d = diagnose({ runId: 2, config: quick, metrics: metrics(0.02, 0.12, 0.125), goal: goal(0.03) });
    expect(d.verdict).toBe('overfitting');
    expect(d.steps[0]!.category).toBe('overfitting');
    expect(d.steps.some((s) => s.action.kind === 'augment' && s.action.preset === 'strong')).toBe(true);
  });

  it('calls a high train error close to valid underfitting', () => {
    const d = diagnose({ runId: 3, config: quick, metrics: metrics(0.15, 0.155, 0.15), goal: goal(0.05) });
    expect(d.verdict).toBe('underfitting');
    expect(d.steps.every((s) => s.category === 'underfitting')).toBe(true);
    expect(d.steps.some((s) => s.action.kind === 'train' && s.action.config.epochs === 120)).toBe(true);
  });

  it('calls valid and test disagreeing beyond sampling noise a shift, and a small difference on few images not', () => {
    const d = diagnose({ runId: 4, config: quick, metrics: metrics(0.04, 0.045, 0.12), goal: goal(0.05) });
    expect(d.verdict).toBe('shift');
    expect(d.steps.map((s) => s.action.kind)).toEqual(['compare', 'splits', 'health']);
    const few: RunMetrics = { trainInSample: split(0.04), train: split(0.05), valid: split(0.045, 50), test: split(0.08, 50) };
    const noisy = diagnose({ runId: 5, config: quick, metrics: few, goal: goal(0.05) });
    expect(noisy.verdict).toBe('onTarget');
    expect(noisy.notes.join(' ')).toMatch(/within sampling noise/);
  });

  it('says on target when valid meets the goal, and measures bias against 0% with a note when no goal is set', () => {
    expect(diagnose({ runId: 6, config: quick, metrics: metrics(0.02, 0.025, 0.026), goal: goal(0.03) }).verdict).toBe('onTarget');
    const none = diagnose({ runId: 7, config: quick, metrics: metrics(0.1, 0.105, 0.1), goal: null });
    expect(none.verdict).toBe('underfitting');
    expect(none.gaps.avoidableBias).toBeCloseTo(0.1);
    expect(none.notes.join(' ')).toMatch(/No goal set/);
  });

  it('adds a rebalance step for an imbalanced train split, and uses full-run actions for full runs', () => {
    const m = metrics(0.2, 0.3, 0.3);
    m.trainInSample = split(0.2, 1000, [900, 100]);
    const full = fullConfigSchema.parse({ mode: 'full' });
    const d = diagnose({ runId: 8, config: full, metrics: m, goal: goal(0.05) });
    expect(d.steps.at(-1)).toMatchObject({ category: 'rebalance', action: { kind: 'splits' } });
    expect(d.steps[0]!.action).toEqual({ kind: 'train', config: { arch: 'resnet-small' } });
  });

  it('falls back to the k-fold error when the run has no in-sample figure, and says so', () => {
    const m: RunMetrics = { train: split(0.1), valid: split(0.11), test: split(0.11) };
    const d = diagnose({ runId: 9, config: quick, metrics: m, goal: goal(0.02) });
    expect(d.errors.train).toBeNull();
    expect(d.errors.trainKFold).toBeCloseTo(0.1);
    expect(d.verdict).toBe('underfitting');
    expect(d.notes.join(' ')).toMatch(/no in-sample train error/);
    expect(diagnose({ runId: 10, config: quick, metrics: null, goal: null }).verdict).toBe('noData');
  });
});
