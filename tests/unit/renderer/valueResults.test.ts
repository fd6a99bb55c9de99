/**
 * The pure helpers behind a regression run's results and its review queues in the UI: which
 * results a task shows, the verdict against the mean baseline, the scatter's out-of-sample series,
 * the residual histogram's bins, and fixed rows kept across a refetch.
 */
import { describe, expect, it } from 'vitest';
import type { RegressionRunMetrics, RegressionSplitMetrics, ValueIssueRow, ValuePoint } from '../../../src/shared/regression';
import type { ImageId, SplitName } from '../../../src/shared/types';
import { baselineVerdict, formatMetric, formatSignedEstimate, residualBins, resultsOf, scatterData } from '../../../src/renderer/src/lib/valueResults';
import { isFixed, keepFixed } from '../../../src/renderer/src/lib/valueQueue';

const id = (n: number) => n as ImageId;

function split(mae: number, baselineMae: number): RegressionSplitMetrics {
  return { mae, rmse: mae * 1.2, r2: 0.5, medianAe: mae * 0.8, count: 10, mean: 50, baseline: { mae: baselineMae, rmse: baselineMae * 1.2, r2: 0, medianAe: baselineMae } };
}

function point(n: number, split: SplitName | null, actual: number | null, predicted: number, inSample = false): ValuePoint {
  return { imageId: id(n), split, actual, predicted, residual: actual === null ? null : predicted - actual, fold: inSample ? -1 : 0, inSample };
}

function row(n: number, value: number | null, actual: number): ValueIssueRow {
  return { imageId: id(n), path: `img_${n}.png`, split: 'train', value, actual, predicted: actual + 30, residual: 30, score: 5, neighbourMedian: null, fold: 0, reviewed: false, reason: '' };
}

describe('resultsOf', () => {
  it('shows values for regression and classes otherwise, nothing labelled included', () => {
    expect(resultsOf('regression')).toBe('values');
    expect(resultsOf('classification')).toBe('classes');
    expect(resultsOf(null)).toBe('classes');
  });
});

describe('figures', () => {
  it('shows errors to four significant digits and R² to three decimals, never as -0', () => {
    expect(formatMetric('mae', 6.604051)).toBe('6.604');
    expect(formatMetric('rmse', 1234.56)).toBe('1,235');
    expect(formatMetric('r2', 0.84512)).toBe('0.845');
    expect(formatMetric('r2', -0.0001)).toBe('0.000');
    expect(formatMetric('r2', -0.25)).toBe('-0.250');
    expect(formatSignedEstimate(-46.4819)).toBe('−46.48');
    expect(formatSignedEstimate(3.14159)).toBe('+3.142');
  });
});

describe('baselineVerdict', () => {
  it('judges on valid first, with the relative drop in MAE', () => {
    const metrics: RegressionRunMetrics = { train: split(5, 10), valid: split(3, 12), test: split(20, 10), trainMean: 50 };
    const verdict = baselineVerdict(metrics)!;
    expect(verdict.split).toBe('valid');
    expect(verdict.beats).toBe(true);
    expect(verdict.improvement).toBeCloseTo(0.75, 12);
  });

  it('falls back to test, then train, and says when the model does not beat the mean', () => {
    const noValid: RegressionRunMetrics = { train: split(5, 10), valid: null, test: split(14, 10), trainMean: 50 };
    const verdict = baselineVerdict(noValid)!;
    expect(verdict.split).toBe('test');
    expect(verdict.beats).toBe(false);
    expect(verdict.improvement).toBeCloseTo(-0.4, 12);
    expect(baselineVerdict({ train: split(5, 10), valid: null, test: null, trainMean: 1 })!.split).toBe('train');
    expect(baselineVerdict({ train: null, valid: null, test: null, trainMean: 1 })).toBeNull();
    // An exact baseline (every target equal to the train mean) leaves no ratio to give.
    expect(baselineVerdict({ train: null, valid: split(1, 0), test: null, trainMean: 1 })!.improvement).toBeNull();
  });
});

