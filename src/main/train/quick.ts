/**
 * The quick model: k-fold cross-validation over train+valid gives every labelled image an
 * out-of-sample probability vector (each image is predicted only by the head trained without its
 * fold); a final head trained on train gives valid and test metrics and predicts everything else.
 * Each fold head also predicts the images outside the folds (test, unlabelled), so the k heads can
 * be ensembled (experiments/ensemble.ts).
 * On a regression task the same design predicts a value per image (folds stratified by quantile
 * bins of the target) and reports MAE, RMSE, R² and median absolute error beside the train mean.
 * Pure computation on embeddings; the training process runs it.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { CurvePoint, QuickConfig, RunMetrics } from '../../shared/train';
import type { RegressionRunMetrics } from '../../shared/regression';
import { assertNever } from '../../shared/assertNever';
import { LoupeError } from '../../shared/errors';
import { takeRows, trainHead, type AnyHeadOptions, type HeadCallbacks, type Matrix } from '../model/head';
import { seededRandom, shuffle, stratifiedFolds } from './folds';
import { quantileBins, valueStrataCount } from '../dataset/quantiles';
import { computeMetrics } from './metrics';
import { mean, regressionSplitMetrics } from './regressionMetrics';

/** Split codes in a task: 0 train, 1 valid, 2 test, -1 none. */
export const splitCode = { train: 0, valid: 1, test: 2 } as const;

/** What every quick task carries, whatever it predicts: plain arrays that cross the process boundary. */
export interface QuickTaskBase {
  /** One row per image (the original view). */
  x: Matrix;
  /** Split code per image. */
  split: Int8Array;
  /** Augmented views of train images: their rows and the image each belongs to. */
  views: { x: Matrix; owner: Int32Array };
  config: QuickConfig;
}

/** A classification task: class indexes (absent `task`: classification, as tasks were before regression). */
export interface QuickTask extends QuickTaskBase {
  task?: 'classification';
  classes: string[];
  /** Class index per image, -1 when unlabelled. */
  given: Int32Array;
}

/** A regression task: one numeric target per image. */
export interface RegressionQuickTask extends QuickTaskBase {
  task: 'regression';
  /** The target per image in the user's units, NaN when it has none. */
  values: Float64Array;
}

/** Everything the quick model can be asked to fit: classes or values, told apart by `task`. */
export type QuickInput = QuickTask | RegressionQuickTask;

/** What the quick model produced for a classification task. */
export interface QuickResult {
  task: 'classification';
  /** n x classes probabilities. */
  probabilities: Float32Array;
  /** The fold whose head predicted each image; -1 the final head. */
  fold: Int32Array;
  metrics: RunMetrics;
  folds: number;
  /** The fold each labelled train/valid image was held out in (-1 otherwise), to audit the split. */
  heldOutFold: Int32Array;
  /**
   * Every fold head's probabilities on the images outside the folds (test, unlabelled, no split:
   * none of the heads saw them), for the fold-head ensemble: `rows` are image indexes, and
   * `probabilities` is folds x rows x classes.
   */
  foldHeads: { rows: Int32Array; probabilities: Float32Array };
}

/** What the quick model produced for a regression task (no fold-head ensemble yet). */
export interface RegressionQuickResult {
  task: 'regression';
  /** The predicted value of each image, in the user's units: out-of-sample (a fold head) for labelled train and valid images, the final head's otherwise. */
  predicted: Float32Array;
  /** The fold whose head predicted each image; -1 the final head. */
  fold: Int32Array;
  metrics: RegressionRunMetrics;
  folds: number;
  /** The fold each labelled train/valid image was held out in (-1 otherwise). */
  heldOutFold: Int32Array;
}

/** What the quick model produced, by task. */
export type QuickOutput = QuickResult | RegressionQuickResult;

/** Callbacks of a quick run. */
export interface QuickCallbacks {
  onCurve?(point: CurvePoint): void;
  onPhase?(phase: string, index: number, total: number): void;
  /** Which images a head was fitted (or early-stopped) on and which it then predicted: the audit trail of the split. */
  onFit?(phase: string, seen: readonly number[], predicted: readonly number[]): void;
  /** Aborting it stops the run between batches (the engine's TrainingCancelled). */
  signal?: AbortSignal;
}

