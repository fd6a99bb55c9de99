/**
 * The full-model job, in the core: gather the labelled images, choose the network's input, record
 * the network with the run, and ask the training process for kind 'full'; store its curves and
 * each epoch's checkpoint as they come, then the predictions (train images marked in-sample) and
 * the metrics. A resumed run continues from its last checkpoint, as the same run.
 *
 * A k-fold run (config.folds >= 2) first trains k fold networks in the process; each fold's
 * held-out predictions are stored as they come (in_sample 0, fold f), so every train image gets one
 * out-of-sample prediction and metrics.train is set. Only the final network checkpoints: a k-fold
 * run resumes in its final phase (its folds all stored); one stopped in its fold phase has no
 * checkpoint and is refused (start a new run).
 *
 * A regression run (the task recorded on the run) trains on the images' values: its networks have
 * one output, and it stores predicted values (saveValuePredictions, never rows in `predictions`) and
 * regression metrics beside the train-mean baseline; its classes are [].
 */
import { LoupeError, toErrorInfo } from '../../shared/errors';
import type { FullConfig, ModelUsed, RunMetrics, RunStatus } from '../../shared/train';
import type { ImageId } from '../../shared/types';
import type { RegressionRunMetrics, Task } from '../../shared/regression';
import { assertNever } from '../../shared/assertNever';
import type { JobContext } from '../jobs/manager';
import fs from 'node:fs';
import { netSpec, parameterCount } from '../model/archSpec';
import { resolveBackbone, type BackboneSpec } from '../model/backbones';
import { tfjsFormat } from '../model/modelFiles';
import type { Db } from '../store/db';
import type { Project } from '../store/project';
import { checkpointEpochs, loadCheckpoint, saveEpochCheckpoint } from './checkpoints';
import type { TrainingProcess } from './client';
import type { FullAnswer, FullCheckpointMessage, FullFoldMessage, FullInput, FullNetMessage } from './full';
import { foldsOf } from './fullFolds';
import { computeMetrics } from './metrics';
import { runListeners, type RunHooks } from './jobListeners';
import { dropCurvesAfter, dropFinalPredictions, foldPredictionRows, foldPredictions, getRun, reopenRun, savePredictions, saveValuePredictions, updateRun, valuePredictions } from './runs';
import { mean, regressionSplitMetrics } from './regressionMetrics';
import { chooseInput, gatherTrainingSet, type TrainingImage, type TrainingSet } from './trainingSet';
import { targetSpecOf, type NetTargetSpec } from './netBatch';

/** What the job reports to the core. */
export interface FullJobHooks extends RunHooks {
  /** A fold network of a k-fold run finished: the images it was fed and the ones it predicted (held out). */
  onFold?(runId: number, fold: FoldAudit): void;
}

/** Which images one fold network trained on and which it predicted. */
export interface FoldAudit {
  fold: number;
  folds: number;
  trained: number[];
  heldOut: number[];
}

/** The job's result. */
export interface FullJobResult {
  runId: number;
  backend: string;
  seconds: number;
  epochs: number;
  stopped: string | null;
}

const importFix = 'import a TF.js layers model.json (as tf.LayersModel.save or tensorflowjs_converter --output_format tfjs_layers_model write it) as a backbone and name it in config.backbone';

/** The backbone a finetune run trains: a TF.js layers model; anything else is refused with the fix. */
async function finetuneBackbone(config: FullConfig, signal: AbortSignal): Promise<BackboneSpec> {
  const refuse = (what: string): never => {
    throw new LoupeError('VALIDATION', `config.backbone: fine-tuning needs a TF.js layers model, and ${what}; ${importFix}.`, { field: 'config.backbone' });
  };
  if (config.backbone === 'default') refuse('"default" is the pinned ONNX model');
  if (config.backbone === 'baseline') refuse('"baseline" is the image baseline, not a network');
  const { spec } = await resolveBackbone(config.backbone, { signal });
  if (spec.kind !== 'tfjs' || !spec.file) return refuse(`"${spec.name}" is ${spec.kind === 'onnx' ? 'an ONNX model' : 'not a TF.js model'}`);
  const json = JSON.parse(fs.readFileSync(spec.file, 'utf8')) as { modelTopology?: unknown };
  if (tfjsFormat(json) !== 'layers-model') refuse(`"${spec.name}" is a TF.js graph model, which cannot be trained`);
  return spec;
}

