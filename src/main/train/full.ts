/**
 * The full model, in the training process: a built-in network (model/archSpec.ts) trained end to
 * end on the images by the training engine. Train batches come augmented from the feeder (seeded by
 * the run's seed and the epoch, so a resumed run sees the same batches); valid is only resized.
 * Adam with the chosen schedule, the target's loss (+ L2 on kernels), validation each epoch,
 * early stopping with the best epoch's weights kept, a checkpoint after each epoch sent to the core,
 * and at the end a prediction for every image. The target (netBatch.ts) is classes (softmax
 * cross-entropy, probabilities out) or a value (one output, squared or Huber loss on values
 * standardised by each network's own train images, values out in the user's units); one loop
 * trains both. With config.folds = k >= 2, k fold networks first,
 * each trained by the same trainOne on the other folds of train, predict their held-out fold
 * (out-of-sample train predictions); then the final network as above gives valid and test.
 *
 * Host-agnostic: it receives a `tf` (ctx.tf) and its batches and backbones from `FullSources`
 * (batchSource.ts): the sharp feeder in the training process, batches sent over a MessagePort in
 * the GPU window. A batch that does not fit on the device is halved and the epoch retried, said in
 * the log and in the answer. The next batch's tensors are made while the current one trains, so
 * the upload overlaps the step.
 */
import type * as Tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { AugmentConfig } from '../../shared/augment';
import { networkPipeline } from './pipeline';
import { LoupeError } from '../../shared/errors';
import { fullConfigSchema, type BackendReport, type CurvePoint, type FullConfig } from '../../shared/train';
import type { Batch, FeederItem } from '../augment/feeder';
import { architectureNames, buildNet, netSpec, type NamedWeights, type Net } from '../model/archSpec';
import type { BackboneSpec } from '../model/backbones';
import { batchCount, type BatchRequest, type FullSources } from './batchSource';
import type { CheckpointState } from './checkpoints';
import { checkpoints, curves, earlyStopping, fit, learningRateSchedule, schedules, throughput, validation, type Callback, type FitResult, type Schedule } from './engine';
import { halvedBatch, isOutOfMemory } from './outOfMemory';
import { freezeSchedule, groupedAdam, liveTrainable } from './finetune';
import type { KindContext } from './kinds/types';
import { stratifiedFolds } from './folds';
import { foldsOf } from './fullFolds';
import { quantileBins, valueStrataCount } from '../dataset/quantiles';
import { assertNever } from '../../shared/assertNever';
import { checkLabels, classificationTarget, classifier, disposeBatch, initOutput, netTarget, netTargetSchema, type ImageBatch, type NetTarget, type NetTargetSpec } from './netBatch';

const float32 = z.custom<Float32Array>((v) => v instanceof Float32Array, 'must be a Float32Array');
const namedWeights = z.map(z.string(), z.object({ shape: z.array(z.number().int().min(0)), data: float32 }));

/** What the core sends: the images (files already checked to be inside the project), the config, the input, and a checkpoint to resume from. */
export const fullInputSchema = z.object({
  runId: z.number().int().positive(),
  /** The classes of a classification target (two at least); [] for a value. */
  classes: z.array(z.string()),
  items: z.array(
    z.object({
      id: z.number().int(),
      file: z.string(),
      width: z.number().int().positive().nullable(),
      height: z.number().int().positive().nullable(),
      /** The class index, or the value in the user's units (checked against the target by runFull). */
      label: z.number().finite(),
      split: z.enum(['train', 'valid', 'test']).nullable(),
    }),
  ),
  /** What the networks predict; absent: classes (read with targetOf). */
  target: netTargetSchema.optional(),
  config: fullConfigSchema,
  /** A built-in network, or 'finetune': `backbone` (a TF.js layers model) with a new head. */
  arch: z.enum([...architectureNames, 'finetune']),
  /** For 'finetune': the resolved backbone; its preprocessing fixes inputSize, channels and the normalisation. */
  backbone: z.custom<BackboneSpec>((v) => typeof v === 'object' && v !== null && 'kind' in v && 'file' in v, 'must be a backbone spec').nullable().optional(),
  inputSize: z.number().int().min(8).max(512),
  channels: z.union([z.literal(1), z.literal(3)]),
  resume: z
    .object({
      epoch: z.number().int().min(0),
      step: z.number().int().min(0),
      weights: namedWeights,
      optimizer: namedWeights,
      state: z.custom<CheckpointState>((v) => typeof v === 'object' && v !== null),
      /** The best epoch's weights (early stopping's pick so far), when there is one. */
      bestWeights: namedWeights.nullable(),
    })
    .nullable(),
});
/** The kind's input. */
export type FullInput = z.output<typeof fullInputSchema>;

