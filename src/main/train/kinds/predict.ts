/**
 * Kind 'predict': classify images with a full run's network. The core sends the run's network (its
 * architecture, or 'finetune' with the resolved backbone; input shape, classes and normalisation)
 * with its weights and the images (files, or bytes sent by a person); the answer is one
 * ModelPrediction per image, unreadable ones with their error. `tta` averages over the test-time
 * views (model/predict.ts ttaViews).
 */
import type * as Tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { LoupeError } from '../../../shared/errors';
import type { ModelPrediction } from '../../../shared/train';
import { architectureNames, buildNet, netSpec, type NamedWeights, type Net } from '../../model/archSpec';
import type { BackboneSpec } from '../../model/backbones';
import { loadFinetuneNet } from '../../model/finetuneNet';
import { evaluationConfig, predictImages } from '../../model/predict';
import { defineKind } from './types';

/** A network's weights as they cross to the process: structured clone keeps the Float32Arrays. */
export const weightEntriesSchema = z.array(
  z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), data: z.custom<Float32Array>((v) => v instanceof Float32Array, 'weight data must be a Float32Array') }),
);

/** NamedWeights as the kinds' input carries them. */
export function weightEntries(weights: NamedWeights): z.input<typeof weightEntriesSchema> {
  return [...weights].map(([name, w]) => ({ name, shape: w.shape, data: w.data }));
}

/** The network of a full run, as a kind receives it. */
export const netInputSchema = z.object({
  arch: z.enum([...architectureNames, 'finetune']),
  /** For 'finetune': the resolved backbone (its layers before the features; the weights come with `weights`). */
  backbone: z.custom<BackboneSpec>((v) => typeof v === 'object' && v !== null && 'kind' in v && 'file' in v, 'must be a backbone spec').nullable().optional(),
  inputShape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.union([z.literal(1), z.literal(3)])]),
  classes: z.array(z.string()).min(2),
  normalize: z.discriminatedUnion('kind', [z.object({ kind: z.literal('unit') }), z.object({ kind: z.literal('meanStd'), mean: z.array(z.number()).length(3), std: z.array(z.number().positive()).length(3) })]),
  weights: weightEntriesSchema,
});

/** Builds the net and loads its weights (refusing weights that do not fit). */
export async function loadNet(ctx: { tf(): Promise<{ tf: typeof Tf }> }, input: z.output<typeof netInputSchema>): Promise<{ tf: typeof Tf; net: Net }> {
  const { tf } = await ctx.tf();
  let net: Net;
  if (input.arch === 'finetune') {
    if (!input.backbone) throw new LoupeError('VALIDATION', "A finetune run's network needs its backbone resolved by the core.", { field: 'backbone' });
    net = await loadFinetuneNet(tf, input.backbone, input.classes.length, 0);
  } else {
    net = buildNet(tf, netSpec(input.arch, input.inputShape, input.classes.length), 0);
  }
  try {
    net.writeWeights(new Map(input.weights.map((w) => [w.name, { shape: w.shape, data: w.data }])));
  } catch (error) {
    net.dispose();
    throw error;
  }
  return { tf, net };
}

export const predictKind = defineKind({
  name: 'predict',
  input: netInputSchema.extend({
    images: z.array(z.union([z.object({ name: z.string(), file: z.string() }), z.object({ name: z.string(), bytes: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'image bytes must be a Uint8Array') })])),
    top: z.number().int().min(1).max(20).default(3),
    /** Test-time augmentation: average over ttaViews. */
    tta: z.boolean().default(false),
    pixelLimit: z.number().int().positive().optional(),
  }),
  async run(input, ctx): Promise<ModelPrediction[]> {
    const { tf, net } = await loadNet(ctx, input);
    try {
      ctx.progress('predict', 0, input.images.length);
      const items = input.images.map((image) => ({ name: image.name, input: 'file' in image ? image.file : Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength) }));
      return await predictImages(tf, net, input.classes, items, evaluationConfig(input), {
        top: input.top,
        tta: input.tta,
        signal: ctx.signal,
        pixelLimit: input.pixelLimit,
        onProgress: (done, total) => ctx.progress('predict', done, total),
      });
    } finally {
      net.dispose();
    }
  },
});