/** The input a backbone fixes: its size and channels; a config that asks for others is refused. */
function backboneInput(spec: BackboneSpec, config: FullConfig): { inputSize: number; channels: 1 | 3 } {
  const inputSize = spec.inputSize;
  const channels = spec.colour === 'grey' ? 1 : 3;
  if (config.inputSize !== undefined && config.inputSize !== inputSize) {
    throw new LoupeError('VALIDATION', `config.inputSize: backbone "${spec.name}" takes ${inputSize} px inputs; leave inputSize out for a finetune run.`, { field: 'config.inputSize' });
  }
  if (config.channels !== undefined && config.channels !== channels) {
    throw new LoupeError('VALIDATION', `config.channels: backbone "${spec.name}" takes ${channels} channels; leave channels out for a finetune run.`, { field: 'config.channels' });
  }
  return { inputSize, channels };
}

/** Mean or std in the order the feeder writes channels (RGB): a BGR backbone's are reversed (its net reverses the channels back). */
function rgbOrder(spec: BackboneSpec, values: [number, number, number]): number[] {
  return spec.colour === 'bgr' ? [values[2], values[1], values[0]] : [...values];
}

/**
 * Checks that run `runId` can resume (a full run, cancelled or failed, with a last checkpoint, on
 * an unchanged dataset) and marks it running again; returns its config.
 */
export function prepareResume(db: Db, runId: number): { config: FullConfig } {
  const run = getRun(db, runId);
  if (run.config.mode !== 'full') throw new LoupeError('CONFLICT', `Run ${runId} is a quick run; only full runs resume. Start a new run instead.`, { runId });
  if (!run.resumable && run.status !== 'done' && foldsOf(run.config) > 0) {
    throw new LoupeError(
      'CONFLICT',
      `Run ${runId}, a ${run.config.folds}-fold run, was ${run.status} before its final network checkpointed; a k-fold run resumes only in its final phase (the fold networks keep no checkpoints). Start a new run instead.`,
      { runId },
    );
  }
  if (!run.resumable) {
    throw new LoupeError('CONFLICT', `Run ${runId} is ${run.status}${run.status === 'done' ? '' : ' without a checkpoint'}; only a cancelled or failed full run with a checkpoint resumes. Start a new run instead.`, { runId });
  }
  reopenRun(db, runId);
  return { config: run.config };
}

