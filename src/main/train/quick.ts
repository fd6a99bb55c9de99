/**
 * The quick model: k-fold cross-validation over train+valid gives every labelled image an
 * out-of-sample probability vector (each image is predicted only by the head trained without its
 * fold); a final head trained on train gives valid and test metrics and predicts everything else.
 * Each fold head also predicts the images outside the folds (test, unlabelled), so the k heads can
 * be ensembled (experiments/ensemble.ts).
 * Pure computation on embeddings; the training process runs it.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { CurvePoint, QuickConfig, RunMetrics } from '../../shared/train';
import { takeRows, trainHead, type HeadCallbacks, type Matrix } from '../model/head';
import { seededRandom, shuffle, stratifiedFolds } from './folds';
import { computeMetrics } from './metrics';

/** Split codes in a task: 0 train, 1 valid, 2 test, -1 none. */
export const splitCode = { train: 0, valid: 1, test: 2 } as const;

/** Everything the quick model needs: plain arrays that cross the process boundary. */
export interface QuickTask {
  classes: string[];
  /** One row per image (the original view). */
  x: Matrix;
  /** Class index per image, -1 when unlabelled. */
  given: Int32Array;
  /** Split code per image. */
  split: Int8Array;
  /** Augmented views of train images: their rows and the image each belongs to. */
  views: { x: Matrix; owner: Int32Array };
  config: QuickConfig;
}

/** What the quick model produced. */
export interface QuickResult {
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

/** Callbacks of a quick run. */
export interface QuickCallbacks {
  onCurve?(point: CurvePoint): void;
  onPhase?(phase: string, index: number, total: number): void;
  /** Which images a head was fitted (or early-stopped) on and which it then predicted: the audit trail of the split. */
  onFit?(phase: string, seen: readonly number[], predicted: readonly number[]): void;
  /** Aborting it stops the run between batches (the engine's TrainingCancelled). */
  signal?: AbortSignal;
}

/** Runs k-fold then the final head. */
export async function runQuick(tf: typeof Tf, task: QuickTask, callbacks: QuickCallbacks = {}): Promise<QuickResult> {
  const { config, given, split } = task;
  const k = task.classes.length;
  const n = task.x.rows;
  const probabilities = new Float32Array(n * k);
  const fold = new Int32Array(n).fill(-1);
  const heldOutFold = new Int32Array(n).fill(-1);
  const pool: number[] = [];
  for (let i = 0; i < n; i++) if (given[i]! >= 0 && (split[i] === splitCode.train || split[i] === splitCode.valid)) pool.push(i);
  const folds = Math.max(2, Math.min(config.folds, pool.length));
  const assignment = stratifiedFolds(pool.map((i) => given[i]!), folds, config.seed);
  pool.forEach((image, p) => (heldOutFold[image] = assignment[p]!));
  const inPool = new Uint8Array(n);
  for (const i of pool) inPool[i] = 1;
  const outside: number[] = [];
  for (let i = 0; i < n; i++) if (!inPool[i]) outside.push(i);
  const outsideX = takeRows(task.x, outside);
  const foldHeadProbabilities = new Float32Array(folds * outside.length * k);
  const viewsOf = groupViews(task.views.owner);
  const headOptions = { ...config, kind: config.head, classes: k };
  const totalPhases = folds + 1;
  for (let f = 0; f < folds; f++) {
    const phase = `fold ${f + 1}/${folds}`;
    callbacks.onPhase?.(phase, f, totalPhases);
    const training = pool.filter((_, p) => assignment[p] !== f);
    const heldOut = pool.filter((_, p) => assignment[p] === f);
    const { fit, stop } = carveEarlyStop(training, config.seed + f + 1);
    const fitted = withViews(task, fit, viewsOf);
    const head = await trainHead(tf, fitted.x, fitted.y, { x: takeRows(task.x, stop), y: stop.map((i) => given[i]!) }, { ...headOptions, seed: config.seed + f, viewGroups: fitted.groups }, curveCallbacks(phase, callbacks));
    callbacks.onFit?.(phase, [...fit, ...stop], heldOut);
    const predicted = head.predict(takeRows(task.x, heldOut));
    // Cheap (the embeddings are in memory): this head on the images no fold holds, for the fold-head ensemble.
    if (outside.length > 0) foldHeadProbabilities.set(head.predict(outsideX), f * outside.length * k);
    head.dispose();
    heldOut.forEach((image, r) => {
      probabilities.set(predicted.subarray(r * k, (r + 1) * k), image * k);
      fold[image] = f;
    });
  }
  // The final head: trained on train, early-stopped on valid (or on a slice of train when there is no valid).
  callbacks.onPhase?.('final', folds, totalPhases);
  const trainRows: number[] = [];
  const validRows: number[] = [];
  for (let i = 0; i < n; i++) {
    if (given[i]! < 0) continue;
    if (split[i] === splitCode.train) trainRows.push(i);
    else if (split[i] === splitCode.valid) validRows.push(i);
  }
  const { fit, stop } = validRows.length > 0 ? { fit: trainRows, stop: validRows } : carveEarlyStop(trainRows, config.seed + 1000);
  const finalFit = withViews(task, fit, viewsOf);
  const final = await trainHead(tf, finalFit.x, finalFit.y, { x: takeRows(task.x, stop), y: stop.map((i) => given[i]!) }, { ...headOptions, seed: config.seed + 1000, viewGroups: finalFit.groups }, curveCallbacks('final', callbacks));
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (fold[i] === -1) rest.push(i);
  callbacks.onFit?.('final', [...fit, ...stop], rest);
  const everything = final.predict(task.x);
  final.dispose();
  for (const i of rest) probabilities.set(everything.subarray(i * k, (i + 1) * k), i * k);
  const rowsOf = (code: number, source: Float32Array, useFolds: boolean) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) if (split[i] === code && given[i]! >= 0 && (!useFolds || fold[i]! >= 0)) ids.push(i);
    return {
      given: ids.map((i) => given[i]!),
      probabilities: ids.map((i) => source.subarray(i * k, (i + 1) * k)),
    };
  };
  const metricsOf = (rows: ReturnType<typeof rowsOf>) => (rows.given.length > 0 ? computeMetrics(task.classes, rows.given, rows.probabilities) : null);
  return {
    probabilities,
    fold,
    folds,
    heldOutFold,
    foldHeads: { rows: Int32Array.from(outside), probabilities: foldHeadProbabilities },
    metrics: {
      train: metricsOf(rowsOf(splitCode.train, probabilities, true)),
      valid: metricsOf(rowsOf(splitCode.valid, everything, false)),
      test: metricsOf(rowsOf(splitCode.test, everything, false)),
      // The final head on its own training images: in-sample, for the bias/variance diagnosis.
      trainInSample: metricsOf(rowsOf(splitCode.train, everything, false)),
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
  task: QuickTask,
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
      viewLabels.push(task.given[image]!);
    }
    return group;
  });
  const base = takeRows(task.x, rows);
  const y = rows.map((i) => task.given[i]!);
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