/** What an input's networks predict (classes unless it says). */
export function targetOf(input: Pick<FullInput, 'target'>): NetTargetSpec {
  return input.target ?? classificationTarget;
}

/** A checkpoint as the process emits it after each epoch. */
export interface FullCheckpointMessage {
  type: 'checkpoint';
  epoch: number;
  step: number;
  weights: NamedWeights;
  optimizer: NamedWeights;
  state: CheckpointState;
  /** This epoch's weights are the best so far (or the run's final pick): the core keeps them as 'best' too. */
  isBest: boolean;
}

/**
 * Sent after each fold network of a k-fold run: the ids it was fed (the audit: none of its held-out
 * fold), and its predictions of the held-out fold, out-of-sample: heldOut.length x classes
 * probabilities, or one value each (in the user's units) for a value target.
 */
export interface FullFoldMessage {
  type: 'fold';
  /** From 0; its curve phase is `fold ${fold + 1}/${folds}`. */
  fold: number;
  folds: number;
  trained: number[];
  heldOut: number[];
  probabilities: Float32Array;
}

/** Sent once the network is built: what it trains (the core records it with the run). */
export interface FullNetMessage {
  type: 'net';
  parameters: number;
}

/** What the kind answers. */
export interface FullAnswer {
  /** items.length x classes probabilities (a value target: one value per item, in the user's units), in the input's item order, from the weights kept. */
  probabilities: Float32Array;
  epochs: number;
  steps: number;
  stopped: string | null;
  bestEpoch: number | null;
  /** Seconds spent training, every network of the run together. */
  trainSeconds: number;
  /** Images fed to training per second of training, every network together: the rate an estimate uses. */
  imagesPerSecond: number | null;
  report: BackendReport;
  /** The batch size the run trained with, and why it is smaller than the config's (it did not fit on the device), else null. */
  batch: { size: number; note: string | null };
}

/** A host's sources for a full run: its batches and callbacks, and how it reads a fit that failed. */
export interface FullHostSources extends FullSources {
  /**
   * Called with the error of a fit that failed, before it is judged out of memory or not; answers
   * the error to judge. The GPU window closes the WebGPU error scope a failed step left open and
   * answers DeviceOutOfMemory when the device reported running out of memory in it.
   */
  failedFit?(error: unknown): Promise<unknown>;
}

/** Scheduled rates by name. */
function scheduleOf(config: FullConfig): Schedule {
  switch (config.schedule) {
    case 'constant':
      return schedules.constant(config.learningRate);
    case 'cosine':
      return schedules.cosine(config.learningRate);
    case 'one-cycle':
      return schedules.oneCycle(config.learningRate);
  }
}

// Adam's bias-correction powers are not in getWeights; setWeights would recompute them with pow(),
// which differs from the running product in the last bits. Saving them keeps a resume exact.
type AdamScalars = { accBeta1?: Tf.Variable; accBeta2?: Tf.Variable };

async function optimizerState(optimizer: Tf.Optimizer): Promise<{ weights: NamedWeights; scalars: Record<string, number> }> {
  const weights: NamedWeights = new Map();
  for (const { name, tensor } of await optimizer.getWeights()) {
    weights.set(name, { shape: [...tensor.shape], data: Float32Array.from(await tensor.data()) });
    // getWeights makes a fresh step-count scalar ('iter') each call; the rest are the optimizer's own variables.
    if (name === 'iter' || name.endsWith(':iter')) tensor.dispose();
  }
  const scalars: Record<string, number> = {};
  const adam = optimizer as unknown as AdamScalars;
  if (adam.accBeta1) scalars.accBeta1 = (await adam.accBeta1.data())[0]!;
  if (adam.accBeta2) scalars.accBeta2 = (await adam.accBeta2.data())[0]!;
  return { weights, scalars };
}

