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
const valuePredictionColumns = `vp.predicted AS predictedValue`;
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
  predictedValue?: number | null;
}

/** The latest finished classification run: its id and class list (predictions store indexes into it). */
export interface LatestRun {
  id: number;
  classes: string[];
}

/** The latest finished classification run, or null before the first (regression runs predict values, not classes). */
function latestClassifierRun(db: Db): LatestRun | null {
  const row = sql(db, "SELECT id, classes FROM runs WHERE status = 'done' AND task = 'classification' ORDER BY id DESC LIMIT 1").get() as
    | { id: number; classes: string }
    | undefined;
  return row ? { id: row.id, classes: JSON.parse(row.classes) as string[] } : null;
}

/** The id of the latest finished regression run (its value_predictions feed residuals), or null. */
export function latestValueRunId(db: Db): number | null {
  const row = sql(db, "SELECT id FROM runs WHERE status = 'done' AND task = 'regression' ORDER BY id DESC LIMIT 1").get() as
    | { id: number }
    | undefined;
  return row?.id ?? null;
}

/** The runs a page reads predictions from: the latest classification run and the latest regression run. */
interface PageRuns {
  run: LatestRun | null;
  valueRunId: number | null;
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
    valuePrediction:
      row.predictedValue === null || row.predictedValue === undefined
        ? null
        : { value: row.predictedValue, residual: row.value === null ? null : row.predictedValue - row.value },
  };
}

/** The absolute residual now: |the regression run's prediction - the image's value as it is now|. */
const residualNow = 'abs(vp.predicted - l.value)';

/** Joins a page's sort needs beyond what its filter brings. */
interface SortNeeds {
  /** The latest classification run's predictions (inner: only predicted images). */
  predictions?: boolean;
  /** The labels row, for the value (left: images without one stay). */
  labels?: boolean;
  /** The latest regression run's predicted values (left: images it did not predict stay). */
  valuePredictions?: boolean;
}

function whereClause(
  filter: ImageFilter,
  runs: PageRuns = { run: null, valueRunId: null },
  needs: SortNeeds = {},
): { where: string; params: unknown[]; joins: string; count: { joins: string; params: unknown[] } } {
  // Only the joins the filter needs: counting and sorting 100,000 ids stays cheap without them.
  // A left join only the sort reads (sortOnly) changes no count, so the count leaves it out.
  const needed: { text: string; params: unknown[]; sortOnly: boolean }[] = [];
  const join = (text: string, params: unknown[] = [], sortOnly = false) => needed.push({ text, params, sortOnly });
  if (filter.predicted !== undefined || needs.predictions) {
    if (!runs.run) throw new LoupeError('CONFLICT', 'Train a model first: predictions, losses and confidences come from a run.');
    join('JOIN predictions p ON p.image_id = i.id AND p.run_id = ?', [runs.run.id]);
  }
  const boundsValue = filter.valueMin !== undefined || filter.valueMax !== undefined || filter.residualMin !== undefined;
  // Inner joins where the filter needs a match: the planner may then start from the class (by
  // name) or the split and reach only its images, instead of testing every image in turn.
  if (filter.className === null) join('LEFT JOIN labels l ON l.image_id = i.id');
  else if (filter.className !== undefined) join('JOIN labels l ON l.image_id = i.id JOIN classes c ON c.id = l.class_id');
  else if (boundsValue) join('JOIN labels l ON l.image_id = i.id');
  else if (needs.labels) join('LEFT JOIN labels l ON l.image_id = i.id', [], true);
  if (filter.residualMin !== undefined || needs.valuePredictions) {
    if (runs.valueRunId === null) {
      throw new LoupeError('CONFLICT', 'Train a regression model first: residuals come from a finished regression run.');
    }
    // A left join even for the filter (its WHERE drops unpredicted images): as an inner join the
    // planner starts from the residual index and looks every image up from there, about 3x slower.
    join('LEFT JOIN value_predictions vp ON vp.image_id = i.id AND vp.run_id = ?', [runs.valueRunId], filter.residualMin === undefined);
  }
  if (filter.split) join('JOIN splits s ON s.image_id = i.id');
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
    const index = runs.run!.classes.indexOf(filter.predicted);
    parts.push('p.predicted = ?');
    params.push(index);
  }
  if (filter.valueMin !== undefined) {
    parts.push('l.value >= ?');
    params.push(filter.valueMin);
  }
  if (filter.valueMax !== undefined) {
    parts.push('l.value <= ?');
    params.push(filter.valueMax);
  }
  if (filter.residualMin !== undefined) {
    // Against the value now, so an edited value leaves (or joins) the filter at once.
    parts.push(`${residualNow} >= ?`);
    params.push(filter.residualMin);
  }
  const counted = needed.filter((j) => !j.sortOnly);
  return {
    where: `WHERE ${parts.join(' AND ')}`,
    params: [...needed.flatMap((j) => j.params), ...params],
    joins: `FROM images i ${needed.map((j) => j.text).join(' ')}`,
    count: { joins: `FROM images i ${counted.map((j) => j.text).join(' ')}`, params: [...counted.flatMap((j) => j.params), ...params] },
  };
}

