/**
 * A built network as the engine trains it: image batches as tensors, the classifier's loss
 * (softmax cross-entropy, optionally with L2 weight decay on kernels), and a batch source that
 * cycles epochs. Shared by the LR finder and the sanity checks; host-agnostic (takes the `tf`).
 */
import type * as Tf from '@tensorflow/tfjs';
import type { Batch } from '../augment/feeder';
import type { Net } from '../model/archSpec';
import type { Trainable } from './engine';

/** One batch on the device: NHWC inputs and integer class labels. */
export interface ImageBatch {
  x: Tf.Tensor4D;
  labels: Tf.Tensor1D;
}

/** The tensors of a feeder batch read with `channels` equal to the net's (feedBatches' channels option). */
export function toImageBatch(tf: typeof Tf, batch: Batch, inputShape: [number, number, number]): ImageBatch {
  const [h, w, c] = inputShape;
  return { x: tf.tensor4d(batch.x, [batch.size, h, w, c]), labels: tf.tensor1d(Int32Array.from(batch.y), 'int32') };
}

/** Frees a batch's tensors. */
export function disposeBatch(batch: ImageBatch): void {
  batch.x.dispose();
  batch.labels.dispose();
}

/** Mean softmax cross-entropy of a net's logits (training mode) against the labels. */
export function crossEntropy(tf: typeof Tf, net: Net, batch: ImageBatch, training = true): Tf.Scalar {
  return tf.tidy(() => {
    const logits = net.apply(batch.x, training);
    const onehot = tf.oneHot(batch.labels, net.spec.classes);
    return tf.losses.softmaxCrossEntropy(onehot, logits) as Tf.Scalar;
  });
}

/**
 * The engine's view of a classifier net. `trainable` defaults to the net's own; `weightDecay` adds
 * weightDecay/2 * sum of squared kernels to the loss.
 */
export function classifier(tf: typeof Tf, net: Net, options: { weightDecay?: number; trainable?: Tf.Variable[] } = {}): Trainable<ImageBatch> {
  const decay = options.weightDecay ?? 0;
  const kernels = [...net.variables].filter(([name]) => name.endsWith('/kernel')).map(([, v]) => v);
  return {
    trainable: options.trainable ?? net.trainable,
    loss: (batch) => {
      const ce = crossEntropy(tf, net, batch);
      if (decay === 0) return ce;
      // Summed pairwise, not with addN: WebGPU's addN binds every input in one shader, and a ResNet's
      // kernels outnumber the 8 storage buffers a default WebGPU device allows (the sum comes out wrong).
      return tf.tidy(() => tf.add(ce, tf.mul(decay / 2, kernels.map((k) => tf.sum(tf.square(k))).reduce((a, b) => tf.add(a, b)))) as Tf.Scalar);
    },
    sizeOf: (batch) => batch.x.shape[0],
  };
}

/** An epoch source for the engine that repeats `batches` once per epoch (they are freed by the caller, not the engine). */
export function repeating<B>(batches: readonly B[]): (epoch: number) => Iterable<B> {
  return () => batches;
}
