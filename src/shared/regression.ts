/**
 * Numeric targets: a project's task, regression metrics, predicted values, the regression review
 * queues, value histograms, and binning values into classes. Plain data that crosses IPC and JSON;
 * the request schemas here are registered in the contract.
 *
 * The task is derived from the labels, never stored beside them: a project whose active images carry
 * classes is a classification project; one whose images carry only numeric values is a regression
 * project (store/project.ts `projectTask`). Binning adds class labels in one undoable batch and keeps
 * the values, so undoing it (or `dataset:unbin`) makes the project a regression project again.
 */
import { z } from 'zod';
import type { ChangeResult, ImageId, SplitName } from './types';
import { splitNames } from './types';
import { boundedText } from './limits';
import type { NeighbourRef, QueueSource } from './train';

/** What a project's labels are. */
export const tasks = ['classification', 'regression'] as const;
/** classification: each image has a class; regression: each image has a number. */
export type Task = (typeof tasks)[number];

/** Losses a regression head trains with (targets standardised first): squared error, or Huber (delta 1 standard deviation). */
export const regressionLosses = ['squared', 'huber'] as const;
export type RegressionLoss = (typeof regressionLosses)[number];

/** The errors of one set of predictions, in the target's units. */
export interface ValueErrors {
  /** Mean absolute error. */
  mae: number;
  /** Root mean squared error. */
  rmse: number;
  /** 1 - SSE / SST over this split's own mean (can be negative: worse than predicting that mean). */
  r2: number;
  /** Median absolute error. */
  medianAe: number;
}

/** Metrics of one split of a regression run. */
export interface RegressionSplitMetrics extends ValueErrors {
  count: number;
  /** The split's mean target. */
  mean: number;
  /** The baseline: predict the mean of the train targets for every image; the model should beat it. */
  baseline: ValueErrors;
}

/** A regression run's metrics: like RunMetrics (train out-of-sample k-fold; valid and test by the final head). */
export interface RegressionRunMetrics {
  train: RegressionSplitMetrics | null;
  valid: RegressionSplitMetrics | null;
  test: RegressionSplitMetrics | null;
  /** The final head on its own training images: in-sample, for the train/valid gap only. */
  trainInSample?: RegressionSplitMetrics | null;
  /** The train mean the baseline predicts. */
  trainMean: number;
}

/** One image's predicted value (for the scatter and the residual histogram). */
export interface ValuePoint {
  imageId: ImageId;
  split: SplitName | null;
  /** The value the image had when the run trained (null: none). */
  actual: number | null;
  predicted: number;
  /** predicted - actual (null without an actual value). */
  residual: number | null;
  /** The fold whose head predicted it (-1: the final head). */
  fold: number;
  /** Predicted by a model fitted on it (never out-of-sample). */
  inSample: boolean;
}

/** A run's predicted values, for charts (sampled evenly when there are more than `limit`). */
export interface ValuePoints {
  runId: number;
  total: number;
  points: ValuePoint[];
}

/** The regression review queues: worst absolute out-of-sample residuals, and likely target errors. */
export const valueIssueKinds = ['residual', 'target'] as const;
/**
 * residual: the largest |predicted - actual| first (out-of-sample rows only).
 * target: residuals far outside what the model's out-of-sample error is for similar images (a robust
 * z-score of the residual against its neighbours' residuals, or the whole split's when there are no
 * embeddings), together with how far the value sits from its nearest neighbours' values.
 */
export type ValueIssueKind = (typeof valueIssueKinds)[number];

/** One image in a regression review queue. */
export interface ValueIssueRow {
  imageId: ImageId;
  path: string;
  split: SplitName | null;
  /** Its value now (it may have been edited since the run), and the value the run trained on. */
  value: number | null;
  actual: number;
  predicted: number;
  /** predicted - actual. */
  residual: number;
  /** What orders the queue: |residual| for 'residual', the robust z-score for 'target'. */
  score: number;
  /** The median value of its nearest neighbours (by the run's embeddings), or null without embeddings. */
  neighbourMedian: number | null;
  fold: number;
  reviewed: boolean;
  /** Why it is in the queue, in words ("predicted 41.2, labelled 12.0: 6.3 times the typical error of similar images"). */
  reason: string;
  neighbours?: NeighbourRef[];
}