/** Runs (or resumes) one full run, already created as `runId`. */
export async function runFullJob(
  project: Project,
  trainer: TrainingProcess,
  runId: number,
  config: FullConfig,
  hooks: FullJobHooks,
  ctx: JobContext,
  options: { resume?: boolean } = {},
): Promise<FullJobResult> {
  const { db } = project;
  const started = performance.now();
  try {
    ctx.progress('preparing', 0, 1);
    const { arch } = config;
    const backbone = arch === 'finetune' ? await finetuneBackbone(config, ctx.signal) : null;
    const set = gatherTrainingSet(project, getRun(db, runId).task);
    const previous = options.resume ? getRun(db, runId) : null;
    if (previous && previous.datasetVersion !== set.version) {
      throw new LoupeError(
        'CONFLICT',
        `The dataset changed since run ${runId} trained (version ${previous.datasetVersion}, now ${set.version}); a resumed run must see the same images. Start a new run instead.`,
        { runId },
      );
    }
    if (set.missing > 0) ctx.log(`${set.missing} labelled images are not inside the project folder and are left out`);
    const { classes } = set;
    const store = runStore(db, runId, set, config);
    const [inputSize, , channels] = previous?.model?.inputShape ?? (() => {
      const chosen = backbone ? backboneInput(backbone, config) : chooseInput(set.images, config);
      return [chosen.inputSize, chosen.inputSize, chosen.channels] as const;
    })();
    if (channels !== 1 && channels !== 3) throw new LoupeError('INTERNAL', `Run ${runId} records ${channels} input channels.`);
    if (backbone && previous && backboneInput(backbone, config).inputSize !== inputSize) {
      throw new LoupeError('CONFLICT', `Backbone "${backbone.name}" changed since run ${runId} trained (its input is now ${backbone.inputSize} px, was ${inputSize}). Start a new run instead.`, { runId });
    }
    // A finetune run's parameter count comes from the process once it has built the net.
    let model: ModelUsed = previous?.model ?? {
      arch,
      parameters: arch === 'finetune' ? 0 : parameterCount(netSpec(arch, [inputSize, inputSize, channels], store.outputs)),
      inputShape: [inputSize, inputSize, channels],
      normalize: backbone ? { kind: 'meanStd', mean: rgbOrder(backbone, backbone.mean), std: rgbOrder(backbone, backbone.std) } : { kind: 'unit' },
      seed: config.seed,
      bestEpoch: null,
      lastCheckpointEpoch: null,
    };
    updateRun(db, runId, { datasetVersion: set.version, classes, model, views: { used: 0, note: `on-the-fly augmentation: the ${config.augment} preset` } });
    ctx.log(`${backbone ? `finetune of ${backbone.name}` : `${arch}: ${model.parameters.toLocaleString('en')} parameters`}, input ${inputSize}x${inputSize}x${channels}, ${set.images.length} images`);

    const folds = foldsOf(config);
    const trainImages = set.images.filter((i) => i.split === 'train');
    let resume: FullInput['resume'] = null;
    if (options.resume && folds > 0) {
      // The final network resumes; the folds must all be stored already (same dataset version, so the same images).
      const stored = store.storedFolds();
      if (stored.images !== trainImages.length || stored.folds !== Math.min(folds, trainImages.length)) {
        throw new LoupeError('CONFLICT', `Run ${runId} has ${stored.images} of its ${trainImages.length} fold predictions; a k-fold run resumes only in its final phase. Start a new run instead.`, { runId });
      }
    }
    if (options.resume) {
      const last = loadCheckpoint(db, runId, 'last');
      if (!last) throw new LoupeError('CONFLICT', `Run ${runId} has no checkpoint to resume from. Start a new run instead.`, { runId });
      const best = last.state.best ? loadCheckpoint(db, runId, 'best') : null;
      resume = { epoch: last.epoch, step: last.step, weights: last.weights, optimizer: last.optimizer, state: last.state, bestWeights: best?.weights ?? null };
      // The epochs after the checkpoint are trained again: their points go.
      dropCurvesAfter(db, runId, 'train', last.step, last.epoch);
      ctx.log(`resuming run ${runId} after epoch ${last.epoch}`);
    }

    const input: FullInput = {
      runId,
      classes,
      items: set.images.map((i) => ({ id: i.id, file: i.file, width: i.width, height: i.height, label: i.label, split: i.split })),
      target: store.target,
      config,
      arch,
      backbone,
      inputSize,
      channels,
      resume,
    };
    // A fold network's held-out train images: out-of-sample, stored as they come (a resume keeps them).
    const saveFold = (message: FullFoldMessage) => {
      store.saveFold(message);
      ctx.log(`fold ${message.fold + 1}/${message.folds}: trained on ${message.trained.length} images, predicted the ${message.heldOut.length} held out`);
      hooks.onFold?.(runId, { fold: message.fold, folds: message.folds, trained: message.trained, heldOut: message.heldOut });
    };
    const answer = await trainer.run<FullAnswer>(
      'full',
      input,
      {
        ...runListeners(db, runId, ctx, hooks),
        onEmit: (message) => {
          const fold = message as FullFoldMessage;
          if (fold.type === 'fold') {
            saveFold(fold);
            return;
          }
          const net = message as FullNetMessage;
          if (net.type === 'net') {
            model = { ...model, parameters: net.parameters };
            updateRun(db, runId, { model });
            ctx.log(`finetune: ${net.parameters.toLocaleString('en')} parameters`);
            return;
          }
          const checkpoint = message as FullCheckpointMessage;
          if (checkpoint.type !== 'checkpoint') return;
          const { epoch, step, weights, optimizer, state } = checkpoint;
          saveEpochCheckpoint(db, runId, { epoch, step, weights, optimizer, state }, checkpoint.isBest);
          const epochs = checkpointEpochs(db, runId);
          updateRun(db, runId, { model: { ...model, bestEpoch: epochs.best ?? null, lastCheckpointEpoch: epochs.last ?? null } });
        },
      },
      ctx.signal,
    );

    const metrics = store.saveFinal(answer.probabilities);
    const seconds = (performance.now() - started) / 1000;
    const epochs = checkpointEpochs(db, runId);
    updateRun(db, runId, {
      status: 'done',
      backend: answer.report,
      ...metrics,
      model: { ...model, bestEpoch: answer.bestEpoch, lastCheckpointEpoch: epochs.last ?? null },
      timings: { totalSeconds: seconds, embedSeconds: 0, trainSeconds: answer.trainSeconds, embedded: 0, cached: 0, imagesPerSecond: answer.imagesPerSecond, batch: answer.batch },
      finishedAt: Date.now(),
    });
    hooks.onStatus(runId, 'done');
    if (answer.batch.note) ctx.log(`run ${runId}: ${answer.batch.note}`);
    ctx.log(`run ${runId} done: ${answer.epochs} epochs in ${seconds.toFixed(1)} s on ${answer.report.name}${answer.stopped ? ` (${answer.stopped})` : ''}`);
    return { runId, backend: answer.report.name, seconds, epochs: answer.epochs, stopped: answer.stopped };
  } catch (error) {
    const info = toErrorInfo(error);
    const status: RunStatus = info.code === 'CANCELLED' || ctx.signal.aborted ? 'cancelled' : 'failed';
    updateRun(db, runId, { status, error: info.message, finishedAt: Date.now() });
    hooks.onStatus(runId, status);
    if (status === 'cancelled') throw new LoupeError('CANCELLED', 'Training was cancelled.', { runId });
    throw error;
  }
}

