import { describe, expect, it } from 'vitest';
import { Asha, rungBudgets } from '../../../src/main/experiments/asha';
import { seededRandom } from '../../../src/main/train/folds';

/** A synthetic objective: each trial has a quality q; its loss at budget b is q + 1/b (more budget, lower loss; the order of trials never changes). */
function objective(n: number, seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => random());
}

/** Runs the scheduler to the end one job at a time (as the search job does), reporting the objective. */
function drive(asha: Asha, quality: number[]): Array<{ trial: number; rung: number }> {
  const jobs: Array<{ trial: number; rung: number }> = [];
  for (;;) {
    const d = asha.next();
    if (d.kind === 'done') return jobs;
    if (d.kind === 'wait') throw new Error('a sequential driver never waits');
    jobs.push({ trial: d.trial, rung: d.rung });
    asha.report(d.trial, d.rung, quality[d.trial]! + 1 / d.budget);
  }
}

describe('ASHA', () => {
  it('makes rungs from the min budget times eta up to the max', () => {
    expect(rungBudgets(2, 18, 3)).toEqual([2, 6, 18]);
    expect(rungBudgets(1, 10, 3)).toEqual([1, 3, 9, 10]);
    expect(rungBudgets(5, 5, 2)).toEqual([5]);
  });

  it('promotes the best trials of a synthetic objective and stops the rest at the first rung', () => {
    const n = 27;
    const quality = objective(n, 7);
    const asha = new Asha({ minBudget: 1, maxBudget: 9, eta: 3 }, n);
    const jobs = drive(asha, quality);
    const reached = asha.reached();
    expect(reached).toHaveLength(n);
    const ranked = quality.map((q, t) => ({ q, t })).sort((a, b) => a.q - b.q).map((x) => x.t);
    // The best trial reaches the max budget.
    expect(reached[ranked[0]!]).toBe(2);
    // Promotions are at least floor(n/eta) per rung and come from the best trials: every trial that
    // went past rung 0 is in the better half, and most trials stop at the first rung.
    const promoted = reached.map((r, t) => ({ r, t })).filter((x) => x.r >= 1).map((x) => x.t);
    expect(promoted.length).toBeGreaterThanOrEqual(Math.floor(n / 3));
    expect(promoted.length).toBeLessThanOrEqual(Math.floor(n / 3) + 3);
    for (const t of promoted) expect(ranked.indexOf(t)).toBeLessThan(n / 2);
    expect(reached.filter((r) => r === 0).length).toBeGreaterThanOrEqual(n - Math.floor(n / 3) - 3);
    // The top floor(n/eta) of the first rung were all promoted.
    for (const t of ranked.slice(0, Math.floor(n / 3))) expect(reached[t]).toBeGreaterThanOrEqual(1);
    // Far less work than every trial at the full budget: budget-weighted sum of the jobs.
    const spent = jobs.reduce((s, j) => s + asha.rungs[j.rung]!, 0);
    expect(spent).toBeLessThan((n * 9) / 2);
  });

  it('never promotes a failed trial, and after close only lets running trials finish', () => {
    const asha = new Asha({ minBudget: 1, maxBudget: 3, eta: 3 }, 6);
    const first = asha.next();
    expect(first).toMatchObject({ kind: 'start', trial: 0, budget: 1 });
    asha.fail(0, 0);
    for (let t = 1; t < 3; t++) {
      const d = asha.next();
      expect(d).toMatchObject({ kind: 'start', trial: t });
      asha.report(t, 0, t);
    }
    // 3 at rung 0: floor(3/3) = 1 promotion, the best finite one (trial 1), never the failed trial 0.
    expect(asha.next()).toMatchObject({ kind: 'promote', trial: 1, rung: 1, budget: 3 });
    asha.close();
    expect(asha.next()).toEqual({ kind: 'wait' });
    asha.report(1, 1, 0.5);
    expect(asha.next()).toEqual({ kind: 'done' });
    expect(asha.reached()).toEqual([0, 1, 0]);
  });
});
