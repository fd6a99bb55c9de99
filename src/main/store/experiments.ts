/**
 * The experiments area's SQL: the project goal (a meta key), searches and their trials, each run's
 * role (trial or ensemble), the baselines stored with runs, the pixel cache of the linear baseline,
 * and the reads of stored predictions and today's labels that ensembles, re-scoring and reports use;
 * a quick run's fold-head predictions for the fold-head ensemble.
 */
import type { ImageId, SplitName } from '../../shared/types';
import type { EnsembleMember, EnsembleSource, ProjectGoal, RunBaselines, RunExperimentInfo, SearchDetail } from '../../shared/experiments';
import type { RunStatus } from '../../shared/train';
import { write, type Db } from './db';
import { getMeta, setMeta } from './meta';
import { claimOwner, liveOwners } from './owners';
import { sql } from './statements';

const goalKey = 'experiments.goal';

/** The project's goal, or null. */
export function getGoal(db: Db): ProjectGoal | null {
  const text = getMeta(db, goalKey);
  return text ? (JSON.parse(text) as ProjectGoal) : null;
}

/** Sets (or with null clears) the project's goal. */
export function setGoal(db: Db, goal: ProjectGoal | null): void {
  write(db, () => setMeta(db, goalKey, goal === null ? '' : JSON.stringify(goal)));
}

/** Stores a run's baselines (replacing earlier ones). */
export function saveBaselines(db: Db, runId: number, baselines: RunBaselines): void {
  write(db, () => sql(db, 'INSERT INTO run_baselines (run_id, baselines) VALUES (?, ?) ON CONFLICT (run_id) DO UPDATE SET baselines = excluded.baselines').run(runId, JSON.stringify(baselines)));
}

/** A run's stored baselines, or null. */
export function getBaselines(db: Db, runId: number): RunBaselines | null {
  const row = sql(db, 'SELECT baselines FROM run_baselines WHERE run_id = ?').get(runId) as { baselines: string } | undefined;
  return row ? (JSON.parse(row.baselines) as RunBaselines) : null;
}

/** Cached size x size grey pixel grids by content hash (those present). */
export function cachedPixels(db: Db, hashes: readonly string[], size: number): Map<string, Uint8Array> {
  const get = sql(db, 'SELECT pixels FROM baseline_pixels WHERE content_hash = ? AND size = ?');
  const found = new Map<string, Uint8Array>();
  for (const hash of hashes) {
    const row = get.get(hash, size) as { pixels: Buffer } | undefined;
    if (row) found.set(hash, new Uint8Array(row.pixels));
  }
  return found;
}

/** Caches pixel grids (read-only projects skip it). */
export function putPixels(db: Db, size: number, rows: ReadonlyArray<{ hash: string; pixels: Uint8Array }>): void {
  if (rows.length === 0 || db.readonly) return;
  const insert = sql(db, 'INSERT OR REPLACE INTO baseline_pixels (content_hash, size, pixels) VALUES (?, ?, ?)');
  write(db, () => {
    for (const r of rows) insert.run(r.hash, size, Buffer.from(r.pixels.buffer, r.pixels.byteOffset, r.pixels.byteLength));
  });
}

/** A run's role as stored (plain runs have no row). */
export interface RunExperimentRow {
  runId: number;
  role: 'trial' | 'ensemble';
  searchId: number | null;
  trial: number | null;
  budget: number | null;
  members: EnsembleMember[];
  source: EnsembleSource | null;
}

/** Records a run as a search trial or an ensemble. */
export function setRunExperiment(db: Db, row: RunExperimentRow): void {
  write(db, () =>
    sql(
      db,
      `INSERT INTO run_experiments (run_id, role, search_id, trial, budget, members, source) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id) DO UPDATE SET role = excluded.role, search_id = excluded.search_id, trial = excluded.trial,
         budget = excluded.budget, members = excluded.members, source = excluded.source`,
    ).run(row.runId, row.role, row.searchId, row.trial, row.budget, JSON.stringify(row.members), row.source ? JSON.stringify(row.source) : null),
  );
}

