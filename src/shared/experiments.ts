/**
 * Experiments: what to try next, measured. A project goal, a per-run bias/variance diagnosis with
 * prioritised next steps (each with an action the UI maps to a button), automatic baselines with
 * every run, a hyperparameter search with successive halving (ASHA) whose trials are runs, ensembles
 * that are runs, comparisons that say when labels changed under them, and a self-contained HTML
 * report per run. Plain data that crosses IPC and JSON; the request schemas here are registered in
 * the contract (src/shared/contract.ts).
 *
 * Errors are fractions (0.27 = 27%), accuracy = 1 - error, everywhere in this file.
 */
import { z } from 'zod';
import type { ImageId, JobId, SplitName } from './types';
import { augmentPresetNames, type AugmentPresetName } from './augment';
import { filePath } from './limits';
import { headKinds, type IssueKind, type RunStatus, type SplitMetrics, type TrainConfig } from './train';

// ---------------------------------------------------------------------------------------------
// Goal and diagnosis

/** How a person states the goal: an error to stay under, or an accuracy to reach. */
export const goalMetrics = ['error', 'accuracy'] as const;
/** A goal metric. */
export type GoalMetric = (typeof goalMetrics)[number];

/** The project's goal, stored as errors whatever way it was given. */
export interface ProjectGoal {
  /** How it was stated (the UI shows it back the same way). */
  metric: GoalMetric;
  /** The error to reach (accuracy goals stored as 1 - accuracy). */
  targetError: number;
  /** Human-level error (a proxy for the Bayes error), or null when unknown. */
  humanError: number | null;
  setAt: number;
}

/** A run's errors side by side. Null where the run has no such figure. */
export interface ErrorFigures {
  /** The goal's error (the project's goal; null when none is set). */
  goal: number | null;
  human: number | null;
  /** In-sample: the final model on its own training images. */
  train: number | null;
  /** Out-of-sample k-fold error over the train images (each predicted by a model that did not see it). */
  trainKFold: number | null;
  valid: number | null;
  test: number | null;
}

/** The three gaps, named. Null where a side is missing. */
export interface DiagnosisGaps {
  /** train - goal (or train - human when there is no goal; goal - human is unavoidable). */
  avoidableBias: number | null;
  /** valid - train. */
  variance: number | null;
  /** test - valid. */
  shift: number | null;
}

/**
 * The verdict. onTarget: valid meets the goal and no gap stands out; underfitting: the avoidable
 * bias is the largest problem; overfitting: the variance is; both: both are large ("address
 * underfitting first"); shift: valid and test disagree more than sampling explains; noData: the run
 * lacks the figures.
 */
export const diagnosisVerdicts = ['onTarget', 'underfitting', 'overfitting', 'both', 'shift', 'noData'] as const;
/** A verdict. */
export type DiagnosisVerdict = (typeof diagnosisVerdicts)[number];

/** The families of next steps, in the order practitioners work through them. */
export const stepCategories = ['underfitting', 'overfitting', 'shift', 'rebalance'] as const;
/** A step family. */
export type StepCategory = (typeof stepCategories)[number];

/**
 * What a step's button does. train: open the Train form pre-filled with `config` (a patch over the
 * run's own config: e.g. { head: 'mlp', hidden: 512 } or { epochs: 120 }); augment: open Augment with
 * the preset; review: open a review queue; splits: open the split report (check/rebalance the split);
 * health: open Data health (duplicates, leakage); search: open a hyperparameter search pre-filled from
 * the run; compare: open the comparison of the run's valid and test errors (the confusion matrices);
 * none: advice Loupe cannot act on (e.g. "collect more data").
 */
export type StepAction =
  | { kind: 'train'; config: Record<string, unknown> }
  | { kind: 'augment'; preset: AugmentPresetName }
  | { kind: 'review'; queue: IssueKind; split?: SplitName }
  | { kind: 'splits' }
  | { kind: 'health' }
  | { kind: 'search'; runId: number }
  | { kind: 'compare'; runId: number }
  | { kind: 'none' };
/** The kinds of step action, for exhaustive switches. */
export const stepActionKinds = ['train', 'augment', 'review', 'splits', 'health', 'search', 'compare', 'none'] as const;

