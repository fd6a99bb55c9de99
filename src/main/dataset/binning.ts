/**
 * Turning numeric targets into classes ("Turn into classes") and back. A plan cuts the values of
 * the active images into bins, by quantiles (equal counts), by equal widths, or at edges the user
 * typed; bins that hold no value are dropped, and each bin becomes a class named after its range
 * ("pm25 35–55"; typed edges name their open ends "pm25 < 12" and "pm25 ≥ 55"). Applying a plan
 * gives every active image with a value its bin's class in one undoable batch and keeps the values,
 * so undoing it, or unbinning, makes the project a regression project again (store/project.ts
 * projectTask derives the task from the labels).
 *
 * Quantile ties: equal values always share a bin (quantiles.ts), so with many ties the counts are
 * as equal as the ties allow and coinciding quantiles leave fewer classes than asked for.
 */
import { LoupeError } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import type { BinInfo, BinMethod, BinPlan } from '../../shared/regression';
import type { ImageId, SplitName } from '../../shared/types';
import type { FieldChange } from '../store/changes';
import { ensureClass } from '../store/classes';
import type { Db } from '../store/db';
import { activeValues, classesLeftEmpty, countWithoutValue, histogramOf, type ValueRow } from '../store/values';
import { quantileEdges, binIndex } from './quantiles';

/** Bins of the preview histogram: the `dataset:values` default, so the preview looks like Overview's chart. */
export const previewHistogramBins = 30;
/** Significant digits of the largest number in a plan's class names: 3 tells 35.2 from 35.7 and keeps names short. */
const significantDigits = 3;
/** The most decimals a class name shows, however close two edges are. */
const maxDecimals = 6;

/** What binning asks for. */
export interface BinRequest {
  bins: BinMethod;
  /** What class names start with ("value" by default); empty: the range alone. */
  prefix: string;
}

/** A bin before it is named: [low, high), the last one closed; open ends of typed edges say so. */
interface RawBin {
  low: number;
  high: number;
  end: 'below' | 'above' | null;
  rows: ValueRow[];
}

/** A plan and which bin (index into plan.bins) each image with a value falls in. */
export interface PlannedBins {
  plan: BinPlan;
  members: { id: ImageId; bin: number }[];
}

/** The values, refused when there are none (binning needs values to cut). */
function requireValues(db: Db): ValueRow[] {
  const rows = activeValues(db);
  if (rows.length === 0) {
    throw new LoupeError(
      'CONFLICT',
      'No active image has a numeric value to bin: import a path,value CSV (loupe import values.csv) or set values in the Gallery first.',
    );
  }
  return rows;
}

/** The inner edges of a method over ascending values, and whether the outer bins are open (typed edges). */
function innerEdges(method: BinMethod, sorted: readonly number[]): { edges: number[]; open: boolean } {
  switch (method.method) {
    case 'quantile':
      return { edges: quantileEdges(sorted, method.k), open: false };
    case 'width': {
      const min = sorted[0]!;
      const max = sorted[sorted.length - 1]!;
      const step = (max - min) / method.k;
      // All values equal: every edge is the value, and the one non-empty bin is refused below.
      return { edges: Array.from({ length: method.k - 1 }, (_, i) => min + (i + 1) * step), open: false };
    }
    case 'edges':
      return { edges: [...method.edges], open: true };
    default:
      return assertNever(method, 'bin method');
  }
}

/** The bins of `rows` (ascending) at `edges`, empty ones dropped. */
function cut(rows: readonly ValueRow[], edges: readonly number[], open: boolean): RawBin[] {
  const min = rows[0]!.value;
  const max = rows[rows.length - 1]!.value;
  const bins: RawBin[] = Array.from({ length: edges.length + 1 }, (_, i) => ({
    low: i === 0 ? Math.min(min, edges[0] ?? min) : edges[i - 1]!,
    high: i === edges.length ? Math.max(max, edges[i - 1] ?? max) : edges[i]!,
    end: open && i === 0 ? 'below' : open && i === edges.length ? 'above' : null,
    rows: [],
  }));
  for (const row of rows) bins[binIndex(edges, row.value)]!.rows.push(row);
  return bins.filter((b) => b.rows.length > 0);
}

/** Decimals that show `x` exactly (up to maxDecimals). */
function decimalsIn(x: number): number {
  for (let d = 0; d < maxDecimals; d++) {
    const scaled = x * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, Math.abs(scaled))) return d;
  }
  return maxDecimals;
}

