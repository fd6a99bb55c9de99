/**
 * The quick-model job, in the core: resolve the backbone (downloading the default on first use),
 * embed what the cache lacks in the training process, then send the k-fold task there and stream
 * its curves, progress and log back through the job manager; store predictions and metrics. A
 * regression run (the task recorded on the run) fits the images' values and stores predicted values
 * and regression metrics instead of classes.
 */
import type { BackendReport, ExecutionProviderReport, QuickConfig, RunStatus } from '../../shared/train';
import { LoupeError, toErrorInfo } from '../../shared/errors';
import type { ImageId, SplitName } from '../../shared/types';
import type { Task } from '../../shared/regression';
import { assertNever } from '../../shared/assertNever';
import type { JobContext } from '../jobs/manager';
import { putEmbeddings, readEmbeddings } from '../model/embeddingCache';
import { embedEstimate, engineOf, recordEmbedRate, resolveBackbone } from '../model/backbones';
import { datasetVersion } from '../store/changes';
import type { Project } from '../store/project';
import { sql } from '../store/statements';
import { realFileInside } from '../util/paths';
import type { TrainingProcess } from './client';
import type { EmbedItem } from './protocol';
import type { EmbedAnswer, EmbedVectors } from './kinds/embed';
import type { QuickAnswer } from './kinds/quick';
import { splitCode, type QuickInput, type QuickResult, type QuickTaskBase, type RegressionQuickResult } from './quick';
import { runListeners, type RunHooks } from './jobListeners';
import { getRun, savePredictions, saveValuePredictions, updateRun } from './runs';
import { saveFoldPredictions, type FoldPrediction } from '../store/experiments';
import { missingEmbeddings } from '../model/embeddingCache';

/** What the job reports to the core. */
/** What a quick run's job tells the rest of the core. */
export type QuickJobHooks = RunHooks;

/** The job's result. */
export interface QuickJobResult {
  runId: number;
  backend: BackendReport['name'];
  seconds: number;
}

interface ImageRow {
  id: ImageId;
  path: string;
  hash: string;
  label: string | null;
  value: number | null;
  split: SplitName | null;
}