/** Every run's experiments info (role 'run' for runs without a row), newest first. */
export function listRunExperiments(db: Db): RunExperimentInfo[] {
  const rows = sql(
    db,
    `SELECT r.id AS runId, e.role, e.search_id AS searchId, e.trial, e.budget, e.members, e.source, b.baselines
       FROM runs r LEFT JOIN run_experiments e ON e.run_id = r.id LEFT JOIN run_baselines b ON b.run_id = r.id
      ORDER BY r.id DESC`,
  ).all() as Array<{ runId: number; role: 'trial' | 'ensemble' | null; searchId: number | null; trial: number | null; budget: number | null; members: string | null; source: string | null; baselines: string | null }>;
  return rows.map((r) => ({
    runId: r.runId,
    role: r.role ?? 'run',
    searchId: r.searchId,
    trial: r.trial,
    budget: r.budget,
    members: r.members ? (JSON.parse(r.members) as EnsembleMember[]) : [],
    ensembleSource: r.source ? (JSON.parse(r.source) as EnsembleSource).kind : null,
    baselines: r.baselines ? (JSON.parse(r.baselines) as RunBaselines) : null,
  }));
}

/** What a search row keeps besides its columns. */
export type StoredSearch = Omit<SearchDetail, 'id' | 'status' | 'jobId' | 'note' | 'startedAt' | 'finishedAt'>;

interface SearchRow {
  id: number;
  status: RunStatus;
  job_id: string | null;
  base: string;
  space: string;
  settings: string;
  trials: string;
  note: string | null;
  started_at: number;
  finished_at: number | null;
}

