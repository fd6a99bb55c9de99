/**
 * Training state the top bar, the Train, Runs and Review views share: the runs of the open project,
 * the run being trained (its job and its live curve), the Train view's form, the review queues, and
 * a regression run's predicted values for its charts.
 */
import { getContext, setContext, untrack } from 'svelte';
import type { AugmentPresetName } from '../../../shared/augment';
import type {
  BackendChoice,
  BackboneInfo,
  BackendReport,
  CurvePoint,
  FullArchitecture,
  RunComparison,
  RunDetail,
  RunSummary,
  ScheduleName,
  TrainConfig,
  TrainConfigInput,
  TrainEstimate,
  PreprocessingInput,
} from '../../../shared/train';
import { trainConfigSchema } from '../../../shared/train';
import type { JobId } from '../../../shared/types';
import type { RegressionLoss, ValuePoints } from '../../../shared/regression';
import type { AppState } from './app.svelte.js';
import { errorMessage } from './format';
import { defaultFilter, filterToParams } from './gallery.svelte.js';
import { ReviewState } from './review.svelte.js';
import { ValueReviewState } from './valueReview.svelte.js';
import { TrainToolsState, type FullConfigInput } from './trainTools.svelte.js';
import { ExperimentsState } from './experiments.svelte.js';
import { writeRoute } from './route';

/**
 * What embedding with a backbone will take before a run starts: vectors the cache lacks (every
 * image once, plus `views` per train image) over its last measured rate; seconds null before the first run.
 */
export function embedEstimate(backbone: BackboneInfo, images: number, trainImages: number, views: number): { vectors: number; seconds: number | null } {
  const vectors = Math.max(0, images + trainImages * views - (backbone.cachedVectors ?? 0));
  return { vectors, seconds: backbone.rate ? vectors / backbone.rate.imagesPerSecond : null };
}

/** The Train view's form: the fields a person sets (the rest keep their defaults). */
export interface TrainForm {
  backbone: string;
  folds: number;
  views: number;
  head: 'softmax' | 'mlp';
  hidden: number;
  learningRate: number;
  epochs: number;
  seed: number;
  /** Regression projects: the head's loss (classification runs ignore it). */
  regressionLoss: RegressionLoss;
}

/** The schema's defaults, shown in the form before the first run. */
export const defaultTrainForm: TrainForm = {
  backbone: 'default',
  folds: 5,
  views: 4,
  head: 'softmax',
  hidden: 256,
  learningRate: 3e-3,
  epochs: 60,
  seed: 42,
  regressionLoss: 'huber',
};

/** The form's fields for a full-model run. */
export interface FullTrainForm {
  arch: FullArchitecture;
  /** For 'finetune': the pretrained network. */
  backbone: string;
  epochs: number;
  learningRate: number;
  schedule: ScheduleName;
  batchSize: number;
  augment: AugmentPresetName;
  patience: number;
  seed: number;
  /** 0: off; k >= 2: k fold networks first, for out-of-sample train predictions. */
  folds: number;
  /** 'auto', or a TF.js backend forced (e.g. 'webgpu'). */
  backend: BackendChoice;
  /** Regression projects: the network's loss on the standardised targets (classification runs ignore it). */
  regressionLoss: RegressionLoss;
}

/** The full config's defaults: start simple (small-cnn), Adam at 3e-4. */
export const defaultFullTrainForm: FullTrainForm = {
  arch: 'small-cnn',
  backbone: 'default',
  epochs: 10,
  learningRate: 3e-4,
  schedule: 'constant',
  batchSize: 64,
  augment: 'light',
  patience: 5,
  seed: 42,
  folds: 0,
  backend: 'auto',
  regressionLoss: 'huber',
};

/** Which model the form starts. */
export type TrainMode = 'quick' | 'full';

/** Jobs that hold the one training slot: a run, a hyperparameter search (its trials are runs), an ensemble (its seeds train first). */
const trainingJobKinds: ReadonlySet<string> = new Set(['train', 'search', 'ensemble']);

/** Config fields the form has no control for (weight decay, patience, …), carried into the next run of that mode; `source` says where they came from. */
export interface FormExtras {
  mode: TrainMode;
  values: Record<string, unknown>;
  source: string;
}

/** Holds the runs and the training job, kept in step with `runs:changed`, `train:curve` and `jobs:update`. */
export class TrainState {
  readonly app: AppState;
  readonly review: ReviewState;
  /** The regression queues (Review on a regression project). */
  readonly valueReview: ValueReviewState;