/** Runs one quick-model run (already created as `runId`). */
export async function runQuickJob(
  project: Project,
  trainer: TrainingProcess,
  runId: number,
  config: QuickConfig,
  hooks: QuickJobHooks,
  ctx: JobContext,
): Promise<QuickJobResult> {
  const { db } = project;
  const started = performance.now();
  try {
    const root = project.root();
    if (!root) throw new LoupeError('CONFLICT', 'Import images before training.');
    ctx.progress('preparing', 0, 1);
    const resolved = await resolveBackbone(config.backbone, {
      signal: ctx.signal,
      onProgress: (received, total) => ctx.progress('downloading backbone', received, total ?? received),
    });
    if (resolved.note) ctx.log(resolved.note);
    const spec = resolved.spec;
    // The labels, splits and the version they belong to, read together (a download may have taken
    // minutes, with edits in between): the run records the version it really trained on.
    const { images, version } = db.transaction(() => ({
      images: sql(
        db,
        `SELECT i.id, i.path, i.content_hash AS hash, c.name AS label, l.value, s.split
           FROM images i
           LEFT JOIN labels l ON l.image_id = i.id
           LEFT JOIN classes c ON c.id = l.class_id
           LEFT JOIN splits s ON s.image_id = i.id
          WHERE i.status = 'active' AND i.content_hash IS NOT NULL
          ORDER BY i.id`,
      ).all() as ImageRow[],
      version: datasetVersion(db),
    }))();
    updateRun(db, runId, { datasetVersion: version });
    const task = getRun(db, runId).task;
    const { classes, labelled, assemble } = targetsOf(task, images);
    const views = config.views;
    const viewNote = views > 0 ? `views 1..${views}: the augmentation pipeline's light preset` : null;
    updateRun(db, runId, { classes, views: { used: views, note: viewNote } });

    // Embed what the cache lacks: every image once per distinct file content, and K views of train images.
    const embedStarted = performance.now();
    const fileOf = new Map<string, string>();
    for (const image of images) {
      if (fileOf.has(image.hash)) continue;
      const file = realFileInside(root, image.path);
      if (file) fileOf.set(image.hash, file);
    }
    const allHashes = [...fileOf.keys()];
    const trainHashes = [...new Set(images.filter((i) => i.split === 'train' && labelled(i)).map((i) => i.hash))];
    const items: EmbedItem[] = missingEmbeddings(db, spec.key, allHashes, 0).map((hash) => ({ file: fileOf.get(hash)!, view: 0, key: hash }));
    for (let v = 1; v <= views; v++) {
      for (const hash of missingEmbeddings(db, spec.key, trainHashes, v)) {
        if (fileOf.has(hash)) items.push({ file: fileOf.get(hash)!, view: v, key: hash });
      }
    }
    const totalVectors = allHashes.length + trainHashes.length * views;
    const cached = totalVectors - items.length;
    ctx.log(`${spec.name}: ${items.length} vectors to compute, ${cached} cached${embedEstimate(spec, items.length)}`);
    let dim = 0;
    let embedReport: BackendReport | null = null;
    let providers: ExecutionProviderReport | null = null;
    const failed = new Set<string>();
    if (items.length > 0) {
      const result = await trainer.run<EmbedAnswer>(
        'embed',
        { spec, items },
        {
          onProgress: (_step, current, total) => ctx.progress('embedding', current, total),
          onEmit: (message) => {
            const { start, dim: d, data, failed: failures } = message as EmbedVectors;
            const bad = new Set(failures.map((f) => f.index));
            for (const f of failures) {
              failed.add(items[f.index]!.key);
              ctx.log(`cannot embed ${items[f.index]!.file}: ${f.error}`);
            }
            const rows = [];
            for (let r = 0; r * d < data.length; r++) {
              if (bad.has(start + r)) continue;
              const item = items[start + r]!;
              rows.push({ hash: item.key, view: item.view, vector: data.slice(r * d, (r + 1) * d) });
            }
            putEmbeddings(db, spec.key, rows);
          },
        },
        ctx.signal,
      );
      dim = result.dim;
      embedReport = result.report;
      providers = result.providers ?? null;
    }
    const embedSeconds = (performance.now() - embedStarted) / 1000;
    if (items.length > 0 && failed.size < items.length) recordEmbedRate(spec, items.length / embedSeconds, engineOf(spec.kind, embedReport?.name ?? null));
    ctx.throwIfCancelled();

    // Assemble the task from the cache.
    const usable = images.filter((i) => fileOf.has(i.hash) && !failed.has(i.hash));
    // Checked again on what could be read and embedded: missing or unreadable files may leave too few targets.
    targetsOf(task, usable);
    const original = readEmbeddings(db, spec.key, usable.map((i) => i.hash), 0);
    if (original.missing.length > 0) throw new LoupeError('INTERNAL', `${original.missing.length} embeddings are missing after embedding.`);
    dim = original.dim || dim;
    const split = Int8Array.from(usable.map((i) => (i.split ? splitCode[i.split] : -1)));
    const viewOwners: number[] = [];
    const viewParts: Float32Array[] = [];
    for (let v = 1; v <= views; v++) {
      const owners = usable.map((_, r) => r).filter((r) => usable[r]!.split === 'train' && labelled(usable[r]!));
      const read = readEmbeddings(db, spec.key, owners.map((r) => usable[r]!.hash), v);
      const missing = new Set(read.missing);
      owners.forEach((owner, k) => {
        if (missing.has(k)) return;
        viewOwners.push(owner);
        viewParts.push(read.data.subarray(k * dim, (k + 1) * dim));
      });
    }
    const viewData = new Float32Array(viewParts.length * dim);
    viewParts.forEach((part, i) => viewData.set(part, i * dim));
    const base = {
      x: { data: original.data, rows: usable.length, dim },
      split,
      views: { x: { data: viewData, rows: viewParts.length, dim }, owner: Int32Array.from(viewOwners) },
      config,
    };
    const quickTask = assemble(base, usable);

    const trainStarted = performance.now();
    const answer = await trainer.run<QuickAnswer>(
      'quick',
      quickTask,
      runListeners(db, runId, ctx, hooks),
      ctx.signal,
    );
    const { result, report } = answer;
    const trainSeconds = (performance.now() - trainStarted) / 1000;
    const metrics = storeResult(db, runId, result, usable, classes);
    const seconds = (performance.now() - started) / 1000;
    updateRun(db, runId, {
      status: 'done',
      backend: report ?? embedReport ?? undefined,
      backbone: { name: spec.name, kind: spec.kind, dim, note: resolved.note, providers },
      ...metrics,
      timings: {
        totalSeconds: seconds,
        embedSeconds,
        trainSeconds,
        embedded: items.length,
        cached,
        imagesPerSecond: items.length > 0 && embedSeconds > 0 ? items.length / embedSeconds : null,
      },
      finishedAt: Date.now(),
    });
    hooks.onStatus(runId, 'done');
    ctx.log(`run ${runId} done in ${seconds.toFixed(1)} s on ${report.name} (dataset version ${datasetVersion(db)})`);
    return { runId, backend: report.name, seconds };
  } catch (error) {
    const info = toErrorInfo(error);
    const status: RunStatus = info.code === 'CANCELLED' || ctx.signal.aborted ? 'cancelled' : 'failed';
    updateRun(db, runId, { status, error: info.message, finishedAt: Date.now() });
    hooks.onStatus(runId, status);
    if (status === 'cancelled') throw new LoupeError('CANCELLED', 'Training was cancelled.', { runId });
    throw error;
  }
}

