/**
 * Training, runs and review: configs, metrics, curves, run records and review queue rows. Plain data
 * that crosses IPC and JSON; the request schemas here are registered in the contract.
 */
import { z } from 'zod';
import type { ImageId, JobId, SplitName } from './types';
import { boundedText, filePath, requiredText } from './limits';
import { augmentPresetNames } from './augment';

/** The TF.js backends, best first. */
export const backendNames = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
/** A TF.js backend. */
export type BackendName = (typeof backendNames)[number];

/** Which backend ran, and why each better one did not load. */
export interface BackendReport {
  name: BackendName;
  tried: Array<{ name: BackendName; loaded: boolean; reason: string | null }>;
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
  /** Adam's step. 3e-4 suits fine-tuning a network; a linear head on standardised embeddings converges faster at 3e-3 with large batches (tuned on Fashion-MNIST). */
  learningRate: z.number().positive().max(1).default(3e-3),
  weightDecay: z.number().min(0).max(1).default(1e-4),
  epochs: z.number().int().min(1).max(1000).default(60),
  batchSize: z.number().int().min(8).max(8192).default(1024),
  /** Early stopping: epochs without a better valid loss before stopping. */
  patience: z.number().int().min(1).max(100).default(3),
  seed: z.number().int().min(0).default(42),
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
}

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
  /** Full runs: the train images predicted by the network fitted on them. In-sample: for the train/valid gap, never an estimate of accuracy. */
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
}

/** Seconds spent in each step, and how much the cache saved. */
export interface RunTimings {
  totalSeconds: number;
  embedSeconds: number;
  trainSeconds: number;
  embedded: number;
  cached: number;
  imagesPerSecond: number | null;
}

/** A run as the Runs view lists it. */
export interface RunSummary {
  id: number;
  status: RunStatus;
  config: TrainConfig;
  datasetVersion: number;
  backend: BackendReport | null;
  backbone: BackboneUsed | null;
  /** Augmented views actually used, and why fewer than asked when so. */
  views: { used: number; note: string | null };
  classes: string[];
  timings: RunTimings | null;
  metrics: RunMetrics | null;
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
}

/** The kinds of review queue. */
export const issueKinds = ['loss', 'label', 'confused', 'cell'] as const;
/** loss: worst out-of-sample losses; label: likely label errors; confused: a most-confused pair; cell: a confusion cell. */
export type IssueKind = (typeof issueKinds)[number];

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
}

/** A page of a review queue. */
export interface IssuePage {
  runId: number | null;
  total: number;
  rows: IssueRow[];
  /**
   * For likely label errors: the share of the run's labels that confident learning estimates to be
   * wrong, and how many labels that is, so a person can judge how many flags to expect. Null otherwise.
   */
  estimate: { noiseRate: number; labels: number } | null;
}

/** A pair of classes the model confuses, counted both ways. */
export interface ConfusedPair {
  a: string;
  b: string;
  aAsB: number;
  bAsA: number;
  total: number;
}

/** Two runs side by side. */
export interface RunComparison {
  a: RunSummary;
  b: RunSummary;
  /** b minus a, per split and metric. */
  deltas: Array<{ split: 'train' | 'valid' | 'test'; metric: 'accuracy' | 'macroF1' | 'logLoss'; a: number; b: number; delta: number }>;
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
  'runs:get': z.object({ id: runId }),
  'runs:compare': z.object({ a: runId, b: runId, limit: z.number().int().min(1).max(5000).default(200) }),
  /** One page of a review queue of a run (the latest finished run when omitted). */
  'review:queue': z.object({
    runId: runId.optional(),
    kind: z.enum(issueKinds),
    /** For 'confused' and 'cell': the given and predicted classes. */
    given: boundedText('className', 'given class').optional(),
    predicted: boundedText('className', 'predicted class').optional(),
    includeReviewed: z.boolean().default(false),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(2000).default(50),
  }),
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
}

/** Events of training. */
export interface TrainEventPayloads {
  /** New curve points of a running run (batched). */
  'train:curve': { runId: number; points: CurvePoint[] };
  /** A run started, finished, failed or was cancelled. */
  'runs:changed': { runId: number; status: RunStatus };
}