/** A sort: its key expression ('random' takes the seed as a parameter), whether images without a key go last, and the joins it needs. */
interface SortSpec {
  key: string;
  nullsLast: boolean;
  needs: SortNeeds;
}

function sortSpec(sort: ImageSort): SortSpec {
  const plain = (key: string): SortSpec => ({ key, nullsLast: false, needs: {} });
  switch (sort) {
    case 'id':
      return plain('i.id');
    case 'name':
      return plain('i.path');
    case 'size':
      return plain('coalesce(i.width * i.height, 0)');
    case 'random':
      // A seeded permutation of ids: multiply by a large odd constant modulo 2^32.
      return plain('((i.id + ?) * 2654435761) % 4294967296');
    case 'loss':
      return { key: '-coalesce(p.loss, 0)', nullsLast: false, needs: { predictions: true } };
    case 'confidence':
      return { key: 'p.probability', nullsLast: false, needs: { predictions: true } };
    case 'value':
      // Ascending; images without a value last.
      return { key: 'l.value', nullsLast: true, needs: { labels: true } };
    case 'residual':
      // The largest |predicted - value now| first; images without a predicted value or a value last.
      return { key: `-${residualNow}`, nullsLast: true, needs: { labels: true, valuePredictions: true } };
    default:
      return assertNever(sort, 'sort');
  }
}

/** The runs a page reads: the summaries show both runs' predictions, and its filter or sort may need either. */
function pageRuns(db: Db): PageRuns {
  return { run: latestClassifierRun(db), valueRunId: latestValueRunId(db) };
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
  const runs = pageRuns(db);
  const spec = sortSpec(sort);
  const { where, params, joins: filterJoins, count } = whereClause(filter, runs, spec.needs);
  const total = (sql(db, `SELECT count(*) AS n ${count.joins} ${where}`).get(...count.params) as { n: number }).n;
  // Sort and cut the page on ids alone, then fetch the page's rows with every join.
  const keyParams = sort === 'random' ? [Math.abs(seed) % 1_000_003] : [];
  const nulls = spec.nullsLast ? ' NULLS LAST' : '';
  const rows = sql(
    db,
    `SELECT ${summaryColumns}, ${predictionColumns}, ${valuePredictionColumns}, page.k FROM (
       SELECT i.id, ${spec.key} AS k ${filterJoins} ${where} ORDER BY k${nulls}, i.id LIMIT ? OFFSET ?
     ) page JOIN images i ON i.id = page.id
     LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id
     LEFT JOIN splits s ON s.image_id = i.id
     LEFT JOIN predictions p ON p.image_id = i.id AND p.run_id = ?
     LEFT JOIN value_predictions vp ON vp.image_id = i.id AND vp.run_id = ?
     ORDER BY page.k${nulls}, i.id`,
  ).all(...keyParams, ...params, limit, offset, runs.run?.id ?? -1, runs.valueRunId ?? -1) as SummaryRow[];
  return { total, offset, rows: rows.map((row) => toSummary(row, runs.run)) };
}

/** Every id matching a filter, in id order ("select all"). */
export function imageIds(db: Db, filter: ImageFilter): ImageId[] {
  const runs: PageRuns = {
    run: filter.predicted !== undefined ? latestClassifierRun(db) : null,
    valueRunId: filter.residualMin !== undefined ? latestValueRunId(db) : null,
  };
  const { where, params, joins: filterJoins } = whereClause(filter, runs);
  return (sql(db, `SELECT i.id ${filterJoins} ${where} ORDER BY i.id`).all(...params) as { id: ImageId }[]).map((r) => r.id);
}

/** One image with everything known about it. */
export function imageDetail(db: Db, id: ImageId): ImageDetail {
  const row = sql(
    db,
    `SELECT ${summaryColumns}, ${valuePredictionColumns}, i.content_hash AS contentHash, i.perceptual_hash AS perceptualHash,
       i.channels, i.format, i.bytes, coalesce(s.locked, 0) AS locked ${joins}
       LEFT JOIN value_predictions vp ON vp.image_id = i.id AND vp.run_id = ? WHERE i.id = ?`,
  ).get(latestValueRunId(db) ?? -1, id) as
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
