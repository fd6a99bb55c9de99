/**
 * A full run's sources in the training process: batches from the sharp feeder in this process,
 * backbones read from their model files. The GPU window has its own (trainer/remoteSources.ts).
 */
import { feedBatches } from '../augment/feeder';
import { loadFinetuneNet } from '../model/finetuneNet';
import type { FullSources } from './batchSource';

/** The feeder and the model files, here. */
export const localSources: FullSources = {
  batches: (request, signal) => feedBatches({ ...request, signal }),
  loadFinetune: loadFinetuneNet,
};