/** Runs k-fold then the final head, for classes or for values (by the task's `task`). */
export async function runQuick(tf: typeof Tf, task: QuickTask, callbacks?: QuickCallbacks): Promise<QuickResult>;
export async function runQuick(tf: typeof Tf, task: RegressionQuickTask, callbacks?: QuickCallbacks): Promise<RegressionQuickResult>;
export async function runQuick(tf: typeof Tf, task: QuickInput, callbacks?: QuickCallbacks): Promise<QuickOutput>;
export async function runQuick(tf: typeof Tf, task: QuickInput, callbacks: QuickCallbacks = {}): Promise<QuickOutput> {
  switch (task.task) {
    case undefined:
    case 'classification':
      return classify(tf, task, callbacks);
    case 'regression':
      return regress(tf, task, callbacks);
    default:
      return assertNever(task, 'quick task');
  }
}

/** The classification quick model: k-fold probabilities, the final head's, and the fold heads' on the images outside the folds. */
async function classify(tf: typeof Tf, task: QuickTask, callbacks: QuickCallbacks): Promise<QuickResult> {
  const { given } = task;
  const k = task.classes.length;
  const fitted = await crossFit(
    tf,
    task,
    {
      outputs: k,
      y: (i) => given[i]!,
      labelled: (i) => given[i]! >= 0,
      strata: (pool) => pool.map((i) => given[i]!),
      head: { ...task.config, kind: task.config.head, classes: k },
    },
    callbacks,
  );
  const { predictions: probabilities, everything, fold } = fitted;
  const rowsOf = (code: number, source: Float32Array, useFolds: boolean) => {
    const ids = fitted.rowsOf(code, useFolds);
    return {
      given: ids.map((i) => given[i]!),
      probabilities: ids.map((i) => source.subarray(i * k, (i + 1) * k)),
    };
  };
  const metricsOf = (rows: ReturnType<typeof rowsOf>) => (rows.given.length > 0 ? computeMetrics(task.classes, rows.given, rows.probabilities) : null);
  return {
    task: 'classification',
    probabilities,
    fold,
    folds: fitted.folds,
    heldOutFold: fitted.heldOutFold,
    foldHeads: fitted.foldHeads,
    metrics: {
      train: metricsOf(rowsOf(splitCode.train, probabilities, true)),
      valid: metricsOf(rowsOf(splitCode.valid, everything, false)),
      test: metricsOf(rowsOf(splitCode.test, everything, false)),
      // The final head on its own training images: in-sample, for the bias/variance diagnosis.
      trainInSample: metricsOf(rowsOf(splitCode.train, everything, false)),
    },
  };
}

/** The regression quick model: k-fold folds stratified by quantile bins of the target, values in the user's units, metrics beside the train-mean baseline. */
async function regress(tf: typeof Tf, task: RegressionQuickTask, callbacks: QuickCallbacks): Promise<RegressionQuickResult> {
  const { values, config } = task;
  const fitted = await crossFit(
    tf,
    task,
    {
      outputs: 1,
      y: (i) => values[i]!,
      labelled: (i) => !Number.isNaN(values[i]!),
      // Deciles of the target, as stratified splits use (fewer when the pool is too small for each bin to reach every fold).
      strata: (pool) => quantileBins(pool.map((i) => values[i]!), Math.max(1, Math.min(valueStrataCount, Math.floor(pool.length / Math.max(2, config.folds))))),
      head: { ...config, kind: config.head, target: 'value', loss: config.regressionLoss },
    },
    callbacks,
  );
  // A head whose loss blew up predicts NaN or Infinity: say so and how to fix it, rather than store it.
  if (!fitted.predictions.every(Number.isFinite) || !fitted.everything.every(Number.isFinite)) {
    throw new LoupeError(
      'VALIDATION',
      `Training diverged: the regression head predicted values that are not finite (learning rate ${config.learningRate}). Lower the learning rate (for example to ${Math.min(3e-3, config.learningRate / 10)}) or use the Huber loss, and train again.`,
      { learningRate: config.learningRate },
    );
  }
  const trainMean = mean(fitted.rowsOf(splitCode.train, false).map((i) => values[i]!));
  const metricsOf = (code: number, source: Float32Array, useFolds: boolean) => {
    const ids = fitted.rowsOf(code, useFolds);
    return regressionSplitMetrics(ids.map((i) => values[i]!), ids.map((i) => source[i]!), trainMean);
  };
  return {
    task: 'regression',
    predicted: fitted.predictions,
    fold: fitted.fold,
    folds: fitted.folds,
    heldOutFold: fitted.heldOutFold,
    metrics: {
      train: metricsOf(splitCode.train, fitted.predictions, true),
      valid: metricsOf(splitCode.valid, fitted.everything, false),
      test: metricsOf(splitCode.test, fitted.everything, false),
      trainInSample: metricsOf(splitCode.train, fitted.everything, false),
      trainMean,
    },
  };
}