/** One next step. */
export interface NextStep {
  category: StepCategory;
  /** 1 = do first. Steps come sorted by it. */
  priority: number;
  /** Short: "Bigger backbone or head", "Stronger augmentation". */
  title: string;
  /** Why, in a sentence, with the figures. */
  detail: string;
  /** The button (kind 'none': text only). */
  action: StepAction;
}

/** A run's diagnosis. */
export interface Diagnosis {
  runId: number;
  verdict: DiagnosisVerdict;
  /** The verdict in plain words, with the gaps: "Both: address underfitting first. …". */
  summary: string;
  errors: ErrorFigures;
  gaps: DiagnosisGaps;
  /** Sorted by priority. */
  steps: NextStep[];
  /** What the k-fold error is and how it differs from the in-sample train error, in words. */
  kFoldNote: string;
  /** Caveats: no goal set, few test images (the shift's sampling noise), in-sample error missing. */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Baselines

/** A baseline's score on one split. */
export interface BaselineScore {
  count: number;
  accuracy: number;
}

/** What the model gains over a baseline (model accuracy - baseline accuracy), per split. */
export interface Lift {
  valid: number | null;
  test: number | null;
}

/**
 * Baselines computed with every run on the run's own split: the majority class of train, and a
 * softmax regression on raw pixels (downsampled to `inputSize` x `inputSize` grey, standardised on
 * train), trained on train. Stored with the run.
 */
export interface RunBaselines {
  majority: { className: string; valid: BaselineScore | null; test: BaselineScore | null };
  linear: {
    inputSize: number;
    train: BaselineScore | null;
    valid: BaselineScore | null;
    test: BaselineScore | null;
    seconds: number;
  } | null;
  /** The run's accuracy minus each baseline's (the run's own metrics.valid/test). */
  lift: { majority: Lift; linear: Lift };
  computedAt: number;
}

// ---------------------------------------------------------------------------------------------
// Runs as experiments

/** What a run is to the experiments area: a plain run, a search trial, or an ensemble. */
export const runRoles = ['run', 'trial', 'ensemble'] as const;
/** A run's role. */
export type RunRole = (typeof runRoles)[number];

/** One member of an ensemble, scored the same way as the ensemble (its stored out-of-sample predictions on the shared images). */
export interface EnsembleMember {
  runId: number;
  /** Accuracy per split over the images every member covers (null where none). */
  accuracy: { train: number | null; valid: number | null; test: number | null };
  logLoss: { train: number | null; valid: number | null; test: number | null };
}

/** A run's place in the experiments area: the runs table groups, marks and lifts with it. */
export interface RunExperimentInfo {
  runId: number;
  role: RunRole;
  /** Trials: the search and the trial index (0-based) and the rung budget (epochs) this run was. */
  searchId: number | null;
  trial: number | null;
  budget: number | null;
  /** Ensembles: the members (for the table to show each member and the ensemble). */
  members: EnsembleMember[];
  /** Ensembles: how the members were chosen. */
  ensembleSource: EnsembleSource['kind'] | null;
  baselines: RunBaselines | null;
}

// ---------------------------------------------------------------------------------------------
// Hyperparameter search

const positiveRange = z
  .object({ min: z.number().positive(), max: z.number().positive() })
  .refine((r) => r.min <= r.max, 'min must not exceed max');

/**
 * The space a search samples (seeded): ranges are log-uniform, lists are uniform choices. A field
 * left out stays at the base config's value. Quick runs: learningRate, weightDecay, head, hidden,
 * views (augmented views per train image: the quick model's augmentation strength), dropout (the
 * head's, while training). Full runs:
 * learningRate, weightDecay, augment (preset), arch, batchSize. A field that does not apply to the
 * base config's mode is refused (VALIDATION) rather than silently ignored. The budget (epochs) is
 * the scheduler's, not part of the space.
 */
export const searchSpaceSchema = z.object({
  learningRate: positiveRange.optional(),
  /** Log-uniform over [min, max]; both must be > 0 (use a tiny min such as 1e-6 for "almost none"). */
  weightDecay: positiveRange.optional(),
  head: z.array(z.enum(headKinds)).min(1).max(2).optional(),
  hidden: z.array(z.number().int().min(8).max(4096)).min(1).max(16).optional(),
  views: z.array(z.number().int().min(0).max(16)).min(1).max(17).optional(),
  /** Quick runs: the head's training dropout, a uniform choice among these rates (0: none). */
  dropout: z.array(z.number().min(0).max(0.9)).min(1).max(16).optional(),
  augment: z.array(z.enum(augmentPresetNames)).min(1).optional(),
  arch: z.array(z.enum(['small-cnn', 'resnet-small'])).min(1).optional(),
  batchSize: z.array(z.number().int().min(1).max(8192)).min(1).max(16).optional(),
});
/** A search space. */
export type SearchSpace = z.output<typeof searchSpaceSchema>;

/** The space a search uses when none is given, per mode (what the search form pre-fills). */
export const defaultSearchSpaces: Record<'quick' | 'full', SearchSpace> = {
  quick: { learningRate: { min: 3e-4, max: 3e-2 }, weightDecay: { min: 1e-6, max: 1e-2 }, head: ['softmax', 'mlp'], hidden: [128, 256, 512], views: [0, 2, 4], dropout: [0, 0.25, 0.5] },
  full: { learningRate: { min: 1e-4, max: 3e-3 }, weightDecay: { min: 1e-6, max: 1e-3 }, augment: ['light', 'standard', 'strong'], batchSize: [32, 64, 128] },
};

/**
 * Successive halving (asynchronous, ASHA): every trial first trains for `minBudget` epochs; at each
 * rung the best 1/eta of the trials that reached it (by valid loss) are promoted to eta times the
 * budget, up to `maxBudget`; the rest stop there.
 */
export const ashaSchema = z
  .object({
    minBudget: z.number().int().min(1).max(1000).default(2),
    maxBudget: z.number().int().min(1).max(1000).default(18),
    eta: z.number().int().min(2).max(8).default(3),
  })
  .refine((a) => a.minBudget <= a.maxBudget, 'asha.minBudget must not exceed asha.maxBudget');
/** Scheduler settings. */
export type AshaSettings = z.output<typeof ashaSchema>;

/** A sampled trial's values, by space field. */
export type TrialParams = Partial<Record<keyof SearchSpace, number | string>>;

/** States of a trial. */
export const trialStatuses = ['pending', 'running', 'paused', 'stopped', 'done', 'failed'] as const;
/** pending: not started; running; paused: waiting at a rung for a promotion decision; stopped: not promoted (ASHA); done: reached the max budget; failed. */
export type TrialStatus = (typeof trialStatuses)[number];

/** One rung a trial reached: the run that trained it for `budget` epochs and its valid figures. */
export interface TrialRung {
  budget: number;
  runId: number;
  validLoss: number | null;
  validAccuracy: number | null;
  seconds: number;
}

/** One trial of a search. */
export interface SearchTrial {
  index: number;
  params: TrialParams;
  /** The full config its runs trained with (epochs = the rung's budget). */
  config: TrainConfig;
  status: TrialStatus;
  rungs: TrialRung[];
  /** Its latest run (the table's row for the trial), or null before the first. */
  runId: number | null;
  /** The budget it stopped at (not promoted), or null. */
  stoppedAt: number | null;
  error: string | null;
}

/** The best trial so far. */
export interface SearchBest {
  trial: number;
  runId: number;
  budget: number;
  validLoss: number;
  validAccuracy: number | null;
  /** The config "apply best" puts in the train form (epochs = max budget). */
  config: TrainConfig;
}

/** A search as listed. */
export interface SearchSummary {
  id: number;
  status: RunStatus;
  jobId: JobId | null;
  mode: 'quick' | 'full';
  seed: number;
  asha: AshaSettings;
  /** The rung budgets: minBudget, minBudget*eta, … up to maxBudget. */
  rungs: number[];
  budget: { trials: number; minutes: number | null };
  trialsStarted: number;
  trialsFinished: number;
  best: SearchBest | null;
  /** Why it ended early (minutes budget spent), or the failure; null otherwise. */
  note: string | null;
  startedAt: number;
  finishedAt: number | null;
}

/** A search with its trials (the live table and the valid-loss-vs-budget chart: one line per trial over its rungs; stopped trials marked). */
export interface SearchDetail extends SearchSummary {
  base: TrainConfig;
  space: SearchSpace;
  trials: SearchTrial[];
}

// ---------------------------------------------------------------------------------------------
// Ensembles

/**
 * How an ensemble's members are chosen: finished runs, k seeds of one run's config (trained
 * first), or the k fold heads of one finished quick run ('folds': its test and unlabelled images
 * are the mean of the k heads, none of which saw them; its train and valid images keep their
 * out-of-fold prediction, since every other head trained on them).
 */
export const ensembleSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('runs'), runs: z.array(z.number().int().positive()).min(2, 'an ensemble needs at least two runs').max(32) }),
  z.object({ kind: z.literal('seeds'), runId: z.number().int().positive(), k: z.number().int().min(2).max(16).default(3) }),
  z.object({ kind: z.literal('folds'), runId: z.number().int().positive() }),
]);
/** An ensemble source. */
export type EnsembleSource = z.output<typeof ensembleSourceSchema>;