/** How a run of a task sends its targets and stores what its networks predicted: the only place the job reads classes or values. */
interface RunStore {
  /** What the networks predict, as the process reads it. */
  target: NetTargetSpec;
  /** Units of a network's last layer. */
  outputs: number;
  /** The fold predictions stored so far (a k-fold run resumes only with all of them). */
  storedFolds(): { images: number; folds: number };
  /** Stores a fold network's predictions of its held-out train images: out-of-sample. */
  saveFold(message: FullFoldMessage): void;
  /** Stores the final network's predictions (items x outputs, in the set's order) and answers the run's metrics. */
  saveFinal(outputs: Float32Array): { metrics: RunMetrics } | { valueMetrics: RegressionRunMetrics };
}

/** The store of run `runId` of the set's task. */
function runStore(db: Db, runId: number, set: TrainingSet, config: FullConfig): RunStore {
  const task: Task = set.task;
  switch (task) {
    case 'classification':
      return classificationStore(db, runId, set, config);
    case 'regression':
      return regressionStore(db, runId, set, config);
    default:
      return assertNever(task, 'task');
  }
}

/**
 * Classes: probabilities per image in `predictions`. Train images were fitted on by the final
 * network: its predictions of them are in-sample, kept for the train/valid gap only. A k-fold run
 * stores the fold networks' (out-of-sample) instead.
 */
