/**
 * Batch normalisation written as elementwise ops (mean, subtract, square, rsqrt, multiply, add) so
 * that its gradient is elementwise ops and sums too. `tf.batchNorm`'s gradient spends most of a
 * small ResNet's step in Tile on the wasm backend; this form about halves the step.
 */
import type * as Tf from '@tensorflow/tfjs';

/** Running statistics a model keeps for inference, updated in place while training. */
export interface MovingStats {
  mean: Tf.Variable;
  variance: Tf.Variable;
  /** Weight of the old value in each update (Keras's default is 0.99). */
  momentum: number;
}

/** Options of `batchNorm`. */
export interface BatchNormOptions {
  /** Normalise with the batch's statistics (true) or the moving ones (false). Default true. */
  training?: boolean;
  epsilon?: number;
  /** Updated from the batch's statistics when training; used instead of them when not. */
  moving?: MovingStats;
}

/**
 * Normalises `x` per channel (its last axis) and applies `gamma` and `beta` ([channels] each).
 * Training with `moving` also updates the moving mean and variance (outside the gradient).
 */
export function batchNorm(x: Tf.Tensor, gamma: Tf.Tensor, beta: Tf.Tensor, options: BatchNormOptions = {}): Tf.Tensor {
  const epsilon = options.epsilon ?? 1e-3;
  const training = options.training ?? true;
  const { moving } = options;
  if (!training) {
    if (!moving) throw new Error('batchNorm for inference needs the moving statistics');
    const scale = moving.variance.add(epsilon).rsqrt().mul(gamma);
    return x.sub(moving.mean).mul(scale).add(beta);
  }
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const mean = x.mean(axes, true);
  const centered = x.sub(mean);
  const variance = centered.square().mean(axes, true);
  const y = centered.mul(variance.add(epsilon).rsqrt().mul(gamma)).add(beta);
  if (moving) updateMovingStats(moving, mean, variance);
  return y;
}

function updateMovingStats(moving: MovingStats, mean: Tf.Tensor, variance: Tf.Tensor): void {
  const channels = moving.mean.shape;
  const keep = moving.momentum;
  // assign keeps its own reference, so the enclosing tidy may dispose these.
  moving.mean.assign(moving.mean.mul(keep).add(mean.reshape(channels).mul(1 - keep)));
  moving.variance.assign(moving.variance.mul(keep).add(variance.reshape(channels).mul(1 - keep)));
}
