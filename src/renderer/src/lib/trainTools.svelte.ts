/**
 * The full model's checks and model tools in the Train view: the LR finder and "overfit one batch"
 * (jobs, whose results arrive through the app's job updates), "show a batch", and a finished run's
 * export and predictions. An older answer never replaces a newer one (the stores' request counter).
 */
import type { FullConfig, LrFindResult, ModelExport, ModelPrediction, OverfitResult, ShownBatch } from '../../../shared/train';
import type { JobId, JobInfo } from '../../../shared/types';
import type { AppState } from './app.svelte.js';

/** The panels the tools open over the run report; Esc closes the open one. */
export type ToolPanel = 'lr' | 'sanity' | 'batch';

/** A full config as the form sends it (the schema fills in the rest). */
export type FullConfigInput = Partial<FullConfig> & { mode: 'full' };

/** Images shown per "Show a batch". */
const shownBatchSize = 16;

/** A job's answer once it is done, or null while it runs or when it stopped another way. */
function doneResult<T>(job: JobInfo | null): T | null {
  return job?.state === 'done' ? (job.result as T) : null;
}

/** True while a job is queued or running. */
export function isJobActive(job: JobInfo | null): boolean {
  return job !== null && (job.state === 'queued' || job.state === 'running');
}

/** Holds the tools' jobs and answers; reset when another project opens. */
export class TrainToolsState {
  readonly app: AppState;

  panel = $state<ToolPanel | null>(null);
  lrJobId = $state<JobId | null>(null);
  sanityJobId = $state<JobId | null>(null);
  batch = $state.raw<ShownBatch | null>(null);
  batchSeed = $state(0);
  isBatchLoading = $state(false);
  /** The last export, with the run it came from. */
  exported = $state.raw<{ runId: number; result: ModelExport } | null>(null);
  isExporting = $state(false);
  predictions = $state.raw<{ runId: number; rows: ModelPrediction[] } | null>(null);
  isPredicting = $state(false);
  /** Why the last tool request was refused, in words, shown in its panel. */
  error = $state<{ tool: ToolPanel | 'export' | 'predict'; message: string } | null>(null);

  readonly lrJob = $derived.by(() => (this.lrJobId ? (this.app.jobs[this.lrJobId] ?? null) : null));
  readonly sanityJob = $derived.by(() => (this.sanityJobId ? (this.app.jobs[this.sanityJobId] ?? null) : null));
  readonly lrResult = $derived(doneResult<LrFindResult>(this.lrJob));
  readonly sanityResult = $derived(doneResult<OverfitResult>(this.sanityJob));
  /** A check is running: a run waits for it (both would share the training process and the cores). */
  readonly isChecking = $derived(isJobActive(this.lrJob) || isJobActive(this.sanityJob));

  private lrRequest = 0;
  private sanityRequest = 0;
  private batchRequest = 0;
  private exportRequest = 0;
  private predictRequest = 0;

  constructor(
    app: AppState,
    private readonly config: () => FullConfigInput,
  ) {
    this.app = app;
  }

  /** Starts the LR finder on the form's config and opens its panel. */
  async findLr(): Promise<void> {
    const request = ++this.lrRequest;
    this.panel = 'lr';
    this.error = null;
    this.lrJobId = null;
    try {
      const { jobId } = await this.app.api.call('train:lrFind', { config: this.config() });
      if (request === this.lrRequest) this.lrJobId = jobId;
    } catch (error) {
      if (request === this.lrRequest) this.fail('lr', error);
    }
  }

  /** Starts "overfit one batch" on the form's config and opens its panel. */
  async sanity(): Promise<void> {
    const request = ++this.sanityRequest;
    this.panel = 'sanity';
    this.error = null;
    this.sanityJobId = null;
    try {
      const { jobId } = await this.app.api.call('train:sanity', { config: this.config() });
      if (request === this.sanityRequest) this.sanityJobId = jobId;
    } catch (error) {
      if (request === this.sanityRequest) this.fail('sanity', error);
    }
  }

  /** Cancels a tool's job; its update says when it stopped. */
  async cancelJob(id: JobId | null): Promise<void> {
    if (id) await this.app.cancelJob(id);
  }

  /** Shows exactly what the form's config feeds the network for one batch; `reroll` draws other images. */
  async showBatch(reroll = false): Promise<void> {
    const request = ++this.batchRequest;
    if (reroll) this.batchSeed += 1;
    this.panel = 'batch';
    this.error = null;
    this.isBatchLoading = true;
    try {
      const batch = await this.app.api.call('train:showBatch', { config: this.config(), count: shownBatchSize, seed: this.batchSeed });
      if (request === this.batchRequest) this.batch = batch;
    } catch (error) {
      if (request === this.batchRequest) this.fail('batch', error);
    } finally {
      if (request === this.batchRequest) this.isBatchLoading = false;
    }
  }

  /** Writes a run's model to a folder. */
  async exportModel(runId: number, out: string): Promise<void> {
    const request = ++this.exportRequest;
    this.isExporting = true;
    this.error = null;
    try {
      const result = await this.app.api.call('runs:exportModel', { id: runId, out });
      if (request === this.exportRequest) this.exported = { runId, result };
    } catch (error) {
      if (request === this.exportRequest) this.fail('export', error);
    } finally {
      if (request === this.exportRequest) this.isExporting = false;
    }
  }

  /** Classifies images (read by the caller as base64) with a run's model; `tta` averages over the test-time views. */
  async predict(runId: number, images: Array<{ name: string; base64: string }>, options: { tta?: boolean } = {}): Promise<void> {
    const request = ++this.predictRequest;
    this.isPredicting = true;
    this.error = null;
    try {
      const rows = await this.app.api.call('runs:predict', { id: runId, images, tta: options.tta === true });
      if (request === this.predictRequest) this.predictions = { runId, rows };
    } catch (error) {
      if (request === this.predictRequest) this.fail('predict', error);
    } finally {
      if (request === this.predictRequest) this.isPredicting = false;
    }
  }

  /** Closes the open panel (its job keeps running; its answer stays). */
  close(): void {
    this.panel = null;
  }

  /** Forgets everything: another project opened. Answers still on their way are dropped. */
  reset(): void {
    this.lrRequest++;
    this.sanityRequest++;
    this.batchRequest++;
    this.exportRequest++;
    this.predictRequest++;
    this.panel = null;
    this.lrJobId = null;
    this.sanityJobId = null;
    this.batch = null;
    this.exported = null;
    this.predictions = null;
    this.isBatchLoading = false;
    this.isExporting = false;
    this.isPredicting = false;
    this.error = null;
  }

  private fail(tool: NonNullable<TrainToolsState['error']>['tool'], error: unknown): void {
    this.error = { tool, message: error instanceof Error ? error.message : String(error) };
  }
}
