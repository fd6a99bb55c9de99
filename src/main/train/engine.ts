/**
 * The training engine: one loop for every model Loupe trains (the quick model's head, the full
 * model, the LR finder, the sanity checks), with a fixed vocabulary of events and small callbacks
 * that observe or steer it (fastai's Learner, in miniature). The loop itself only draws batches,
 * takes optimizer steps and raises events; curves, validation, early stopping, checkpoints,
 * schedules and cancellation are callbacks. Host-agnostic: the model and optimizer come from the
 * `tf` the host selected.
 */
import type * as Tf from '@tensorflow/tfjs';

/** The events of one fit, in the order they fire. */
export const engineEvents = ['beforeFit', 'beforeEpoch', 'beforeBatch', 'afterBatch', 'afterEpoch', 'afterFit'] as const;
/** One of the engine's events. */
export type EngineEvent = (typeof engineEvents)[number];

/** What callbacks see and may change while a fit runs. */
export interface FitState {
  /** The epoch running (from 1), or the last one after the fit. */
  epoch: number;
  /** Batches done in this epoch. */
  batch: number;
  /** Optimizer steps done in the whole fit (resumed fits continue the count). */
  step: number;
  /** Steps the fit will take if it runs to the end, when the batch count is known (else null). */
  totalSteps: number | null;
  /** The learning rate of the next step; a schedule sets it before each batch. */
  learningRate: number;
  /** The last batch's loss. */
  batchLoss: number;
  /** Images in the last batch. */
  batchSize: number;
  /** Mean training loss of the epoch so far. */
  epochLoss: number;
  /** Set by a validation callback after each epoch. */
  valLoss: number | null;
  valAccuracy: number | null;
  /** A callback sets this to end the fit after the current batch (early stopping, a diverging LR sweep). */
  stop: { reason: string } | null;
}

/** A callback: any of the events, each given the state. */
export type Callback = Partial<Record<EngineEvent, (state: FitState) => void | Promise<void>>>;

/** Thrown between batches when the fit's signal is aborted: a typed state, never a message to match. */
export class TrainingCancelled extends Error {
  constructor() {
    super('Training was cancelled.');
    this.name = 'TrainingCancelled';
  }
}

/** A model the engine can train: the variables gradients update, and a loss over one batch. */
export interface Trainable<B> {
  trainable: Tf.Variable[];
  /** The scalar loss of a batch, computed inside the optimizer's tape (regularisation included). */
  loss(batch: B): Tf.Scalar;
  /** Images in a batch (for rates and means). */
  sizeOf(batch: B): number;
}

/** How to fit. */
export interface FitOptions<B> {
  model: Trainable<B>;
  /** Batches of one epoch (1-based); a batch source may prepare the next batch while this one trains. */
  batches(epoch: number): AsyncIterable<B> | Iterable<B>;
  /** Batches per epoch, when known: lets schedules and time-left estimates see the whole fit. */
  batchesPerEpoch?: number;
  epochs: number;
  /** The first epoch to run (a resumed fit starts after its checkpoint). Default 1. */
  startEpoch?: number;
  /** Steps already taken before `startEpoch` (resumed fits). Default 0. */
  startStep?: number;
  optimizer: Tf.Optimizer;
  learningRate: number;
  callbacks?: Callback[];
  /** Aborting it stops the fit between batches with TrainingCancelled. */
  signal?: AbortSignal;
  /** Called with every batch after it is used, so the source's tensors can be freed. */
  release?(batch: B): void;
}

/** How a fit ended. */
export interface FitResult {
  epochs: number;
  steps: number;
  /** Why it ended before its last epoch (early stopping, divergence), or null. */
  stopped: string | null;
  state: FitState;
}

