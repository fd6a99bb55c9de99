/**
 * Training, runs and review: configs, metrics, curves, run records and review queue rows. Plain data
 * that crosses IPC and JSON; the request schemas here are registered in the contract.
 */
import { z } from 'zod';
import type { ImageId, JobId, SplitName } from './types';
import { boundedText, filePath, requiredText } from './limits';
import { augmentPresetNames } from './augment';
import { regressionLosses } from './regression';

/** The TF.js backends, in the automatic order (best first; a software WebGPU adapter is never picked automatically). */
export const backendNames = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
/** A TF.js backend. */
export type BackendName = (typeof backendNames)[number];
/** What a run may ask for: 'auto' (the first backend that works) or one backend, forced (no fallback). */
export const backendChoices = ['auto', ...backendNames] as const;
/** A backend choice. */
export type BackendChoice = (typeof backendChoices)[number];
/** Where training runs: the training process, or (in the app) a hidden window running TF.js on WebGPU. */
export const trainingHosts = ['process', 'window'] as const;
/** A training host. */
export type TrainingHost = (typeof trainingHosts)[number];

/** The device a backend computes on, as probed. */
export interface BackendDevice {
  /** What the Train view shows: "NVIDIA RTX 4070 via WebGPU", "SwiftShader (software) via WebGPU", "CPU (wasm, 1 thread)". */
  label: string;
  kind: 'gpu' | 'cpu';
  vendor: string | null;
  architecture: string | null;
  description: string | null;
  /** A software rasteriser (SwiftShader, llvmpipe, WARP): correct but slower than wasm, never chosen automatically. */
  software: boolean;
  /** WebGPU adapter limits that decide what fits (buffer sizes, storage buffers per stage); empty for CPUs. */
  limits: Record<string, number>;
}

/** Which onnxruntime execution provider an ONNX backbone embeds with, and why each one before it was not used. */
export interface ExecutionProviderReport {
  /** The provider in use: 'cuda', 'dml', 'coreml', 'webgpu' or 'cpu'. */
  provider: string;
  /** What a person reads: "CUDA via onnxruntime", "CPU via onnxruntime". */
  label: string;
  tried: Array<{ name: string; loaded: boolean; reason: string | null }>;
}

/** One candidate backend as probed: whether it loaded, why not, and the device it found. */
export interface BackendProbe {
  name: BackendName;
  loaded: boolean;
  /** Why it was not used (a missing package or library by name, no adapter, a software adapter), or null. */
  reason: string | null;
  /** The device it found, where it got that far (a skipped software adapter has one). */
  device?: BackendDevice;
}

/** Which backend ran, on what device and host, what was asked, and why each better one was not used. */
export interface BackendReport {
  name: BackendName;
  /** 'auto' unless the user forced a backend. */
  requested: BackendChoice;
  host: TrainingHost;
  device: BackendDevice;
  tried: BackendProbe[];
}

/** Heads the quick model can train on embeddings. */
export const headKinds = ['softmax', 'mlp'] as const;

/** A quick-model run's configuration: plain data stored with the run. */
export const quickConfigSchema = z.object({
  mode: z.literal('quick'),
  /** 'default' (the pinned pretrained backbone, downloaded on first use), 'baseline', a registered name, or a model file. */
  backbone: requiredText('path', 'backbone').default('default'),
  folds: z.number().int().min(2).max(20).default(5),
  /** Augmented views per train image (used where the augmentation pipeline is available). */
  views: z.number().int().min(0).max(16).default(4),
  head: z.enum(headKinds).default('softmax'),
  hidden: z.number().int().min(8).max(4096).default(256),
  /** Dropout while training the head (softmax: on the standardised embedding; mlp: on the hidden layer); absent or 0: none. Never at predict time. */
  dropout: z.number().min(0).max(0.9).optional(),
  /** Adam's step. 3e-4 suits fine-tuning a network; a linear head on standardised embeddings converges faster at 3e-3 with large batches (tuned on Fashion-MNIST). */
  learningRate: z.number().positive().max(1).default(3e-3),
  weightDecay: z.number().min(0).max(1).default(1e-4),
  epochs: z.number().int().min(1).max(1000).default(60),
  batchSize: z.number().int().min(8).max(8192).default(1024),
  /** Early stopping: epochs without a better valid loss before stopping. */
  patience: z.number().int().min(1).max(100).default(3),
  seed: z.number().int().min(0).default(42),
  /** Regression projects: the head's loss on standardised targets (classification ignores it). 'softmax' then means a linear head with one output. */
  regressionLoss: z.enum(regressionLosses).default('huber'),
});

