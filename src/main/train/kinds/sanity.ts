/**
 * Kind 'sanity': overfit one batch (train/sanity.ts): one train image, then eight (spread over the
 * classes), without augmentation or weight decay, each on a fresh network from the config's seed,
 * at the config's learning rate.
 */
import type { OverfitResult } from '../../../shared/train';
import { buildNet, netSpec } from '../../model/archSpec';
import { disposeBatch, toImageBatch, type ImageBatch } from '../netBatch';
import { overfitCheck, overfitDefaults, overfitSizes, type OverfitAttempt } from '../sanity';
import { feederItems, firstBatch, toolInputSchema, type ToolInput } from '../toolsInput';
import { defineKind } from './types';

/** The kind's answer. */
export type SanityAnswer = OverfitResult & { backend: string; learningRate: number };

/** `n` items taken round-robin over the classes (in item order within each), so eight images show several classes. */
export function spreadOverClasses<T extends { label: number }>(items: readonly T[], n: number): T[] {
  const byClass = new Map<number, T[]>();
  for (const item of items) {
    const list = byClass.get(item.label) ?? [];
    list.push(item);
    byClass.set(item.label, list);
  }
  const queues = [...byClass.keys()].sort((a, b) => a - b).map((label) => byClass.get(label)!);
  const out: T[] = [];
  for (let round = 0; out.length < n && queues.some((q) => q.length > round); round++) {
    for (const q of queues) if (out.length < n && q[round]) out.push(q[round]!);
  }
  return out;
}

export const sanityKind = defineKind({
  name: 'sanity',
  input: toolInputSchema,
  backend: (input) => input.config.backend,
  run: async (input: ToolInput, ctx): Promise<SanityAnswer> => {
    const { tf, report } = await ctx.tf();
    const { config, inputSize, channels } = input;
    const shape: [number, number, number] = [inputSize, inputSize, channels];
    const spec = netSpec(input.arch, shape, input.classes.length);
    const items = feederItems(input);
    const batches: ImageBatch[] = [];
    const attempts: OverfitAttempt[] = [];
    try {
      for (const size of overfitSizes) {
        const chosen = spreadOverClasses(items, size);
        const batch = await firstBatch({ items: chosen, config: input.augment, batchSize: chosen.length, seed: config.seed, epoch: 0, augment: false, shuffle: false, channels, signal: ctx.signal });
        batches.push(toImageBatch(tf, batch, shape));
        attempts.push({ batch: batches.at(-1)!, net: buildNet(tf, spec, config.seed) });
      }
      const steps = overfitDefaults.steps;
      ctx.log(`overfitting ${overfitSizes.join(' then ')} images: ${steps} Adam steps at ${config.learningRate} on ${report.name}`);
      const result = await overfitCheck(tf, attempts, {
        steps,
        learningRate: config.learningRate,
        signal: ctx.signal,
        onLoss: (attempt, step, loss) => {
          ctx.curve([{ phase: `overfit ${attempts[attempt]!.batch.x.shape[0]}`, kind: 'batch', step, loss, valLoss: null, valAccuracy: null, learningRate: config.learningRate }]);
          ctx.progress('overfitting one batch', attempt * steps + step, attempts.length * steps);
        },
      });
      return { ...result, backend: report.name, learningRate: config.learningRate };
    } finally {
      batches.forEach(disposeBatch);
      attempts.forEach((a) => a.net.dispose());
    }
  },
});