async function restoreOptimizer(tf: typeof Tf, optimizer: Tf.Optimizer, weights: NamedWeights, scalars: Record<string, number>): Promise<void> {
  const tensors = [...weights].map(([name, w]) => ({ name, tensor: tf.tensor(w.data, w.shape) }));
  await optimizer.setWeights(tensors);
  tf.dispose(tensors.map((t) => t.tensor));
  const adam = optimizer as unknown as AdamScalars;
  tf.tidy(() => {
    if (adam.accBeta1 && scalars.accBeta1 !== undefined) adam.accBeta1.assign(tf.scalar(scalars.accBeta1));
    if (adam.accBeta2 && scalars.accBeta2 !== undefined) adam.accBeta2.assign(tf.scalar(scalars.accBeta2));
  });
}

async function copyWeights(net: Net): Promise<NamedWeights> {
  const out: NamedWeights = new Map();
  for (const [name, w] of await net.readWeights()) out.set(name, { shape: w.shape, data: Float32Array.from(w.data) });
  return out;
}

/** What one network of a run is trained on, and what it then predicts. */
interface OneNetwork {
  /** The curve phase: 'train' (the final network, as before k-fold) or 'fold f/k'. */
  phase: string;
  /** The seed of its weights, batch order and augmentation. */
  seed: number;
  train: FullInput['items'];
  predict: FullInput['items'];
  /** Continue from this checkpoint (the final network only). */
  resume: FullInput['resume'];
  /** The final network: its checkpoints go to the core, and a finetune net's size is reported. */
  isFinal: boolean;
}

/** What one network gave. */
interface OneResult {
  /** predict.length x the target's outputs (probabilities, or values), in predict's order. */
  probabilities: Float32Array;
  epochs: number;
  steps: number;
  stopped: string | null;
  bestEpoch: number | null;
  trainSeconds: number;
  /** Images fed to training (augmented views counted once each). */
  imagesFed: number;
  /** The ids of the images the network was fed, sorted (the fold audit). */
  trained: number[];
}

/**
 * Trains one full run; see the module comment. With config.folds = k >= 2 (and not resuming: a
 * resume continues the final network), k fold networks come first, each trained by trainOne on the
 * other folds of the train images and predicting its held-out fold (sent to the core as a 'fold'
 * message), then the final network on every train image, exactly as a run without folds.
 */
export async function runFull(input: FullInput, ctx: KindContext, sources: FullHostSources): Promise<FullAnswer> {
  const { tf, report } = await ctx.tf();
  const { config } = input;
  ctx.log(`TF.js backend: ${report.name}`);
  const train = input.items.filter((i) => i.split === 'train');
  if (train.length === 0) throw new LoupeError('CONFLICT', 'No labelled images are in the train split.');
  checkLabels(targetOf(input), input.classes.length, input.items.map((i) => i.label));
  const k = foldsOf(config);
  let fed = 0;
  let seconds = 0;
  // Halved when a batch does not fit; later networks of the run start from the size that fitted.
  const batch = resumedBatch(input);
  const host: Host = { sources, batch };
  if (k > 0 && !input.resume) {
    if (train.length < k) throw new LoupeError('CONFLICT', `config.folds: ${k} folds need at least ${k} train images; the train split has ${train.length}.`, { field: 'config.folds' });
    const assignment = stratifiedFolds(foldStrata(targetOf(input), train.map((i) => i.label), k), k, config.seed);
    for (let f = 0; f < k; f++) {
      const heldOut = train.filter((_, i) => assignment[i] === f);
      const others = train.filter((_, i) => assignment[i] !== f);
      const phase = `fold ${f + 1}/${k}`;
      ctx.log(`${phase}: training on ${others.length} images, then predicting the ${heldOut.length} held out`);
      const one = await trainOne(tf, input, ctx, host, { phase, seed: config.seed + f + 1, train: others, predict: heldOut, resume: null, isFinal: false });
      fed += one.imagesFed;
      seconds += one.trainSeconds;
      ctx.emit({ type: 'fold', fold: f, folds: k, trained: one.trained, heldOut: heldOut.map((i) => i.id), probabilities: one.probabilities } satisfies FullFoldMessage);
    }
  }
  if (k > 0) ctx.log(input.resume ? 'resuming the final network (the fold networks had finished)' : 'final network: all train images');
  const final = await trainOne(tf, input, ctx, host, { phase: 'train', seed: config.seed, train, predict: input.items, resume: input.resume, isFinal: true });
  fed += final.imagesFed;
  seconds += final.trainSeconds;
  return {
    probabilities: final.probabilities,
    epochs: final.epochs,
    steps: final.steps,
    stopped: final.stopped,
    bestEpoch: final.bestEpoch,
    trainSeconds: seconds,
    imagesPerSecond: fed > 0 && seconds > 0 ? fed / seconds : null,
    report,
    batch,
  };
}

