/**
 * What training on a numeric target means, for the quick head (model/head.ts) and the network
 * (train/netBatch.ts) alike: targets standardised by the fitted rows' mean and standard deviation,
 * and the squared or Huber loss on them (per batch in TF.js, per held-out row in JS, the same numbers).
 */
import type * as Tf from '@tensorflow/tfjs';
import type { RegressionLoss } from '../../shared/regression';

/** Huber's delta on standardised targets: errors beyond one standard deviation of the target count linearly. */
export const huberDelta = 1;

/** The standardisation of targets: by the mean and standard deviation of `fitted` (scale 1 when they are all equal). */
export function targetScale(fitted: readonly number[]): { centre: number; scale: number; z(value: number): number } {
  const centre = fitted.reduce((a, b) => a + b, 0) / Math.max(1, fitted.length);
  const scale = Math.sqrt(fitted.reduce((a, b) => a + (b - centre) ** 2, 0) / Math.max(1, fitted.length)) || 1;
  return { centre, scale, z: (value) => (value - centre) / scale };
}

/** One row's loss for a standardised error, as tf.losses.meanSquaredError and tf.losses.huberLoss compute it per element. */
export function rowLoss(loss: RegressionLoss, error: number): number {
  if (loss === 'squared') return error * error;
  const a = Math.abs(error);
  return a <= huberDelta ? 0.5 * a * a : huberDelta * (a - 0.5 * huberDelta);
}

/** The mean training loss of predictions against standardised labels (same shapes). */
export function valueLoss(tf: typeof Tf, loss: RegressionLoss, labels: Tf.Tensor, predicted: Tf.Tensor): Tf.Scalar {
  return (loss === 'squared' ? tf.losses.meanSquaredError(labels, predicted) : tf.losses.huberLoss(labels, predicted, undefined, huberDelta)) as Tf.Scalar;
}