function toSearch(row: SearchRow): SearchDetail {
  const settings = JSON.parse(row.settings) as Omit<StoredSearch, 'base' | 'space' | 'trials'>;
  return {
    ...settings,
    id: row.id,
    status: row.status,
    jobId: row.job_id as SearchDetail['jobId'],
    base: JSON.parse(row.base) as SearchDetail['base'],
    space: JSON.parse(row.space) as SearchDetail['space'],
    trials: JSON.parse(row.trials) as SearchDetail['trials'],
    note: row.note,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** Creates a running search and returns its id. */
export function createSearch(db: Db, search: StoredSearch): number {
  const { base, space, trials, ...settings } = search;
  return Number(
    write(db, () =>
      sql(db, "INSERT INTO searches (status, base, space, settings, trials, owner, started_at) VALUES ('running', ?, ?, ?, ?, ?, ?)").run(
        JSON.stringify(base),
        JSON.stringify(space),
        JSON.stringify(settings),
        JSON.stringify(trials),
        claimOwner(db),
        Date.now(),
      ),
    ).lastInsertRowid,
  );
}

/** Updates a search: its status, job, trials and summary figures. */
export function updateSearch(db: Db, id: number, search: SearchDetail): void {
  const { base, space, trials, id: _id, status, jobId, note, startedAt: _s, finishedAt, ...settings } = search;
  void _id;
  void _s;
  write(db, () =>
    sql(db, 'UPDATE searches SET status = ?, job_id = ?, base = ?, space = ?, settings = ?, trials = ?, note = ?, finished_at = ? WHERE id = ?').run(
      status,
      jobId,
      JSON.stringify(base),
      JSON.stringify(space),
      JSON.stringify(settings),
      JSON.stringify(trials),
      note,
      finishedAt,
      id,
    ),
  );
}

/** One search, or null. */
export function getSearch(db: Db, id: number): SearchDetail | null {
  const row = sql(db, 'SELECT * FROM searches WHERE id = ?').get(id) as SearchRow | undefined;
  return row ? toSearch(row) : null;
}

/** Every search, newest first. */
export function listSearches(db: Db): SearchDetail[] {
  return (sql(db, 'SELECT * FROM searches ORDER BY id DESC').all() as SearchRow[]).map(toSearch);
}

/** Searches left running by a process that is gone become failed (like runs: store/owners.ts). */
export function failInterruptedSearches(db: Db): void {
  if (db.readonly) return;
  write(db, () =>
    sql(
      db,
      `UPDATE searches SET status = 'failed', note = 'Loupe stopped while this search was running.', finished_at = ?
        WHERE status = 'running' AND (owner IS NULL OR owner NOT IN (SELECT value FROM json_each(?)))`,
    ).run(Date.now(), JSON.stringify(liveOwners(db))),
  );
}

/** One stored prediction with what the experiments area needs of it. */
export interface StoredPrediction {
  imageId: ImageId;
  split: SplitName | null;
  fold: number;
  /** Class index in the run's classes at training time, or null (unlabelled then). */
  given: number | null;
  inSample: boolean;
  probabilities: Float32Array;
}

/** Every prediction a run stored, in image order. */
export function predictionRows(db: Db, runId: number): StoredPrediction[] {
  const rows = sql(db, 'SELECT image_id AS imageId, split, fold, given, in_sample AS inSample, probabilities FROM predictions WHERE run_id = ? ORDER BY image_id').all(runId) as Array<{
    imageId: ImageId;
    split: SplitName | null;
    fold: number;
    given: number | null;
    inSample: number;
    probabilities: Buffer;
  }>;
  return rows.map((r) => ({
    imageId: r.imageId,
    split: r.split,
    fold: r.fold,
    given: r.given,
    inSample: r.inSample === 1,
    probabilities: new Float32Array(r.probabilities.buffer.slice(r.probabilities.byteOffset, r.probabilities.byteOffset + r.probabilities.byteLength)),
  }));
}

/** An active image as it is today. */
export interface ImageNow {
  imageId: ImageId;
  path: string;
  hash: string | null;
  label: string | null;
  split: SplitName | null;
}

/** Every active image with its label and split today, by id. */
export function imagesNow(db: Db): Map<ImageId, ImageNow> {
  const rows = sql(
    db,
    `SELECT i.id AS imageId, i.path, i.content_hash AS hash, c.name AS label, s.split
       FROM images i LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id LEFT JOIN splits s ON s.image_id = i.id
      WHERE i.status = 'active' ORDER BY i.id`,
  ).all() as ImageNow[];
  return new Map(rows.map((r) => [r.imageId, r]));
}

/** Paths and content hashes of images by id (any status). */
export function imageFiles(db: Db, ids: readonly ImageId[]): Map<ImageId, { path: string; hash: string | null }> {
  const get = sql(db, 'SELECT path, content_hash AS hash FROM images WHERE id = ?');
  const out = new Map<ImageId, { path: string; hash: string | null }>();
  for (const id of ids) {
    const row = get.get(id) as { path: string; hash: string | null } | undefined;
    if (row) out.set(id, row);
  }
  return out;
}

/** The latest baselines stored for another run of the same dataset version and classes (baselines depend on the data, not the model), or null. */
export function baselinesOfVersion(db: Db, version: number, classes: readonly string[], exceptRun: number): RunBaselines | null {
  const row = sql(
    db,
    `SELECT b.baselines FROM run_baselines b JOIN runs r ON r.id = b.run_id
      WHERE r.dataset_version = ? AND r.classes = ? AND r.id <> ? ORDER BY r.id DESC LIMIT 1`,
  ).get(version, JSON.stringify(classes), exceptRun) as { baselines: string } | undefined;
  return row ? (JSON.parse(row.baselines) as RunBaselines) : null;
}

/** One image's fold-head predictions: folds x classes probabilities (the run's class order), row-major by fold. */
export interface FoldPrediction {
  imageId: ImageId;
  folds: number;
  probabilities: Float32Array;
}

/** Stores a quick run's fold-head predictions on the images outside its folds (replacing any it had). */
export function saveFoldPredictions(db: Db, runId: number, rows: readonly FoldPrediction[]): void {
  const insert = sql(db, 'INSERT OR REPLACE INTO run_fold_predictions (run_id, image_id, folds, probabilities) VALUES (?, ?, ?, ?)');
  write(db, () => {
    for (const r of rows) insert.run(runId, r.imageId, r.folds, Buffer.from(r.probabilities.buffer, r.probabilities.byteOffset, r.probabilities.byteLength));
  });
}

/** A run's fold-head predictions in image order (none for full runs and for quick runs trained before they were kept). */
export function foldPredictionRows(db: Db, runId: number): FoldPrediction[] {
  const rows = sql(db, 'SELECT image_id AS imageId, folds, probabilities FROM run_fold_predictions WHERE run_id = ? ORDER BY image_id').all(runId) as Array<{ imageId: ImageId; folds: number; probabilities: Buffer }>;
  return rows.map((r) => ({ imageId: r.imageId, folds: r.folds, probabilities: new Float32Array(r.probabilities.buffer.slice(r.probabilities.byteOffset, r.probabilities.byteOffset + r.probabilities.byteLength)) }));
}
