/**
 * Tiny synthetic image batches for the LR finder and sanity tests: three colour classes of noisy
 * squares as tensors (no files), seeded.
 */
import type * as Tf from '@tensorflow/tfjs';
import { seededRandom } from '../../../src/main/train/folds';
import type { ImageBatch } from '../../../src/main/train/netBatch';

const colours: Array<[number, number, number]> = [
  [0.85, 0.15, 0.15],
  [0.2, 0.85, 0.25],
  [0.1, 0.1, 0.55],
];

/** `count` images of `size`x`size`x3 in 0..1 with labels 0, 1, 2, 0, … (or `labels`). */
export function colourBatch(tf: typeof Tf, count: number, size: number, seed: number, labels?: number[]): ImageBatch {
  const random = seededRandom(seed);
  const ys = labels ?? Array.from({ length: count }, (_, i) => i % colours.length);
  const x = new Float32Array(count * size * size * 3);
  for (let n = 0; n < count; n++) {
    const colour = colours[ys[n]!]!;
    for (let p = 0; p < size * size; p++) {
      for (let c = 0; c < 3; c++) x[(n * size * size + p) * 3 + c] = Math.min(1, Math.max(0, colour[c]! + (random() - 0.5) * 0.5));
    }
  }
  return { x: tf.tensor4d(x, [count, size, size, 3]), labels: tf.tensor1d(ys, 'int32') };
}
