/** Runs in the project: their records, curves and per-image predictions. */
import { LoupeError } from '../../shared/errors';
import type { ImageId, SplitName } from '../../shared/types';
import type { BackboneUsed, BackendReport, CurvePoint, ModelUsed, RunDetail, RunMetrics, RunStatus, RunSummary, RunTimings, TrainConfig } from '../../shared/train';
import { isReadOnly, write, type Db } from '../store/db';
import { claimOwner, liveOwners } from '../store/owners';
import { sql } from '../store/statements';
import { assertNever } from '../../shared/assertNever';
import type { RegressionRunMetrics, Task, ValuePoint } from '../../shared/regression';

interface RunRow {
  id: number;
  status: RunStatus;
  config: string;
  dataset_version: number;
  backend: string | null;
  backbone: string | null;
  views: string | null;
  classes: string;
  timings: string | null;
  metrics: string | null;
  error: string | null;
  started_at: number;
  finished_at: number | null;
  model: string | null;
  task: Task;
  value_metrics: string | null;
  has_checkpoint: number;
}

// Every run read carries whether it has a last checkpoint (a cancelled or failed full run resumes from it).
const runColumns = "runs.*, EXISTS (SELECT 1 FROM run_checkpoints k WHERE k.run_id = runs.id AND k.kind = 'last') AS has_checkpoint";

const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

/** A stored backend report; one from before devices were recorded ({name, tried}) gets a device that says so. */
function backendOf(text: string | null): BackendReport | null {
  const report = parse<Partial<BackendReport> & Pick<BackendReport, 'name' | 'tried'>>(text);
  if (!report) return null;
  if (report.device) return report as BackendReport;
  return {
    ...report,
    requested: report.requested ?? 'auto',
    host: report.host ?? 'process',
    device: { label: `${report.name} (device not recorded)`, kind: report.name === 'tensorflow-gpu' ? 'gpu' : 'cpu', vendor: null, architecture: null, description: null, software: false, limits: {} },
  };
}