/** `x` with `decimals` decimals, never "-0". */
function fixed(x: number, decimals: number): string {
  const text = x.toFixed(decimals);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

/**
 * One formatter for every number in a plan's names: as many decimals as give the largest number
 * `significantDigits` digits (fewer when no number needs them: typed whole edges stay whole),
 * raised until no two different edges read alike.
 */
export function edgeFormatter(numbers: readonly number[]): (x: number) => string {
  const distinct = [...new Set(numbers)].sort((a, b) => a - b);
  const largest = Math.max(0, ...distinct.map(Math.abs));
  const forDigits = largest === 0 ? 0 : Math.max(0, significantDigits - 1 - Math.floor(Math.log10(largest)));
  let decimals = Math.min(maxDecimals, forDigits, Math.max(0, ...distinct.map(decimalsIn)));
  const clash = () => distinct.some((x, i) => i > 0 && fixed(x, decimals) === fixed(distinct[i - 1]!, decimals));
  while (decimals < maxDecimals && clash()) decimals++;
  return (x) => fixed(x, decimals);
}

/** The class name of each bin: "prefix low–high", "prefix < high", "prefix ≥ low". */
function names(bins: readonly RawBin[], prefix: string): string[] {
  const shown = bins.flatMap((b) => (b.end === 'below' ? [b.high] : b.end === 'above' ? [b.low] : [b.low, b.high]));
  const format = edgeFormatter(shown);
  const head = prefix.trim().length > 0 ? `${prefix.trim()} ` : '';
  return bins.map((b) =>
    b.end === 'below' ? `${head}< ${format(b.high)}` : b.end === 'above' ? `${head}≥ ${format(b.low)}` : `${head}${format(b.low)}–${format(b.high)}`,
  );
}

function countsOf(rows: readonly ValueRow[]): Record<SplitName | 'none', number> {
  const counts = { train: 0, valid: 0, test: 0, none: 0 };
  for (const r of rows) counts[r.split ?? 'none']++;
  return counts;
}

/**
 * What binning would do: the bins with their class names and counts per split, the histogram
 * behind the preview, and how many images get a class, have no value, or lose the class they have.
 * CONFLICT without values; VALIDATION when the plan leaves fewer than 2 non-empty bins.
 */
export function planBins(db: Db, request: BinRequest): PlannedBins {
  const rows = requireValues(db);
  const { edges, open } = innerEdges(
    request.bins,
    rows.map((r) => r.value),
  );
  const raw = cut(rows, edges, open);
  if (raw.length < 2) {
    throw new LoupeError(
      'VALIDATION',
      `These bins hold the values in ${raw.length} class: choose more bins or edges inside the values' range (${rows[0]!.value} to ${rows[rows.length - 1]!.value}).`,
      { classes: raw.length },
    );
  }
  const named = names(raw, request.prefix);
  const bins: BinInfo[] = raw.map((b, i) => ({ name: named[i]!, low: b.low, high: b.high, counts: countsOf(b.rows), total: b.rows.length }));
  const members = raw.flatMap((b, bin) => b.rows.map((r) => ({ id: r.id, bin })));
  const plan: BinPlan = {
    bins,
    histogram: histogramOf(rows, previewHistogramBins),
    labelled: rows.length,
    withoutValue: countWithoutValue(db),
    relabelled: rows.filter((r) => r.classId !== null).length,
  };
  return { plan, members };
}

/**
 * The changes that apply a plan: each bin's class made visible (created when new) and the class
 * of every active image with a value. Creates classes hidden, so it must run inside the batch's
 * transaction.
 */
export function binChanges(db: Db, request: BinRequest): { plan: BinPlan; changes: FieldChange[] } {
  const { plan, members } = planBins(db, request);
  const classes = plan.bins.map((b) => ensureClass(db, b.name));
  const changes: FieldChange[] = classes.flatMap((c) => c.revive);
  for (const m of members) changes.push({ imageId: m.id, field: 'class', value: String(classes[m.bin]!.id) });
  return { plan, changes };
}

/**
 * The changes that turn classes back into values: the class of every active image with a value
 * cleared, and the classes that leaves labelling nothing hidden (deleted), so the project is a
 * regression project again unless images without a value keep classes. CONFLICT without values.
 */
export function unbinChanges(db: Db): { cleared: number; hidden: number; changes: FieldChange[] } {
  const withClass = requireValues(db).filter((r) => r.classId !== null);
  const hidden = classesLeftEmpty(db, new Set(withClass.map((r) => r.id)));
  const changes: FieldChange[] = withClass.map((r) => ({ imageId: r.id, field: 'class', value: null }));
  for (const classId of hidden) changes.push({ classId, field: 'class.deleted', value: '1' });
  return { cleared: withClass.length, hidden: hidden.length, changes };
}