/** The full model's networks: two built in, or a pretrained TF.js network fine-tuned. */
export const fullArchitectures = ['small-cnn', 'resnet-small', 'finetune'] as const;
/** A full-model architecture. */
export type FullArchitecture = (typeof fullArchitectures)[number];
/** Learning-rate schedules of a full run. */
export const scheduleNames = ['constant', 'one-cycle', 'cosine'] as const;
/** A schedule's name. */
export type ScheduleName = (typeof scheduleNames)[number];

/**
 * A full-model run: a network trained end to end on the images, with on-the-fly augmentation.
 * Defaults from practice: Adam at 3e-4, He init, early stopping on valid loss, a seed recorded.
 */
export const fullConfigSchema = z.object({
  mode: z.literal('full'),
  arch: z.enum(fullArchitectures).default('small-cnn'),
  /** For 'finetune': the pretrained TF.js layers model (a registered backbone name or a model file). */
  backbone: requiredText('path', 'backbone').default('default'),
  /** Side of the square input; omitted: chosen from the dataset (its typical image size, within 16..224). */
  inputSize: z.number().int().min(8).max(512).optional(),
  /** 1 for a grayscale dataset, 3 for colour; omitted: chosen from the dataset. */
  channels: z.union([z.literal(1), z.literal(3)]).optional(),
  /** Augmentation preset of the training images (valid and test are only resized). */
  augment: z.enum(augmentPresetNames).default('light'),
  epochs: z.number().int().min(1).max(1000).default(10),
  batchSize: z.number().int().min(1).max(1024).default(64),
  learningRate: z.number().positive().max(10).default(3e-4),
  schedule: z.enum(scheduleNames).default('constant'),
  weightDecay: z.number().min(0).max(1).default(0),
  /** Early stopping: epochs without a better valid loss before stopping (the best epoch's weights are kept). */
  patience: z.number().int().min(1).max(100).default(5),
  /** finetune: epochs with the backbone frozen before it is unfrozen with discriminative rates. */
  frozenEpochs: z.number().int().min(0).max(100).default(2),
  seed: z.number().int().min(0).default(42),
  /**
   * 0 or 1: off. k >= 2: k fold networks (stratified over the train images, seed + fold + 1) each
   * predict the fold they did not train on, so every train image gets an out-of-sample prediction
   * (metrics.train); then the final network on all train images gives valid and test.
   */
  folds: z.number().int().min(0).max(10).default(0),
  /** The TF.js backend to train on: 'auto' (the first that works) or one forced, e.g. 'webgpu' (no fallback: a clear error if it cannot load). */
  backend: z.enum(backendChoices).default('auto'),
  /** Regression projects: the network's loss on standardised targets (classification ignores it). */
  regressionLoss: z.enum(regressionLosses).default('huber'),
});

/** A run's configuration: plain data stored with the run. A config without a mode is a quick run's. */
export const trainConfigSchema = z.preprocess(
  (input) => (typeof input === 'object' && input !== null && !('mode' in input) ? { ...input, mode: 'quick' } : input),
  z.discriminatedUnion('mode', [quickConfigSchema, fullConfigSchema]),
);
/** A validated config with every default filled in. */
export type TrainConfig = z.output<typeof trainConfigSchema>;
/** A quick run's config. */
export type QuickConfig = z.output<typeof quickConfigSchema>;
/** A full run's config. */
export type FullConfig = z.output<typeof fullConfigSchema>;
/** What a caller may pass. */
export type TrainConfigInput = z.input<typeof quickConfigSchema> | z.input<typeof fullConfigSchema> | Partial<z.input<typeof quickConfigSchema>>;