  runs = $state.raw<RunSummary[]>([]);
  backbones = $state.raw<BackboneInfo[]>([]);
  /** The backend the training process loaded, from `train:backbones`. */
  backend = $state.raw<BackendReport | null>(null);
  /** The run the Train view shows; null follows the newest. */
  pickedRunId = $state<number | null>(null);
  /** The shown run with its curves, fetched when it changes state. */
  detail = $state.raw<RunDetail | null>(null);
  /** Curve points streamed for the run being trained. */
  liveRunId = $state<number | null>(null);
  liveCurve = $state.raw<CurvePoint[]>([]);
  /** The training job this UI started or heard of. */
  jobId = $state<JobId | null>(null);
  isStarting = $state(false);
  form = $state<TrainForm>({ ...defaultTrainForm });
  mode = $state<TrainMode>('quick');
  fullForm = $state<FullTrainForm>({ ...defaultFullTrainForm });
  /** The full model's checks (LR finder, overfit one batch, show a batch) and a finished run's export and predictions. */
  readonly tools: TrainToolsState;
  comparison = $state.raw<RunComparison | null>(null);
  /** How long the full form's run will take on this machine (train:estimate); null until asked. */
  fullEstimate = $state.raw<TrainEstimate | null>(null);
  /** Bumped each time a run stops (done, failed, cancelled): review queues refetch. */
  runsRevision = $state(0);
  /** Why the form's last start was refused (a full run on a regression project: CONFLICT), shown in the form; null otherwise. */
  startError = $state<string | null>(null);
  /** The shown regression run's predicted values, for the scatter and the residual histogram; null otherwise. */
  values = $state.raw<ValuePoints | null>(null);
  /** Why the shown run's predicted values could not be read (the charts say so instead of loading forever). */
  valuesError = $state<string | null>(null);
  /** Filled by applyConfig (apply a search's best, a diagnosis step) for the fields the form lacks; null when none. */
  formExtras = $state.raw<FormExtras | null>(null);
  /** The goal, diagnoses, baselines, searches, ensembles, checked comparisons and reports. */
  readonly experiments: ExperimentsState;

  readonly job = $derived.by(() => (this.jobId ? (this.app.jobs[this.jobId] ?? null) : null));
  readonly isTraining = $derived(this.isStarting || (this.jobId !== null && (!this.job || this.job.state === 'running' || this.job.state === 'queued')));
  readonly shownRunId = $derived(this.pickedRunId ?? this.runs[0]?.id ?? null);
  readonly shownRun = $derived(this.runs.find((run) => run.id === this.shownRunId) ?? null);
  /** The shown run's curve: live while it trains, stored once it stopped. */
  readonly curve = $derived.by(() => {
    if (this.shownRunId !== null && this.shownRunId === this.liveRunId && (this.shownRun?.status === 'running' || !this.detail?.curves.length)) {
      return this.liveCurve;
    }
    return this.detail?.id === this.shownRunId ? this.detail.curves : [];
  });

  private readonly unsubscribers: Array<() => void> = [];
  private disposeEffects: (() => void) | null = null;
  private detailRequest = 0;
  private estimateRequest = 0;
  private runsRequest = 0;
  private compareRequest = 0;
  private valuesRequest = 0;

  constructor(app: AppState) {
    this.app = app;
    this.review = new ReviewState(app);
    this.valueReview = new ValueReviewState(app);
    this.tools = new TrainToolsState(app, () => this.fullConfig());
    this.experiments = new ExperimentsState(app);
  }

  /** The full form as a config (the backbone only matters to finetune). */
  fullConfig(): FullConfigInput {
    const { backbone, ...rest } = $state.snapshot(this.fullForm);
    return { mode: 'full', ...rest, ...(rest.arch === 'finetune' ? { backbone } : {}) };
  }

  /** Subscribes to the training events, and reloads the runs whenever a project opens. */
  start(): void {
    this.unsubscribers.push(
      this.app.api.on('train:curve', ({ runId, points }) => {
        if (runId !== this.liveRunId) {
          this.liveRunId = runId;
          this.liveCurve = [];
        }
        this.liveCurve = [...this.liveCurve, ...points];
      }),
      this.app.api.on('runs:changed', ({ runId, status }) => {
        if (status === 'running') {
          if (this.liveRunId !== runId) {
            this.liveRunId = runId;
            this.liveCurve = [];
          }
        } else {
          this.runsRevision += 1;
        }
        // The Train view refetches the shown run's detail when its status changes.
        void this.refreshRuns();
      }),
      this.app.api.on('jobs:update', (job) => {
        if (trainingJobKinds.has(job.kind) && (job.state === 'running' || job.state === 'queued') && this.jobId !== job.id) this.jobId = job.id;
      }),
    );
    this.experiments.start();
    this.disposeEffects = $effect.root(() => {
      // The project object is replaced whenever its info refreshes (a job ends, a reconnect):
      // only a different file means another project, and only that resets the runs and queues.
      const file = $derived(this.app.project?.file ?? null);
      $effect(() => {
        const current = file;
        untrack(() => this.onProject(current));
      });
    });
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.disposeEffects?.();
    this.disposeEffects = null;
    this.experiments.stop();
    this.review.stop();
    this.valueReview.stop();
  }

