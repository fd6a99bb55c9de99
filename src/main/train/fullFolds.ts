/** A full run's k-fold setting, shared by the process (full.ts), the core (full.job.ts) and the estimate. */
import type { FullConfig } from '../../shared/train';

/** The fold networks a full config asks for: 0 (folds 0 or 1: off) or k >= 2. */
export function foldsOf(config: Pick<FullConfig, 'folds'>): number {
  return config.folds >= 2 ? config.folds : 0;
}
