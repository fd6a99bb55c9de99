/**
 * Kind 'lrFind': the LR finder (train/lrFinder.ts) over the run's train images, augmented as the
 * run would see them, on a network built for the sweep from the config's seed (the run's own model
 * is never touched). Streams each point as a curve point of phase 'lr-find'. The loss is the run's
 * target's: cross-entropy over the classes, or squared or Huber on standardised values.
 */
import type { LrFindResult } from '../../../shared/train';
import { batchCount, feedBatches, type Batch } from '../../augment/feeder';
import { buildNet, netSpec } from '../../model/archSpec';
import { findLearningRate } from '../lrFinder';
import { disposeBatch, initOutput, toImageBatch, type ImageBatch } from '../netBatch';
import { netToolInputSchema, toolTarget } from '../netToolsInput';
import { feederItems } from '../toolsInput';
import { defineKind } from './types';

/** The kind's answer. */
export type LrFindAnswer = LrFindResult & { backend: string };

export const lrFindKind = defineKind({
  name: 'lrFind',
  input: netToolInputSchema,
  backend: (input) => input.config.backend,
  run: async (input, ctx): Promise<LrFindAnswer> => {
    const { tf, report } = await ctx.tf();
    const { config, inputSize, channels } = input;
    const shape: [number, number, number] = [inputSize, inputSize, channels];
    const items = feederItems(input);
    const target = toolTarget(input);
    const net = buildNet(tf, netSpec(input.arch, shape, target.outputs), config.seed);
    initOutput(tf, net, target);
    ctx.log(`LR finder on ${report.name}: ${input.arch}, ${items.length} train images, batches of ${config.batchSize}`);
    async function* tensors(source: AsyncIterable<Batch>): AsyncGenerator<ImageBatch> {
      for await (const batch of source) yield toImageBatch(tf, batch, shape, target);
    }
    try {
      const result = await findLearningRate(
        tf,
        net,
        {
          batches: (epoch) => tensors(feedBatches({ items, config: input.augment, batchSize: config.batchSize, seed: config.seed, epoch, channels, signal: ctx.signal })),
          batchesPerEpoch: batchCount({ items, batchSize: config.batchSize }),
          release: disposeBatch,
        },
        {
          weightDecay: config.weightDecay,
          target,
          signal: ctx.signal,
          onPoint: (point, step, steps) => {
            ctx.curve([{ phase: 'lr-find', kind: 'batch', step, loss: point.loss, valLoss: null, valAccuracy: null, learningRate: point.learningRate }]);
            ctx.progress('finding the learning rate', step, steps);
          },
        },
      );
      ctx.log(`LR finder stopped: ${result.stopped}`);
      return { ...result, backend: report.name };
    } finally {
      net.dispose();
    }
  },
});
