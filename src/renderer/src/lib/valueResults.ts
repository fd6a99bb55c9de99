/**
 * Pure helpers behind a regression run's results in the Train view: what each task shows, the
 * verdict against the mean baseline, the predicted-vs-actual scatter's series and the residual
 * histogram's bins. Kept apart from the components so they can be tested without a canvas.
 */
import { assertNever } from '../../../shared/assertNever';
import type { RegressionLoss, RegressionRunMetrics, RegressionSplitMetrics, Task, ValuePoint } from '../../../shared/regression';
import { regressionRequestSchemas } from '../../../shared/regression';
import { splitSeries, type SplitSeries } from './chartTheme';
import { lowerIsBetter } from '../../../shared/train';
import type { SplitName } from '../../../shared/types';

/** What a run's or a project's results are made of: classes (confusion, per class) or values (errors, scatter, residuals). */
export type ResultsKind = 'classes' | 'values';

/** The results a task shows; a project with nothing labelled yet (null) shows the classification views, as before regression. */
export function resultsOf(task: Task | null): ResultsKind {
  switch (task) {
    case null:
    case 'classification':
      return 'classes';
    case 'regression':
      return 'values';
    default:
      return assertNever(task, 'task');
  }
}

// Four significant digits tell errors and predictions apart without the noise of a float (9.589, 43.42, 1,234).
const estimate = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });

/** A computed figure (an error, a prediction, a residual): 9.589, 43.42; R² with three decimals. Negative zero reads as 0. */
export function formatEstimate(n: number): string {
  return estimate.format(n === 0 ? 0 : n);
}

/** A residual with its sign: "+3.142", "−46.48". */
export function formatSignedEstimate(n: number): string {
  return n > 0 ? `+${estimate.format(n)}` : n < 0 ? `−${estimate.format(-n)}` : '0';
}

/** A metric as the table shows it: R² with three decimals, the errors in the target's units. */
export function formatMetric(metric: ValueMetricKey, n: number): string {
  if (metric !== 'r2') return formatEstimate(n);
  const text = n.toFixed(3);
  // -0.0001 is "0.000", not "-0.000".
  return /^-0\.0+$/.test(text) ? text.slice(1) : text;
}

/** The metric columns of the regression table, in order. */
export const valueMetricKeys = ['mae', 'rmse', 'r2', 'medianAe'] as const;
/** One of valueMetricKeys. */
export type ValueMetricKey = (typeof valueMetricKeys)[number];

/** Lower is better for the errors, higher for R². */
export function isHigherBetter(metric: ValueMetricKey): boolean {
  return !lowerIsBetter.has(metric);
}

/** The splits a regression run reports, as the table lists them. */
export const valueSplits = ['train', 'valid', 'test'] as const;

/** How the model compares with predicting the train mean for every image, on one split. */
export interface BaselineVerdict {
  split: (typeof valueSplits)[number];
  mae: number;
  baselineMae: number;
  /** 1 - MAE / baseline MAE: 0.67 means the model's absolute errors are 67% smaller; null when the baseline is exact. */
  improvement: number | null;
  beats: boolean;
}

// Valid decides (the split a person tunes on); test, then out-of-sample train, when there is no valid split.
const verdictOrder = ['valid', 'test', 'train'] as const;

/** The verdict on the first split of valid, test, train that has metrics; null when none has. */
export function baselineVerdict(metrics: RegressionRunMetrics): BaselineVerdict | null {
  for (const split of verdictOrder) {
    const m: RegressionSplitMetrics | null = metrics[split];
    if (!m) continue;
    const baselineMae = m.baseline.mae;
    return { split, mae: m.mae, baselineMae, improvement: baselineMae > 0 ? 1 - m.mae / baselineMae : null, beats: m.mae < baselineMae };
  }
  return null;
}

/** Series of the scatter and the residual histogram: the splits, and images without one (the charts' one list). */
export const pointSeries = splitSeries;
/** One of pointSeries. */
export type PointSeries = SplitSeries;

