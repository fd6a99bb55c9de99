/**
 * The batch feeder training reads: an async iterator of batches of float32 HWC tensors at the input
 * size, normalised as the model expects, labels alongside. Decoding and transforms run in sharp's
 * thread pool, `concurrency` images at a time; at most `prefetch` batches are built ahead of the
 * reader, so memory stays flat however large the dataset is.
 */
import os from 'node:os';
import { LoupeError } from '../../shared/errors';
import type { AugmentConfig, Normalize } from '../../shared/augment';
import { augmentImage, type AugmentSource } from './apply';
import { rngFor, shuffled } from './random';
import { batchCount } from '../train/batchSource';

/** One training example: where its image is and its label (a class index, or a regression target). */
export interface FeederItem extends AugmentSource {
  /** Stable id: with seed and epoch it picks the augmentation. */
  id: number;
  label: number;
}

/** A batch: x is N x H x W x C float32 (C: the feeder's channels), row-major; y and ids follow the same order. */
export interface Batch {
  x: Float32Array;
  y: Float32Array;
  ids: number[];
  /** Images in this batch (the last one may be short). */
  size: number;
  /** Which batch of the epoch, from 0. */
  index: number;
}

/** Options of a feeder. */
export interface FeederOptions {
  items: readonly FeederItem[];
  config: AugmentConfig;
  batchSize: number;
  seed: number;
  epoch: number;
  /** Shuffle the items (with seed and epoch) before batching. Default true. */
  shuffle?: boolean;
  /** Drop a last batch smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Batches built ahead of the reader. Default 2. */
  prefetch?: number;
  /** Images decoded at once. Default: the core count (at least 2). */
  concurrency?: number;
  /** false: no augmentation, only resize and normalise (validation, test). Default true. */
  augment?: boolean;
  pixelLimit?: number;
  signal?: AbortSignal;
  /** 3: RGB; 1: one luma channel (0.299 R + 0.587 G + 0.114 B, rounded), normalised with the first channel's mean and std. Default 3. */
  channels?: 1 | 3;
}

/** Per channel, the float each 8-bit value becomes: lut[c * 256 + v]. */
export function normalizeTable(normalize: Normalize): Float32Array {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) {
      lut[c * 256 + v] = normalize.kind === 'unit' ? v / 255 : (v / 255 - normalize.mean[c]!) / normalize.std[c]!;
    }
  }
  return lut;
}

/** How many batches one epoch of these options gives (defined beside the batch sources, which the GPU page bundles without sharp). */
export { batchCount };

/** Yields one epoch of batches in order; throws CANCELLED when the signal aborts. */
export async function* feedBatches(options: FeederOptions): AsyncGenerator<Batch> {
  const { config, batchSize, seed, epoch, signal } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new LoupeError('VALIDATION', 'batchSize must be a whole number of at least 1');
  const prefetch = Math.max(1, options.prefetch ?? 2);
  const limit = new Limiter(Math.max(1, options.concurrency ?? Math.max(2, os.availableParallelism())));
  const items = options.shuffle === false ? options.items : shuffled(options.items, rngFor(seed, epoch, 'shuffle'));
  const total = batchCount({ items, batchSize, dropLast: options.dropLast });
  const runConfig = options.augment === false ? { ...config, transforms: [] } : config;
  const lut = normalizeTable(config.normalize);
  const { width, height } = config.inputSize;
  const channels = options.channels ?? 3;
  const pixels = width * height * channels;

  const build = async (index: number): Promise<Batch> => {
    const slice = items.slice(index * batchSize, Math.min(items.length, (index + 1) * batchSize));
    const x = new Float32Array(slice.length * pixels);
    const y = new Float32Array(slice.length);
    await Promise.all(
      slice.map((item, k) =>
        limit.run(async () => {
          if (signal?.aborted) return;
          const image = await augmentImage(item, runConfig, seed, epoch, item.id, options.pixelLimit);
          const data = image.data;
          const offset = k * pixels;
          if (channels === 1) {
            for (let i = 0; i < pixels; i++) {
              const o = i * 3;
              x[offset + i] = lut[Math.round(0.299 * data[o]! + 0.587 * data[o + 1]! + 0.114 * data[o + 2]!)]!;
            }
          } else {
            for (let i = 0; i < pixels; i += 3) {
              x[offset + i] = lut[data[i]!]!;
              x[offset + i + 1] = lut[256 + data[i + 1]!]!;
              x[offset + i + 2] = lut[512 + data[i + 2]!]!;
            }
          }
          y[k] = item.label;
        }),
      ),
    );
    return { x, y, ids: slice.map((item) => item.id), size: slice.length, index };
  };

  const ahead: Promise<Batch>[] = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < prefetch && next < total && !signal?.aborted) {
      const batch = build(next++);
      // A batch that fails while waiting its turn must not become an unhandled rejection.
      batch.catch(() => {});
      ahead.push(batch);
    }
  };
  try {
    fill();
    while (ahead.length > 0) {
      const batch = await ahead.shift()!;
      if (signal?.aborted) break;
      fill();
      yield batch;
    }
    if (signal?.aborted) throw new LoupeError('CANCELLED', 'Cancelled.');
  } finally {
    // Let work already started finish before the caller moves on (it holds sharp threads).
    await Promise.allSettled(ahead);
  }
}

/** A FIFO limit on how many async tasks run at once. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