// ---------------------------------------------------------------------------------------------
// Comparison that cannot mislead, and re-scoring

/** How one image's prediction changed from run a to run b, against today's label: fixed (a wrong, b right), broken (a right, b wrong), other (both wrong, differently). */
export const changeKinds = ['fixed', 'broken', 'other'] as const;
/** A change kind. */
export type ChangeKind = (typeof changeKinds)[number];
/** Filters of the changed-predictions list. */
export const changeFilters = ['all', ...changeKinds] as const;
/** A changed-predictions filter. */
export type ChangeFilter = (typeof changeFilters)[number];

/** What changed in valid and test between the labels a run was scored on and today's. */
export interface LabelDrift {
  /** True when any valid/test label or membership differs: the run's stored metrics are not comparable with a run trained today. */
  changed: boolean;
  /** Images the run predicted in valid/test whose label is now different. */
  relabelled: number;
  /** Images in valid/test today that the run has no prediction for (added, moved in, or restored). */
  added: number;
  /** Images the run scored in valid/test that are no longer there (removed, moved out). */
  removed: number;
  /** In words: "3 test labels changed and 12 images left valid since run 4 was trained". */
  message: string;
}

/** A run's stored predictions scored against the labels at training time and against today's. */
export interface RescoredRun {
  runId: number;
  runVersion: number;
  currentVersion: number;
  drift: LabelDrift;
  /** From the stored rows with the labels they were stored with (matches the run's metrics for the same rows). */
  stored: { valid: SplitMetrics | null; test: SplitMetrics | null };
  /** The same stored probabilities against today's labels, on today's valid/test members the run predicted. */
  today: { valid: SplitMetrics | null; test: SplitMetrics | null };
}

