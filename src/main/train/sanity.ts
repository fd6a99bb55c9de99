/**
 * "Overfit one batch" (Karpathy's recipe): a network that cannot drive the loss of one image, then
 * of eight, to near zero with augmentation and regularisation off has a bug in the data, the model
 * or the optimiser, and a long run would only hide it. Each attempt trains a fresh copy of the
 * network with Adam on the engine; a failed check names its likely causes from the curve it saw.
 * The loss is the network's target's (netBatch.ts): for a value, squared or Huber on standardised
 * values, so "near zero" means the same fraction of a standard deviation whatever the units.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { OverfitResult } from '../../shared/train';
import type { Net } from '../model/archSpec';
import { fit } from './engine';
import { classifier, classTarget, netLoss, type ImageBatch, type NetTarget } from './netBatch';

/** Sizes of the batches tried, in order. */
export const overfitSizes = [1, 8] as const;
/** The check's defaults: Adam steps and rate, and when an attempt passes. */
export const overfitDefaults = { steps: 100, learningRate: 1e-3, passBelow: 0.05, passFraction: 0.02 } as const;

/** Why an attempt failed, from its curve (a closed set, so causes are chosen by value, never by text). */
export type OverfitSymptom = 'frozen' | 'flat' | 'rising' | 'slow' | null;

/** One attempt: a batch and the fresh network it trains. */
export interface OverfitAttempt {
  batch: ImageBatch;
  net: Net;
  /** The variables to train; default net.trainable. An empty list is a frozen network. */
  trainable?: Tf.Variable[];
}

/** Options of the check. */
export interface OverfitOptions {
  steps?: number;
  learningRate?: number;
  /** What the nets predict (the batches' labels must be read by it); default: their classes. */
  target?: NetTarget;
  signal?: AbortSignal;
  /** Each step's loss, for live curves. */
  onLoss?(attempt: number, step: number, loss: number): void;
}

/** Whether a final loss passes, given the first. */
export function overfitPassed(first: number, final: number): boolean {
  return Number.isFinite(final) && (final < overfitDefaults.passBelow || final < first * overfitDefaults.passFraction);
}

/** What a failed attempt's losses show. */
export function overfitSymptom(losses: readonly number[], trainableCount: number): OverfitSymptom {
  if (trainableCount === 0) return 'frozen';
  const first = losses[0] ?? Number.NaN;
  const final = losses[losses.length - 1] ?? Number.NaN;
  if (overfitPassed(first, final)) return null;
  // Rising, NaN, or spiking far above the start: the steps overshoot.
  if (!losses.every(Number.isFinite) || final > first || Math.max(...losses) > 3 * first) return 'rising';
  // Hardly moved from the start.
  if (first - final < 0.05 * first) return 'flat';
  return 'slow';
}

/** The causes, in words, of what the attempts showed. */
export function overfitCauses(attempts: ReadonlyArray<{ images: number; passed: boolean; symptom: OverfitSymptom }>, learningRate: number): string[] {
  const causes: string[] = [];
  const add = (cause: string) => {
    if (!causes.includes(cause)) causes.push(cause);
  };
  const symptoms = new Set(attempts.filter((a) => !a.passed).map((a) => a.symptom));
  if (symptoms.has('frozen')) add('The network has no trainable weights (it is frozen): unfreeze its layers.');
  if (symptoms.has('rising')) add(`The loss rose or became NaN: the learning rate (${learningRate}) is far too high; try 10 to 100 times lower, or run the LR finder.`);
  if (symptoms.has('flat')) add(`The loss stayed flat from the start: the learning rate (${learningRate}) is far too low, or gradients do not reach the weights (a frozen network); try a higher rate or run the LR finder.`);
  const one = attempts.find((a) => a.images === 1);
  const many = attempts.filter((a) => a.images > 1 && !a.passed && a.symptom !== 'frozen' && a.symptom !== 'rising');
  if (one?.passed && many.length > 0) {
    add('The loss fell for 1 image but not for 8: check that labels match their images (shuffled or misaligned labels), or the network has too little capacity.');
  }
  if (symptoms.has('slow') && causes.length === 0) add('The loss fell but not near zero: give the check more steps, raise the learning rate, or check the labels.');
  return causes;
}

/** The loss of a frozen network, measured once: no step can change it (and the optimiser would refuse an empty list). */
async function frozenLoss(tf: typeof Tf, attempt: OverfitAttempt, target: NetTarget): Promise<number> {
  const loss = netLoss(tf, attempt.net, attempt.batch, target);
  const value = (await loss.data())[0]!;
  loss.dispose();
  return value;
}

/**
 * Runs the check: each attempt trains its net for `steps` Adam steps on its one batch, with no
 * augmentation and no weight decay. Throws TrainingCancelled when the signal aborts.
 */
export async function overfitCheck(tf: typeof Tf, attempts: readonly OverfitAttempt[], options: OverfitOptions = {}): Promise<OverfitResult> {
  const steps = options.steps ?? overfitDefaults.steps;
  const learningRate = options.learningRate ?? overfitDefaults.learningRate;
  const done: Array<OverfitResult['attempts'][number] & { symptom: OverfitSymptom }> = [];
  for (const [index, attempt] of attempts.entries()) {
    const trainable = (attempt.trainable ?? attempt.net.trainable).filter((v) => v.trainable);
    const target = options.target ?? classTarget(attempt.net.spec.classes);
    const images = attempt.batch.x.shape[0];
    const losses: number[] = [];
    if (trainable.length === 0) {
      losses.push(await frozenLoss(tf, attempt, target));
    } else {
      const optimizer = tf.train.adam(learningRate);
      try {
        await fit({
          model: classifier(tf, attempt.net, { trainable, target }),
          batches: () => [attempt.batch],
          batchesPerEpoch: 1,
          epochs: steps,
          optimizer,
          learningRate,
          signal: options.signal,
          callbacks: [
            {
              afterBatch: (s) => {
                losses.push(s.batchLoss);
                options.onLoss?.(index, s.step, s.batchLoss);
                // Once NaN, nothing more can be learnt from the attempt.
                if (!Number.isFinite(s.batchLoss)) s.stop = { reason: 'the loss became NaN or infinite' };
              },
            },
          ],
        });
      } finally {
        optimizer.dispose();
      }
    }
    const finalLoss = losses[losses.length - 1] ?? Number.NaN;
    // A frozen network cannot learn, whatever its loss happens to be.
    const passed = trainable.length > 0 && overfitPassed(losses[0] ?? Number.NaN, finalLoss);
    const taken = trainable.length === 0 ? 0 : losses.length;
    done.push({ images, steps: taken, losses, finalLoss, passed, symptom: passed ? null : overfitSymptom(losses, trainable.length) });
  }
  const passed = done.length > 0 && done.every((a) => a.passed);
  return {
    attempts: done.map(({ symptom: _symptom, ...attempt }) => attempt),
    passed,
    causes: passed ? [] : overfitCauses(done, learningRate),
  };
}
