import type * as Tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNet, netSpec } from '../../../src/main/model/archSpec';
import { selectBackend } from '../../../src/main/model/backend';
import { fit, TrainingCancelled } from '../../../src/main/train/engine';
import { findLearningRate, smoothLosses, suggestLearningRate, sweepSteps } from '../../../src/main/train/lrFinder';
import { classifier, type ImageBatch } from '../../../src/main/train/netBatch';
import { colourBatch } from './toolsData';

let tf: typeof Tf;
let batches: ImageBatch[];
const spec = () => netSpec('small-cnn', [12, 12, 3], 3);

beforeAll(async () => {
  tf = (await selectBackend()).tf;
  batches = Array.from({ length: 6 }, (_, i) => colourBatch(tf, 16, 12, 10 + i));
});

/** Trains a fresh net (same seed as the sweep's) for `epochs` at a constant rate; the last epoch's mean loss. */
async function trainAt(rate: number, epochs = 5): Promise<number> {
  const net = buildNet(tf, spec(), 1);
  const optimizer = tf.train.adam(rate);
  const result = await fit({ model: classifier(tf, net), batches: () => batches, batchesPerEpoch: batches.length, epochs, optimizer, learningRate: rate });
  optimizer.dispose();
  net.dispose();
  return result.state.epochLoss;
}

describe('the LR finder', () => {
  it('smooths with a bias-corrected moving average, so a constant curve stays constant', () => {
    expect(smoothLosses([2, 2, 2, 2])).toEqual([2, 2, 2, 2].map(() => expect.closeTo(2, 10)));
    const s = smoothLosses([1, 0], 0.5);
    // avg1 = 0.5, corrected 0.5/0.5 = 1; avg2 = 0.25, corrected 0.25/0.75
    expect(s[0]).toBeCloseTo(1, 10);
    expect(s[1]).toBeCloseTo(1 / 3, 10);
  });

  it('suggests the steepest fall before the minimum, and the minimum over ten, on a known curve', () => {
    // log10(rate) from -7 to 1; loss falls fastest at 1e-3 (a tanh step), bottoms at 1e-1, then rises.
    const points = Array.from({ length: 100 }, (_, i) => {
      const log = -7 + (8 * i) / 99;
      const loss = 2 - Math.tanh((log + 3) * 2) + (log > -1 ? (log + 1) ** 2 * 3 : 0);
      return { learningRate: 10 ** log, loss, smoothed: loss };
    });
    const s = suggestLearningRate(points)!;
    expect(Math.log10(s.steepest)).toBeCloseTo(-3, 0);
    expect(Math.log10(s.minimumOver10)).toBeCloseTo(-2, 0);
    // A curve that only rises suggests nothing.
    expect(suggestLearningRate(points.map((p, i) => ({ ...p, smoothed: i })))).toBeNull();
  });

  it('sweeps at least 100 and at most 300 steps, cycling short datasets', () => {
    expect(sweepSteps(6)).toBe(100);
    expect(sweepSteps(180)).toBe(180);
    expect(sweepSteps(5000)).toBe(300);
  });

  it('sweeps exponentially up from 1e-7 until the loss diverges, and its suggestion trains where 100x it does not', async () => {
    const net = buildNet(tf, spec(), 1);
    const seen: number[] = [];
    const result = await findLearningRate(tf, net, { batches: () => batches, batchesPerEpoch: batches.length }, { onPoint: (p) => seen.push(p.learningRate) });
    net.dispose();
    expect(result.points.length).toBe(seen.length);
    expect(result.points.length).toBeGreaterThan(30);
    expect(result.points.length).toBeLessThanOrEqual(100);
    expect(result.points[0]!.learningRate).toBeCloseTo(1e-7, 12);
    const ratios = result.points.slice(1).map((p, i) => p.learningRate / result.points[i]!.learningRate);
    for (const r of ratios) expect(r).toBeCloseTo((10 / 1e-7) ** (1 / 99), 6);
    // It ended because the loss ran away, before the last rate.
    expect(result.stopped).toMatch(/loss/);
    expect(result.points.at(-1)!.learningRate).toBeLessThan(10);
    const suggestion = result.suggestion!;
    expect(suggestion.steepest).toBeGreaterThan(1e-6);
    expect(suggestion.steepest).toBeLessThan(0.1);

    const start = result.points[0]!.loss;
    const atSuggested = await trainAt(suggestion.steepest);
    const atHundredTimes = await trainAt(suggestion.steepest * 100);
    expect(atSuggested).toBeLessThan(0.1 * start);
    expect(Number.isFinite(atHundredTimes) ? atHundredTimes : Infinity).toBeGreaterThan(Math.max(0.2, 5 * atSuggested));
    const atMinimumOver10 = await trainAt(suggestion.minimumOver10);
    expect(atMinimumOver10).toBeLessThan(0.1 * start);
  });

  it('ends at the last rate when the loss never diverges, and stops with TrainingCancelled when cancelled', async () => {
    const net = buildNet(tf, spec(), 2);
    const short = await findLearningRate(tf, net, { batches: () => batches, batchesPerEpoch: batches.length }, { steps: 20, to: 1e-5 });
    expect(short.points).toHaveLength(20);
    expect(short.points.at(-1)!.learningRate).toBeCloseTo(1e-5, 10);
    expect(short.stopped).toMatch(/last rate/);

    const controller = new AbortController();
    const sweep = findLearningRate(tf, net, { batches: () => batches, batchesPerEpoch: batches.length }, {
      signal: controller.signal,
      onPoint: (_p, step) => {
        if (step === 5) controller.abort();
      },
    });
    await expect(sweep).rejects.toBeInstanceOf(TrainingCancelled);
    net.dispose();
  });
});