  /** Reloads the runs list. */
  async refreshRuns(): Promise<void> {
    if (!this.app.project) return;
    const request = ++this.runsRequest;
    try {
      const runs = await this.app.api.call('runs:list', {});
      if (request === this.runsRequest) this.runs = runs;
    } catch (error) {
      if (request === this.runsRequest) this.app.toastError(error);
    }
  }

  /** Loads the backbones Loupe knows and the backend report (starts the training process if needed). */
  async loadBackbones(): Promise<void> {
    try {
      const answer = await this.app.api.call('train:backbones', {});
      this.backbones = answer.backbones;
      this.backend = answer.backend;
    } catch (error) {
      this.app.toastError(error);
    }
  }

  /** Reads a model file without importing it: what it says about its input and the preprocessing it would get (null when refused). */
  async inspectBackbone(file: string): Promise<BackboneInfo | null> {
    try {
      return await this.app.api.call('train:importBackbone', { file, dryRun: true });
    } catch (error) {
      this.app.toastError(error);
      return null;
    }
  }

  /** Imports an ONNX or TF.js model file as a backbone with its declared preprocessing and selects it in the form. */
  async importBackbone(file: string, preprocessing?: PreprocessingInput): Promise<boolean> {
    try {
      const imported = await this.app.api.call('train:importBackbone', { file, preprocessing });
      await this.loadBackbones();
      this.form.backbone = imported.name;
      return true;
    } catch (error) {
      this.app.toastError(error);
      return false;
    }
  }

  /** Fetches a run with its curves (and, for a classifier, its test-set trust: a regression run has no label-error signals). */
  async loadDetail(id: number | null): Promise<void> {
    const request = ++this.detailRequest;
    if (id === null) {
      this.detail = null;
      return;
    }
    const run = this.runs.find((r) => r.id === id);
    try {
      const detail = await this.app.api.call('runs:get', { id, trust: run?.task !== 'regression' });
      if (request === this.detailRequest) this.detail = detail;
    } catch (error) {
      if (request === this.detailRequest) this.app.toastError(error);
    }
  }

  /** Fetches a finished regression run's predicted values (null: none to chart, for no run or a run of another kind). */
  async loadValues(runId: number | null): Promise<void> {
    const request = ++this.valuesRequest;
    if (this.values?.runId !== runId) this.values = null;
    this.valuesError = null;
    if (runId === null) return;
    try {
      const values = await this.app.api.call('runs:values', { runId });
      if (request === this.valuesRequest) this.values = values;
    } catch (error) {
      if (request === this.valuesRequest) this.valuesError = error instanceof Error ? error.message : String(error);
    }
  }

  /** Asks how long the full form's run will take; the latest answer wins. A refusal (an invalid field) shows as its message. */
  async loadFullEstimate(): Promise<void> {
    const request = ++this.estimateRequest;
    if (!this.app.project) {
      this.fullEstimate = null;
      return;
    }
    try {
      const estimate = await this.app.api.call('train:estimate', { config: this.fullConfig() });
      if (request === this.estimateRequest) this.fullEstimate = estimate;
    } catch (error) {
      if (request === this.estimateRequest) this.fullEstimate = { seconds: null, basis: errorMessage(error) };
    }
  }

  /** The form's config for its mode, with the extras applied to that mode. */
  formConfig(): TrainConfigInput {
    const extras = this.formExtras?.mode === this.mode ? this.formExtras.values : {};
    if (this.mode === 'full') return { ...this.fullConfig(), ...extras } as TrainConfigInput;
    const { hidden, head, ...rest } = $state.snapshot(this.form);
    return { mode: 'quick', ...rest, head, ...(head === 'mlp' ? { hidden } : {}), ...extras } as TrainConfigInput;
  }

  /** Starts a run with the form's config; a refusal shows in the form. */
  async startWithForm(): Promise<void> {
    const config = this.formConfig();
    this.startError = null;
    await this.launch(() => this.app.api.call('train:start', { config }), (error) => (this.startError = errorMessage(error)));
  }

