/**
 * Asynchronous successive halving (ASHA, Li et al. 2020) as a pure scheduler: it is told which
 * trial reached which rung with what loss, and answers what to run next. Every trial first gets the
 * smallest budget; a trial that finished rung k is promoted to rung k+1 when it is among the best
 * 1/eta of the trials that finished rung k so far; when nothing can be promoted a new trial starts;
 * when no trial is left to start and nothing is running, the rest are stopped where they are.
 */

/** The rung budgets: min, min*eta, min*eta^2, … capped at max (which is always the last rung). */
export function rungBudgets(minBudget: number, maxBudget: number, eta: number): number[] {
  const rungs: number[] = [];
  for (let b = minBudget; b < maxBudget; b *= eta) rungs.push(Math.round(b));
  rungs.push(maxBudget);
  return [...new Set(rungs)];
}

/** What to do next. */
export type AshaDecision =
  | { kind: 'start'; trial: number; rung: 0; budget: number }
  | { kind: 'promote'; trial: number; rung: number; budget: number }
  /** Nothing to start until a running trial reports. */
  | { kind: 'wait' }
  /** Every trial has finished or stopped. */
  | { kind: 'done' };

/** The scheduler's state. Losses: lower is better; a failed trial counts as the worst. */
export class Asha {
  readonly rungs: number[];
  private readonly results: Array<Map<number, number>>;
  private readonly promoted: Array<Set<number>>;
  private readonly running = new Set<number>();
  private started = 0;
  private closed = false;

  constructor(
    readonly settings: { minBudget: number; maxBudget: number; eta: number },
    /** How many trials may be started in all. */
    readonly maxTrials: number,
  ) {
    this.rungs = rungBudgets(settings.minBudget, settings.maxBudget, settings.eta);
    this.results = this.rungs.map(() => new Map());
    this.promoted = this.rungs.map(() => new Set());
  }

  /** No more new trials (the minutes budget ran out): only what is running finishes. */
  close(): void {
    this.closed = true;
  }

  /** The next piece of work; the trial counts as running until `report` or `fail`. */
  next(): AshaDecision {
    if (!this.closed) {
      // Promote from the highest rung down: finishing good trials first.
      for (let k = this.rungs.length - 2; k >= 0; k--) {
        const candidate = this.promotable(k);
        if (candidate !== null) {
          this.promoted[k]!.add(candidate);
          this.running.add(candidate);
          return { kind: 'promote', trial: candidate, rung: k + 1, budget: this.rungs[k + 1]! };
        }
      }
      if (this.started < this.maxTrials) {
        const trial = this.started++;
        this.running.add(trial);
        return { kind: 'start', trial, rung: 0, budget: this.rungs[0]! };
      }
    }
    return this.running.size > 0 ? { kind: 'wait' } : { kind: 'done' };
  }

  /** A trial finished a rung with this loss. */
  report(trial: number, rung: number, loss: number): void {
    this.running.delete(trial);
    this.results[rung]!.set(trial, Number.isFinite(loss) ? loss : Infinity);
  }

  /** A trial failed at a rung: it is never promoted. */
  fail(trial: number, rung: number): void {
    this.report(trial, rung, Infinity);
  }

  /** The top floor(n/eta) of rung k not yet promoted, best first; null when none. */
  private promotable(k: number): number | null {
    const finished = [...this.results[k]!.entries()].filter(([, loss]) => Number.isFinite(loss)).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    const top = finished.slice(0, Math.floor(this.results[k]!.size / this.settings.eta));
    for (const [trial] of top) if (!this.promoted[k]!.has(trial)) return trial;
    return null;
  }

  /** The highest rung each started trial reached (-1: none yet). */
  reached(): number[] {
    return Array.from({ length: this.started }, (_, t) => {
      for (let k = this.rungs.length - 1; k >= 0; k--) if (this.results[k]!.has(t)) return k;
      return -1;
    });
  }

  /** Whether a trial is still running. */
  isRunning(trial: number): boolean {
    return this.running.has(trial);
  }

  /** The loss a trial reported at a rung, or undefined. */
  loss(trial: number, rung: number): number | undefined {
    return this.results[rung]!.get(trial);
  }
}