function toSummary(row: RunRow): RunSummary {
  return {
    id: row.id,
    status: row.status,
    task: row.task,
    config: JSON.parse(row.config) as TrainConfig,
    datasetVersion: row.dataset_version,
    backend: backendOf(row.backend),
    backbone: parse<BackboneUsed>(row.backbone),
    views: parse<RunSummary['views']>(row.views) ?? { used: 0, note: null },
    classes: JSON.parse(row.classes) as string[],
    timings: parse<RunTimings>(row.timings),
    metrics: parse<RunMetrics>(row.metrics),
    valueMetrics: parse<RegressionRunMetrics>(row.value_metrics),
    model: parse<ModelUsed>(row.model),
    resumable: row.has_checkpoint === 1 && (row.status === 'cancelled' || row.status === 'failed'),
    error: row.error,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** Creates a running run of a task and returns its id. */
export function createRun(db: Db, config: TrainConfig, datasetVersion: number, task: Task): number {
  return Number(
    sql(db, "INSERT INTO runs (status, config, dataset_version, started_at, owner, task) VALUES ('running', ?, ?, ?, ?, ?)").run(
      JSON.stringify(config),
      datasetVersion,
      Date.now(),
      claimOwner(db),
      task,
    ).lastInsertRowid,
  );
}

/** Marks a finished run running again (a resumed full run), owned by this process. */
export function reopenRun(db: Db, id: number): void {
  write(db, () => sql(db, "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, owner = ? WHERE id = ?").run(claimOwner(db), id));
}

/** Updates fields of a run. */
export function updateRun(
  db: Db,
  id: number,
  fields: Partial<{
    status: RunStatus;
    backend: BackendReport;
    backbone: BackboneUsed;
    views: RunSummary['views'];
    classes: string[];
    timings: RunTimings;
    metrics: RunMetrics;
    valueMetrics: RegressionRunMetrics;
    error: string;
    finishedAt: number;
    datasetVersion: number;
    model: ModelUsed;
  }>,
): void {
  const columns: Record<string, unknown> = {};
  if (fields.status) columns.status = fields.status;
  if (fields.datasetVersion !== undefined) columns.dataset_version = fields.datasetVersion;
  if (fields.backend) columns.backend = JSON.stringify(fields.backend);
  if (fields.backbone) columns.backbone = JSON.stringify(fields.backbone);
  if (fields.views) columns.views = JSON.stringify(fields.views);
  if (fields.classes) columns.classes = JSON.stringify(fields.classes);
  if (fields.timings) columns.timings = JSON.stringify(fields.timings);
  if (fields.metrics) columns.metrics = JSON.stringify(fields.metrics);
  if (fields.valueMetrics) columns.value_metrics = JSON.stringify(fields.valueMetrics);
  if (fields.model) columns.model = JSON.stringify(fields.model);
  if (fields.error !== undefined) columns.error = fields.error;
  if (fields.finishedAt) columns.finished_at = fields.finishedAt;
  const names = Object.keys(columns);
  if (names.length === 0) return;
  db.prepare(`UPDATE runs SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE id = ?`).run(...Object.values(columns), id);
}

/** Appends curve points. */
export function appendCurves(db: Db, runId: number, points: readonly CurvePoint[]): void {
  const insert = sql(db, 'INSERT INTO run_curves (run_id, phase, kind, step, loss, val_loss, val_acc, learning_rate) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  write(db, () => {
    for (const p of points) insert.run(runId, p.phase, p.kind, p.step, p.loss, p.valLoss, p.valAccuracy, p.learningRate ?? null);
  });
}

/** Drops a run's curve points from `step` of a phase on (a resumed run redoes the epochs after its checkpoint). */
export function dropCurvesAfter(db: Db, runId: number, phase: string, step: number, epoch: number): void {
  write(db, () => {
    sql(db, "DELETE FROM run_curves WHERE run_id = ? AND phase = ? AND ((kind = 'batch' AND step > ?) OR (kind = 'epoch' AND step > ?))").run(runId, phase, step, epoch);
  });
}

/** One stored prediction. */
export interface PredictionInput {
  imageId: ImageId;
  split: SplitName | null;
  fold: number;
  given: number | null;
  probabilities: Float32Array;
  /** Predicted by a model that was fitted on this image (a full run's train images): never out-of-sample. */
  inSample?: boolean;
}

/** Stores a run's predictions (predicted class, its probability, loss on the given class). */
export function savePredictions(db: Db, runId: number, rows: readonly PredictionInput[]): void {
  const insert = sql(
    db,
    `INSERT INTO predictions (run_id, image_id, split, fold, given, predicted, probability, given_prob, loss, probabilities, in_sample)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  write(db, () => {
    for (const r of rows) {
      let predicted = 0;
      for (let j = 1; j < r.probabilities.length; j++) if (r.probabilities[j]! > r.probabilities[predicted]!) predicted = j;
      const givenProb = r.given === null ? null : r.probabilities[r.given]!;
      const loss = givenProb === null ? null : -Math.log(Math.max(1e-7, givenProb));
      insert.run(
        runId,
        r.imageId,
        r.split,
        r.fold,
        r.given,
        predicted,
        r.probabilities[predicted]!,
        givenProb,
        loss,
        Buffer.from(r.probabilities.buffer, r.probabilities.byteOffset, r.probabilities.byteLength),
        r.inSample ? 1 : 0,
      );
    }
  });
}

/** One stored predicted value of a regression run. */
export interface ValuePredictionInput {
  imageId: ImageId;
  split: SplitName | null;
  fold: number;
  /** The value the image had when the run trained (null: none). */
  actual: number | null;
  predicted: number;
  inSample?: boolean;
}

/** Stores a regression run's predicted values (residual = predicted - actual). */
export function saveValuePredictions(db: Db, runId: number, rows: readonly ValuePredictionInput[]): void {
  const insert = sql(
    db,
    `INSERT INTO value_predictions (run_id, image_id, split, fold, actual, predicted, residual, in_sample) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  write(db, () => {
    for (const r of rows) {
      insert.run(runId, r.imageId, r.split, r.fold, r.actual, r.predicted, r.actual === null ? null : r.predicted - r.actual, r.inSample ? 1 : 0);
    }
  });
}

/** A regression run's predicted values, in image order (optionally one split). */
export function valuePredictions(db: Db, runId: number, split?: SplitName): ValuePoint[] {
  const rows = sql(
    db,
    `SELECT image_id AS imageId, split, actual, predicted, residual, fold, in_sample AS inSample FROM value_predictions
      WHERE run_id = ? AND (? IS NULL OR split = ?) ORDER BY image_id`,
  ).all(runId, split ?? null, split ?? null) as Array<Omit<ValuePoint, 'inSample'> & { inSample: number }>;
  return rows.map((r) => ({ ...r, inSample: r.inSample === 1 }));
}

/** The latest finished run of a task, or null. */
export function latestDoneRunOf(db: Db, task: Task): RunSummary | null {
  const row = sql(db, `SELECT ${runColumns} FROM runs WHERE status = 'done' AND task = ? ORDER BY id DESC LIMIT 1`).get(task) as RunRow | undefined;
  return row ? toSummary(row) : null;
}

/**
 * A run by id that must be of `task`; CONFLICT (naming what does not apply and what to use instead)
 * for a run of the other task. `what` names the request: "the label queues", "an ensemble".
 */
export function getRunOf(db: Db, runId: number, task: Task, what: string): RunSummary {
  const run = getRun(db, runId);
  if (run.task === task) return run;
  const label = what.charAt(0).toUpperCase() + what.slice(1);
  switch (run.task) {
    case 'regression':
      throw new LoupeError('CONFLICT', `${label}: run ${run.id} is a regression run (it predicts values), and this takes a classification run. Its MAE and R² are in the Train view; its queues are the value queues (review:values; loupe issues --kind residual or target).`, { runId: run.id, task: run.task });
    case 'classification':
      throw new LoupeError('CONFLICT', `${label}: run ${run.id} is a classification run, and this takes a regression run.`, { runId: run.id, task: run.task });
    default:
      return assertNever(run.task, 'task');
  }
}

/** Every run, newest first. */
export function listRuns(db: Db): RunSummary[] {
  return (sql(db, `SELECT ${runColumns} FROM runs ORDER BY id DESC`).all() as RunRow[]).map(toSummary);
}

/** One run; NOT_FOUND when there is none. */
export function getRun(db: Db, id: number): RunSummary {
  const row = sql(db, `SELECT ${runColumns} FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
  if (!row) throw new LoupeError('NOT_FOUND', `No run ${id}.`, { id });
  return toSummary(row);
}

/** A run with its curves. */
export function runDetail(db: Db, id: number): RunDetail {
  const curves = (
    sql(db, 'SELECT phase, kind, step, loss, val_loss AS valLoss, val_acc AS valAccuracy, learning_rate AS learningRate FROM run_curves WHERE run_id = ? ORDER BY id').all(id) as CurvePoint[]
  );
  return { ...getRun(db, id), curves };
}

/** The latest run of any status, or null. */
export function latestRun(db: Db): RunSummary | null {
  const row = sql(db, `SELECT ${runColumns} FROM runs ORDER BY id DESC LIMIT 1`).get() as RunRow | undefined;
  return row ? toSummary(row) : null;
}

/**
 * Runs left 'running' by a process that is gone (store/owners.ts) become 'failed' with a reason; a
 * run another live process is training stays running. Nothing to do on a read-only project.
 */
export function failInterruptedRuns(db: Db): void {
  if (isReadOnly(db)) return;
  write(db, () =>
    sql(
      db,
      `UPDATE runs SET status = 'failed', error = 'Loupe stopped while this run was training.', finished_at = ?
        WHERE status = 'running' AND (owner IS NULL OR owner NOT IN (SELECT value FROM json_each(?)))`,
    ).run(Date.now(), JSON.stringify(liveOwners(db))),
  );
}

/** What a full run's measured rate must match to stand for another: the network and its input. */
export interface RateMatch {
  arch: string;
  /** Null: any (a finetune run's backbone fixes its input). */
  inputSize: number | null;
  channels: number | null;
  /** finetune: the backbone, which fixes the input. */
  backbone?: string;
}

/**
 * The rate the latest finished full run of the same arch and input measured on this machine
 * (RunTimings.imagesPerSecond: images fed per second of training), or null before one.
 */
export function measuredFullRate(db: Db, match: RateMatch): { runId: number; imagesPerSecond: number } | null {
  const row = sql(
    db,
    `SELECT id AS runId, json_extract(timings, '$.imagesPerSecond') AS imagesPerSecond FROM runs
      WHERE status = 'done' AND json_extract(config, '$.mode') = 'full' AND json_extract(config, '$.arch') = ?
        AND (? IS NULL OR json_extract(model, '$.inputShape[0]') = ?) AND (? IS NULL OR json_extract(model, '$.inputShape[2]') = ?)
        AND (? IS NULL OR json_extract(config, '$.backbone') = ?)
        AND json_extract(timings, '$.imagesPerSecond') > 0
      ORDER BY id DESC LIMIT 1`,
  ).get(match.arch, match.inputSize, match.inputSize, match.channels, match.channels, match.backbone ?? null, match.backbone ?? null) as { runId: number; imagesPerSecond: number } | undefined;
  return row ?? null;
}

/** How many out-of-sample fold predictions (fold >= 0) a run has stored: a k-fold full run's finished folds. */
export function foldPredictions(db: Db, runId: number): { images: number; folds: number } {
  return sql(db, 'SELECT COUNT(*) AS images, COUNT(DISTINCT fold) AS folds FROM predictions WHERE run_id = ? AND fold >= 0').get(runId) as { images: number; folds: number };
}

/** Drops a run's predictions by the final network (fold -1: classes or values), before a (resumed) run stores them again. */
export function dropFinalPredictions(db: Db, runId: number): void {
  write(db, () => {
    sql(db, 'DELETE FROM predictions WHERE run_id = ? AND fold = -1').run(runId);
    sql(db, 'DELETE FROM value_predictions WHERE run_id = ? AND fold = -1').run(runId);
  });
}

/** A run's stored fold predictions (fold >= 0): given class and probabilities, in image order. */
export function foldPredictionRows(db: Db, runId: number): Array<{ imageId: ImageId; given: number | null; probabilities: Float32Array }> {
  const rows = sql(db, 'SELECT image_id AS imageId, given, probabilities FROM predictions WHERE run_id = ? AND fold >= 0 ORDER BY image_id').all(runId) as Array<{
    imageId: ImageId;
    given: number | null;
    probabilities: Buffer;
  }>;
  return rows.map((r) => ({ imageId: r.imageId, given: r.given, probabilities: new Float32Array(r.probabilities.buffer.slice(r.probabilities.byteOffset, r.probabilities.byteOffset + r.probabilities.byteLength)) }));
}
