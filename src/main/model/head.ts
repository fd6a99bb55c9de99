/**
 * The quick model's head: softmax regression (or a one-hidden-layer MLP) on standardised
 * embeddings, trained with Adam, L2 weight decay and early stopping on a held-out set by the training
 * engine (train/engine.ts), which reports each batch's loss and each epoch's held-out loss and stops
 * between batches when the signal aborts. Optional dropout acts only in the training loss.
 *
 * What the head predicts is its target: classes (k outputs, softmax cross-entropy, probabilities out)
 * or a value (one output, squared or Huber loss on targets standardised by the fitted rows' mean and
 * standard deviation, values out in the user's units). One loop trains both; only the target's
 * encoding, loss and decoding differ.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { RegressionLoss } from '../../shared/regression';
import { rowLoss, targetScale, valueLoss } from '../train/valueTargets';
import { curves, earlyStopping, fit, validation, type Trainable } from '../train/engine';
import { seededRandom, shuffle } from '../train/folds';
import { assertNever } from '../../shared/assertNever';

/** A matrix of n rows of `dim` floats, row-major. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  dim: number;
}

/** How to train one head, whatever it predicts. */
export interface HeadSettings {
  /** softmax: linear (a softmax over classes, or one linear output for a value); mlp: one hidden ReLU layer first. */
  kind: 'softmax' | 'mlp';
  hidden: number;
  learningRate: number;
  weightDecay: number;
  epochs: number;
  batchSize: number;
  patience: number;
  seed: number;
  /** Inverted dropout while training (softmax: on the input; mlp: on the hidden layer), masks from their own seeded stream; absent or 0: none (the same weights as without it). */
  dropout?: number;
  /**
   * Rows that are views of one image: each epoch takes one of each group, drawn afresh (the image
   * itself or one of its augmented views), as on-the-fly augmentation does. Unset: every row, every epoch.
   */
  viewGroups?: readonly (readonly number[])[];
}

/** How to train a classifier: y are class indexes 0..classes-1; softmax cross-entropy; `predict` gives probabilities. */
export interface HeadOptions extends HeadSettings {
  target?: 'classes';
  classes: number;
}

/**
 * A regressor: y are numbers in the user's units, standardised by the mean and standard deviation of
 * the fitted rows for training; one output; squared error or Huber loss (delta 1, i.e. one standard
 * deviation); `predict` gives values in the user's units.
 */
export interface ValueHeadOptions extends HeadSettings {
  target: 'value';
  loss: RegressionLoss;
}

/** How to train one head: a classifier or a regressor (told apart by `target`). */
export type AnyHeadOptions = HeadOptions | ValueHeadOptions;

/** Callbacks of one training: they observe; none reaches into another. */
export interface HeadCallbacks {
  onBatch?(step: number, loss: number): void;
  onEpoch?(epoch: number, loss: number, valLoss: number | null, valAccuracy: number | null): void;
  /** Aborting it stops the training between batches with the engine's TrainingCancelled. */
  signal?: AbortSignal;
}

/** A trained head. */
export interface TrainedHead {
  /** A classifier: probabilities, one row of `classes` per input row; a regressor: one value per row, in the user's units. */
  predict(x: Matrix): Float32Array;
  epochs: number;
  bestValLoss: number | null;
  dispose(): void;
}

/** Rows of a matrix, copied. */
export function takeRows(x: Matrix, rows: readonly number[]): Matrix {
  const data = new Float32Array(rows.length * x.dim);
  rows.forEach((r, i) => data.set(x.data.subarray(r * x.dim, (r + 1) * x.dim), i * x.dim));
  return { data, rows: rows.length, dim: x.dim };
}

interface HeadBatch {
  x: Tf.Tensor2D;
  y: Tf.Tensor2D;
  size: number;
}