describe('scatterData', () => {
  it('groups out-of-sample points with a value by split and spans both axes', () => {
    const data = scatterData([
      point(1, 'train', 10, 12),
      point(2, 'valid', 40, 35),
      point(3, 'test', 70, 90),
      point(4, null, 5, 6),
      // In-sample predictions and images without a value are left out.
      point(5, 'train', 100, 100, true),
      point(6, 'train', null, -50),
    ]);
    expect(data.count).toBe(4);
    expect(data.series.train).toEqual([{ x: 10, y: 12 }]);
    expect(data.series.valid).toEqual([{ x: 40, y: 35 }]);
    expect(data.series.test).toEqual([{ x: 70, y: 90 }]);
    expect(data.series.none).toEqual([{ x: 5, y: 6 }]);
    expect(data.range).toEqual([5, 90]);
    expect(scatterData([]).range).toBeNull();
  });
});

describe('residualBins', () => {
  it('bins every shown residual once, symmetric about zero, by split', () => {
    const points = Array.from({ length: 100 }, (_, i) => point(i + 1, i % 2 === 0 ? 'train' : 'valid', 50, 50 + (i - 50) / 5));
    points.push(point(500, 'test', 10, 10, true));
    const bins = residualBins(points);
    const count = bins.edges.length - 1;
    expect(count % 2).toBe(0);
    expect(count).toBeGreaterThanOrEqual(6);
    expect(count).toBeLessThanOrEqual(40);
    expect(bins.edges[count / 2]).toBe(0);
    expect(bins.edges[0]).toBeCloseTo(-10, 12);
    expect(bins.edges[count]).toBeCloseTo(10, 12);
    const total = (key: 'train' | 'valid' | 'test' | 'none') => bins.counts[key].reduce((a, b) => a + b, 0);
    expect(total('train')).toBe(50);
    expect(total('valid')).toBe(50);
    // The in-sample point is not a residual the charts show.
    expect(total('test')).toBe(0);
    expect(bins.count).toBe(100);
    // The largest negative residual sits in the first bin, the largest positive in the last.
    expect(bins.counts.train[0]).toBeGreaterThan(0);
    expect(bins.counts.valid[count - 1]! + bins.counts.train[count - 1]!).toBeGreaterThan(0);
  });

  it('gives a perfect fit a width and nothing for no points', () => {
    const perfect = residualBins([point(1, 'train', 3, 3), point(2, 'valid', 4, 4)]);
    expect(perfect.edges[0]).toBe(-1);
    expect(perfect.counts.train.reduce((a, b) => a + b, 0)).toBe(1);
    expect(residualBins([]).edges).toEqual([]);
  });
});

describe('fixed rows', () => {
  it('tells a row fixed since its run by its value now', () => {
    expect(isFixed(row(1, 12, 12))).toBe(false);
    expect(isFixed(row(1, 41.2, 12))).toBe(true);
  });

  it('keeps a fixed row the core no longer lists where it was, with its new value', () => {
    const shown = [row(1, 10, 10), row(2, 20, 20), row(3, 30, 30)];
    const fixes = new Map([[id(2), 61]]);
    const merged = keepFixed([row(1, 10, 10), row(3, 30, 30)], shown, fixes);
    expect(merged.map((r) => r.imageId)).toEqual([1, 2, 3]);
    expect(merged[1]!.value).toBe(61);
    // A row the page lists is taken from the page; rows neither fixed nor listed (kept, removed) stay out.
    expect(keepFixed([row(2, 20, 20)], shown, fixes).map((r) => [r.imageId, r.value])).toEqual([[2, 20]]);
    expect(keepFixed([row(1, 10, 10)], shown, new Map()).map((r) => r.imageId)).toEqual([1]);
  });
});
