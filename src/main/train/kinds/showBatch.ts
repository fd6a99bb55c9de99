/**
 * Kind 'showBatch': exactly what a full run feeds the network for one batch. The feeder builds the
 * batch as training would (the config's augmentation, input size, channels and normalisation,
 * shuffled with the run's seed); each image's values are turned back into 0..255 pixels (the
 * normalisation undone) and written as PNG for the preview routes, with the range of the values fed.
 */
import sharp from 'sharp';
import type { Normalize } from '../../../shared/augment';
import type { Batch } from '../../augment/feeder';
import { netToolInputSchema } from '../netToolsInput';
import { feederItems, firstBatch } from '../toolsInput';
import { defineKind } from './types';
import { z } from 'zod';

/** The kind's input: the tools' input, how many images, and which epoch's batch (0: the run's first). */
export const showBatchInputSchema = netToolInputSchema.extend({
  count: z.number().int().min(1).max(64),
  /** Epoch offset: 0 shows the first batch of epoch 1, n the first batch of epoch n + 1. */
  seed: z.number().int().min(0),
});

/** The kind's answer: one PNG per image, in batch order. */
export interface ShowBatchAnswer {
  pngs: Uint8Array[];
  ids: number[];
  /** Each image's label as fed: its class index, or its value (float32) for a value target. */
  labels: number[];
  valueRange: [number, number];
}

/** The 8-bit pixels a normalised value came from (rounded, clamped). */
export function denormalize(normalize: Normalize, channel: number, value: number): number {
  const unit = normalize.kind === 'unit' ? value : value * normalize.std[channel]! + normalize.mean[channel]!;
  return Math.max(0, Math.min(255, Math.round(unit * 255)));
}

/** A batch's images as PNGs (one channel for a one-channel batch), and the min and max of its values. */
export async function renderBatch(batch: Batch, normalize: Normalize, shape: [number, number, number]): Promise<{ pngs: Uint8Array[]; valueRange: [number, number] }> {
  const [h, w, c] = shape;
  const pixels = h * w * c;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const pngs: Uint8Array[] = [];
  for (let n = 0; n < batch.size; n++) {
    const raw = Buffer.alloc(pixels);
    for (let i = 0; i < pixels; i++) {
      const v = batch.x[n * pixels + i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      raw[i] = denormalize(normalize, i % c, v);
    }
    const image = sharp(raw, { raw: { width: w, height: h, channels: c as 1 | 3 } });
    // A one-channel batch stays one channel (sharp would otherwise write it as sRGB).
    pngs.push(new Uint8Array(await (c === 1 ? image.toColourspace('b-w') : image).png({ compressionLevel: 1 }).toBuffer()));
  }
  return { pngs, valueRange: [lo, hi] };
}

export const showBatchKind = defineKind({
  name: 'showBatch',
  input: showBatchInputSchema,
  run: async (input, ctx): Promise<ShowBatchAnswer> => {
    const { config, inputSize, channels } = input;
    const batch = await firstBatch({ items: feederItems(input), config: input.augment, batchSize: input.count, seed: config.seed, epoch: 1 + input.seed, channels, signal: ctx.signal });
    const { pngs, valueRange } = await renderBatch(batch, input.augment.normalize, [inputSize, inputSize, channels]);
    return { pngs, ids: batch.ids, labels: Array.from(batch.y), valueRange };
  },
});