/** Trains a head on (x, y) (class indexes, or values in the user's units) with the training engine, early-stopping on (valX, valY) when given. */
export async function trainHead(
  tf: typeof Tf,
  x: Matrix,
  y: readonly number[],
  val: { x: Matrix; y: readonly number[] } | null,
  options: AnyHeadOptions,
  callbacks: HeadCallbacks = {},
): Promise<TrainedHead> {
  const random = seededRandom(options.seed);
  const { mean, std } = standardiser(x);
  const target = headTarget(options, y);
  const k = target.outputs;
  const init = (rows: number, cols: number) => {
    // Glorot uniform from the seeded generator, so a run's seed fixes its weights.
    const limit = Math.sqrt(6 / (rows + cols));
    const values = new Float32Array(rows * cols);
    for (let i = 0; i < values.length; i++) values[i] = (random() * 2 - 1) * limit;
    return tf.variable(tf.tensor2d(values, [rows, cols]));
  };
  const output = (rows: number) => (target.zeroOutput ? tf.variable(tf.zeros([rows, k])) : init(rows, k));
  const weights: Tf.Variable[] =
    options.kind === 'mlp'
      ? [init(x.dim, options.hidden), tf.variable(tf.zeros([options.hidden])), output(options.hidden), tf.variable(tf.zeros([k]))]
      : [output(x.dim), tf.variable(tf.zeros([k]))];
  const dropout = options.dropout ?? 0;
  // Masks come from their own stream, so dropout changes only the masks, never the batch order.
  const dropRandom = seededRandom(options.seed + 7_919);
  const drop = (t: Tf.Tensor2D, training: boolean): Tf.Tensor2D => {
    if (!training || dropout <= 0) return t;
    const [rows, cols] = t.shape;
    const mask = new Float32Array(rows * cols);
    for (let i = 0; i < mask.length; i++) mask[i] = dropRandom() < dropout ? 0 : 1 / (1 - dropout);
    return tf.mul(t, tf.tensor2d(mask, [rows, cols])) as Tf.Tensor2D;
  };
  const forward = (input: Tf.Tensor2D, training = false): Tf.Tensor2D =>
    options.kind === 'mlp'
      ? tf.add(tf.matMul(drop(tf.relu(tf.add(tf.matMul(input, weights[0] as Tf.Tensor2D), weights[1]!)) as Tf.Tensor2D, training), weights[2] as Tf.Tensor2D), weights[3]!)
      : tf.add(tf.matMul(drop(input, training), weights[0] as Tf.Tensor2D), weights[1]!);
  const standardised = standardise(x, mean, std);
  const valTensors = val && val.x.rows > 0 ? { x: tf.tensor2d(standardise(val.x, mean, std), [val.x.rows, val.x.dim]), y: val.y } : null;
  const optimizer = tf.train.adam(options.learningRate);
  const decayed = weights.filter((_, i) => i % 2 === 0);
  const groups = options.viewGroups;
  let order = Array.from({ length: groups ? groups.length : x.rows }, (_, i) => i);

  function* batches(): Iterable<HeadBatch> {
    if (groups) order = groups.map((views) => views[Math.floor(random() * views.length)]!);
    shuffle(order, random);
    for (let start = 0; start < order.length; start += options.batchSize) {
      // Batches are copied in JS: cheaper than a gather kernel on the wasm backend.
      const rows = order.slice(start, start + options.batchSize);
      const batchX = new Float32Array(rows.length * x.dim);
      const batchY = new Float32Array(rows.length * k);
      rows.forEach((r, i) => {
        batchX.set(standardised.subarray(r * x.dim, (r + 1) * x.dim), i * x.dim);
        target.encode(batchY, i, y[r]!);
      });
      yield { x: tf.tensor2d(batchX, [rows.length, x.dim]), y: tf.tensor2d(batchY, [rows.length, k]), size: rows.length };
    }
  }

  // Early stopping's best weights, tracked here too so that a cancelled fit frees them.
  let held: Tf.Tensor[] | null = null;
  const stopper = valTensors
    ? earlyStopping<Tf.Tensor[]>({
        patience: options.patience,
        snapshot: () => (held = weights.map((w) => w.clone())),
        restore: (values) => weights.forEach((w, i) => w.assign(values[i]!)),
        dispose: (values) => {
          tf.dispose(values);
          if (held === values) held = null;
        },
      })
    : null;
  const model: Trainable<HeadBatch> = {
    trainable: weights,
    loss: (batch) => {
      const data = target.loss(tf, batch.y, forward(batch.x, true));
      const l2 = decayed.reduce<Tf.Scalar>((sum, w) => tf.add(sum, tf.sum(tf.square(w))), tf.scalar(0));
      return tf.add(data, tf.mul(l2, options.weightDecay / 2)) as Tf.Scalar;
    },
    sizeOf: (batch) => batch.size,
  };
  let result;
  try {
    result = await fit({
      model,
      batches,
      batchesPerEpoch: Math.ceil(order.length / options.batchSize),
      epochs: options.epochs,
      optimizer,
      learningRate: options.learningRate,
      signal: callbacks.signal,
      release: (batch) => tf.dispose([batch.x, batch.y]),
      callbacks: [
        ...(valTensors ? [validation(async () => target.evaluate(tf, forward(valTensors.x), valTensors.y)), stopper!] : []),
        curves((point) => {
          if (point.kind === 'batch') callbacks.onBatch?.(point.step, point.loss);
          else callbacks.onEpoch?.(point.epoch, point.loss, point.valLoss, point.valAccuracy);
        }),
      ],
    });
  } catch (error) {
    tf.dispose([...weights, ...(valTensors ? [valTensors.x] : []), ...(held ?? [])]);
    optimizer.dispose();
    throw error;
  }
  tf.dispose(valTensors ? [valTensors.x] : []);
  optimizer.dispose();
  return {
    predict(input: Matrix): Float32Array {
      if (input.rows === 0) return new Float32Array(0);
      return tf.tidy(() => target.decode(tf, forward(tf.tensor2d(standardise(input, mean, std), [input.rows, input.dim]))).dataSync() as Float32Array);
    },
    epochs: result.epochs,
    bestValLoss: stopper?.best()?.loss ?? null,
    dispose: () => tf.dispose(weights),
  };
}