/** The network a full run trained, as recorded with the run. */
export interface ModelUsed {
  arch: FullArchitecture;
  /** Trainable parameters. */
  parameters: number;
  /** [height, width, channels] */
  inputShape: [number, number, number];
  /** How 0..255 pixels became the network's inputs. */
  normalize: { kind: 'unit' } | { kind: 'meanStd'; mean: number[]; std: number[] };
  seed: number;
  /** The epoch whose weights the run kept (early stopping), and the last checkpointed one. */
  bestEpoch: number | null;
  lastCheckpointEpoch: number | null;
}

/** One point of the LR finder's sweep. */
export interface LrFindPoint {
  learningRate: number;
  loss: number;
  /** Exponentially smoothed, bias-corrected loss: what the plot shows. */
  smoothed: number;
}

/** The LR finder's answer. */
export interface LrFindResult {
  points: LrFindPoint[];
  /** The rate at the steepest descent of the smoothed loss, and the rate at its minimum divided by 10. */
  suggestion: { steepest: number; minimumOver10: number } | null;
  /** Why the sweep ended (the loss diverged, or it reached the last rate). */
  stopped: string;
}

/** The "overfit one batch" check's answer. */
export interface OverfitResult {
  /** Images in the batch(es) tried: 1, then 8. */
  attempts: Array<{ images: number; steps: number; losses: number[]; finalLoss: number; passed: boolean }>;
  passed: boolean;
  /** Likely causes when the loss did not fall near zero, in words. */
  causes: string[];
}

/** What the model receives for one batch: the images (augmented, resized, normalised back for display) and their labels. */
export interface ShownBatch {
  /** Fetch each image with the preview route, like augmentation previews. */
  previewId: string;
  items: Array<{ index: number; imageId: ImageId; label: string; path: string }>;
  inputShape: [number, number, number];
  /** The range of the tensor's values fed to the network, for checking normalisation. */
  valueRange: [number, number];
}

/** How long a full run will take before it starts. */
export interface TrainEstimate {
  /** Null when no earlier full run of the same arch and input on this project measured a rate. */
  seconds: number | null;
  /** How the figure was reached (or why there is none), in words. */
  basis: string;
}

/** A model exported from a full run. */
export interface ModelExport {
  out: string;
  files: string[];
  /** The largest difference between the ONNX file's outputs (onnxruntime-node) and the TF.js model's, on sample inputs; null when no ONNX was written. */
  onnxMaxDifference: number | null;
}

/** A prediction of a full run for one image. */
export interface ModelPrediction {
  /** The file or the given name. */
  name: string;
  predicted: string;
  probability: number;
  /** The top classes, best first. */
  top: Array<{ name: string; probability: number }>;
  error: string | null;
  /** With test-time augmentation: the views whose softmax probabilities were averaged (ttaViews, in that order); absent without it. */
  views?: TtaView[];
}

/**
 * Test-time augmentation's views, in the order they are averaged: the image as validation sees it,
 * its horizontal flip, and four corner crops and a centre crop of 90% of each side, each resized
 * back to the input size. Deterministic: the same image always gives the same views.
 */
export const ttaViews = ['original', 'hflip', 'crop-top-left', 'crop-top-right', 'crop-bottom-left', 'crop-bottom-right', 'crop-centre'] as const;
export type TtaView = (typeof ttaViews)[number];

