/**
 * The full model, in the training process: a built-in network (model/archSpec.ts) trained end to
 * end on the images by the training engine. Train batches come augmented from the feeder (seeded by
 * the run's seed and the epoch, so a resumed run sees the same batches); valid is only resized.
 * Adam with the chosen schedule, softmax cross-entropy (+ L2 on kernels), validation each epoch,
 * early stopping with the best epoch's weights kept, a checkpoint after each epoch sent to the core,
 * and at the end a prediction for every image.
 */
import type * as Tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { presetConfig, type AugmentConfig } from '../../shared/augment';
import { LoupeError } from '../../shared/errors';
import { fullConfigSchema, type BackendReport, type CurvePoint, type FullConfig } from '../../shared/train';
import { batchCount, feedBatches, type Batch, type FeederItem } from '../augment/feeder';
import { architectureNames, buildNet, netSpec, type NamedWeights, type Net } from '../model/archSpec';
import type { BackboneSpec } from '../model/backbones';
import { loadFinetuneNet } from '../model/finetuneNet';
import type { CheckpointState } from './checkpoints';
import { checkpoints, curves, earlyStopping, fit, learningRateSchedule, schedules, throughput, validation, type Callback, type Schedule } from './engine';
import { freezeSchedule, groupedAdam, liveTrainable } from './finetune';
import type { KindContext } from './kinds/types';
import { classifier, disposeBatch, type ImageBatch } from './netBatch';

const float32 = z.custom<Float32Array>((v) => v instanceof Float32Array, 'must be a Float32Array');
const namedWeights = z.map(z.string(), z.object({ shape: z.array(z.number().int().min(0)), data: float32 }));