/** Runs the loop. */
export async function fit<B>(options: FitOptions<B>): Promise<FitResult> {
  const { model, optimizer, signal } = options;
  const callbacks = options.callbacks ?? [];
  const startEpoch = options.startEpoch ?? 1;
  const state: FitState = {
    epoch: startEpoch,
    batch: 0,
    step: options.startStep ?? 0,
    totalSteps: options.batchesPerEpoch === undefined ? null : options.batchesPerEpoch * options.epochs,
    learningRate: options.learningRate,
    batchLoss: Number.NaN,
    batchSize: 0,
    epochLoss: Number.NaN,
    valLoss: null,
    valAccuracy: null,
    stop: null,
  };
  const emit = async (event: EngineEvent) => {
    for (const callback of callbacks) await callback[event]?.(state);
  };
  const checkCancel = () => {
    if (signal?.aborted) throw new TrainingCancelled();
  };

  checkCancel();
  await emit('beforeFit');
  let epoch = startEpoch;
  for (; epoch <= options.epochs && !state.stop; epoch++) {
    state.epoch = epoch;
    state.batch = 0;
    state.epochLoss = 0;
    state.valLoss = null;
    state.valAccuracy = null;
    await emit('beforeEpoch');
    let lossSum = 0;
    let images = 0;
    for await (const batch of options.batches(epoch)) {
      try {
        checkCancel();
        await emit('beforeBatch');
        setLearningRate(optimizer, state.learningRate);
        const lossTensor = optimizer.minimize(() => model.loss(batch), true, model.trainable);
        const loss = (await lossTensor!.data())[0]!;
        lossTensor!.dispose();
        const size = model.sizeOf(batch);
        state.batch++;
        state.step++;
        state.batchLoss = loss;
        state.batchSize = size;
        lossSum += loss * size;
        images += size;
        state.epochLoss = lossSum / images;
      } finally {
        options.release?.(batch);
      }
      await emit('afterBatch');
      // Let the host hear a cancel message (or a UI event) between batches.
      await new Promise((resolve) => setImmediate(resolve));
      if (state.stop) break;
    }
    await emit('afterEpoch');
  }
  state.epoch = Math.min(epoch - 1, options.epochs);
  await emit('afterFit');
  return { epochs: state.epoch, steps: state.step, stopped: state.stop?.reason ?? null, state };
}

/** Adam and its kin read `learningRate` at each step; a schedule changes it between steps. */
function setLearningRate(optimizer: Tf.Optimizer, rate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}

// ---- Callbacks -------------------------------------------------------------------------------

/** Evaluates the model after each epoch (valid loss and accuracy) into the state. */
export function validation(evaluate: () => Promise<{ loss: number; accuracy: number | null }>): Callback {
  return {
    afterEpoch: async (state) => {
      const { loss, accuracy } = await evaluate();
      state.valLoss = loss;
      state.valAccuracy = accuracy;
    },
  };
}

/**
 * Stops when the valid loss has not improved for `patience` epochs, and at the end puts back the
 * weights of the best epoch. `snapshot` copies the weights, `restore` writes a copy back.
 * Must come after `validation` in the callback list.
 */
export function earlyStopping<W>(options: {
  patience: number;
  snapshot(): Promise<W> | W;
  restore(weights: W): void;
  dispose?(weights: W): void;
  /** Improvements smaller than this do not count. Default 1e-5. */
  minDelta?: number;
  /** A resumed fit's best so far (from its checkpoint) and the epochs since it improved. */
  resume?: { epoch: number; loss: number; weights: W; since: number };
}): Callback & { best(): { epoch: number; loss: number } | null } {
  let best: { epoch: number; loss: number; weights: W } | null = options.resume
    ? { epoch: options.resume.epoch, loss: options.resume.loss, weights: options.resume.weights }
    : null;
  let since = options.resume?.since ?? 0;
  const minDelta = options.minDelta ?? 1e-5;
  return {
    afterEpoch: async (state) => {
      if (state.valLoss === null) return;
      if (best === null || state.valLoss < best.loss - minDelta) {
        if (best) options.dispose?.(best.weights);
        best = { epoch: state.epoch, loss: state.valLoss, weights: await options.snapshot() };
        since = 0;
      } else if (++since >= options.patience) {
        state.stop = { reason: `valid loss did not improve for ${options.patience} epochs (best: epoch ${best.epoch})` };
      }
    },
    afterFit: () => {
      if (best) {
        options.restore(best.weights);
        options.dispose?.(best.weights);
      }
    },
    best: () => (best ? { epoch: best.epoch, loss: best.loss } : null),
  };
}

