/**
 * Training, runs and review: configs, metrics, curves, run records and review queue rows. Plain data
 * that crosses IPC and JSON; the request schemas here are registered in the contract.
 */
import { z } from 'zod';
import type { ImageId, JobId, SplitName } from './types';
import { boundedText, filePath, requiredText } from './limits';

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
export const trainConfigSchema = z.object({
  mode: z.enum(['quick']).default('quick'),
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
/** A validated config with every default filled in. */
export type TrainConfig = z.output<typeof trainConfigSchema>;
/** What a caller may pass. */
export type TrainConfigInput = z.input<typeof trainConfigSchema>;

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

/** train: out-of-sample (k-fold); valid and test: the final head trained on train. */
export interface RunMetrics {
  train: SplitMetrics | null;
  valid: SplitMetrics | null;
  test: SplitMetrics | null;
}

/** One point of a training curve. phase: 'fold 1/5' … 'final'. */
export interface CurvePoint {
  phase: string;
  kind: 'batch' | 'epoch';
  /** Batch index within the phase (batch points) or epoch number (epoch points). */
  step: number;
  loss: number;
  valLoss: number | null;
  valAccuracy: number | null;
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

/** A backbone Loupe knows. */
export interface BackboneInfo {
  name: string;
  kind: 'onnx' | 'tfjs' | 'baseline';
  description: string;
  /** True when its weights are on this machine. */
  isAvailable: boolean;
  file: string | null;
}

const runId = z.number().int().positive();

/** Request schemas of the train:, runs: and review: areas. */
export const trainRequestSchemas = {
  /** Start a quick-model run; returns the job and run ids at once. */
  'train:start': z.object({ config: trainConfigSchema.partial().default({}) }),
  /** Rerun the last run's config on the current dataset version. */
  'train:retrain': z.object({}),
  /** Backbones known, and the last backend report. */
  'train:backbones': z.object({}),
  /** Copy a model file (.onnx, or a TF.js model.json) into the backbone cache and register it. */
  'train:importBackbone': z.object({ file: filePath('model file'), name: requiredText('name', 'backbone name').optional() }),
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