/** One image whose prediction differs between two runs. */
export interface ChangedPrediction {
  imageId: ImageId;
  path: string;
  split: SplitName | null;
  /** Today's label (null: unlabelled now). */
  given: string | null;
  a: string;
  b: string;
  change: ChangeKind;
  /** p(today's label) in each run, and b - a (0 when unlabelled). */
  aConfidence: number;
  bConfidence: number;
  confidenceChange: number;
}

/** Two runs compared on today's labels, with the drift of each. */
export interface CheckedComparison {
  a: number;
  b: number;
  /** Each run re-scored on today's labels (see RescoredRun), so the metrics side by side are comparable. */
  rescored: { a: RescoredRun; b: RescoredRun };
  /** True when the two runs were trained on different valid/test labels or membership: the stored metrics cannot be compared as they are. */
  mismatch: boolean;
  /** In words, for next to the metrics; null when nothing changed. */
  warning: string | null;
  counts: Record<ChangeKind, number>;
  /** The filtered list, sorted by |confidence change| (largest first) or image id. */
  rows: ChangedPrediction[];
  total: number;
}

/** What a report request produced: the file written, or the HTML itself when no `out` was given. */
export interface RunReport {
  out: string | null;
  bytes: number;
  html: string | null;
}

// ---------------------------------------------------------------------------------------------
// Requests