/**
 * The batch size a run starts at: the config's, or on a resume the size its checkpoint's steps were
 * counted at (a batch halved before the interruption stays halved), said in the note.
 */
function resumedBatch(input: FullInput): Host['batch'] {
  const configured = input.config.batchSize;
  const saved = input.resume?.state.batchSize;
  if (saved === undefined || !Number.isInteger(saved) || saved < 1 || saved >= configured) return { size: configured, note: null };
  return { size: saved, note: `batch ${configured} did not fit on the device before the resume; continuing at ${saved}` };
}

/** What the networks of one run share: the host's sources and the batch size that fits. */
interface Host {
  sources: FullHostSources;
  batch: { size: number; note: string | null };
}

/**
 * The strata k-fold deals train images by: their classes, or quantile bins of their values (deciles,
 * fewer when there are too few images for each bin to reach every fold, as the quick model's).
 */
function foldStrata(spec: NetTargetSpec, labels: readonly number[], k: number): number[] {
  switch (spec.task) {
    case 'classification':
      return [...labels];
    case 'regression':
      return quantileBins(labels, Math.max(1, Math.min(valueStrataCount, Math.floor(labels.length / k))));
    default:
      return assertNever(spec, 'network target');
  }
}

/** Trains one network on `one.train` (validating on the valid split), then predicts `one.predict`: the one loop of every full-run network. */
async function trainOne(tf: typeof Tf, input: FullInput, ctx: KindContext, host: Host, one: OneNetwork): Promise<OneResult> {
  const { config: runConfig, inputSize: size, channels } = input;
  // The network's own seed: weights, batch order and augmentation.
  const config = { ...runConfig, seed: one.seed };
  // A value target is standardised by the images this network trains on.
  const target: NetTarget = netTarget(targetOf(input), input.classes.length, one.train.map((i) => i.label));
  const outputs = target.outputs;
  const finetune = input.arch === 'finetune' ? await finetuneOf(host.sources)(tf, requireBackbone(input.backbone), outputs, config.seed) : null;
  const net: Net = finetune ?? buildNet(tf, netSpec(input.arch as Exclude<FullInput['arch'], 'finetune'>, [size, size, channels], outputs), config.seed);
  if (finetune) {
    const [h, w, c] = finetune.spec.inputShape;
    if (h !== size || w !== size || c !== channels) {
      finetune.dispose();
      throw new LoupeError('CONFLICT', `The backbone takes ${h}x${w}x${c} inputs but the run was set up for ${size}x${size}x${channels}; start a new run.`);
    }
    if (one.isFinal) {
      ctx.log(`fine-tuning ${input.backbone!.name}: ${finetune.featureDim} features from ${finetune.featureLayer}, a new head; ${config.frozenEpochs} epochs frozen, then all layers (head at lr, later backbone layers at lr/10, earlier at lr/100)`);
      ctx.emit({ type: 'net', parameters: finetune.parameters } satisfies FullNetMessage);
    }
  }
  initOutput(tf, net, target);
  const optimizer = finetune ? groupedAdam(tf, finetune.groups, config.learningRate) : tf.train.adam(config.learningRate);
  const augment: AugmentConfig = networkPipeline(config.augment, [size, size], finetune?.normalize);
  const feederItem = (item: FullInput['items'][number]): FeederItem => ({ id: item.id, input: item.file, width: item.width, height: item.height, label: item.label });
  const train = one.train.map(feederItem);
  const valid = input.items.filter((i) => i.split === 'valid').map(feederItem);
  const toTensors = (batch: Batch): ImageBatch => ({
    x: tf.tensor4d(batch.x, [batch.size, size, size, channels]),
    labels: target.labels(tf, batch.y),
  });
  const feed = (request: Omit<BatchRequest, 'config' | 'batchSize' | 'seed' | 'channels'>) =>
    host.sources.batches({ config: augment, batchSize: host.batch.size, seed: config.seed, channels, ...request }, ctx.signal);
  // What the network is actually fed: the fold audit and the run's measured rate.
  const trained = new Set<number>();
  let imagesFed = 0;
  const fedBatches = async function* (source: AsyncIterable<Batch>): AsyncGenerator<Batch> {
    for await (const batch of source) {
      for (const id of batch.ids) trained.add(id);
      imagesFed += batch.size;
      yield batch;
    }
  };
  const started = performance.now();
  try {
    const resume = one.resume;
    if (resume) {
      net.writeWeights(resume.weights);
      await restoreOptimizer(tf, optimizer, resume.optimizer, resume.state.optimizerScalars);
      ctx.log(`resuming after epoch ${resume.epoch} (step ${resume.step})`);
    }

    // Valid batches are read again each epoch (never augmented): memory stays one batch, however large the split.
    const evaluate = async (): Promise<{ loss: number; accuracy: number | null }> => {
      let loss = 0;
      let correct = 0;
      let scored = true;
      for await (const batch of feed({ items: valid, epoch: 0, augment: false, shuffle: false })) {
        const predictions = await predictBatch(tf, net, target, batch, size, channels);
        for (let r = 0; r < batch.size; r++) {
          const score = target.score(predictions.subarray(r * outputs, (r + 1) * outputs), batch.y[r]!);
          loss += score.loss;
          if (score.correct === null) scored = false;
          else if (score.correct) correct++;
        }
      }
      return { loss: loss / valid.length, accuracy: scored ? correct / valid.length : null };
    };

    const stopper =
      valid.length > 0
        ? earlyStopping<NamedWeights>({
            patience: config.patience,
            snapshot: () => copyWeights(net),
            restore: (weights) => net.writeWeights(weights),
            resume:
              resume?.state.best && resume.bestWeights
                ? { epoch: resume.state.best.epoch, loss: resume.state.best.loss, weights: resume.bestWeights, since: resume.state.since }
                : undefined,
          })
        : null;
    // Epochs since the best, mirrored for checkpoints (the stopper keeps its own).
    let since = resume?.state.since ?? 0;
    const tracking: Callback = {
      afterEpoch: (s) => {
        if (!stopper || s.valLoss === null) return;
        since = stopper.best()?.epoch === s.epoch ? 0 : since + 1;
      },
    };
    const checkpoint = checkpoints(async (s) => {
      const optimizerNow = await optimizerState(optimizer);
      const message: FullCheckpointMessage = {
        type: 'checkpoint',
        epoch: s.epoch,
        step: s.step,
        weights: await copyWeights(net),
        optimizer: optimizerNow.weights,
        state: { best: stopper?.best() ?? null, since, optimizerScalars: optimizerNow.scalars, stopped: s.stop?.reason ?? null, batchSize: host.batch.size },
        isBest: stopper ? stopper.best()?.epoch === s.epoch : false,
      };
      ctx.emit(message);
    });
    // The last step drawn per kind: an epoch retried at a halved batch may count again steps its
    // failed attempt already drew (only in a network's first epoch; later ones restart above them).
    const drawn = new Map<CurvePoint['kind'], number>();
    const curvePoint = curves((p) => {
      const step = p.kind === 'batch' ? p.step : p.epoch;
      if (step <= (drawn.get(p.kind) ?? -1)) return;
      drawn.set(p.kind, step);
      const point: CurvePoint = {
        phase: one.phase,
        kind: p.kind,
        step,
        loss: p.loss,
        valLoss: p.valLoss,
        valAccuracy: p.valAccuracy,
        learningRate: p.learningRate,
      };
      ctx.curve([point]);
    });
    const training = one.isFinal ? 'training' : `training ${one.phase}`;
    const progress = throughput(({ imagesPerSecond, secondsLeft, step, totalSteps }) => {
      const left = secondsLeft === null ? '' : `, about ${Math.ceil(secondsLeft)} s left`;
      ctx.progress(`${training}: ${imagesPerSecond.toFixed(1)} images/s${left}`, step, totalSteps ?? step);
    });
    const alreadyStopped = resume?.state.stopped ?? null;
    let result = { epochs: resume?.epoch ?? 0, steps: resume?.step ?? 0, stopped: alreadyStopped };
    if (alreadyStopped === null) {
      const trainable = classifier(tf, net, { weightDecay: config.weightDecay, target });
      // Where an out-of-memory retry starts again: the epoch that failed, at the step count before
      // it, counted at `batchSize` (the size the steps were taken at).
      const done = { epoch: resume?.epoch ?? 0, step: resume?.step ?? 0, batchSize: host.batch.size };
      const finished: Callback = {
        afterEpoch: (s) => {
          done.epoch = s.epoch;
          done.step = s.step;
        },
      };
      const fitOnce = (): Promise<FitResult> => {
        const batchesPerEpoch = batchCount({ items: train, batchSize: host.batch.size });
        if (done.batchSize !== host.batch.size) {
          // The batch was halved: the epochs done are counted again in steps of the new size, so the
          // schedules (and the time left) see the same fraction of the fit done as before.
          done.step = done.epoch * batchesPerEpoch;
          done.batchSize = host.batch.size;
        }
        return fit<ImageBatch>({
          model: finetune ? liveTrainable(trainable, finetune) : trainable,
          batches: (epoch) => tensorBatches(fedBatches(feed({ items: train, epoch })), toTensors, disposeBatch),
          batchesPerEpoch,
          epochs: config.epochs,
          startEpoch: done.epoch + 1,
          startStep: done.step,
          optimizer,
          learningRate: config.learningRate,
          signal: ctx.signal,
          release: disposeBatch,
          callbacks: [
            ...(finetune ? [freezeSchedule(finetune, config.frozenEpochs, (frozen, epoch) => ctx.log(`epoch ${epoch}: backbone ${frozen ? 'frozen' : 'unfrozen'}`))] : []),
            learningRateSchedule(scheduleOf(config)),
            ...(host.sources.callbacks ?? []),
            ...(stopper ? [validation(evaluate), stopper, tracking] : []),
            // Only the final network checkpoints: a resume continues it, never a fold network.
            ...(one.isFinal ? [checkpoint] : []),
            finished,
            curvePoint,
            progress,
          ],
        });
      };
      const fitted = await fitHalving(fitOnce, host, ctx);
      result = { epochs: fitted.epochs, steps: fitted.steps, stopped: fitted.stopped };
      if (fitted.stopped) ctx.log(`stopped early: ${fitted.stopped}`);
    } else if (stopper && resume?.bestWeights) {
      // Stopped before the interruption: keep the best epoch's weights, as the fit would have.
      net.writeWeights(resume.bestWeights);
    }
    const trainSeconds = (performance.now() - started) / 1000;
    if (!stopper && one.isFinal) {
      // Nothing validated: the weights kept are the last epoch's.
      const optimizerNow = await optimizerState(optimizer);
      ctx.emit({
        type: 'checkpoint',
        epoch: result.epochs,
        step: result.steps,
        weights: await copyWeights(net),
        optimizer: optimizerNow.weights,
        state: { best: null, since: 0, optimizerScalars: optimizerNow.scalars, stopped: result.stopped, batchSize: host.batch.size },
        isBest: true,
      } satisfies FullCheckpointMessage);
    }

    const predicting = one.isFinal ? 'predicting' : `predicting ${one.phase}`;
    ctx.progress(predicting, 0, one.predict.length);
    const probabilities = new Float32Array(one.predict.length * outputs);
    const row = new Map(one.predict.map((item, i) => [item.id, i]));
    let done = 0;
    for await (const batch of feed({ items: one.predict.map(feederItem), epoch: 0, augment: false, shuffle: false })) {
      const p = await predictBatch(tf, net, target, batch, size, channels);
      batch.ids.forEach((id, r) => probabilities.set(p.subarray(r * outputs, (r + 1) * outputs), row.get(id)! * outputs));
      done += batch.size;
      ctx.progress(predicting, done, one.predict.length);
    }
    if (target.task === 'regression' && !probabilities.every(Number.isFinite)) {
      throw new LoupeError(
        'VALIDATION',
        `Training diverged: the network predicted values that are not finite (learning rate ${config.learningRate}). Lower the learning rate (for example to ${config.learningRate / 10}) or use the Huber loss (config.regressionLoss 'huber'), and train again.`,
        { learningRate: config.learningRate },
      );
    }
    return {
      probabilities,
      epochs: result.epochs,
      steps: result.steps,
      stopped: result.stopped,
      bestEpoch: stopper?.best()?.epoch ?? result.epochs,
      trainSeconds,
      imagesFed,
      trained: [...trained].sort((a, b) => a - b),
    };
  } finally {
    net.dispose();
    optimizer.dispose();
  }
}

