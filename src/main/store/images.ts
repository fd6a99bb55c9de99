/** Image queries: pages for the gallery, one image in full, ids by path, the class x split table. */
import { LoupeError } from '../../shared/errors';
import type {
  DatasetStats,
  ImageDetail,
  ImageFilter,
  ImageId,
  ImagePage,
  ImageSort,
  ImageStatus,
  ImageSummary,
  SplitName,
} from '../../shared/types';
import { datasetVersion } from './changes';
import type { Db } from './db';
import { sql } from './statements';
import { assertNever } from '../../shared/assertNever';

const summaryColumns = `
  i.id, i.path, i.status, i.width, i.height, i.error, i.reviewed,
  c.name AS label, l.value AS value, s.split AS split`;
const predictionColumns = `p.predicted AS predictedIndex, p.probability AS predictedProbability, p.loss AS predictedLoss`;
const joins = `
  FROM images i
  LEFT JOIN labels l ON l.image_id = i.id
  LEFT JOIN classes c ON c.id = l.class_id
  LEFT JOIN splits s ON s.image_id = i.id`;

interface SummaryRow {
  id: number;
  path: string;
  status: ImageStatus;
  width: number | null;
  height: number | null;
  error: string | null;
  reviewed: number;
  label: string | null;
  value: number | null;
  split: SplitName | null;
  predictedIndex?: number | null;
  predictedProbability?: number | null;
  predictedLoss?: number | null;
}

/** The latest finished run: its id and class list (predictions store indexes into it). */
export interface LatestRun {
  id: number;
  classes: string[];
}

/** The latest finished run, or null before the first. */
export function latestRun(db: Db): LatestRun | null {
  const row = sql(db, "SELECT id, classes FROM runs WHERE status = 'done' ORDER BY id DESC LIMIT 1").get() as
    | { id: number; classes: string }
    | undefined;
  return row ? { id: row.id, classes: JSON.parse(row.classes) as string[] } : null;
}

function toSummary(row: SummaryRow, run: LatestRun | null = null): ImageSummary {
  const predicted = row.predictedIndex !== null && row.predictedIndex !== undefined ? run?.classes[row.predictedIndex] : undefined;
  return {
    id: row.id as ImageId,
    path: row.path,
    label: row.label,
    value: row.value,
    split: row.split,
    status: row.status,
    width: row.width,
    height: row.height,
    error: row.error,
    reviewed: row.reviewed === 1,
    prediction:
      predicted === undefined
        ? null
        : { className: predicted, probability: row.predictedProbability ?? 0, loss: row.predictedLoss ?? null },
  };
}

function whereClause(
  filter: ImageFilter,
  run: LatestRun | null = null,
  needsPredictions = false,
): { where: string; params: unknown[]; joins: string } {
  // Only the joins the filter needs: counting and sorting 100,000 ids stays cheap without them.
  const needed: string[] = [];
  const predictionParams: unknown[] = [];
  if (filter.predicted !== undefined || needsPredictions) {
    if (!run) throw new LoupeError('CONFLICT', 'Train a model first: predictions, losses and confidences come from a run.');
    needed.push('JOIN predictions p ON p.image_id = i.id AND p.run_id = ?');
    predictionParams.push(run.id);
  }
  // Inner joins where the filter needs a match: the planner may then start from the class (by
  // name) or the split and reach only its images, instead of testing every image in turn.
  if (filter.className === null) needed.push('LEFT JOIN labels l ON l.image_id = i.id');
  else if (filter.className !== undefined) needed.push('JOIN labels l ON l.image_id = i.id JOIN classes c ON c.id = l.class_id');
  if (filter.split) needed.push('JOIN splits s ON s.image_id = i.id');
  const parts = ['i.status = ?'];
  const params: unknown[] = [filter.status ?? 'active'];
  if (filter.split) {
    parts.push('s.split = ?');
    params.push(filter.split);
  }
  if (filter.className === null) parts.push('l.class_id IS NULL');
  else if (filter.className !== undefined) {
    parts.push('c.name = ?');
    params.push(filter.className);
  }
  if (filter.reviewed !== undefined) {
    parts.push('i.reviewed = ?');
    params.push(filter.reviewed ? 1 : 0);
  }
  if (filter.health) {
    // Flags of the last health run (src/main/store/health.ts).
    parts.push('EXISTS (SELECT 1 FROM health_flags hf WHERE hf.flag = ? AND hf.image_id = i.id)');
    params.push(filter.health);
  }
  if (filter.search) {
    parts.push("i.path LIKE ? ESCAPE '\\'");
    params.push(`%${filter.search.replace(/[\\%_]/g, (m) => `\\${m}`)}%`);
  }
  if (filter.predicted !== undefined) {
    const index = run!.classes.indexOf(filter.predicted);
    parts.push('p.predicted = ?');
    params.push(index);
  }
  return {
    where: `WHERE ${parts.join(' AND ')}`,
    params: [...predictionParams, ...params],
    joins: `FROM images i ${needed.join(' ')}`,
  };
}

