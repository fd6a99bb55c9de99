/**
 * What the core sends the training process for the LR finder, the sanity check and "show a batch":
 * the train images (files already checked to be inside the project) with their class indices, the
 * full config, the network and its input, and the augmentation the run would train with. The
 * process reads the images with the feeder, exactly as a full run does.
 */
import { z } from 'zod';
import { augmentConfigSchema } from '../../shared/augment';
import { fullConfigSchema } from '../../shared/train';
import { feedBatches, type Batch, type FeederItem } from '../augment/feeder';
import { architectureNames } from '../model/archSpec';

/** The input of kinds 'lrFind', 'sanity' and 'showBatch'. */
export const toolInputSchema = z.object({
  classes: z.array(z.string()).min(2),
  /** The train split's labelled images. */
  items: z
    .array(
      z.object({
        id: z.number().int(),
        file: z.string(),
        width: z.number().int().positive().nullable(),
        height: z.number().int().positive().nullable(),
        label: z.number().int().min(0),
      }),
    )
    .min(1),
  config: fullConfigSchema,
  arch: z.enum(architectureNames),
  inputSize: z.number().int().min(8).max(512),
  channels: z.union([z.literal(1), z.literal(3)]),
  /** The train batches' augmentation (input size and normalisation included). */
  augment: augmentConfigSchema,
});
/** The tools' input. */
export type ToolInput = z.output<typeof toolInputSchema>;

/** The feeder's items of a tool input. */
export function feederItems(input: ToolInput): FeederItem[] {
  return input.items.map((i) => ({ id: i.id, input: i.file, width: i.width, height: i.height, label: i.label }));
}

/** The first batch of one epoch from the feeder (only that batch is decoded). */
export async function firstBatch(options: Parameters<typeof feedBatches>[0]): Promise<Batch> {
  for await (const batch of feedBatches({ ...options, prefetch: 1 })) return batch;
  throw new Error('the feeder gave no batch');
}
