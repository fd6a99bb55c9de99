/**
 * Kind 'embed': images to vectors with a backbone, in batches. Each batch's vectors go to the core
 * as they are made (ctx.emit, an EmbedVectors), so the cache fills while the work runs; one bad file
 * is recorded and does not sink its batch.
 */
import type * as Tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { LoupeError } from '../../../shared/errors';
import type { BackendReport, ExecutionProviderReport } from '../../../shared/train';
import { presetConfig } from '../../../shared/augment';
import { augmentImage } from '../../augment/apply';
import type { ImageInput } from '../../model/baseline';
import type { BackboneSpec } from '../../model/backbones';
import { loadExtractor, type Extractor } from '../../model/extractors';
import type { EmbedItem } from '../protocol';
import { defineKind } from './types';

/** One batch of vectors, as emitted. */
export interface EmbedVectors {
  start: number;
  dim: number;
  data: Float32Array;
  failed: Array<{ index: number; error: string }>;
}

/** What the kind answers. */
export interface EmbedAnswer {
  dim: number;
  backbone: BackboneSpec;
  report: BackendReport | null;
  /** ONNX backbones: onnxruntime's execution provider and why better ones were not used. */
  providers: ExecutionProviderReport | null;
}

/** The augmentation behind view v > 0: the augmentation pipeline's 'light' preset at the backbone's input size, seeded by (view, content hash). */
export const viewPreset = 'light';

const extractors = new Map<string, Extractor>();

export const embedKind = defineKind({
  name: 'embed',
  input: z.object({
    // Resolved by the core (model/backbones.ts); the extractor checks what it needs of it.
    spec: z.custom<BackboneSpec>((v) => typeof v === 'object' && v !== null && typeof (v as { key?: unknown }).key === 'string', 'spec must be a backbone spec'),
    items: z.array(z.object({ file: z.string(), view: z.number().int().min(0), key: z.string() })),
  }),
  async run({ spec, items }, ctx): Promise<EmbedAnswer> {
    const needsTf = spec.kind === 'tfjs';
    const selected = needsTf ? await ctx.tf() : null;
    let extractor = extractors.get(spec.key);
    if (!extractor) {
      extractor = await loadExtractor(spec, selected?.tf as typeof Tf | undefined);
      extractors.set(spec.key, extractor);
    }
    for (let start = 0; start < items.length; start += extractor.batchSize) {
      if (ctx.signal.aborted) throw new LoupeError('CANCELLED', 'Embedding was cancelled.');
      const batch = items.slice(start, start + extractor.batchSize);
      const failed: Array<{ index: number; error: string }> = [];
      let vectors: Float32Array[];
      try {
        vectors = await extractor.embed(await Promise.all(batch.map((item) => viewOf(item, extractor!))));
      } catch {
        // One bad file must not sink the batch: retry one by one and record what fails.
        vectors = [];
        for (let i = 0; i < batch.length; i++) {
          try {
            vectors.push(...(await extractor.embed([await viewOf(batch[i]!, extractor)])));
          } catch (error) {
            vectors.push(new Float32Array(extractor.dim));
            failed.push({ index: start + i, error: (error as Error).message });
          }
        }
      }
      const data = new Float32Array(batch.length * extractor.dim);
      vectors.forEach((v, i) => data.set(v, i * extractor!.dim));
      ctx.emit({ start, dim: extractor.dim, data, failed } satisfies EmbedVectors);
      ctx.progress('embedding', start + batch.length, items.length);
    }
    return { dim: extractor.dim, backbone: extractor.spec, report: selected?.report ?? null, providers: extractor.providers };
  },
});

async function viewOf(item: EmbedItem, extractor: Extractor): Promise<ImageInput> {
  if (item.view === 0) return item.file;
  const size = extractor.spec.inputSize;
  const config = presetConfig(viewPreset, { inputSize: { width: size, height: size } });
  return augmentImage({ input: item.file }, config, 0, item.view, item.key);
}