const runId = z.number().int().positive();
const fraction = z.number().min(0, 'a figure cannot be negative').max(1, 'give figures as fractions: 0.05 for 5%');

/** Request schemas of the experiments: area. */
export const experimentRequestSchemas = {
  /** The project's goal, or null. */
  'experiments:goal': z.object({}),
  /** Set the goal (target: an error when metric is 'error', an accuracy when 'accuracy', as a fraction), or clear it with target null. */
  'experiments:setGoal': z.object({
    metric: z.enum(goalMetrics).default('error'),
    target: fraction.nullable(),
    human: fraction.nullable().optional(),
  }),
  /** A run's errors, gaps, verdict and next steps (the latest finished run when omitted). */
  'experiments:diagnose': z.object({ runId: runId.optional() }),
  /** A run's baselines (computed and stored when the run has none yet). */
  'experiments:baselines': z.object({ runId }),
  /** Role, search, ensemble members and baselines of every run (the runs table merges them by runId). */
  'experiments:runs': z.object({}),
  /**
   * Start a search: trials sampled (seeded) from `space` around `base` (a train config; its mode
   * decides quick or full), scheduled by ASHA; each rung of each trial is a run. Holds the
   * "one training job" slot until it ends. Budget: trials and/or minutes (whichever ends first).
   */
  'experiments:searchStart': z.object({
    base: z.record(z.string(), z.unknown()).default({}),
    /** Omitted: defaultSearchSpaces[mode]. */
    space: searchSpaceSchema.optional(),
    asha: ashaSchema.default({ minBudget: 2, maxBudget: 18, eta: 3 }),
    trials: z.number().int().min(1).max(500).default(24),
    minutes: z.number().positive().max(7 * 24 * 60).nullable().default(null),
    seed: z.number().int().min(0).default(1),
  }),
  'experiments:searches': z.object({}),
  'experiments:search': z.object({ id: runId }),
  /** The best trial's config (epochs = the max budget), for the train form. */
  'experiments:applyBest': z.object({ id: runId }),
  /** Build an ensemble run (a job; k seeds train first). Its predictions are the average of the members' out-of-sample probabilities on the images all members cover. */
  'experiments:ensemble': z.object({ source: ensembleSourceSchema }),
  /** A run's stored predictions scored against today's labels, with what changed. */
  'experiments:rescore': z.object({ runId }),
  /** Two runs compared on today's labels: drift warnings, fixed/broken/other counts and the changed predictions. */
  'experiments:compare': z.object({
    a: runId,
    b: runId,
    filter: z.enum(changeFilters).default('all'),
    sort: z.enum(['confidenceChange', 'imageId']).default('confidenceChange'),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(5000).default(200),
  }),
  /** A self-contained HTML report of a run (or of a comparison with `compareTo`): written to `out`, or returned when `out` is omitted. */
  'experiments:report': z.object({ runId, compareTo: runId.optional(), out: filePath('report file').optional() }),
} satisfies Record<string, z.ZodType>;

/** Outputs of the experiments: requests. */
export interface ExperimentRequestOutputs {
  'experiments:goal': ProjectGoal | null;
  'experiments:setGoal': ProjectGoal | null;
  'experiments:diagnose': Diagnosis;
  'experiments:baselines': RunBaselines;
  'experiments:runs': RunExperimentInfo[];
  'experiments:searchStart': { jobId: JobId; searchId: number };
  'experiments:searches': SearchSummary[];
  'experiments:search': SearchDetail;
  'experiments:applyBest': { config: TrainConfig; trial: number; runId: number };
  'experiments:ensemble': { jobId: JobId; runId: number };
  'experiments:rescore': RescoredRun;
  'experiments:compare': CheckedComparison;
  'experiments:report': RunReport;
}

/** Events of the experiments area. */
export interface ExperimentEventPayloads {
  /** A search's trials or status changed (a rung finished, a trial stopped or was promoted). */
  'experiments:search': { searchId: number; status: RunStatus };
}