/** A page of a regression review queue. */
export interface ValueIssuePage {
  runId: number | null;
  total: number;
  rows: ValueIssueRow[];
  /** The typical out-of-sample error the scores are measured against (median absolute residual), in the target's units. */
  typicalError: number | null;
  /** How 'target' scores were computed, in words. */
  method: string;
  /** Which run feeds the queue when none was asked for. */
  source?: QueueSource | null;
}

/** Counts of values per bin, per split (and images with no split). */
export interface ValueHistogram {
  /** bins + 1 edges, ascending. */
  edges: number[];
  counts: Record<SplitName | 'none', number[]>;
  /** Active images with a value, and summary figures over all of them. */
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  median: number | null;
  /** Per split: count, mean and median. */
  splits: Record<SplitName, { count: number; mean: number | null; median: number | null }>;
}

/** How to turn values into classes. */
export const binMethodSchema = z.discriminatedUnion('method', [
  /** k bins with (about) equal counts. */
  z.object({ method: z.literal('quantile'), k: z.number().int().min(2, 'at least 2 bins').max(50, 'at most 50 bins') }),
  /** k bins of equal width between the smallest and the largest value. */
  z.object({ method: z.literal('width'), k: z.number().int().min(2, 'at least 2 bins').max(50, 'at most 50 bins') }),
  /** Inner edges the user typed, ascending: 0,12,35,55 gives <0, 0–12, 12–35, 35–55, ≥55 (bins that hold no value are dropped). */
  z.object({
    method: z.literal('edges'),
    edges: z
      .array(z.number().finite())
      .min(1, 'type at least one edge')
      .max(49, 'at most 49 edges')
      .refine((e) => e.every((v, i) => i === 0 || v > e[i - 1]!), 'edges must be strictly ascending'),
  }),
]);
export type BinMethod = z.output<typeof binMethodSchema>;

const binInput = z.object({
  bins: binMethodSchema,
  /** What the class names start with: "pm25" gives "pm25 35–55". */
  prefix: boundedText('className', 'class name prefix').default('value'),
});

/** One bin of a binning plan. */
export interface BinInfo {
  /** The class it becomes. */
  name: string;
  /** [low, high): the last bin includes its high edge. */
  low: number;
  high: number;
  counts: Record<SplitName | 'none', number>;
  total: number;
}

/** What binning would do. */
export interface BinPlan {
  bins: BinInfo[];
  /** The histogram behind the preview, with the bin edges drawn over it. */
  histogram: ValueHistogram;
  /** Images that would get a class, and active images without a value (left unlabelled). */
  labelled: number;
  withoutValue: number;
  /** Images that already carry a class (binning replaces it). */
  relabelled: number;
}

/** Request schemas of the numeric-target requests. */
export const regressionRequestSchemas = {
  /** Set the numeric target of images (one value for all of them), undoable. */
  'images:setValue': z.object({
    ids: z.array(z.number().int().positive().transform((n) => n as ImageId)).min(1, 'select at least one image').max(1_000_000),
    value: z.number().finite('the value must be a finite number'),
  }),
  /** The distribution of values per split. */
  'dataset:values': z.object({ bins: z.number().int().min(2).max(200).default(30) }),
  /** What binning would do, without doing it. */
  'dataset:binPlan': binInput,
  /** Bin the values into classes, in one undoable batch (the values are kept). */
  'dataset:bin': binInput,
  /** Back to the values: clear the class of every image that has a value, in one undoable batch. */
  'dataset:unbin': z.object({}),
  /** A regression run's predicted values (the latest finished regression run when omitted). */
  'runs:values': z.object({
    runId: z.number().int().positive().optional(),
    split: z.enum(splitNames).optional(),
    limit: z.number().int().min(1).max(100_000).default(20_000),
  }),
  /** One page of a regression review queue. */
  'review:values': z.object({
    runId: z.number().int().positive().optional(),
    kind: z.enum(valueIssueKinds),
    includeReviewed: z.boolean().default(false),
    split: z.enum(splitNames).optional(),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(2000).default(50),
  }),
} satisfies Record<string, z.ZodType>;

/** Outputs of the numeric-target requests. */
export interface RegressionRequestOutputs {
  'images:setValue': ChangeResult;
  'dataset:values': ValueHistogram;
  'dataset:binPlan': BinPlan;
  'dataset:bin': ChangeResult;
  'dataset:unbin': ChangeResult;
  'runs:values': ValuePoints;
  'review:values': ValueIssuePage;
}