/** What the core sends: the images (files already checked to be inside the project), the config, the input, and a checkpoint to resume from. */
export const fullInputSchema = z.object({
  runId: z.number().int().positive(),
  classes: z.array(z.string()).min(2),
  items: z.array(
    z.object({
      id: z.number().int(),
      file: z.string(),
      width: z.number().int().positive().nullable(),
      height: z.number().int().positive().nullable(),
      label: z.number().int().min(0),
      split: z.enum(['train', 'valid', 'test']).nullable(),
    }),
  ),
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

/** Sent once the network is built: what it trains (the core records it with the run). */
export interface FullNetMessage {
  type: 'net';
  parameters: number;
}

/** What the kind answers. */
export interface FullAnswer {
  /** items.length x classes probabilities, in the input's item order, from the weights kept. */
  probabilities: Float32Array;
  epochs: number;
  steps: number;
  stopped: string | null;
  bestEpoch: number | null;
  trainSeconds: number;
  imagesPerSecond: number | null;
  report: BackendReport;
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
  for (const { name, tensor } of await optimizer.getWeights()) weights.set(name, { shape: [...tensor.shape], data: Float32Array.from(await tensor.data()) });
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
  if (adam.accBeta1 && scalars.accBeta1 !== undefined) adam.accBeta1.assign(tf.scalar(scalars.accBeta1));
  if (adam.accBeta2 && scalars.accBeta2 !== undefined) adam.accBeta2.assign(tf.scalar(scalars.accBeta2));
}

async function copyWeights(net: Net): Promise<NamedWeights> {
  const out: NamedWeights = new Map();
  for (const [name, w] of await net.readWeights()) out.set(name, { shape: w.shape, data: Float32Array.from(w.data) });
  return out;
}

/** Trains one full run; see the module comment. */
export async function runFull(input: FullInput, ctx: KindContext): Promise<FullAnswer> {
  const { tf, report } = await ctx.tf();
  const { config, inputSize: size, channels } = input;
  ctx.log(`TF.js backend: ${report.name}`);
  const classes = input.classes.length;
  const finetune = input.arch === 'finetune' ? await loadFinetuneNet(tf, requireBackbone(input.backbone), classes, config.seed) : null;
  const net: Net = finetune ?? buildNet(tf, netSpec(input.arch as Exclude<FullInput['arch'], 'finetune'>, [size, size, channels], classes), config.seed);
  if (finetune) {
    const [h, w, c] = finetune.spec.inputShape;
    if (h !== size || w !== size || c !== channels) {
      finetune.dispose();
      throw new LoupeError('CONFLICT', `The backbone takes ${h}x${w}x${c} inputs but the run was set up for ${size}x${size}x${channels}; start a new run.`);
    }
    ctx.log(`fine-tuning ${input.backbone!.name}: ${finetune.featureDim} features from ${finetune.featureLayer}, a new head; ${config.frozenEpochs} epochs frozen, then all layers (head at lr, later backbone layers at lr/10, earlier at lr/100)`);
    ctx.emit({ type: 'net', parameters: finetune.parameters } satisfies FullNetMessage);
  }
  const optimizer = finetune ? groupedAdam(tf, finetune.groups, config.learningRate) : tf.train.adam(config.learningRate);
  const augment: AugmentConfig = presetConfig(config.augment, { inputSize: { width: size, height: size }, normalize: finetune?.normalize ?? { kind: 'unit' } });
  const feederItem = (item: FullInput['items'][number]): FeederItem => ({ id: item.id, input: item.file, width: item.width, height: item.height, label: item.label });
  const train = input.items.filter((i) => i.split === 'train').map(feederItem);
  const valid = input.items.filter((i) => i.split === 'valid').map(feederItem);
  if (train.length === 0) throw new LoupeError('CONFLICT', 'No labelled images are in the train split.');
  const toTensors = (batch: Batch): ImageBatch => ({
    x: tf.tensor4d(batch.x, [batch.size, size, size, channels]),
    labels: tf.tensor1d(Int32Array.from(batch.y), 'int32'),
  });
  const started = performance.now();
  try {
    const resume = input.resume;
    if (resume) {
      net.writeWeights(resume.weights);
      await restoreOptimizer(tf, optimizer, resume.optimizer, resume.state.optimizerScalars);
      ctx.log(`resuming after epoch ${resume.epoch} (step ${resume.step})`);
    }

    // Valid batches are decoded once and kept (they are never augmented).
    let validBatches: Batch[] | null = null;
    const evaluate = async (): Promise<{ loss: number; accuracy: number }> => {
      validBatches ??= await collect(feedBatches({ items: valid, config: augment, batchSize: config.batchSize, seed: config.seed, epoch: 0, augment: false, shuffle: false, channels, signal: ctx.signal }));
      let loss = 0;
      let correct = 0;
      for (const batch of validBatches) {
        const probabilities = predictBatch(tf, net, batch, size, channels);
        for (let r = 0; r < batch.size; r++) {
          const row = probabilities.subarray(r * classes, (r + 1) * classes);
          const label = batch.y[r]!;
          loss -= Math.log(Math.max(1e-7, row[label]!));
          if (argmax(row) === label) correct++;
        }
      }
      return { loss: loss / valid.length, accuracy: correct / valid.length };
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
        state: { best: stopper?.best() ?? null, since, optimizerScalars: optimizerNow.scalars, stopped: s.stop?.reason ?? null },
        isBest: stopper ? stopper.best()?.epoch === s.epoch : false,
      };
      ctx.emit(message);
    });
    const curvePoint = curves((p) => {
      const point: CurvePoint = {
        phase: 'train',
        kind: p.kind,
        step: p.kind === 'batch' ? p.step : p.epoch,
        loss: p.loss,
        valLoss: p.valLoss,
        valAccuracy: p.valAccuracy,
        learningRate: p.learningRate,
      };
      ctx.curve([point]);
    });
    let rate: number | null = null;
    const progress = throughput(({ imagesPerSecond, secondsLeft, step, totalSteps }) => {
      rate = imagesPerSecond;
      const left = secondsLeft === null ? '' : `, about ${Math.ceil(secondsLeft)} s left`;
      ctx.progress(`training: ${imagesPerSecond.toFixed(1)} images/s${left}`, step, totalSteps ?? step);
    });
    const batchesPerEpoch = batchCount({ items: train, batchSize: config.batchSize });
    const alreadyStopped = resume?.state.stopped ?? null;
    let result = { epochs: resume?.epoch ?? 0, steps: resume?.step ?? 0, stopped: alreadyStopped };
    if (alreadyStopped === null) {
      const trainable = classifier(tf, net, { weightDecay: config.weightDecay });
      const fitted = await fit<ImageBatch>({
        model: finetune ? liveTrainable(trainable, finetune) : trainable,
        batches: (epoch) => tensorBatches(feedBatches({ items: train, config: augment, batchSize: config.batchSize, seed: config.seed, epoch, channels, signal: ctx.signal }), toTensors),
        batchesPerEpoch,
        epochs: config.epochs,
        startEpoch: (resume?.epoch ?? 0) + 1,
        startStep: resume?.step ?? 0,
        optimizer,
        learningRate: config.learningRate,
        signal: ctx.signal,
        release: disposeBatch,
        callbacks: [
          ...(finetune ? [freezeSchedule(finetune, config.frozenEpochs, (frozen, epoch) => ctx.log(`epoch ${epoch}: backbone ${frozen ? 'frozen' : 'unfrozen'}`))] : []),
          learningRateSchedule(scheduleOf(config)),
          ...(stopper ? [validation(evaluate), stopper, tracking] : []),
          checkpoint,
          curvePoint,
          progress,
        ],
      });
      result = { epochs: fitted.epochs, steps: fitted.steps, stopped: fitted.stopped };
      if (fitted.stopped) ctx.log(`stopped early: ${fitted.stopped}`);
    } else if (stopper && resume?.bestWeights) {
      // Stopped before the interruption: keep the best epoch's weights, as the fit would have.
      net.writeWeights(resume.bestWeights);
    }
    const trainSeconds = (performance.now() - started) / 1000;
    if (!stopper) {
      // Nothing validated: the weights kept are the last epoch's.
      const optimizerNow = await optimizerState(optimizer);
      ctx.emit({
        type: 'checkpoint',
        epoch: result.epochs,
        step: result.steps,
        weights: await copyWeights(net),
        optimizer: optimizerNow.weights,
        state: { best: null, since: 0, optimizerScalars: optimizerNow.scalars, stopped: result.stopped },
        isBest: true,
      } satisfies FullCheckpointMessage);
    }

    ctx.progress('predicting', 0, input.items.length);
    const probabilities = new Float32Array(input.items.length * classes);
    const row = new Map(input.items.map((item, i) => [item.id, i]));
    let done = 0;
    for await (const batch of feedBatches({ items: input.items.map(feederItem), config: augment, batchSize: config.batchSize, seed: config.seed, epoch: 0, augment: false, shuffle: false, channels, signal: ctx.signal })) {
      const p = predictBatch(tf, net, batch, size, channels);
      batch.ids.forEach((id, r) => probabilities.set(p.subarray(r * classes, (r + 1) * classes), row.get(id)! * classes));
      done += batch.size;
      ctx.progress('predicting', done, input.items.length);
    }
    return {
      probabilities,
      epochs: result.epochs,
      steps: result.steps,
      stopped: result.stopped,
      bestEpoch: stopper?.best()?.epoch ?? result.epochs,
      trainSeconds,
      imagesPerSecond: rate,
      report,
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

async function* tensorBatches(source: AsyncIterable<Batch>, toTensors: (batch: Batch) => ImageBatch): AsyncGenerator<ImageBatch> {
  for await (const batch of source) yield toTensors(batch);
}

async function collect(source: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const batch of source) out.push(batch);
  return out;
}

function predictBatch(tf: typeof Tf, net: Net, batch: Batch, size: number, channels: number): Float32Array {
  return tf.tidy(() => tf.softmax(net.apply(tf.tensor4d(batch.x, [batch.size, size, size, channels]), false)).dataSync() as Float32Array).slice();
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
  return best;
}
