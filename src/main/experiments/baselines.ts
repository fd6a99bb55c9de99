/**
 * Baselines computed with every run, on the run's own images and split: the majority class of
 * train, and a softmax regression on raw pixels (each image downsampled to 8x8 grey with sharp,
 * standardised on train) trained on train. Both score valid and test; the run's lift over each is
 * its accuracy minus theirs. The pixel grids are cached by content hash, so later runs only read them.
 */
import sharp from 'sharp';
import type { BaselineScore, Lift, RunBaselines } from '../../shared/experiments';
import type { ImageId, SplitName } from '../../shared/types';
import type { RunMetrics } from '../../shared/train';
import type { Project } from '../store/project';
import { baselinesOfVersion, cachedPixels, imageFiles, predictionRows, putPixels, saveBaselines } from '../store/experiments';
import { getRunOf } from '../train/runs';
import { realFileInside } from '../util/paths';

/** Side of the grey grid the linear baseline reads. */
export const baselineInputSize = 8;
/**
 * The linear baseline fits on at most this many train images (an even spread of each class), so it
 * stays about a second at 70k images; a baseline this simple gains nothing from more.
 */
export const maxLinearTrain = 5000;
/** Iterations between yields to the event loop: the core answers requests while a baseline fits. */
const yieldEvery = 10;
const decodeConcurrency = 4;

/** One labelled example of a baseline. */
export interface BaselineExample {
  split: SplitName;
  label: number;
  /** Features (null for the majority baseline alone: an image that could not be decoded). */
  x: Float32Array | null;
}

/** The majority class of train and its accuracy on each split (ties: the lowest class index). */
export function majorityBaseline(classes: readonly string[], examples: readonly BaselineExample[]): RunBaselines['majority'] {
  const counts = new Array<number>(classes.length).fill(0);
  for (const e of examples) if (e.split === 'train') counts[e.label]!++;
  let best = 0;
  for (let c = 1; c < counts.length; c++) if (counts[c]! > counts[best]!) best = c;
  const score = (split: SplitName): BaselineScore | null => {
    const rows = examples.filter((e) => e.split === split);
    return rows.length === 0 ? null : { count: rows.length, accuracy: rows.filter((e) => e.label === best).length / rows.length };
  };
  return { className: classes[best] ?? '', valid: score('valid'), test: score('test') };
}

/** Options of the softmax regression. */
export interface LinearOptions {
  iterations?: number;
  learningRate?: number;
  l2?: number;
  /** Most train images to fit on (default maxLinearTrain). */
  maxTrain?: number;
}

/**
 * Multinomial logistic regression by full-batch Adam on features standardised with train's mean and
 * standard deviation; deterministic (zero init), on at most `maxLinearTrain` train images. Yields to
 * the event loop every few iterations. Returns each split's score.
 */
export async function linearBaseline(classes: number, examples: readonly BaselineExample[], options: LinearOptions = {}): Promise<Record<SplitName, BaselineScore | null>> {
  const iterations = options.iterations ?? 150;
  const lr = options.learningRate ?? 0.1;
  const l2 = options.l2 ?? 1e-4;
  const usable = examples.filter((e): e is BaselineExample & { x: Float32Array } => e.x !== null);
  const train = spread(
    usable.filter((e) => e.split === 'train'),
    options.maxTrain ?? maxLinearTrain,
  );
  const empty = { train: null, valid: null, test: null };
  if (train.length === 0 || usable.length === 0) return empty;
  const d = usable[0]!.x.length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const e of train) for (let j = 0; j < d; j++) mean[j]! += e.x[j]!;
  for (let j = 0; j < d; j++) mean[j]! /= train.length;
  for (const e of train) for (let j = 0; j < d; j++) std[j]! += (e.x[j]! - mean[j]!) ** 2;
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]! / train.length) || 1;
  const dd = d + 1; // bias column
  const standardise = (x: Float32Array) => {
    const out = new Float64Array(dd);
    for (let j = 0; j < d; j++) out[j] = (x[j]! - mean[j]!) / std[j]!;
    out[d] = 1;
    return out;
  };
  const trainX = train.map((e) => standardise(e.x));
  const k = classes;
  const w = new Float64Array(k * dd);
  const m = new Float64Array(k * dd);
  const v = new Float64Array(k * dd);
  const grad = new Float64Array(k * dd);
  const logits = new Float64Array(k);
  const b1 = 0.9;
  const b2 = 0.999;
  for (let t = 1; t <= iterations; t++) {
    if (t % yieldEvery === 0) await new Promise((resolve) => setImmediate(resolve));
    grad.fill(0);
    for (let i = 0; i < trainX.length; i++) {
      softmaxInto(w, trainX[i]!, k, dd, logits);
      logits[train[i]!.label]! -= 1;
      const x = trainX[i]!;
      for (let c = 0; c < k; c++) {
        const g = logits[c]!;
        if (g === 0) continue;
        const row = c * dd;
        for (let j = 0; j < dd; j++) grad[row + j]! += g * x[j]!;
      }
    }
    for (let p = 0; p < w.length; p++) {
      const g = grad[p]! / trainX.length + l2 * w[p]!;
      m[p] = b1 * m[p]! + (1 - b1) * g;
      v[p] = b2 * v[p]! + (1 - b2) * g * g;
      w[p]! -= (lr * (m[p]! / (1 - b1 ** t))) / (Math.sqrt(v[p]! / (1 - b2 ** t)) + 1e-8);
    }
  }
  const score = (split: SplitName): BaselineScore | null => {
    const rows = usable.filter((e) => e.split === split);
    if (rows.length === 0) return null;
    let correct = 0;
    for (const e of rows) {
      softmaxInto(w, standardise(e.x), k, dd, logits);
      let best = 0;
      for (let c = 1; c < k; c++) if (logits[c]! > logits[best]!) best = c;
      if (best === e.label) correct++;
    }
    return { count: rows.length, accuracy: correct / rows.length };
  };
  return { train: score('train'), valid: score('valid'), test: score('test') };
}