/** Precision, recall and F1 of one class. */
export interface ClassMetrics {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Metrics of one split. confusion[given][predicted], in the run's class order. */
export interface SplitMetrics {
  count: number;
  accuracy: number;
  macroF1: number;
  logLoss: number;
  perClass: ClassMetrics[];
  confusion: number[][];
}

/** train: out-of-sample (k-fold; null for a full run without folds, which fits on every train image); valid and test: the model trained on train. */
export interface RunMetrics {
  train: SplitMetrics | null;
  valid: SplitMetrics | null;
  test: SplitMetrics | null;
  /** The train images predicted by the final model fitted on them (full runs' network, quick runs' final head). In-sample: for the train/valid gap, never an estimate of accuracy. */
  trainInSample?: SplitMetrics | null;
}

/** One point of a training curve. phase: 'fold 1/5' … 'final' (quick), 'fold 1/k' … then 'train' (full). */
export interface CurvePoint {
  phase: string;
  kind: 'batch' | 'epoch';
  /** Batch index within the phase (batch points) or epoch number (epoch points). */
  step: number;
  loss: number;
  valLoss: number | null;
  valAccuracy: number | null;
  /** The learning rate of that step (full runs), or null. */
  learningRate?: number | null;
}

/** States of a run. */
export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled';

/** What the run used to turn images into vectors. */
export interface BackboneUsed {
  name: string;
  kind: 'onnx' | 'tfjs' | 'baseline';
  dim: number;
  /** Why this backbone was used (for example why the pretrained one was not). */
  note: string | null;
  /** ONNX backbones: the onnxruntime execution provider the run's embeddings were computed with (null: none computed, all cached, or not ONNX). */
  providers?: ExecutionProviderReport | null;
}

/** Seconds spent in each step, and how much the cache saved. */
export interface RunTimings {
  totalSeconds: number;
  embedSeconds: number;
  trainSeconds: number;
  embedded: number;
  cached: number;
  imagesPerSecond: number | null;
  /** Full runs: the batch size that trained, and why it is smaller than the config's (it did not fit on the device; halved), else null. */
  batch?: { size: number; note: string | null };
}

/** A run as the Runs view lists it. */
export interface RunSummary {
  id: number;
  status: RunStatus;
  /** What the run predicts: classes (`metrics`) or a number (`valueMetrics`). */
  task: import('./regression').Task;
  config: TrainConfig;
  datasetVersion: number;
  backend: BackendReport | null;
  backbone: BackboneUsed | null;
  /** Augmented views actually used, and why fewer than asked when so. */
  views: { used: number; note: string | null };
  classes: string[];
  timings: RunTimings | null;
  /** Classification metrics (null for a regression run, or before the run finished). */
  metrics: RunMetrics | null;
  /** Regression metrics (null for a classification run, or before the run finished). */
  valueMetrics: import('./regression').RegressionRunMetrics | null;
  /** Full runs: the network trained; null for quick runs. */
  model: ModelUsed | null;
  /** A cancelled or failed full run with a checkpoint can be resumed from it. */
  resumable: boolean;
  error: string | null;
  startedAt: number;
  finishedAt: number | null;
}

/** A run with its curves. */
export interface RunDetail extends RunSummary {
  curves: CurvePoint[];
  /** Test-set trust (runs:get fills it for finished runs with labelled test predictions; null otherwise). */
  trust?: TestTrust | null;
}

/** The kinds of review queue. */
export const issueKinds = ['loss', 'label', 'confused', 'cell'] as const;
/** loss: worst out-of-sample losses; label: likely label errors (the fused queue, or one signal with `sort`); confused: a most-confused pair; cell: a confusion cell. */
export type IssueKind = (typeof issueKinds)[number];

/**
 * The label-error signals computed per labelled image of a run (each: higher = more likely wrong):
 * selfConfidence 1 - p(given); margin (max other p - p(given) + 1) / 2; confident: confident-learning
 * membership (train+valid rows among themselves, test rows on their own); knn: share of the k nearest
 * neighbours (cosine on the run's embeddings) labelled otherwise; ensemble: share of other finished
 * runs' out-of-sample predictions that disagree with the label; duplicate: a near-duplicate carries
 * another label. Probabilities are temperature-calibrated first.
 */
export const labelSignals = ['selfConfidence', 'margin', 'confident', 'knn', 'ensemble', 'duplicate'] as const;
/** One label-error signal. */
export type LabelSignal = (typeof labelSignals)[number];
/** How the 'label' queue is ordered: 'fused' (the default, every available signal combined) or one signal alone. */
export const labelSorts = ['fused', ...labelSignals] as const;
/** One of labelSorts. */
export type LabelSort = (typeof labelSorts)[number];

/** A row's signal values (null: not available for this run, e.g. no embeddings or no other run). */
export interface RowSignals {
  selfConfidence: number;
  margin: number;
  confident: boolean;
  knn: number | null;
  ensemble: number | null;
  duplicate: boolean;
  /** The fused score, 0..1 (higher = more likely wrong); orders the 'fused' queue. */
  fused: number;
  /** Estimated probability that the label is wrong (the row's share of the noise estimate). */
  pWrong: number;
}

/** A nearest neighbour of a row in embedding space (for thumbnails: fetch by imageId or path). */
export interface NeighbourRef {
  imageId: ImageId;
  path: string;
  /** Its label at the run (null: unlabelled). */
  given: string | null;
  /** Cosine similarity, -1..1. */
  similarity: number;
}

/** Why a row is flagged, as data (the row's `reason` says the same in words). */
export interface WhyFlagged {
  given: string;
  givenProbability: number;
  /** The class the signals suggest instead (the most probable other class, or the neighbours' majority). */
  suggested: string;
  suggestedProbability: number;
  /** Of the `neighbours` nearest images, how many carry the suggested label and how many the given one; null without embeddings. */
  neighbours: { count: number; suggested: number; given: number } | null;
}

/** One image in a review queue. */
export interface IssueRow {
  imageId: ImageId;
  path: string;
  split: SplitName | null;
  given: string;
  predicted: string;
  /** Probability of the predicted class. */
  probability: number;
  /** Probability of the given class. */
  givenProbability: number;
  loss: number;
  /** The fold whose head predicted it (-1: the final head). */
  fold: number;
  /** Why it is in the queue, in words. */
  reason: string;
  /** Label-error signals of the row (every queue kind; null where the run has no signals for it, e.g. unlabelled). */
  signals?: RowSignals | null;
  /** Why it is flagged, as data ('label' queue rows). */
  why?: WhyFlagged | null;
  /** Its nearest images (by the run's embeddings), nearest first; empty without embeddings. */
  neighbours?: NeighbourRef[];
}

/** How many wrong labels to expect, and how likely the next rows are wrong. */
export interface NoiseEstimate {
  /** Estimated share of the labels (of the queue's scope: all splits, or `split` when asked) that are wrong. */
  noiseRate: number;
  /** How many labels that is. */
  labels: number;
  /** Labelled images the estimate is over. */
  of: number;
  /** How it was estimated, in words. */
  method: string;
  /** Confident learning's own estimate over the same rows (for comparison; it counts model errors as label errors). */
  confidentLearningRate: number;
  /** From the page's offset: the expected share wrong of the next `count` rows of this queue ("the next 50 are about 60% likely to be wrong"). */
  next: { count: number; expectedWrong: number; precision: number };
}

/** Temperature scaling of the run's out-of-sample probabilities, fitted on them (NLL), with ECE (15 bins) before and after. */
export interface CalibrationReport {
  temperature: number;
  eceBefore: number;
  eceAfter: number;
  /** Rows it was fitted on. */
  rows: number;
}

/** Which run feeds the queues, and why. */
export interface QueueSource {
  runId: number;
  /** 'best': chosen by out-of-sample quality (the default); 'chosen': set by a person (review:setSource). */
  how: 'best' | 'chosen';
  /** Why this run, in words. */
  reason: string;
  /** The finished runs it was chosen among, best first. */
  candidates: Array<{
    runId: number;
    mode: 'quick' | 'full';
    /** Out-of-sample log loss and accuracy against the labels now, over the rows every candidate covers. */
    logLoss: number;
    accuracy: number;
    /** Labelled images it has out-of-sample predictions for. */
    covered: number;
    finishedAt: number | null;
  }>;
}

/** A page of a review queue. */
export interface IssuePage {
  runId: number | null;
  total: number;
  rows: IssueRow[];
  /**
   * For likely label errors: the estimated share and number of wrong labels, and the expected
   * precision of the next rows from the page's offset. Null otherwise.
   */
  estimate: NoiseEstimate | null;
  /** The order used ('label' queue; null for the other kinds). */
  sort?: LabelSort | null;
  /** Calibration applied before the signals (null without a run). */
  calibration?: CalibrationReport | null;
  /** Which run feeds the queue when none was asked for (null when runId was given or there is no run). */
  source?: QueueSource | null;
  /** Signals this run has (knn needs embeddings, ensemble another run, duplicate the health check's set). */
  available?: LabelSignal[];
}

/**
 * Test-set trust: the same analysis on the test rows on their own. The estimated share of wrong
 * test labels (with a 95% interval), and the test accuracy corrected for it: errors of the model on
 * images whose label is itself wrong are not the model's.
 */
export interface TestTrust {
  rows: number;
  noiseRate: number;
  interval: [number, number];
  labels: number;
  accuracy: number;
  /** Accuracy against the labels estimated to be right: (correct + expected wrong labels among the misses) / rows, with its interval. */
  correctedAccuracy: number;
  correctedInterval: [number, number];
  method: string;
}

/**
 * The effect of one review session: the edit batches made between one finished run and the next
 * (the change log is the source of truth). After the next run: how many of the images it touched the
 * new model agrees with (predicts the label they have now), and the metric changes between the runs.
 */
export interface ReviewSession {
  /** The run the session reviewed (the run before it), and the run trained after it (null: none yet). */
  beforeRunId: number;
  afterRunId: number | null;
  batches: number;
  firstAt: number;
  lastAt: number;
  /** Images touched: relabelled, removed (excluded) and marked reviewed (kept as labelled). */
  touched: { total: number; relabelled: number; removed: number; reviewed: number };
  /** Of the relabelled and reviewed images the next run predicted out-of-sample, how many it agrees with; null before the next run. */
  agreement: { predicted: number; agrees: number; rate: number } | null;
  /** after minus before, per split and metric (out-of-sample train, valid, test); empty before the next run. */
  deltas: Array<{ split: 'train' | 'valid' | 'test'; metric: 'accuracy' | 'macroF1' | 'logLoss'; before: number; after: number; delta: number }>;
}

/** A pair of classes the model confuses, counted both ways. */
export interface ConfusedPair {
  a: string;
  b: string;
  aAsB: number;
  bAsA: number;
  total: number;
}

/** Metrics two runs are compared on: classification's, or regression's (both runs have one task). */
export const comparedMetrics = {
  classification: ['accuracy', 'macroF1', 'logLoss'],
  regression: ['mae', 'rmse', 'r2', 'medianAe'],
} as const;
/** One compared metric. */
export type ComparedMetric = (typeof comparedMetrics)[keyof typeof comparedMetrics][number];
/** Metrics where a smaller figure is better (errors and losses). */
export const lowerIsBetter: ReadonlySet<ComparedMetric> = new Set<ComparedMetric>(['logLoss', 'mae', 'rmse', 'medianAe']);

/** Two runs side by side (of one task). */
export interface RunComparison {
  a: RunSummary;
  b: RunSummary;
  /** b minus a, per split and metric. */
  deltas: Array<{ split: 'train' | 'valid' | 'test'; metric: ComparedMetric; a: number; b: number; delta: number }>;
  /** Images whose predicted class differs between the runs. */
  changed: Array<{ imageId: ImageId; path: string; given: string | null; a: string; b: string }>;
  changedTotal: number;
}

/**
 * How 0..255 pixels become a backbone's input: imagenet ((x/255 - ImageNet mean) / std), unit (x/255,
 * 0..1), symmetric (x/127.5 - 1, -1..1), or custom (the given mean and std, on the 0..1 scale).
 */
export const scalingPresets = ['imagenet', 'unit', 'symmetric', 'custom'] as const;
/** One of scalingPresets. */
export type ScalingPreset = (typeof scalingPresets)[number];
/** Colour order fed to the network: rgb, bgr (Caffe-style), or grey (one channel). */
export const colourModes = ['rgb', 'bgr', 'grey'] as const;
/** One of colourModes. */
export type ColourMode = (typeof colourModes)[number];
/** The kernel images are resized with to the backbone's input size: match the backbone's own pipeline. */
export const resizeKernels = ['bilinear', 'bicubic', 'lanczos3', 'nearest'] as const;
/** One of resizeKernels. */
export type ResizeKernel = (typeof resizeKernels)[number];

/** A backbone's preprocessing, stored with it and part of its cache key. */
export interface BackbonePreprocessing {
  scaling: ScalingPreset;
  /** Per-channel (x/255 - mean) / std; for grey only the first value counts. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Square input side in pixels. */
  inputSize: number;
  colour: ColourMode;
  resize: ResizeKernel;
}

/** What a model file itself says, read at import (null where the file does not say). */
export interface ModelFileFacts {
  format: 'onnx' | 'layers-model' | 'graph-model';
  inputSize: number | null;
  channels: number | null;
  /** What was read and what was assumed, in words. */
  notes: string[];
}

/** A backbone Loupe knows. */
export interface BackboneInfo {
  name: string;
  kind: 'onnx' | 'tfjs' | 'baseline';
  description: string;
  /** True when its weights are on this machine. */
  isAvailable: boolean;
  file: string | null;
  /** How images become its input; null for the image baseline. */
  preprocessing: BackbonePreprocessing | null;
  /** What its model file says (imported models; null otherwise). */
  fromFile: ModelFileFacts | null;
  /** What embeds with it: onnxruntime-node for ONNX models, TF.js on the training process's backend for TF.js models. */
  engine: 'onnxruntime-node' | 'tfjs' | 'baseline';
  /** The last embedding rate measured on this machine (engine as 'onnxruntime-node' or 'tfjs-<backend>'); null before a run. */
  rate: { imagesPerSecond: number; engine: string; measuredAt: number } | null;
  /** Vectors the open project has cached for exactly these weights and preprocessing; null without a project. */
  cachedVectors: number | null;
}

const triple = (what: string) => z.tuple([z.number().finite(), z.number().finite(), z.number().finite()], { message: `${what} takes three numbers (R, G, B)` });

/** Preprocessing a person declares at import; what is left out is read from the model file or defaulted. */
export const preprocessingInputSchema = z.object({
  scaling: z.enum(scalingPresets).optional(),
  mean: triple('mean').optional(),
  std: triple('std')
    .refine((s) => s.every((v) => v > 0), { message: 'std values must be positive' })
    .optional(),
  inputSize: z.number().int().min(8).max(2048).optional(),
  colour: z.enum(colourModes).optional(),
  resize: z.enum(resizeKernels).optional(),
});
/** Preprocessing as declared at import: every field optional. */
export type PreprocessingInput = z.infer<typeof preprocessingInputSchema>;

const runId = z.number().int().positive();

/** Request schemas of the train:, runs: and review: areas. */
export const trainRequestSchemas = {
  /** Start a run (quick by default); returns the job and run ids at once. `resume` continues a cancelled or failed full run from its last checkpoint. */
  'train:start': z.object({ config: z.record(z.string(), z.unknown()).default({}), resume: runId.optional() }),
  /** The LR finder for a full config: a job whose result is an LrFindResult. */
  'train:lrFind': z.object({ config: z.record(z.string(), z.unknown()).default({}) }),
  /** Overfit one batch (1 image, then 8; no augmentation or regularisation): a job whose result is an OverfitResult. */
  'train:sanity': z.object({ config: z.record(z.string(), z.unknown()).default({}) }),
  /** Exactly what a full config feeds the network for one batch. */
  'train:showBatch': z.object({ config: z.record(z.string(), z.unknown()).default({}), count: z.number().int().min(1).max(64).default(16), seed: z.number().int().min(0).default(0) }),
  /** Write a full run's model: TF.js (model.json + weights), ONNX for the built-in networks, and a JSON of classes, input size and normalisation. */
  'runs:exportModel': z.object({ id: runId, out: filePath('output folder') }),
  /** Classify images with a full run's model: files on this machine, or images sent as base64 (a dropped file). */
  'runs:predict': z.object({
    id: runId,
    files: z.array(filePath('image file')).max(1000).default([]),
    images: z.array(z.object({ name: requiredText('name', 'image name'), base64: z.string().max(8 * 1024 * 1024, 'an image sent for prediction may be at most 6 MiB') })).max(16).default([]),
    /** Test-time augmentation: average the probabilities over ttaViews (7 passes per image instead of 1). */
    tta: z.boolean().default(false),
  }),
  /** How long a full config will take on this machine, from the rate measured by earlier full runs of the same arch and input (null seconds before one). */
  'train:estimate': z.object({ config: z.record(z.string(), z.unknown()).default({}) }),
  /** Rerun the last run's config on the current dataset version. */
  'train:retrain': z.object({}),
  /** Backbones known, and the last backend report. */
  'train:backbones': z.object({}),
  /** Copy a model file (.onnx, or a TF.js model.json) into the backbone cache and register it. */
  'train:importBackbone': z.object({
    file: filePath('model file'),
    name: requiredText('name', 'backbone name').optional(),
    preprocessing: preprocessingInputSchema.optional(),
    /** Read and check the file, answer what would be stored, register nothing (the import form prefills from it). */
    dryRun: z.boolean().default(false),
  }),
  'runs:list': z.object({}),
  /** A run with its curves and, unless `trust` is false, its test-set trust (the first call per run computes the label-error signals: seconds). */
  'runs:get': z.object({ id: runId, trust: z.boolean().default(true) }),
  'runs:compare': z.object({ a: runId, b: runId, limit: z.number().int().min(1).max(5000).default(200) }),
  /** One page of a review queue of a run (the latest finished run when omitted). */
  'review:queue': z.object({
    runId: runId.optional(),
    kind: z.enum(issueKinds),
    /** For 'confused' and 'cell': the given and predicted classes. */
    given: boundedText('className', 'given class').optional(),
    predicted: boundedText('className', 'predicted class').optional(),
    includeReviewed: z.boolean().default(false),
    /** For 'label': the fused queue (default) or one signal alone. */
    sort: z.enum(labelSorts).default('fused'),
    /** Only rows of this split (every split when omitted); the estimate is then over that split. */
    split: z.enum(['train', 'valid', 'test']).optional(),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(2000).default(50),
    /** How many rows from `offset` the estimate's `next` covers. */
    window: z.number().int().min(1).max(2000).default(50),
  }),
  /** Which run feeds the queues by default, the candidates, and why. */
  'review:source': z.object({}),
  /** Choose the run that feeds the queues (null: back to the best by out-of-sample quality). */
  'review:setSource': z.object({ runId: runId.nullable() }),
  /** The nearest images of one image by a run's embeddings, with their labels (thumbnails on demand). */
  'review:neighbours': z.object({ runId: runId.optional(), imageId: z.number().int().positive(), k: z.number().int().min(1).max(50).default(10) }),
  /** Review sessions (edit batches between consecutive runs) and their effect on the next run. */
  'runs:sessions': z.object({}),
  /** The most-confused class pairs of a run. */
  'review:pairs': z.object({ runId: runId.optional(), limit: z.number().int().min(1).max(500).default(20) }),
} satisfies Record<string, z.ZodType>;

/** Outputs of the train:, runs: and review: requests. */
export interface TrainRequestOutputs {
  'train:start': { jobId: JobId; runId: number };
  'train:lrFind': { jobId: JobId };
  'train:sanity': { jobId: JobId };
  'train:showBatch': ShownBatch;
  'runs:exportModel': ModelExport;
  'runs:predict': ModelPrediction[];
  'train:estimate': TrainEstimate;
  'train:retrain': { jobId: JobId; runId: number };
  'train:backbones': { backbones: BackboneInfo[]; backend: BackendReport | null };
  'train:importBackbone': BackboneInfo;
  'runs:list': RunSummary[];
  'runs:get': RunDetail;
  'runs:compare': RunComparison;
  'review:queue': IssuePage;
  'review:pairs': ConfusedPair[];
  'review:source': QueueSource | null;
  'review:setSource': QueueSource | null;
  'review:neighbours': NeighbourRef[];
  'runs:sessions': ReviewSession[];
}

/** Events of training. */
export interface TrainEventPayloads {
  /** New curve points of a running run (batched). */
  'train:curve': { runId: number; points: CurvePoint[] };
  /** A run started, finished, failed or was cancelled. */
  'runs:changed': { runId: number; status: RunStatus };
}
