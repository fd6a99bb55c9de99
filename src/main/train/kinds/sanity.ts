/**
 * Kind 'sanity': overfit one batch (train/sanity.ts): one train image, then eight (spread over the
 * classes, or over the range of the values), without augmentation or weight decay, each on a fresh
 * network from the config's seed, at the config's learning rate. A value target is standardised by
 * every train image's value, as the run's would be, so the images keep their distance from the mean.
 */
import type { OverfitResult } from '../../../shared/train';
import { assertNever } from '../../../shared/assertNever';
import { buildNet, netSpec } from '../../model/archSpec';
import { disposeBatch, initOutput, toImageBatch, type ImageBatch } from '../netBatch';
import { netToolInputSchema, toolTarget, toolTargetSpec, type NetToolInput } from '../netToolsInput';
import { overfitCheck, overfitDefaults, overfitSizes, type OverfitAttempt } from '../sanity';
import { feederItems, firstBatch } from '../toolsInput';
import type { FeederItem } from '../../augment/feeder';
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

/**
 * `n` items spread over the range of their values (label): the smallest to the largest, evenly by
 * rank; one item is the largest, far from the mean, so that its loss has somewhere to fall from.
 */
export function spreadOverValues<T extends { label: number }>(items: readonly T[], n: number): T[] {
  const sorted = [...items].sort((a, b) => a.label - b.label);
  if (n >= sorted.length) return sorted;
  if (n === 1) return sorted.slice(-1);
  return Array.from({ length: n }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (n - 1))]!);
}

/** The `n` images an attempt overfits: spread over the classes, or over the values. */
function chosenItems(input: NetToolInput, items: readonly FeederItem[], n: number): FeederItem[] {
  const spec = toolTargetSpec(input);
  switch (spec.task) {
    case 'classification':
      return spreadOverClasses(items, n);
    case 'regression':
      return spreadOverValues(items, n);
    default:
      return assertNever(spec, 'network target');
  }
}

export const sanityKind = defineKind({
  name: 'sanity',
  input: netToolInputSchema,
  backend: (input) => input.config.backend,
  run: async (input: NetToolInput, ctx): Promise<SanityAnswer> => {
    const { tf, report } = await ctx.tf();
    const { config, inputSize, channels } = input;
    const shape: [number, number, number] = [inputSize, inputSize, channels];
    const target = toolTarget(input);
    const spec = netSpec(input.arch, shape, target.outputs);
    const items = feederItems(input);
    const batches: ImageBatch[] = [];
    const attempts: OverfitAttempt[] = [];
    try {
      for (const size of overfitSizes) {
        const chosen = chosenItems(input, items, size);
        const batch = await firstBatch({ items: chosen, config: input.augment, batchSize: chosen.length, seed: config.seed, epoch: 0, augment: false, shuffle: false, channels, signal: ctx.signal });
        batches.push(toImageBatch(tf, batch, shape, target));
        const net = buildNet(tf, spec, config.seed);
        attempts.push({ batch: batches.at(-1)!, net });
        initOutput(tf, net, target);
      }
      const steps = overfitDefaults.steps;
      ctx.log(`overfitting ${overfitSizes.join(' then ')} images: ${steps} Adam steps at ${config.learningRate} on ${report.name}`);
      const result = await overfitCheck(tf, attempts, {
        steps,
        learningRate: config.learningRate,
        target,
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