/** The sort key expression; 'random' takes the seed as a parameter. */
function sortKey(sort: ImageSort): string {
  switch (sort) {
    case 'id':
      return 'i.id';
    case 'name':
      return 'i.path';
    case 'size':
      return 'coalesce(i.width * i.height, 0)';
    case 'random':
      // A seeded permutation of ids: multiply by a large odd constant modulo 2^32.
      return '((i.id + ?) * 2654435761) % 4294967296';
    case 'loss':
      return '-coalesce(p.loss, 0)';
    case 'confidence':
      return 'p.probability';
    default:
      return assertNever(sort, 'sort');
  }
}

/**
 * One page of images. Offset paging on purpose: the virtual grid jumps to any row when the
 * scrollbar is dragged; the (status, id) and (status, path) indexes keep deep offsets cheap.
 */
export function imagePage(
  db: Db,
  filter: ImageFilter,
  offset: number,
  limit: number,
  sort: ImageSort = 'id',
  seed = 0,
): ImagePage {
  const run = latestRun(db);
  const { where, params, joins: filterJoins } = whereClause(filter, run, sort === 'loss' || sort === 'confidence');
  const total = (sql(db, `SELECT count(*) AS n ${filterJoins} ${where}`).get(...params) as { n: number }).n;
  // Sort and cut the page on ids alone, then fetch the page's rows with every join.
  const key = sortKey(sort);
  const keyParams = sort === 'random' ? [Math.abs(seed) % 1_000_003] : [];
  const rows = sql(
    db,
    `SELECT ${summaryColumns}, ${predictionColumns}, page.k FROM (
       SELECT i.id, ${key} AS k ${filterJoins} ${where} ORDER BY k, i.id LIMIT ? OFFSET ?
     ) page JOIN images i ON i.id = page.id
     LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id
     LEFT JOIN splits s ON s.image_id = i.id
     LEFT JOIN predictions p ON p.image_id = i.id AND p.run_id = ?
     ORDER BY page.k, i.id`,
  ).all(...keyParams, ...params, limit, offset, run?.id ?? -1) as SummaryRow[];
  return { total, offset, rows: rows.map((row) => toSummary(row, run)) };
}

/** Every id matching a filter, in id order ("select all"). */
export function imageIds(db: Db, filter: ImageFilter): ImageId[] {
  const { where, params, joins: filterJoins } = whereClause(filter, filter.predicted !== undefined ? latestRun(db) : null);
  return (sql(db, `SELECT i.id ${filterJoins} ${where} ORDER BY i.id`).all(...params) as { id: ImageId }[]).map((r) => r.id);
}

/** One image with everything known about it. */
export function imageDetail(db: Db, id: ImageId): ImageDetail {
  const row = sql(
    db,
    `SELECT ${summaryColumns}, i.content_hash AS contentHash, i.perceptual_hash AS perceptualHash,
       i.channels, i.format, i.bytes, coalesce(s.locked, 0) AS locked ${joins} WHERE i.id = ?`,
  ).get(id) as
    | (SummaryRow & {
        contentHash: string | null;
        perceptualHash: string | null;
        channels: number | null;
        format: string | null;
        bytes: number;
        locked: number;
      })
    | undefined;
  if (!row) throw new LoupeError('NOT_FOUND', `No image with id ${id}.`, { id });
  return {
    ...toSummary(row),
    contentHash: row.contentHash,
    perceptualHash: row.perceptualHash,
    channels: row.channels,
    format: row.format,
    bytes: row.bytes,
    splitLocked: row.locked === 1,
  };
}