/** How crossFit reads a task's targets: the only place classification and regression differ. */
interface CrossFitTarget {
  /** Outputs per image in a head's predictions. */
  outputs: number;
  /** The training target of image i (a class index, or a value in the user's units). */
  y(i: number): number;
  labelled(i: number): boolean;
  /** The stratum of each pool image (class, or quantile bin of the value) the folds are dealt by. */
  strata(pool: readonly number[]): number[];
  head: AnyHeadOptions;
}

/** What crossFit produced: predictions of `outputs` per image. */
interface CrossFit {
  /** Out-of-sample (fold heads) for the pool, the final head's for the rest. */
  predictions: Float32Array;
  /** The final head on every image. */
  everything: Float32Array;
  fold: Int32Array;
  folds: number;
  heldOutFold: Int32Array;
  foldHeads: { rows: Int32Array; probabilities: Float32Array };
  /** Labelled images of a split (only those a fold head predicted, with `useFolds`). */
  rowsOf(code: number, useFolds: boolean): number[];
}

/**
 * k-fold over the labelled train and valid images (each predicted only by the head trained without
 * its fold), then a final head trained on train and early-stopped on valid, which predicts the rest.
 */
async function crossFit(tf: typeof Tf, task: QuickInput, target: CrossFitTarget, callbacks: QuickCallbacks): Promise<CrossFit> {
  const { config, split } = task;
  const k = target.outputs;
  const n = task.x.rows;
  const predictions = new Float32Array(n * k);
  const fold = new Int32Array(n).fill(-1);
  const heldOutFold = new Int32Array(n).fill(-1);
  const pool: number[] = [];
  for (let i = 0; i < n; i++) if (target.labelled(i) && (split[i] === splitCode.train || split[i] === splitCode.valid)) pool.push(i);
  const folds = Math.max(2, Math.min(config.folds, pool.length));
  const assignment = stratifiedFolds(target.strata(pool), folds, config.seed);
  pool.forEach((image, p) => (heldOutFold[image] = assignment[p]!));
  const inPool = new Uint8Array(n);
  for (const i of pool) inPool[i] = 1;
  const outside: number[] = [];
  for (let i = 0; i < n; i++) if (!inPool[i]) outside.push(i);
  const outsideX = takeRows(task.x, outside);
  const foldHeadProbabilities = new Float32Array(folds * outside.length * k);
  const viewsOf = groupViews(task.views.owner);
  const totalPhases = folds + 1;
  const targets = (rows: readonly number[]) => rows.map((i) => target.y(i));
  for (let f = 0; f < folds; f++) {
    const phase = `fold ${f + 1}/${folds}`;
    callbacks.onPhase?.(phase, f, totalPhases);
    const training = pool.filter((_, p) => assignment[p] !== f);
    const heldOut = pool.filter((_, p) => assignment[p] === f);
    const { fit, stop } = carveEarlyStop(training, config.seed + f + 1);
    const fitted = withViews(task, target, fit, viewsOf);
    const head = await trainHead(tf, fitted.x, fitted.y, { x: takeRows(task.x, stop), y: targets(stop) }, { ...target.head, seed: config.seed + f, viewGroups: fitted.groups }, curveCallbacks(phase, callbacks));
    callbacks.onFit?.(phase, [...fit, ...stop], heldOut);
    const predicted = head.predict(takeRows(task.x, heldOut));
    // Cheap (the embeddings are in memory): this head on the images no fold holds, for the fold-head ensemble.
    if (outside.length > 0) foldHeadProbabilities.set(head.predict(outsideX), f * outside.length * k);
    head.dispose();
    heldOut.forEach((image, r) => {
      predictions.set(predicted.subarray(r * k, (r + 1) * k), image * k);
      fold[image] = f;
    });
  }
  // The final head: trained on train, early-stopped on valid (or on a slice of train when there is no valid).
  callbacks.onPhase?.('final', folds, totalPhases);
  const trainRows: number[] = [];
  const validRows: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!target.labelled(i)) continue;
    if (split[i] === splitCode.train) trainRows.push(i);
    else if (split[i] === splitCode.valid) validRows.push(i);
  }
  const { fit, stop } = validRows.length > 0 ? { fit: trainRows, stop: validRows } : carveEarlyStop(trainRows, config.seed + 1000);
  const finalFit = withViews(task, target, fit, viewsOf);
  const final = await trainHead(tf, finalFit.x, finalFit.y, { x: takeRows(task.x, stop), y: targets(stop) }, { ...target.head, seed: config.seed + 1000, viewGroups: finalFit.groups }, curveCallbacks('final', callbacks));
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (fold[i] === -1) rest.push(i);
  callbacks.onFit?.('final', [...fit, ...stop], rest);
  const everything = final.predict(task.x);
  final.dispose();
  for (const i of rest) predictions.set(everything.subarray(i * k, (i + 1) * k), i * k);
  return {
    predictions,
    everything,
    fold,
    folds,
    heldOutFold,
    foldHeads: { rows: Int32Array.from(outside), probabilities: foldHeadProbabilities },
    rowsOf: (code, useFolds) => {
      const ids: number[] = [];
      for (let i = 0; i < n; i++) if (split[i] === code && target.labelled(i) && (!useFolds || fold[i]! >= 0)) ids.push(i);
      return ids;
    },
  };
}