function requireBackbone(backbone: BackboneSpec | null | undefined): BackboneSpec {
  if (!backbone) throw new LoupeError('VALIDATION', 'config.backbone: a finetune run needs its backbone resolved by the core.', { field: 'config.backbone' });
  return backbone;
}

/**
 * Fits, and when a step runs out of device memory halves the batch and fits again from the epoch
 * that failed (the steps it had taken are kept: the weights only trained a little more), until one
 * image does not fit either. `fitOnce` reads `batch.size` anew each time (and recounts the steps
 * done at it). The host reads the error first (failedFit). Says so in the log and in `batch.note`.
 */
async function fitHalving(fitOnce: () => Promise<FitResult>, host: Host, ctx: KindContext): Promise<FitResult> {
  const { batch } = host;
  for (;;) {
    try {
      return await fitOnce();
    } catch (thrown) {
      const error = host.sources.failedFit ? await host.sources.failedFit(thrown) : thrown;
      const next = isOutOfMemory(error) ? halvedBatch(batch.size) : null;
      if (next === null) throw error;
      const note = `batch ${batch.size} did not fit on the device; halved to ${next}`;
      ctx.log(`${note} and retrying the epoch`);
      batch.note = batch.note === null ? note : `${batch.note}; ${note}`;
      batch.size = next;
    }
  }
}

