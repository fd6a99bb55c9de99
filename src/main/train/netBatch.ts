/**
 * A built network as the engine trains it: image batches as tensors, the loss of what the network
 * predicts (its target), and a batch source that cycles epochs. Shared by full runs, the LR finder
 * and the sanity checks; host-agnostic (takes the `tf`).
 *
 * What a network predicts is its target, as for the quick head (model/head.ts): classes (k outputs,
 * softmax cross-entropy, probabilities out) or a value (one output, squared or Huber loss on targets
 * standardised by the fitted images' mean and standard deviation, values out in the user's units,
 * the output layer started at zero). The feeder's label of an image is its class index or its value
 * in the user's units; only the target's encoding, loss and decoding differ.
 */
import type * as Tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { LoupeError } from '../../shared/errors';
import { regressionLosses, type RegressionLoss, type Task } from '../../shared/regression';
import { assertNever } from '../../shared/assertNever';
import type { Batch } from '../augment/feeder';
import type { Net } from '../model/archSpec';
import type { Trainable } from './engine';
import { rowLoss, targetScale, valueLoss } from './valueTargets';

/** One batch on the device: NHWC inputs and the targets (int32 class indexes, or float32 standardised values). */
export interface ImageBatch {
  x: Tf.Tensor4D;
  labels: Tf.Tensor1D;
}

/** What a network is trained to predict, as plain data (sent to the training process with the images). */
export const netTargetSchema = z.discriminatedUnion('task', [
  z.object({ task: z.literal('classification') }),
  z.object({ task: z.literal('regression'), loss: z.enum(regressionLosses) }),
]);
/** A target as plain data. */
export type NetTargetSpec = z.output<typeof netTargetSchema>;

/** The classification target, the default of inputs that do not say. */
export const classificationTarget: NetTargetSpec = { task: 'classification' };

/** The target a network of a project's task trains on: its classes, or its values with the config's loss. */
export function targetSpecOf(task: Task, config: { regressionLoss: RegressionLoss }): NetTargetSpec {
  switch (task) {
    case 'classification':
      return classificationTarget;
    case 'regression':
      return { task: 'regression', loss: config.regressionLoss };
    default:
      return assertNever(task, 'task');
  }
}

/**
 * What a network's outputs mean: how a feeder batch's labels become the loss's targets, the
 * training loss, the predictions made of the outputs, and one image's held-out loss.
 */
export interface NetTarget {
  task: Task;
  /** Units of the network's last layer. */
  outputs: number;
  /** Start the output layer at zero (predicting the mean target) rather than at random weights. */
  zeroOutput: boolean;
  /** A batch's labels (class indexes, or values in the user's units) as the loss's targets. */
  labels(tf: typeof Tf, y: ArrayLike<number>): Tf.Tensor1D;
  /** The mean loss of outputs [n, outputs] against `labels` (from `labels`). */
  loss(tf: typeof Tf, labels: Tf.Tensor1D, outputs: Tf.Tensor2D): Tf.Scalar;
  /** Outputs to predictions [n, outputs] (inside a tidy): probabilities, or values in the user's units. */
  decode(tf: typeof Tf, outputs: Tf.Tensor2D): Tf.Tensor2D;
  /** One image's held-out loss, in the training loss's units, from its prediction row; and whether it is right (null: a value has no accuracy). */
  score(prediction: ArrayLike<number>, label: number): { loss: number; correct: boolean | null };
}

/** The smallest probability a held-out cross-entropy reads (log 0 is infinite). */
const probabilityFloor = 1e-7;

/** k classes: one-hot targets, softmax cross-entropy, probabilities out. */
export function classTarget(k: number): NetTarget {
  return {
    task: 'classification',
    outputs: k,
    zeroOutput: false,
    labels: (tf, y) => tf.tensor1d(Int32Array.from(y), 'int32'),
    loss: (tf, labels, outputs) => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, k), outputs) as Tf.Scalar,
    decode: (tf, outputs) => tf.softmax(outputs),
    score: (row, label) => ({ loss: -Math.log(Math.max(probabilityFloor, row[label]!)), correct: argmax(row) === label }),
  };
}

/**
 * A number: targets standardised by the mean and standard deviation of `fitted` (the values of the
 * images the network trains on), squared or Huber loss on one output, values in the user's units out.
 */
export function valueTarget(loss: RegressionLoss, fitted: readonly number[]): NetTarget & { centre: number; scale: number } {
  const { centre, scale, z } = targetScale(fitted);
  return {
    task: 'regression',
    outputs: 1,
    // Random output weights predict noise of about a standard deviation; zero starts at the baseline (the mean).
    zeroOutput: true,
    centre,
    scale,
    labels: (tf, y) => tf.tensor1d(Float32Array.from(y, z), 'float32'),
    loss: (tf, labels, outputs) => valueLoss(tf, loss, labels, tf.reshape(outputs, [-1])),
    decode: (tf, outputs) => tf.add(tf.mul(outputs, scale), centre),
    score: (row, label) => ({ loss: rowLoss(loss, z(row[0]!) - z(label)), correct: null }),
  };
}