/** 10% of the training rows (at least one, when there are ten) held out for early stopping. */
function carveEarlyStop(rows: readonly number[], seed: number): { fit: number[]; stop: number[] } {
  if (rows.length < 10) return { fit: [...rows], stop: [] };
  const shuffled = shuffle([...rows], seededRandom(seed));
  const count = Math.max(1, Math.round(rows.length * 0.1));
  return { fit: shuffled.slice(count), stop: shuffled.slice(0, count) };
}

function groupViews(owner: Int32Array): Map<number, number[]> {
  const map = new Map<number, number[]>();
  owner.forEach((o, row) => {
    const list = map.get(o) ?? [];
    list.push(row);
    map.set(o, list);
  });
  return map;
}

/**
 * Training rows: the images' own rows plus their augmented views, and per image the rows that are
 * its views (null without views), so that each epoch sees every image once, in one of its views.
 */
function withViews(
  task: QuickInput,
  target: CrossFitTarget,
  rows: readonly number[],
  viewsOf: Map<number, number[]>,
): { x: Matrix; y: number[]; groups: number[][] | undefined } {
  const viewRows: number[] = [];
  const viewLabels: number[] = [];
  const groups = rows.map((image, r) => {
    const group = [r];
    for (const v of viewsOf.get(image) ?? []) {
      group.push(rows.length + viewRows.length);
      viewRows.push(v);
      viewLabels.push(target.y(image));
    }
    return group;
  });
  const base = takeRows(task.x, rows);
  const y = rows.map((i) => target.y(i));
  if (viewRows.length === 0) return { x: base, y, groups: undefined };
  const extra = takeRows(task.views.x, viewRows);
  const data = new Float32Array(base.data.length + extra.data.length);
  data.set(base.data);
  data.set(extra.data, base.data.length);
  return { x: { data, rows: base.rows + extra.rows, dim: base.dim }, y: [...y, ...viewLabels], groups };
}

function curveCallbacks(phase: string, callbacks: QuickCallbacks): HeadCallbacks {
  return {
    onBatch: (step, loss) => callbacks.onCurve?.({ phase, kind: 'batch', step, loss, valLoss: null, valAccuracy: null }),
    onEpoch: (epoch, loss, valLoss, valAccuracy) => callbacks.onCurve?.({ phase, kind: 'epoch', step: epoch, loss, valLoss, valAccuracy }),
    signal: callbacks.signal,
  };
}