  /**
   * Fills the form from a config (a search's best, a run's config with a diagnosis step's patch):
   * the mode, the fields the form has, and the rest that differ from the defaults as extras.
   */
  applyConfig(config: TrainConfig, source: string): void {
    const defaults = trainConfigSchema.parse({ mode: config.mode }) as Record<string, unknown>;
    const target = (config.mode === 'quick' ? this.form : this.fullForm) as unknown as Record<string, unknown>;
    const formKeys = Object.keys(config.mode === 'quick' ? defaultTrainForm : defaultFullTrainForm);
    const extras: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
      if (key === 'mode' || value === undefined) continue;
      if (formKeys.includes(key)) target[key] = value;
      else if (JSON.stringify(value) !== JSON.stringify(defaults[key])) extras[key] = value;
    }
    this.mode = config.mode;
    this.formExtras = Object.keys(extras).length > 0 ? { mode: config.mode, values: extras, source } : null;
  }

  /** Reruns the last run's config on the current data (the defaults when there is no run yet). */
  async retrain(): Promise<void> {
    await this.launch(() => (this.runs.length === 0 ? this.app.api.call('train:start', { config: {} }) : this.app.api.call('train:retrain', {})));
  }

  /** Continues a cancelled or failed full run from its last checkpoint. */
  async resume(run: RunSummary): Promise<void> {
    // The curve so far stays on screen; the resumed run's points follow it.
    if (this.liveRunId !== run.id || this.liveCurve.length === 0) {
      this.liveRunId = run.id;
      this.liveCurve = this.detail?.id === run.id ? this.detail.curves : [];
    }
    await this.launch(() => this.app.api.call('train:start', { config: { ...run.config }, resume: run.id }));
  }

  /** Cancels the training job; its update says when it stopped. */
  async cancel(): Promise<void> {
    if (this.jobId) await this.app.cancelJob(this.jobId);
  }

  /** Compares two runs (a: the older). */
  async compare(a: number, b: number): Promise<void> {
    const request = ++this.compareRequest;
    try {
      const comparison = await this.app.api.call('runs:compare', { a: Math.min(a, b), b: Math.max(a, b) });
      if (request === this.compareRequest) this.comparison = comparison;
    } catch (error) {
      if (request === this.compareRequest) this.app.toastError(error);
    }
  }

  /** Shows one run in the Train view. */
  openRun(id: number): void {
    this.pickedRunId = id;
    this.app.view = 'train';
  }

  /** True when the Train view shows the latest finished run (the one the Gallery's predictions come from). */
  get isLatestRunShown(): boolean {
    const latest = this.runs.find((r) => r.status === 'done');
    return latest !== undefined && this.shownRunId === latest.id;
  }

  /** Opens the images of one confusion cell in the Gallery: given class, predicted class. */
  openCellInGallery(given: string, predicted: string): void {
    writeRoute('gallery', filterToParams({ ...defaultFilter(), className: given, predicted }));
    this.app.view = 'gallery';
  }

  /** Opens the images of one confusion cell in the Review view. */
  openCell(given: string, predicted: string): void {
    // Pinned to a run only when one was picked; else the queue follows the latest run through retrains.
    this.review.select({ kind: 'cell', given, predicted, runId: this.pickedRunId ?? undefined });
    this.app.view = 'review';
  }

  private async launch(start: () => Promise<{ jobId: JobId; runId: number }>, onrefused?: (error: unknown) => void): Promise<void> {
    if (this.isTraining) return;
    this.isStarting = true;
    try {
      const { jobId, runId } = await start();
      this.startError = null;
      this.jobId = jobId;
      if (this.liveRunId !== runId) {
        this.liveRunId = runId;
        this.liveCurve = [];
      }
      this.pickedRunId = null;
      await this.refreshRuns();
    } catch (error) {
      // The form says why in place; elsewhere (the top bar's Retrain) a toast does.
      if (onrefused) onrefused(error);
      else this.app.toastError(error);
    } finally {
      this.isStarting = false;
    }
  }

  private onProject(file: string | null): void {
    // Replies still in flight from the last project are dropped.
    this.runsRequest += 1;
    this.compareRequest += 1;
    this.valuesRequest += 1;
    this.runs = [];
    this.detail = null;
    this.pickedRunId = null;
    this.liveRunId = null;
    this.liveCurve = [];
    this.comparison = null;
    this.fullEstimate = null;
    this.formExtras = null;
    this.startError = null;
    this.values = null;
    this.review.reset();
    this.valueReview.reset();
    this.tools.reset();
    this.experiments.reset(file !== null);
    const running = Object.values(this.app.jobs).find((job) => trainingJobKinds.has(job.kind) && (job.state === 'running' || job.state === 'queued'));
    this.jobId = running?.id ?? null;
    if (file) void this.refreshRuns();
  }
}

const key = Symbol('loupe.train');

/** Called once by the root component. */
export function provideTrain(train: TrainState): void {
  setContext(key, train);
}

/** The training state, from any component under the root. */
export function useTrain(): TrainState {
  const train = getContext<TrainState | undefined>(key);
  if (!train) throw new Error('useTrain() called outside the app');
  return train;
}