/** The target of `spec` for a network of `classes` classes fitted on images labelled `fitted` (values: their standardisation). */
export function netTarget(spec: NetTargetSpec, classes: number, fitted: readonly number[]): NetTarget {
  switch (spec.task) {
    case 'classification':
      return classTarget(classes);
    case 'regression':
      return valueTarget(spec.loss, fitted);
    default:
      return assertNever(spec, 'network target');
  }
}

/**
 * Checks labels against their target: class indexes in 0..classes-1 (two classes at least), or
 * finite values; VALIDATION otherwise (the core builds them, so this guards the process's input).
 */
export function checkLabels(spec: NetTargetSpec, classes: number, labels: readonly number[]): void {
  switch (spec.task) {
    case 'classification':
      if (classes < 2) throw new LoupeError('VALIDATION', 'classes: a classifier needs at least two classes.', { field: 'classes' });
      if (!labels.every((l) => Number.isInteger(l) && l >= 0 && l < classes)) throw new LoupeError('VALIDATION', `items: every label must be a class index from 0 to ${classes - 1}.`, { field: 'items' });
      return;
    case 'regression':
      if (!labels.every(Number.isFinite)) throw new LoupeError('VALIDATION', 'items: every label of a regression target must be a finite value.', { field: 'items' });
      return;
    default:
      return assertNever(spec, 'network target');
  }
}

/** The kernels of a network's output layer: a built-in net's (model/archSpec.ts) and a fine-tune head's (model/finetuneNet.ts headName). */
const outputKernels = ['logits/kernel', 'finetune_head/kernel'] as const;

/** Starts a new network's output layer as its target asks (at zero for a value: it predicts the mean target until it learns). */
export function initOutput(tf: typeof Tf, net: Net, target: NetTarget): void {
  if (!target.zeroOutput) return;
  const kernel = outputKernels.map((name) => net.variables.get(name)).find((v) => v !== undefined);
  if (!kernel) throw new LoupeError('INTERNAL', `The network has no output layer named ${outputKernels.join(' or ')}.`);
  tf.tidy(() => kernel.assign(tf.zerosLike(kernel)));
}

/** The tensors of a feeder batch read with `channels` equal to the net's (feedBatches' channels option); labels as `target` reads them (default: class indexes). */
export function toImageBatch(tf: typeof Tf, batch: Batch, inputShape: [number, number, number], target?: NetTarget): ImageBatch {
  const [h, w, c] = inputShape;
  const labels = target ? target.labels(tf, batch.y) : tf.tensor1d(Int32Array.from(batch.y), 'int32');
  return { x: tf.tensor4d(batch.x, [batch.size, h, w, c]), labels };
}

/** Frees a batch's tensors. */
export function disposeBatch(batch: ImageBatch): void {
  batch.x.dispose();
  batch.labels.dispose();
}

/** The mean loss of a net's outputs (training mode by default) against a batch's targets. */
export function netLoss(tf: typeof Tf, net: Net, batch: ImageBatch, target: NetTarget, training = true): Tf.Scalar {
  return tf.tidy(() => target.loss(tf, batch.labels, net.apply(batch.x, training)));
}

/** Mean softmax cross-entropy of a net's logits (training mode) against the labels. */
export function crossEntropy(tf: typeof Tf, net: Net, batch: ImageBatch, training = true): Tf.Scalar {
  return netLoss(tf, net, batch, classTarget(net.spec.classes), training);
}

/**
 * The engine's view of a net: the loss of its target (default: its classes). `trainable` defaults
 * to the net's own; `weightDecay` adds weightDecay/2 * sum of squared kernels to the loss.
 */
export function classifier(tf: typeof Tf, net: Net, options: { weightDecay?: number; trainable?: Tf.Variable[]; target?: NetTarget } = {}): Trainable<ImageBatch> {
  const decay = options.weightDecay ?? 0;
  const target = options.target ?? classTarget(net.spec.classes);
  const kernels = [...net.variables].filter(([name]) => name.endsWith('/kernel')).map(([, v]) => v);
  return {
    trainable: options.trainable ?? net.trainable,
    loss: (batch) => {
      const data = netLoss(tf, net, batch, target);
      if (decay === 0) return data;
      // Summed pairwise, not with addN: WebGPU's addN binds every input in one shader, and a ResNet's
      // kernels outnumber the 8 storage buffers a default WebGPU device allows (the sum comes out wrong).
      return tf.tidy(() => tf.add(data, tf.mul(decay / 2, kernels.map((k) => tf.sum(tf.square(k))).reduce((a, b) => tf.add(a, b)))) as Tf.Scalar);
    },
    sizeOf: (batch) => batch.x.shape[0],
  };
}

/** An epoch source for the engine that repeats `batches` once per epoch (they are freed by the caller, not the engine). */
export function repeating<B>(batches: readonly B[]): (epoch: number) => Iterable<B> {
  return () => batches;
}

/** The index of a row's largest value (the first on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
  return best;
}