function finetuneOf(sources: FullSources): NonNullable<FullSources['loadFinetune']> {
  if (!sources.loadFinetune) {
    throw new LoupeError('CONFLICT', 'This training host cannot read backbone files, so it cannot fine-tune; train a built-in network (small-cnn, resnet-small) here, or fine-tune on another backend.');
  }
  return sources.loadFinetune;
}

/**
 * The source's batches as tensors, one batch ahead: the next batch is uploaded while the current
 * one trains. Every batch made is freed: by the engine's release once used, or here when the
 * epoch ends early (a stop, a cancel, an error).
 */
async function* tensorBatches(source: AsyncIterable<Batch>, toTensors: (batch: Batch) => ImageBatch, dispose: (batch: ImageBatch) => void): AsyncGenerator<ImageBatch> {
  const iterator = source[Symbol.asyncIterator]();
  let ahead: ImageBatch | null = null;
  try {
    let next = await iterator.next();
    if (!next.done) ahead = toTensors(next.value);
    while (ahead) {
      const current: ImageBatch = ahead;
      ahead = null;
      try {
        next = await iterator.next();
        if (!next.done) ahead = toTensors(next.value);
      } catch (error) {
        // Not handed to the engine yet: free it here.
        dispose(current);
        throw error;
      }
      yield current;
    }
  } finally {
    if (ahead) dispose(ahead);
    await iterator.return?.();
  }
}

/** A batch's predictions (softmax probabilities, or values), read back asynchronously (a synchronous read stalls a GPU backend, and can lose WebGPU's device). */
async function predictBatch(tf: typeof Tf, net: Net, target: NetTarget, batch: Batch, size: number, channels: number): Promise<Float32Array> {
  const predictions = tf.tidy(() => target.decode(tf, net.apply(tf.tensor4d(batch.x, [batch.size, size, size, channels]), false)));
  try {
    return Float32Array.from(await predictions.data());
  } finally {
    predictions.dispose();
  }
}