/** A learning-rate schedule: the rate of step `step` (0-based) of `total`. */
export type Schedule = (step: number, total: number) => number;

/** The learning-rate schedules Loupe offers. */
export const schedules = {
  constant: (rate: number): Schedule => () => rate,
  /** Cosine decay from `rate` to rate/100 over the fit. */
  cosine: (rate: number): Schedule => (step, total) => rate / 100 + (rate - rate / 100) * 0.5 * (1 + Math.cos((Math.PI * Math.min(step, total)) / Math.max(1, total))),
  /** One-cycle: up from rate/25 to rate over the first 30%, then cosine down to rate/25e4. */
  oneCycle: (rate: number): Schedule => (step, total) => {
    const warm = Math.max(1, Math.round(total * 0.3));
    const cos = (from: number, to: number, t: number) => to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * t));
    return step < warm ? cos(rate / 25, rate, step / warm) : cos(rate, rate / 25e4, (step - warm) / Math.max(1, total - warm));
  },
  /** Exponential sweep from `from` to `to` over `total` steps: the LR finder's. */
  exponential: (from: number, to: number): Schedule => (step, total) => from * (to / from) ** (step / Math.max(1, total - 1)),
};

/** Sets the learning rate before each batch from a schedule over the fit's steps. */
export function learningRateSchedule(schedule: Schedule, totalSteps?: number): Callback {
  return {
    beforeBatch: (state) => {
      state.learningRate = schedule(state.step, totalSteps ?? state.totalSteps ?? state.step + 1);
    },
  };
}

/** One point of the loss curve, as the engine reports it. */
export interface EnginePoint {
  kind: 'batch' | 'epoch';
  epoch: number;
  step: number;
  loss: number;
  learningRate: number;
  valLoss: number | null;
  valAccuracy: number | null;
}

/** Reports a point after every batch (loss, learning rate) and every epoch (train and valid loss). */
export function curves(onPoint: (point: EnginePoint) => void): Callback {
  return {
    afterBatch: (s) =>
      onPoint({ kind: 'batch', epoch: s.epoch, step: s.step, loss: s.batchLoss, learningRate: s.learningRate, valLoss: null, valAccuracy: null }),
    afterEpoch: (s) =>
      onPoint({ kind: 'epoch', epoch: s.epoch, step: s.step, loss: s.epochLoss, learningRate: s.learningRate, valLoss: s.valLoss, valAccuracy: s.valAccuracy }),
  };
}

/** Images per second over the fit and the time left, after each batch. */
export function throughput(onRate: (rate: { imagesPerSecond: number; secondsLeft: number | null; step: number; totalSteps: number | null }) => void, now = () => performance.now()): Callback {
  let started = 0;
  let images = 0;
  let firstStep = 0;
  return {
    beforeFit: (s) => {
      started = now();
      firstStep = s.step;
    },
    afterBatch: (s) => {
      images += s.batchSize;
      const seconds = (now() - started) / 1000;
      const perStep = seconds / Math.max(1, s.step - firstStep);
      const imagesPerSecond = seconds > 0 ? images / seconds : 0;
      onRate({ imagesPerSecond, secondsLeft: s.totalSteps === null ? null : perStep * (s.totalSteps - s.step), step: s.step, totalSteps: s.totalSteps });
    },
  };
}

/** Stops a fit whose batch loss has become NaN, infinite, or more than `factor` times its best (the LR finder's end). */
export function divergence(factor = 4): Callback & { bestLoss(): number } {
  let best = Number.POSITIVE_INFINITY;
  return {
    afterBatch: (s) => {
      if (!Number.isFinite(s.batchLoss)) s.stop = { reason: 'the loss became NaN or infinite' };
      else if (s.batchLoss > best * factor) s.stop = { reason: `the loss rose above ${factor}x its lowest` };
      best = Math.min(best, s.batchLoss);
    },
    bestLoss: () => best,
  };
}

/** Calls `save` after each epoch (a checkpoint), with the state. */
export function checkpoints(save: (state: FitState) => Promise<void> | void): Callback {
  return { afterEpoch: (s) => save(s) };
}
