/**
 * Classifying new images with a full run's network: each image is decoded, resized and normalised
 * exactly as the run's validation images were (the feeder with augment:false at the run's input
 * size, channels and normalisation), run through the net in inference mode,
 * and answered with its top classes. An image that cannot be read gets its error text; it does not
 * fail the others. Host-agnostic: takes the `tf` and a built net.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { AugmentConfig } from '../../shared/augment';
import { networkPipeline } from '../train/pipeline';
import { LoupeError } from '../../shared/errors';
import type { ModelPrediction, ModelUsed } from '../../shared/train';
import { feedBatches } from '../augment/feeder';
import type { Net } from './archSpec';

/** One image to classify: a file on this machine or its bytes, and the name its answer carries. */
export interface PredictItem {
  name: string;
  input: string | Buffer;
}

/** The pipeline that turns an image into the network's input: the run's validation pipeline (resize and normalise, no augmentation). */
export function evaluationConfig(model: Pick<ModelUsed, 'inputShape' | 'normalize'>): AugmentConfig {
  const normalize: AugmentConfig['normalize'] =
    model.normalize.kind === 'unit'
      ? { kind: 'unit' }
      : { kind: 'meanStd', mean: model.normalize.mean.slice(0, 3) as [number, number, number], std: model.normalize.std.slice(0, 3) as [number, number, number] };
  return networkPipeline('none', model.inputShape, normalize);
}

/** One image's pixels as the network's input (HWC at the net's channels, normalised), or why it could not be read. */
export type Preprocessed = { x: Float32Array; error: null } | { x: null; error: string };

/** Decodes and prepares each image on its own, so one unreadable file fails only itself. */
export async function preprocessImages(
  items: readonly PredictItem[],
  config: AugmentConfig,
  options: { channels?: 1 | 3; signal?: AbortSignal; pixelLimit?: number; concurrency?: number } = {},
): Promise<Preprocessed[]> {
  const out: Preprocessed[] = new Array(items.length);
  const concurrency = Math.max(1, options.concurrency ?? 4);
  for (let start = 0; start < items.length; start += concurrency) {
    if (options.signal?.aborted) throw new LoupeError('CANCELLED', 'Prediction was cancelled.');
    await Promise.all(
      items.slice(start, start + concurrency).map(async (item, k) => {
        try {
          const feed = feedBatches({
            items: [{ id: start + k, label: 0, input: item.input }],
            config,
            batchSize: 1,
            seed: 0,
            epoch: 0,
            shuffle: false,
            augment: false,
            prefetch: 1,
            concurrency: 1,
            channels: options.channels ?? 3,
            pixelLimit: options.pixelLimit,
            signal: options.signal,
          });
          let x: Float32Array | null = null;
          for await (const batch of feed) x = batch.x;
          out[start + k] = x ? { x, error: null } : { x: null, error: 'the image gave no pixels' };
        } catch (error) {
          if (error instanceof LoupeError && error.code === 'CANCELLED') throw error;
          out[start + k] = { x: null, error: `cannot read this image: ${(error as Error).message}` };
        }
      }),
    );
  }
  return out;
}

/** The `k` most probable classes, best first. */
export function topClasses(probabilities: ArrayLike<number>, classes: readonly string[], k = 3): Array<{ name: string; probability: number }> {
  return Array.from(probabilities, (probability, i) => ({ name: classes[i] ?? `class ${i}`, probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}

/** Softmax probabilities of already-prepared inputs (each H x W x C at the net's input shape, normalised), in batches. */
export async function probabilitiesOf(tf: typeof Tf, net: Net, inputs: readonly Float32Array[], batchSize = 32): Promise<Float32Array[]> {
  const [h, w, c] = net.spec.inputShape;
  const pixels = h * w * c;
  const out: Float32Array[] = [];
  for (let start = 0; start < inputs.length; start += batchSize) {
    const slice = inputs.slice(start, start + batchSize);
    const x = new Float32Array(slice.length * pixels);
    slice.forEach((one, k) => x.set(one, k * pixels));
    const probs = tf.tidy(() => tf.softmax(net.apply(tf.tensor4d(x, [slice.length, h, w, c]), false)));
    const data = (await probs.data()) as Float32Array;
    probs.dispose();
    const classes = net.spec.classes;
    for (let k = 0; k < slice.length; k++) out.push(data.slice(k * classes, (k + 1) * classes));
  }
  return out;
}

/** Classifies images with a net: the top `top` classes of each, or its error. */
export async function predictImages(
  tf: typeof Tf,
  net: Net,
  classes: readonly string[],
  items: readonly PredictItem[],
  config: AugmentConfig,
  options: { top?: number; signal?: AbortSignal; pixelLimit?: number; onProgress?(done: number, total: number): void } = {},
): Promise<ModelPrediction[]> {
  if (classes.length !== net.spec.classes) throw new LoupeError('INTERNAL', `The net has ${net.spec.classes} outputs but the run names ${classes.length} classes.`);
  const channels = net.spec.inputShape[2] === 1 ? 1 : 3;
  const prepared = await preprocessImages(items, config, { ...options, channels });
  const readable = prepared.flatMap((p, i) => (p.x ? [{ i, x: p.x }] : []));
  const probabilities = await probabilitiesOf(tf, net, readable.map((r) => r.x));
  const byIndex = new Map(readable.map((r, k) => [r.i, probabilities[k]!]));
  options.onProgress?.(items.length, items.length);
  return items.map((item, i) => {
    const probs = byIndex.get(i);
    if (!probs) return { name: item.name, predicted: '', probability: 0, top: [], error: prepared[i]!.error };
    const top = topClasses(probs, classes, options.top ?? 3);
    return { name: item.name, predicted: top[0]!.name, probability: top[0]!.probability, top, error: null };
  });
}
