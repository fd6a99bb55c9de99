/**
 * Classifying new images with a full run's network: each image is decoded, resized and normalised
 * exactly as the run's validation images were (the feeder with augment:false at the run's input
 * size, channels and normalisation), run through the net in inference mode,
 * and answered with its top classes. An image that cannot be read gets its error text; it does not
 * fail the others. With test-time augmentation (tta) each image is seen as ttaViews (itself, its
 * horizontal flip, four corner crops and a centre crop at 90% of each side, resized back), planned
 * and drawn by the augmentation code, and its softmax probabilities are the mean over the views. Host-agnostic: takes the `tf` and a built net.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { AugmentConfig } from '../../shared/augment';
import { networkPipeline } from '../train/pipeline';
import { assertNever } from '../../shared/assertNever';
import { LoupeError } from '../../shared/errors';
import { ttaViews, type ModelPrediction, type ModelUsed, type TtaView } from '../../shared/train';
import { applyAugment, orientedSize, type RawImage } from '../augment/apply';
import { feedBatches, normalizeTable } from '../augment/feeder';
import { planAugment, type AugmentPlan } from '../augment/plan';
import { rngFor } from '../augment/random';
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

/** Share of each side a test-time crop keeps. */
export const ttaCropScale = 0.9;

/** The augmentation plans of test-time augmentation for a width x height image, in ttaViews order: the validation plan (no transforms), flipped, or with a fixed crop. */
export function ttaPlans(config: AugmentConfig, width: number, height: number): Array<{ view: TtaView; plan: AugmentPlan }> {
  // With no transforms nothing is drawn from the stream: the plan is the validation pipeline's.
  const base = planAugment({ ...config, transforms: [] }, rngFor(0, 0, 'tta'), width, height);
  const w = Math.max(1, Math.round(width * ttaCropScale));
  const h = Math.max(1, Math.round(height * ttaCropScale));
  const crop = (left: number, top: number): AugmentPlan => ({ ...base, crop: { left, top, width: w, height: h } });
  const planOf = (view: TtaView): AugmentPlan => {
    switch (view) {
      case 'original':
        return base;
      case 'hflip':
        return { ...base, flipH: true };
      case 'crop-top-left':
        return crop(0, 0);
      case 'crop-top-right':
        return crop(width - w, 0);
      case 'crop-bottom-left':
        return crop(0, height - h);
      case 'crop-bottom-right':
        return crop(width - w, height - h);
      case 'crop-centre':
        return crop(Math.floor((width - w) / 2), Math.floor((height - h) / 2));
      default:
        return assertNever(view, 'test-time view');
    }
  };
  return ttaViews.map((view) => ({ view, plan: planOf(view) }));
}

/** 8-bit RGB pixels as the network's input, exactly as the feeder turns them (per-channel lookup; grey as rounded luma). */
export function networkInput(image: RawImage, lut: Float32Array, channels: 1 | 3): Float32Array {
  const { data } = image;
  const count = image.width * image.height;
  const x = new Float32Array(count * channels);
  for (let i = 0; i < count; i++) {
    const o = i * 3;
    if (channels === 1) x[i] = lut[Math.round(0.299 * data[o]! + 0.587 * data[o + 1]! + 0.114 * data[o + 2]!)]!;
    else {
      x[o] = lut[data[o]!]!;
      x[o + 1] = lut[256 + data[o + 1]!]!;
      x[o + 2] = lut[512 + data[o + 2]!]!;
    }
  }
  return x;
}

/** One image's test-time views as network inputs (ttaViews order), or why it could not be read. */
export type PreparedViews = { views: Array<{ view: TtaView; x: Float32Array }>; error: null } | { views: null; error: string };

/** Decodes each image once per test-time view; one unreadable file fails only itself. */
export async function ttaInputs(
  items: readonly PredictItem[],
  config: AugmentConfig,
  options: { channels?: 1 | 3; signal?: AbortSignal; pixelLimit?: number; concurrency?: number } = {},
): Promise<PreparedViews[]> {
  const lut = normalizeTable(config.normalize);
  const channels = options.channels ?? 3;
  const out: PreparedViews[] = new Array(items.length);
  const concurrency = Math.max(1, options.concurrency ?? 4);
  for (let start = 0; start < items.length; start += concurrency) {
    if (options.signal?.aborted) throw new LoupeError('CANCELLED', 'Prediction was cancelled.');
    await Promise.all(
      items.slice(start, start + concurrency).map(async (item, k) => {
        try {
          const { width, height } = await orientedSize(item.input, options.pixelLimit);
          const views = [];
          for (const { view, plan } of ttaPlans(config, width, height)) {
            views.push({ view, x: networkInput(await applyAugment(item.input, plan, options.pixelLimit), lut, channels) });
          }
          out[start + k] = { views, error: null };
        } catch (error) {
          out[start + k] = { views: null, error: `cannot read this image: ${(error as Error).message.split('\n')[0]}` };
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
  options: { top?: number; tta?: boolean; signal?: AbortSignal; pixelLimit?: number; onProgress?(done: number, total: number): void } = {},
): Promise<ModelPrediction[]> {
  if (classes.length !== net.spec.classes) throw new LoupeError('INTERNAL', `The net has ${net.spec.classes} outputs but the run names ${classes.length} classes.`);
  const channels = net.spec.inputShape[2] === 1 ? 1 : 3;
  // Each image as its list of views (one without TTA) or its error.
  const prepared: Array<{ xs: Float32Array[] | null; error: string | null }> = options.tta
    ? (await ttaInputs(items, config, { ...options, channels })).map((p) => ({ xs: p.views?.map((v) => v.x) ?? null, error: p.error }))
    : (await preprocessImages(items, config, { ...options, channels })).map((p) => ({ xs: p.x ? [p.x] : null, error: p.error }));
  const readable = prepared.flatMap((p, i) => (p.xs ? [{ i, xs: p.xs }] : []));
  const probabilities = await probabilitiesOf(tf, net, readable.flatMap((r) => r.xs));
  const byIndex = new Map<number, Float32Array>();
  let next = 0;
  for (const r of readable) {
    byIndex.set(r.i, meanOf(probabilities.slice(next, next + r.xs.length)));
    next += r.xs.length;
  }
  options.onProgress?.(items.length, items.length);
  const views = options.tta ? { views: [...ttaViews] } : {};
  return items.map((item, i) => {
    const probs = byIndex.get(i);
    if (!probs) return { name: item.name, predicted: '', probability: 0, top: [], error: prepared[i]!.error };
    const top = topClasses(probs, classes, options.top ?? 3);
    return { name: item.name, predicted: top[0]!.name, probability: top[0]!.probability, top, error: null, ...views };
  });
}

/** The element-wise mean of equal-length probability vectors (the one vector itself when alone). */
function meanOf(rows: readonly Float32Array[]): Float32Array {
  if (rows.length === 1) return rows[0]!;
  const out = new Float32Array(rows[0]!.length);
  for (const row of rows) for (let c = 0; c < out.length; c++) out[c]! += row[c]!;
  for (let c = 0; c < out.length; c++) out[c]! /= rows.length;
  return out;
}