function classificationStore(db: Db, runId: number, set: TrainingSet, config: FullConfig): RunStore {
  const { classes } = set;
  const k = classes.length;
  const folds = foldsOf(config);
  const byId = new Map(set.images.map((image) => [image.id, image]));
  return {
    target: targetSpecOf('classification', config),
    outputs: k,
    storedFolds: () => foldPredictions(db, runId),
    saveFold: (message) =>
      savePredictions(
        db,
        runId,
        message.heldOut.map((id, r) => {
          const image = byId.get(id as ImageId)!;
          return { imageId: image.id, split: 'train', fold: message.fold, given: image.label, probabilities: message.probabilities.slice(r * k, (r + 1) * k), inSample: false };
        }),
      ),
    saveFinal: (probabilities) => {
      const rows = set.images.map((image, r) => ({
        imageId: image.id,
        split: image.split,
        fold: -1,
        given: image.label,
        probabilities: probabilities.slice(r * k, (r + 1) * k),
        inSample: image.split === 'train',
      }));
      dropFinalPredictions(db, runId);
      savePredictions(db, runId, folds > 0 ? rows.filter((r) => r.split !== 'train') : rows);
      const metricsOf = (split: 'train' | 'valid' | 'test') => {
        const of = rows.filter((r) => r.split === split);
        return of.length > 0 ? computeMetrics(classes, of.map((r) => r.given), of.map((r) => r.probabilities)) : null;
      };
      const outOfSample = folds > 0 ? foldPredictionRows(db, runId) : [];
      const train = outOfSample.length > 0 ? computeMetrics(classes, outOfSample.map((r) => r.given!), outOfSample.map((r) => r.probabilities)) : null;
      return { metrics: { train, valid: metricsOf('valid'), test: metricsOf('test'), trainInSample: metricsOf('train') } };
    },
  };
}

/**
 * Values: one predicted value per image in `value_predictions` (one row an image: a k-fold run's
 * train images keep their fold network's, out-of-sample; otherwise the final network's, in-sample for
 * train), and regression metrics beside the baseline that predicts the train mean.
 */
function regressionStore(db: Db, runId: number, set: TrainingSet, config: FullConfig): RunStore {
  const folds = foldsOf(config);
  const byId = new Map(set.images.map((image) => [image.id, image]));
  const storedFolds = () => valuePredictions(db, runId, 'train').filter((p) => p.fold >= 0);
  // The process refuses (VALIDATION) a network whose values are not finite, so every value here is a number.
  return {
    target: targetSpecOf('regression', config),
    outputs: 1,
    storedFolds: () => {
      const stored = storedFolds();
      return { images: stored.length, folds: new Set(stored.map((p) => p.fold)).size };
    },
    saveFold: (message) => {
      const predicted = message.probabilities;
      saveValuePredictions(
        db,
        runId,
        message.heldOut.map((id, r) => {
          const image = byId.get(id as ImageId)!;
          return { imageId: image.id, split: 'train', fold: message.fold, actual: image.label, predicted: predicted[r]!, inSample: false };
        }),
      );
    },
    saveFinal: (predicted) => {
      // An image holds one row: a k-fold run's train images keep their fold's; the final network's
      // rows of an earlier, interrupted attempt are replaced.
      dropFinalPredictions(db, runId);
      const stored = new Set(valuePredictions(db, runId).map((p) => p.imageId));
      const rows = set.images.map((image, r) => ({ imageId: image.id, split: image.split, fold: -1, actual: image.label, predicted: predicted[r]!, inSample: image.split === 'train' }));
      saveValuePredictions(db, runId, rows.filter((r) => !stored.has(r.imageId) && !(folds > 0 && r.split === 'train')));
      const train = set.images.filter((i) => i.split === 'train');
      const trainMean = mean(train.map((i) => i.label));
      const metricsOf = (of: ReadonlyArray<{ actual: number; predicted: number }>) => regressionSplitMetrics(of.map((r) => r.actual), of.map((r) => r.predicted), trainMean);
      const ofSplit = (split: TrainingImage['split']) => metricsOf(rows.filter((r) => r.split === split));
      const outOfSample = folds > 0 ? storedFolds().map((p) => ({ actual: p.actual!, predicted: p.predicted })) : [];
      return { valueMetrics: { train: metricsOf(outOfSample), valid: ofSplit('valid'), test: ofSplit('test'), trainInSample: ofSplit('train'), trainMean } };
    },
  };
}