/**
 * What a head's outputs mean: how a training row's target is written into its batch, the training
 * loss, the held-out loss (and accuracy, for classes) after each epoch, and what `predict` returns.
 */
interface Target {
  outputs: number;
  /** Start the output layer at zero (predicting the mean target) rather than at random weights. */
  zeroOutput: boolean;
  /** Writes the target `y` of batch row `row` into the batch's targets (`outputs` per row). */
  encode(batch: Float32Array, row: number, y: number): void;
  loss(tf: typeof Tf, labels: Tf.Tensor2D, outputs: Tf.Tensor2D): Tf.Scalar;
  /** The held-out loss in the training loss's units; disposes `outputs`. */
  evaluate(tf: typeof Tf, outputs: Tf.Tensor2D, y: readonly number[]): { loss: number; accuracy: number | null };
  /** Outputs to predictions (inside a tidy). */
  decode(tf: typeof Tf, outputs: Tf.Tensor2D): Tf.Tensor;
}

/** The target of a head's options; a value target standardises by `y`, the fitted rows' targets. */
function headTarget(options: AnyHeadOptions, y: readonly number[]): Target {
  switch (options.target) {
    case undefined:
    case 'classes':
      return classTarget(options.classes);
    case 'value':
      return valueTarget(options.loss, y);
    default:
      return assertNever(options, 'head target');
  }
}

/** k classes: one-hot targets, softmax cross-entropy, probabilities out. */
function classTarget(k: number): Target {
  return {
    outputs: k,
    zeroOutput: false,
    encode: (batch, row, y) => (batch[row * k + y] = 1),
    loss: (tf, labels, outputs) => tf.losses.softmaxCrossEntropy(labels, outputs),
    evaluate,
    decode: (tf, outputs) => tf.softmax(outputs),
  };
}

/** A number: standardised targets, squared or Huber loss on one output, values in the user's units out. */
function valueTarget(loss: RegressionLoss, y: readonly number[]): Target {
  const { centre, scale, z } = targetScale(y);
  return {
    outputs: 1,
    // Random output weights on hundreds of standardised features predict noise of about a standard
    // deviation, which the few steps of a small dataset never undo; zero starts at the baseline (the mean).
    zeroOutput: true,
    encode: (batch, row, value) => (batch[row] = z(value)),
    loss: (tf, labels, outputs) => valueLoss(tf, loss, labels, outputs),
    evaluate: (_tf, outputs, values) => {
      const predicted = outputs.dataSync();
      outputs.dispose();
      let sum = 0;
      values.forEach((value, i) => (sum += rowLoss(loss, predicted[i]! - z(value))));
      return { loss: sum / Math.max(1, values.length), accuracy: null };
    },
    decode: (tf, outputs) => tf.add(tf.mul(outputs, scale), centre),
  };
}

function evaluate(tf: typeof Tf, logits: Tf.Tensor2D, y: readonly number[]): { loss: number; accuracy: number } {
  const probabilities = tf.tidy(() => tf.softmax(logits).dataSync() as Float32Array);
  logits.dispose();
  const k = probabilities.length / y.length;
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    const row = probabilities.subarray(i * k, (i + 1) * k);
    loss -= Math.log(Math.max(1e-7, row[y[i]!]!));
    let best = 0;
    for (let j = 1; j < k; j++) if (row[j]! > row[best]!) best = j;
    if (best === y[i]) correct++;
  }
  return { loss: loss / y.length, accuracy: correct / y.length };
}

function standardiser(x: Matrix): { mean: Float32Array; std: Float32Array } {
  const mean = new Float32Array(x.dim);
  const std = new Float32Array(x.dim);
  for (let r = 0; r < x.rows; r++) for (let c = 0; c < x.dim; c++) mean[c]! += x.data[r * x.dim + c]!;
  for (let c = 0; c < x.dim; c++) mean[c]! /= Math.max(1, x.rows);
  for (let r = 0; r < x.rows; r++) for (let c = 0; c < x.dim; c++) std[c]! += (x.data[r * x.dim + c]! - mean[c]!) ** 2;
  for (let c = 0; c < x.dim; c++) std[c] = Math.sqrt(std[c]! / Math.max(1, x.rows)) || 1;
  return { mean, std };
}

function standardise(x: Matrix, mean: Float32Array, std: Float32Array): Float32Array {
  const out = new Float32Array(x.data.length);
  for (let r = 0; r < x.rows; r++) for (let c = 0; c < x.dim; c++) out[r * x.dim + c] = (x.data[r * x.dim + c]! - mean[c]!) / std[c]!;
  return out;
}