/** The scatter's points by series (x: actual, y: predicted) and the range both axes share. */
export interface ScatterData {
  series: Record<PointSeries, Array<{ x: number; y: number }>>;
  /** [low, high] over every actual and predicted value shown; null without points. */
  range: [number, number] | null;
  /** Points shown: out-of-sample predictions of images that had a value. */
  count: number;
}

/** True for a point the charts show: predicted out-of-sample for an image that had a value when the run trained. */
export function isShownPoint(point: ValuePoint): point is ValuePoint & { actual: number; residual: number } {
  return !point.inSample && point.actual !== null && point.residual !== null;
}

const seriesOf = (split: SplitName | null): PointSeries => split ?? 'none';

/** Out-of-sample points grouped by split for the predicted-vs-actual scatter (in-sample predictions would flatter the model). */
export function scatterData(points: readonly ValuePoint[]): ScatterData {
  const series: ScatterData['series'] = { train: [], valid: [], test: [], none: [] };
  let low = Infinity;
  let high = -Infinity;
  let count = 0;
  for (const point of points) {
    if (!isShownPoint(point)) continue;
    series[seriesOf(point.split)].push({ x: point.actual, y: point.predicted });
    low = Math.min(low, point.actual, point.predicted);
    high = Math.max(high, point.actual, point.predicted);
    count += 1;
  }
  return { series, range: count > 0 ? [low, high] : null, count };
}

/** Residual counts per bin and series, over bins symmetric about zero. */
export interface ResidualBins {
  /** bins + 1 ascending edges; zero is the middle edge. */
  edges: number[];
  counts: Record<PointSeries, number[]>;
  count: number;
}

/** Fewest and most bars: enough to show a shape at 30 points, few enough to read at 100k (the square-root rule between them). */
const minBins = 6;
const maxBins = 40;

/**
 * The residuals (predicted - actual) of the shown points in an even number of equal bins spanning
 * [-m, m], m the largest absolute residual, so zero sits on the middle edge and a skew shows as
 * bars leaning to one side. Empty edges without points.
 */
export function residualBins(points: readonly ValuePoint[]): ResidualBins {
  const shown = points.filter(isShownPoint);
  const counts: ResidualBins['counts'] = { train: [], valid: [], test: [], none: [] };
  if (shown.length === 0) return { edges: [], counts, count: 0 };
  const half = Math.max(minBins / 2, Math.min(maxBins / 2, Math.round(Math.sqrt(shown.length) / 2)));
  const bins = half * 2;
  const largest = Math.max(...shown.map((p) => Math.abs(p.residual)));
  // All residuals zero (a perfect fit): one unit either side, so the bars still have a width.
  const m = largest > 0 ? largest : 1;
  const width = (2 * m) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === half ? 0 : -m + i * width));
  for (const key of pointSeries) counts[key] = new Array<number>(bins).fill(0);
  for (const point of shown) {
    const index = Math.min(bins - 1, Math.max(0, Math.floor((point.residual + m) / width)));
    counts[seriesOf(point.split)][index]! += 1;
  }
  return { edges, counts, count: shown.length };
}

/**
 * A value a person typed, or why it cannot be sent: empty, not a number, or refused by the
 * images:setValue schema (its own words). Both value fields (the large view, the review rows) use it.
 */
export function parseTypedValue(text: string): { ok: true; value: number } | { ok: false; error: string } {
  const typed = text.trim();
  if (typed === '') return { ok: false, error: 'type a number, such as 41.2' };
  const value = Number(typed);
  if (Number.isNaN(value)) return { ok: false, error: `"${typed}" is not a number` };
  const checked = regressionRequestSchemas['images:setValue'].shape.value.safeParse(value);
  return checked.success ? { ok: true, value: checked.data } : { ok: false, error: checked.error.issues[0]?.message ?? 'not a valid value' };
}

/** How the train forms name the regression losses. */
export const regressionLossLabels: Record<RegressionLoss, string> = {
  huber: 'Huber (robust to a few wrong values)',
  squared: 'squared error',
};
