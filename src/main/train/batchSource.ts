/**
 * Where a full run's batches come from, apart from what trains on them: the training code
 * (full.ts) asks a `FullSources` for each epoch's batches and, for a fine-tune, for its backbone.
 * In the training process the sources are the sharp feeder and the model files on disk
 * (localSources.ts); in the GPU window they are batches decoded by sharp outside the page and sent
 * over a MessagePort with their buffers transferred (trainer/remoteSources.ts). Pure: no sharp, no
 * Node, so the page can bundle it.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { Batch, FeederOptions } from '../augment/feeder';
import type { BackboneSpec } from '../model/backbones';
import type { FinetuneNet } from '../model/finetuneNet';
import type { Callback } from './engine';

/** One epoch of batches as a host is asked for it: the feeder's options, without what stays on the host's side. */
export type BatchRequest = Omit<FeederOptions, 'signal' | 'prefetch' | 'concurrency' | 'pixelLimit'>;

/** What a full run needs from its host besides a `tf`. */
export interface FullSources {
  /** One epoch of batches, in order; stops (CANCELLED) when the signal aborts. */
  batches(request: BatchRequest, signal: AbortSignal): AsyncIterable<Batch>;
  /** Loads a fine-tune backbone as a net, or null where the host cannot read model files (the GPU window). */
  loadFinetune: ((tf: typeof Tf, backbone: BackboneSpec, classes: number, seed: number) => Promise<FinetuneNet>) | null;
  /** The host's own callbacks for every fit (the GPU window checks each step for device errors). */
  callbacks?: Callback[];
}

/** How many batches one epoch of these options gives. */
export function batchCount(options: Pick<FeederOptions, 'items' | 'batchSize' | 'dropLast'>): number {
  const n = options.items.length / options.batchSize;
  return options.dropLast ? Math.floor(n) : Math.ceil(n);
}