/** The ids that exist among `ids`; unknown ids are a NOT_FOUND naming the first. */
export function requireImages(db: Db, ids: readonly ImageId[]): void {
  const exists = sql(db, 'SELECT 1 FROM images WHERE id = ?');
  for (const id of ids) {
    if (!exists.get(id)) throw new LoupeError('NOT_FOUND', `No image with id ${id}.`, { id });
  }
}

/**
 * The ids of the images at `paths` (relative to the project root, '/'-separated), in order.
 * Paths that match no image are one NOT_FOUND naming the first and counting the rest.
 */
export function requireImagesByPath(db: Db, paths: readonly string[]): ImageId[] {
  const lookup = sql(db, 'SELECT id FROM images WHERE path = ?');
  const ids: ImageId[] = [];
  const missing: string[] = [];
  for (const p of paths) {
    const row = lookup.get(p) as { id: ImageId } | undefined;
    if (row) ids.push(row.id);
    else missing.push(p);
  }
  if (missing.length > 0) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more of the paths named)` : '';
    throw new LoupeError('NOT_FOUND', `No image at ${missing[0]} in this project${more}; paths are relative to the project root.`, {
      missing: missing.slice(0, 100),
      count: missing.length,
    });
  }
  return ids;
}

/** The class x split table, status totals and the version. */
export function datasetStats(db: Db): DatasetStats {
  const statusCounts = Object.fromEntries(
    (sql(db, 'SELECT status, count(*) AS n FROM images GROUP BY status').all() as { status: ImageStatus; n: number }[]).map(
      (r) => [r.status, r.n],
    ),
  ) as Partial<Record<ImageStatus, number>>;
  const cells = sql(
    db,
    `SELECT c.name AS name, s.split AS split, count(*) AS n
       FROM images i JOIN labels l ON l.image_id = i.id JOIN classes c ON c.id = l.class_id
       LEFT JOIN splits s ON s.image_id = i.id
      WHERE i.status = 'active' GROUP BY c.name, s.split`,
  ).all() as { name: string; split: SplitName | null; n: number }[];
  const byClass = new Map<string, DatasetStats['classes'][number]>();
  for (const name of (sql(db, 'SELECT name FROM classes WHERE merged_into IS NULL AND deleted = 0 ORDER BY name').all() as {
    name: string;
  }[]).map((r) => r.name)) {
    byClass.set(name, { name, train: 0, valid: 0, test: 0, total: 0 });
  }
  for (const cell of cells) {
    const row = byClass.get(cell.name) ?? { name: cell.name, train: 0, valid: 0, test: 0, total: 0 };
    if (cell.split) row[cell.split] += cell.n;
    row.total += cell.n;
    byClass.set(cell.name, row);
  }
  const splitRows = sql(
    db,
    `SELECT s.split AS split, count(*) AS n FROM images i JOIN splits s ON s.image_id = i.id
      WHERE i.status = 'active' GROUP BY s.split`,
  ).all() as { split: SplitName; n: number }[];
  const splits: Record<SplitName, number> = { train: 0, valid: 0, test: 0 };
  for (const r of splitRows) splits[r.split] = r.n;
  const unlabeled = (
    sql(
      db,
      `SELECT count(*) AS n FROM images i LEFT JOIN labels l ON l.image_id = i.id
        WHERE i.status = 'active' AND l.class_id IS NULL`,
    ).get() as { n: number }
  ).n;
  return {
    images: statusCounts.active ?? 0,
    unreadable: statusCounts.unreadable ?? 0,
    removed: statusCounts.removed ?? 0,
    missing: statusCounts.missing ?? 0,
    unlabeled,
    version: datasetVersion(db),
    classes: [...byClass.values()],
    splits,
  };
}