/** At most `limit` of `rows`, spread evenly over each class in their order (deterministic). */
function spread<T extends { label: number }>(rows: T[], limit: number): T[] {
  if (rows.length <= limit) return rows;
  const byClass = new Map<number, T[]>();
  for (const r of rows) {
    const list = byClass.get(r.label);
    if (list) list.push(r);
    else byClass.set(r.label, [r]);
  }
  const out: T[] = [];
  for (const list of byClass.values()) {
    const take = Math.max(1, Math.round((list.length * limit) / rows.length));
    for (let i = 0; i < take; i++) out.push(list[Math.floor((i * list.length) / take)]!);
  }
  return out;
}

function softmaxInto(w: Float64Array, x: Float64Array, k: number, dd: number, out: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < k; c++) {
    let s = 0;
    const row = c * dd;
    for (let j = 0; j < dd; j++) s += w[row + j]! * x[j]!;
    out[c] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let c = 0; c < k; c++) sum += out[c] = Math.exp(out[c]! - max);
  for (let c = 0; c < k; c++) out[c]! /= sum;
}

/** The run's accuracy minus a baseline's, per split. */
export function liftOver(metrics: RunMetrics | null, baseline: { valid: BaselineScore | null; test: BaselineScore | null } | null): Lift {
  const one = (model: number | undefined, base: BaselineScore | null | undefined) => (model === undefined || !base ? null : model - base.accuracy);
  return { valid: one(metrics?.valid?.accuracy, baseline?.valid), test: one(metrics?.test?.accuracy, baseline?.test) };
}

/** Decodes images to size x size grey grids (cached by content hash); null for files that cannot be read. */
export async function greyGrids(project: Project, images: ReadonlyArray<{ path: string; hash: string | null }>, size = baselineInputSize): Promise<Array<Uint8Array | null>> {
  const root = project.root();
  const hashes = [...new Set(images.map((i) => i.hash).filter((h): h is string => h !== null))];
  const cache = cachedPixels(project.db, hashes, size);
  const fresh: Array<{ hash: string; pixels: Uint8Array }> = [];
  const out: Array<Uint8Array | null> = new Array(images.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const i = next++;
      const image = images[i]!;
      const hit = image.hash ? cache.get(image.hash) : undefined;
      if (hit) {
        out[i] = hit;
        continue;
      }
      const file = root ? realFileInside(root, image.path) : null;
      if (!file) continue;
      try {
        const data = await sharp(file).greyscale().resize(size, size, { fit: 'fill' }).raw().toBuffer();
        const pixels = new Uint8Array(data.buffer, data.byteOffset, size * size).slice();
        out[i] = pixels;
        if (image.hash) {
          cache.set(image.hash, pixels);
          fresh.push({ hash: image.hash, pixels });
        }
      } catch {
        out[i] = null;
      }
    }
  };
  await Promise.all(Array.from({ length: decodeConcurrency }, worker));
  putPixels(project.db, size, fresh);
  return out;
}

/** Computes and stores a run's baselines from its stored predictions (the images, labels and split it trained and scored on). */
export async function computeRunBaselines(project: Project, runId: number): Promise<RunBaselines> {
  const started = performance.now();
  const run = getRunOf(project.db, runId, 'classification', 'classifier baselines (majority class, linear on pixels)');
  const rows = predictionRows(project.db, runId).filter((r): r is typeof r & { given: number; split: SplitName } => r.given !== null && r.split !== null);
  // Another run of the same data already has them: the same images and split give the same baselines.
  const counts = { valid: rows.filter((r) => r.split === 'valid').length, test: rows.filter((r) => r.split === 'test').length };
  const earlier = baselinesOfVersion(project.db, run.datasetVersion, run.classes, runId);
  if (earlier && (earlier.majority.valid?.count ?? 0) === counts.valid && (earlier.majority.test?.count ?? 0) === counts.test) {
    const reused: RunBaselines = { ...earlier, lift: { majority: liftOver(run.metrics, earlier.majority), linear: liftOver(run.metrics, earlier.linear) }, computedAt: Date.now() };
    saveBaselines(project.db, runId, reused);
    return reused;
  }
  const files = imageFiles(project.db, rows.map((r) => r.imageId as ImageId));
  const grids = await greyGrids(project, rows.map((r) => files.get(r.imageId) ?? { path: '', hash: null }));
  const examples: BaselineExample[] = rows.map((r, i) => ({ split: r.split, label: r.given, x: grids[i] ? Float32Array.from(grids[i]!) : null }));
  const majority = majorityBaseline(run.classes, examples);
  const hasPixels = examples.some((e) => e.x !== null && e.split === 'train');
  const linearScores = hasPixels ? await linearBaseline(run.classes.length, examples) : null;
  const linear = linearScores ? { inputSize: baselineInputSize, ...linearScores, seconds: (performance.now() - started) / 1000 } : null;
  const baselines: RunBaselines = {
    majority,
    linear,
    lift: { majority: liftOver(run.metrics, majority), linear: liftOver(run.metrics, linear) },
    computedAt: Date.now(),
  };
  saveBaselines(project.db, runId, baselines);
  return baselines;
}
