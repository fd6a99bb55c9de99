/**
 * Numeric targets as the dataset holds them now: the values of active images with their splits,
 * the value histogram per split (Overview, Splits, the binning preview), and the images binning
 * and unbinning touch.
 */
import type { ImageId, SplitName } from '../../shared/types';
import { splitNames } from '../../shared/types';
import type { ValueHistogram } from '../../shared/regression';
import type { Db } from './db';
import { sql } from './statements';

/** One active image's value and split. */
export interface ValueRow {
  id: ImageId;
  value: number;
  split: SplitName | null;
  /** The class it carries now (null: none). */
  classId: number | null;
}

/** Every active image with a value, by ascending value (then id). */
export function activeValues(db: Db): ValueRow[] {
  return sql(
    db,
    `SELECT i.id, l.value, s.split, l.class_id AS classId
       FROM images i JOIN labels l ON l.image_id = i.id LEFT JOIN splits s ON s.image_id = i.id
      WHERE i.status = 'active' AND l.value IS NOT NULL
      ORDER BY l.value, i.id`,
  ).all() as ValueRow[];
}

/** Active images without a value. */
export function countWithoutValue(db: Db): number {
  return (
    sql(
      db,
      `SELECT count(*) AS n FROM images i LEFT JOIN labels l ON l.image_id = i.id
        WHERE i.status = 'active' AND l.value IS NULL`,
    ).get() as { n: number }
  ).n;
}

/**
 * Visible classes that label no image other than `cleared` ones (any status counts, as for
 * deleting a class): the classes clearing those labels leaves empty.
 */
export function classesLeftEmpty(db: Db, cleared: ReadonlySet<ImageId>): number[] {
  const rows = sql(
    db,
    `SELECT c.id, l.image_id AS imageId FROM classes c JOIN labels l ON l.class_id = c.id
      WHERE c.merged_into IS NULL AND c.deleted = 0`,
  ).all() as { id: number; imageId: ImageId }[];
  const used = new Set<number>();
  const touched = new Set<number>();
  for (const r of rows) {
    if (cleared.has(r.imageId)) touched.add(r.id);
    else used.add(r.id);
  }
  return [...touched].filter((id) => !used.has(id)).sort((a, b) => a - b);
}

/** The value histogram of the active images: `bins` equal-width bins between the smallest and largest value. */
export function valueHistogram(db: Db, bins: number): ValueHistogram {
  return histogramOf(activeValues(db), bins);
}

/**
 * The histogram of `rows` (ascending by value): `bins` equal-width bins from the smallest to the
 * largest value (the last bin includes the largest); a single distinct value sits in the middle of
 * a unit-wide range. Counts per split and 'none'; count, min, max, mean, median overall and per split.
 */
export function histogramOf(rows: readonly ValueRow[], bins: number): ValueHistogram {
  const splits = Object.fromEntries(
    splitNames.map((s) => [s, summaryOf(rows.filter((r) => r.split === s).map((r) => r.value))]),
  ) as ValueHistogram['splits'];
  const emptyCounts = (n: number) => ({ train: new Array<number>(n).fill(0), valid: new Array<number>(n).fill(0), test: new Array<number>(n).fill(0), none: new Array<number>(n).fill(0) });
  if (rows.length === 0) {
    return { edges: [], counts: emptyCounts(0), count: 0, min: null, max: null, mean: null, median: null, splits };
  }
  const min = rows[0]!.value;
  const max = rows[rows.length - 1]!.value;
  const [low, high] = min === max ? [min - 0.5, max + 0.5] : [min, max];
  const width = (high - low) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? high : low + i * width));
  const counts = emptyCounts(bins);
  for (const r of rows) {
    const bin = Math.min(bins - 1, Math.max(0, Math.floor((r.value - low) / width)));
    counts[r.split ?? 'none'][bin]!++;
  }
  const all = summaryOf(rows.map((r) => r.value));
  return { edges, counts, count: rows.length, min, max, mean: all.mean, median: all.median, splits };
}

/** Count, mean and median of ascending values. */
function summaryOf(sorted: readonly number[]): { count: number; mean: number | null; median: number | null } {
  const n = sorted.length;
  if (n === 0) return { count: 0, mean: null, median: null };
  const mean = sorted.reduce((s, v) => s + v, 0) / n;
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { count: n, mean, median };
}
