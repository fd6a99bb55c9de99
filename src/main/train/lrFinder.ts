/**
 * The LR finder (Smith's range test, as fastai runs it): train a copy of the network for a few
 * hundred batches while the learning rate grows exponentially from 1e-7 to 10, stop when the loss
 * diverges, smooth the losses, and suggest the rate where the smoothed loss falls fastest and the
 * rate at its minimum divided by ten. Runs on the engine; host-agnostic (takes the `tf`). The loss
 * is the network's target's (netBatch.ts): cross-entropy for classes, squared or Huber on
 * standardised values.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { LrFindPoint, LrFindResult } from '../../shared/train';
import type { Net } from '../model/archSpec';
import { curves, divergence, fit, learningRateSchedule, schedules, type Callback } from './engine';
import { classifier, type ImageBatch, type NetTarget } from './netBatch';

/** The sweep's range and length. */
export const lrSweep = { from: 1e-7, to: 10, maxSteps: 300, minSteps: 100 } as const;

/**
 * Steps of a sweep over data of `batchesPerEpoch` batches: one epoch's worth, within
 * [minSteps, maxSteps] (short datasets cycle epochs). Fewer than ~100 points leave the smoothed
 * curve (beta 0.98 remembers about 50 steps) lagging by half the sweep.
 */
export function sweepSteps(batchesPerEpoch: number): number {
  return Math.min(lrSweep.maxSteps, Math.max(lrSweep.minSteps, batchesPerEpoch));
}

/** Exponential moving average with bias correction (what the plot shows). */
export function smoothLosses(losses: readonly number[], beta = 0.98): number[] {
  let average = 0;
  return losses.map((loss, i) => {
    average = beta * average + (1 - beta) * loss;
    return average / (1 - beta ** (i + 1));
  });
}

/**
 * The suggestion from a sweep's points: the rate at the steepest negative slope of the smoothed
 * loss against log(rate), over the points before its minimum, ignoring the first and last few; and
 * the rate at the minimum divided by ten. Null when the curve never falls.
 */
export function suggestLearningRate(points: readonly LrFindPoint[]): LrFindResult['suggestion'] {
  const n = points.length;
  if (n < 12) return null;
  const skipStart = Math.min(10, Math.floor(n / 10));
  const skipEnd = Math.min(5, Math.floor(n / 20));
  const s = points.map((p) => p.smoothed);
  const logLr = points.map((p) => Math.log(p.learningRate));
  let minIndex = skipStart;
  for (let i = skipStart; i < n - skipEnd; i++) if (s[i]! < s[minIndex]!) minIndex = i;
  let steepest = -1;
  let steepestSlope = 0;
  for (let i = Math.max(1, skipStart); i <= minIndex && i + 1 < n; i++) {
    const slope = (s[i + 1]! - s[i - 1]!) / (logLr[i + 1]! - logLr[i - 1]!);
    if (slope < steepestSlope) {
      steepestSlope = slope;
      steepest = i;
    }
  }
  if (steepest < 0) return null;
  return { steepest: points[steepest]!.learningRate, minimumOver10: points[minIndex]!.learningRate / 10 };
}

/** Where the sweep's batches come from: the engine's epoch source, and how many batches one epoch has. */
export interface SweepSource<B> {
  batches(epoch: number): AsyncIterable<B> | Iterable<B>;
  batchesPerEpoch: number;
  /** Frees a batch after its step. */
  release?(batch: B): void;
}

/** Options of a sweep. */
export interface LrFindOptions {
  /** Steps of the sweep; default sweepSteps(batchesPerEpoch). */
  steps?: number;
  from?: number;
  to?: number;
  weightDecay?: number;
  /** What the net predicts (its batches' labels must be read by it); default: its classes. */
  target?: NetTarget;
  signal?: AbortSignal;
  /** Each point as it is measured (for live plots and progress). */
  onPoint?(point: LrFindPoint, step: number, steps: number): void;
}

/**
 * Sweeps the learning rate over `net` with Adam (the net's weights change: pass a copy built for
 * the sweep). Throws TrainingCancelled when the signal aborts.
 */
export async function findLearningRate(tf: typeof Tf, net: Net, source: SweepSource<ImageBatch>, options: LrFindOptions = {}): Promise<LrFindResult> {
  const from = options.from ?? lrSweep.from;
  const to = options.to ?? lrSweep.to;
  const steps = Math.max(2, options.steps ?? sweepSteps(source.batchesPerEpoch));
  const epochs = Math.ceil(steps / Math.max(1, source.batchesPerEpoch));
  const points: LrFindPoint[] = [];
  let average = 0;
  const beta = 0.98;
  const collect = curves((point) => {
    if (point.kind !== 'batch' || !Number.isFinite(point.loss)) return;
    average = beta * average + (1 - beta) * point.loss;
    const p = { learningRate: point.learningRate, loss: point.loss, smoothed: average / (1 - beta ** (points.length + 1)) };
    points.push(p);
    options.onPoint?.(p, point.step, steps);
  });
  const end: Callback = {
    afterBatch: (s) => {
      if (!s.stop && s.step >= steps) s.stop = { reason: `it reached the last rate (${to})` };
    },
  };
  const optimizer = tf.train.adam(from);
  try {
    const result = await fit({
      model: classifier(tf, net, { weightDecay: options.weightDecay, target: options.target }),
      batches: (epoch) => source.batches(epoch),
      batchesPerEpoch: source.batchesPerEpoch,
      epochs,
      optimizer,
      learningRate: from,
      callbacks: [learningRateSchedule(schedules.exponential(from, to), steps), divergence(), collect, end],
      signal: options.signal,
      release: source.release,
    });
    return { points, suggestion: suggestLearningRate(points), stopped: result.stopped ?? `the data ran out after ${result.steps} steps` };
  } finally {
    optimizer.dispose();
  }
}
