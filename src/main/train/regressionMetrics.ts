/**
 * Regression metrics in the target's units: MAE, RMSE, R² and median absolute error of a set of
 * predictions, each split beside the baseline that predicts the train mean for every image.
 */
import type { RegressionSplitMetrics, ValueErrors } from '../../shared/regression';

/** The mean of some numbers (0 for none). */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The median of some numbers (the mean of the two middle ones for an even count; 0 for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The errors of `predicted` against `actual` (same length, at least one). R² is 1 - SSE / SST over
 * the actual values' own mean; when they are all equal (SST 0) it is 1 for a perfect prediction
 * and 0 otherwise, as scikit-learn reports it, so the number stays finite in JSON.
 */
export function valueErrors(actual: readonly number[], predicted: readonly number[]): ValueErrors {
  const n = actual.length;
  const centre = mean(actual);
  const absolute: number[] = [];
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    const error = predicted[i]! - actual[i]!;
    absolute.push(Math.abs(error));
    sse += error * error;
    sst += (actual[i]! - centre) ** 2;
  }
  return {
    mae: mean(absolute),
    rmse: Math.sqrt(sse / Math.max(1, n)),
    r2: sst > 0 ? 1 - sse / sst : sse === 0 ? 1 : 0,
    medianAe: median(absolute),
  };
}

/** One split's metrics, with the baseline that predicts `trainMean` for every image; null for an empty split. */
export function regressionSplitMetrics(actual: readonly number[], predicted: readonly number[], trainMean: number): RegressionSplitMetrics | null {
  if (actual.length === 0) return null;
  return {
    ...valueErrors(actual, predicted),
    count: actual.length,
    mean: mean(actual),
    baseline: valueErrors(actual, actual.map(() => trainMean)),
  };
}