/** What a run of a task trains on: the only place the job reads classes or values. */
interface Targets {
  /** The run's classes ([] for regression). */
  classes: string[];
  /** Whether an image has a target (its views are embedded only then, for train images). */
  labelled(image: ImageRow): boolean;
  /** The task sent to the training process, from the parts every task shares. */
  assemble(base: QuickTaskBase, usable: readonly ImageRow[]): QuickInput;
}

/**
 * The targets of a task's run, CONFLICT unless there are enough to train: two classes, or values
 * on at least two train/valid images, some in train.
 */
function targetsOf(task: Task, images: readonly ImageRow[]): Targets {
  switch (task) {
    case 'classification': {
      const classes = [...new Set(images.map((i) => i.label).filter((l): l is string => l !== null))].sort();
      if (classes.length < 2) throw new LoupeError('CONFLICT', 'Training needs at least two classes with labelled images.');
      const classIndex = new Map(classes.map((c, i) => [c, i]));
      return {
        classes,
        labelled: (image) => image.label !== null,
        assemble: (base, usable) => ({ ...base, task, classes, given: Int32Array.from(usable, (i) => (i.label === null ? -1 : classIndex.get(i.label)!)) }),
      };
    }
    case 'regression': {
      const withValue = images.filter((i) => i.value !== null && (i.split === 'train' || i.split === 'valid'));
      if (withValue.length < 2 || !withValue.some((i) => i.split === 'train')) {
        throw new LoupeError('CONFLICT', 'Training a regression model needs values on at least two train or valid images, some of them in train; give images values or assign splits first.');
      }
      return {
        classes: [],
        labelled: (image) => image.value !== null,
        assemble: (base, usable) => ({ ...base, task, values: Float64Array.from(usable, (i) => i.value ?? Number.NaN) }),
      };
    }
    default:
      return assertNever(task, 'task');
  }
}

/**
 * Stores a result's per-image predictions (classes: probabilities and fold-head rows; values:
 * predicted values, never rows in `predictions`) and returns the run's metrics fields.
 */
function storeResult(db: Project['db'], runId: number, result: QuickAnswer['result'], usable: readonly ImageRow[], classes: readonly string[]) {
  switch (result.task) {
    case 'classification': {
      const k = classes.length;
      const classIndex = new Map(classes.map((c, i) => [c, i]));
      savePredictions(
        db,
        runId,
        usable.map((image, r) => ({
          imageId: image.id,
          split: image.split,
          fold: result.fold[r]!,
          given: image.label === null ? null : classIndex.get(image.label)!,
          probabilities: result.probabilities.slice(r * k, (r + 1) * k),
        })),
      );
      saveFoldPredictions(db, runId, foldHeadRows(result, usable, k));
      return { metrics: result.metrics };
    }
    case 'regression':
      saveValuePredictions(db, runId, valueRows(result, usable));
      return { valueMetrics: result.metrics };
    default:
      return assertNever(result, 'quick result');
  }
}

/** Each image's predicted value; in-sample for a train image the final head fitted (no fold head held it out). */
function valueRows(result: RegressionQuickResult, usable: readonly ImageRow[]) {
  return usable.map((image, r) => ({
    imageId: image.id,
    split: image.split,
    fold: result.fold[r]!,
    actual: image.value,
    predicted: result.predicted[r]!,
    inSample: result.fold[r] === -1 && image.split === 'train' && image.value !== null,
  }));
}

/** Each image outside the folds with every fold head's probabilities (folds x classes), for the fold-head ensemble. */
function foldHeadRows(result: QuickResult, usable: ReadonlyArray<{ id: ImageId }>, k: number): FoldPrediction[] {
  const { rows, probabilities } = result.foldHeads;
  return Array.from(rows, (image, r) => {
    const out = new Float32Array(result.folds * k);
    for (let f = 0; f < result.folds; f++) out.set(probabilities.subarray((f * rows.length + r) * k, (f * rows.length + r + 1) * k), f * k);
    return { imageId: usable[image]!.id, folds: result.folds, probabilities: out };
  });
}
