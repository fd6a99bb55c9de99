/**
 * The app's top-level state: the open project, its stats, jobs, the current view and toasts.
 * Views read it; only this class talks to the project- and dataset-wide events.
 */
import type { LoupeApi } from '../../../shared/contract';
import { LoupeError } from '../../../shared/errors';
import type { ValueHistogram } from '../../../shared/regression';
import type { ChangeResult, DatasetStats, ImportKind, JobId, JobInfo, ProjectInfo } from '../../../shared/types';
import { errorMessage } from './format';

/** The views the sidebar switches between. */
export type ViewName = 'overview' | 'gallery' | 'augment' | 'classes' | 'splits' | 'versions' | 'train' | 'runs' | 'review' | 'health' | 'experiments';

/** A button on a toast (Undo), shown while `isAvailable()` holds. */
export interface ToastAction {
  label: string;
  run: () => void;
  isAvailable: () => boolean;
}

/** A transient message in the corner. */
export interface Toast {
  id: number;
  kind: 'error' | 'info';
  message: string;
  action?: ToastAction;
}

const statsThrottleMs = 400;
const toastLifetimeMs = 6000;
// A toast that offers Undo stays long enough to read what changed and decide.
const actionToastLifetimeMs = 12_000;
const maxToasts = 3;

/** Holds what the whole UI shares and keeps it in step with the core's events. */
export class AppState {
  readonly api: LoupeApi;

  /** True once the first `project:current` has been answered. */
  isReady = $state(false);
  project = $state.raw<ProjectInfo | null>(null);
  stats = $state.raw<DatasetStats | null>(null);
  /** The distribution of numeric targets per split (count 0: no image has a value). */
  values = $state.raw<ValueHistogram | null>(null);
  /** Jobs by id, replaced whole on each update. */
  jobs = $state.raw<Record<string, JobInfo>>({});
  view = $state<ViewName>('overview');
  toasts = $state<Toast[]>([]);
  isImportOpen = $state(false);
  isExportOpen = $state(false);
  /** The "Turn into classes" dialog (opened from Overview or Splits). */
  isBinOpen = $state(false);
  /** A dialog over the views: their keyboard shortcuts stand down while it is open. */
  readonly isDialogOpen = $derived(this.isImportOpen || this.isExportOpen || this.isBinOpen);
  /** The latest dataset version heard of, from the project, stats or a change event. */
  version = $state(0);
  /** True when active images carry numeric targets (a regression project, or one binned into classes). */
  readonly hasValues = $derived((this.values?.count ?? 0) > 0);

  /** The running jobs, newest first. */
  readonly activeJobs = $derived(
    Object.values(this.jobs)
      .filter((job) => job.state === 'running' || job.state === 'queued')
      .sort((a, b) => b.startedAt - a.startedAt),
  );

  private nextToastId = 1;
  private statsTimer: ReturnType<typeof setTimeout> | null = null;
  private isStatsDirty = false;
  private statsRequest = 0;
  private valuesRequest = 0;
  private infoRequest = 0;
  private readonly unsubscribers: Array<() => void> = [];

  constructor(api: LoupeApi) {
    this.api = api;
  }

  /** Subscribes to events and loads the current project. */
  async start(): Promise<void> {
    this.unsubscribers.push(
      // Also sent after a reconnect: job updates may have been missed meanwhile, so reload them too.
      this.api.on('project:changed', (project) => {
        this.setProject(project);
        void this.loadJobs();
      }),
      // The task follows the labels (binning and its undo change it): edits refetch the info too.
      this.api.on('dataset:changed', ({ version }) => {
        this.version = Math.max(this.version, version);
        this.scheduleStats();
      }),
      this.api.on('jobs:update', (job) => {
        const previous = this.jobs[job.id];
        this.jobs = { ...this.jobs, [job.id]: job };
        // A finished job may have changed the project itself (its root, its task): reload it once.
        if (job.state !== 'running' && job.state !== 'queued' && previous?.state !== job.state) {
          void this.refreshProject();
        }
        // A job that failed out of sight (an import in the background, a run started from Retrain)
        // says so; the export dialog shows its own failure, and a cancel is not a failure.
        const isShownElsewhere = job.kind === 'export' || (job.kind === 'import' && this.isImportOpen);
        if (job.state === 'failed' && previous?.state !== 'failed' && !isShownElsewhere) {
          this.toast('error', `${job.kind === 'train' ? 'Training' : job.kind === 'import' ? 'Import' : job.kind} failed: ${job.error?.message ?? 'unknown error'}`);
        }
      }),
    );
    try {
      const project = await this.api.call('project:current', {});
      this.setProject(project);
      void this.loadJobs();
    } catch (error) {
      this.toastError(error);
    } finally {
      this.isReady = true;
    }
  }

  /** Removes the event listeners. */
  stop(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    if (this.statsTimer) clearTimeout(this.statsTimer);
  }

  /** Opens (or creates) a project; errors are thrown for the caller to show in place. */
  async openProject(file: string, create: boolean): Promise<void> {
    const project = await this.api.call('project:open', { file, create });
    this.setProject(project);
  }

  /** Closes the project and returns to the picker. */
  async closeProject(): Promise<void> {
    try {
      await this.api.call('project:close', {});
      this.setProject(null);
    } catch (error) {
      this.toastError(error);
    }
  }

  /** Reloads the open project's info (root, task, version) without resetting views. */
  async refreshProject(): Promise<void> {
    try {
      const project = await this.api.call('project:current', {});
      this.setProject(project);
    } catch (error) {
      this.toastError(error);
    }
  }

  /** Reloads the class x split stats now. */
  async refreshStats(): Promise<void> {
    if (!this.project) return;
    const request = ++this.statsRequest;
    try {
      const stats = await this.api.call('dataset:stats', {});
      // A slower, older answer must not overwrite a newer one.
      if (request !== this.statsRequest) return;
      this.stats = stats;
      this.version = Math.max(this.version, stats.version);
    } catch (error) {
      if (request === this.statsRequest) this.toastError(error);
    }
  }

  /** Refetches the value histogram now. */
  async refreshValues(): Promise<void> {
    if (!this.project) return;
    const request = ++this.valuesRequest;
    try {
      const values = await this.api.call('dataset:values', {});
      if (request === this.valuesRequest) this.values = values;
    } catch (error) {
      if (request === this.valuesRequest) this.toastError(error);
    }
  }

  /**
   * Says what an edit did, with an Undo offered while nothing has changed since (after another
   * edit, `changes:undo` would undo that one instead).
   */
  toastChange(result: ChangeResult): void {
    this.version = Math.max(this.version, result.version);
    const id: number = this.toast('info', result.description, {
      label: 'Undo',
      isAvailable: () => this.version === result.version,
      run: () => {
        this.dismissToast(id);
        void this.undoChange(result.version);
      },
    });
  }

  /** Makes one edit and says what it did with an Undo (errors as a toast); null when it failed. */
  async change(request: () => Promise<ChangeResult>): Promise<ChangeResult | null> {
    try {
      const result = await request();
      this.toastChange(result);
      return result;
    } catch (error) {
      this.toastError(error);
      return null;
    }
  }

  /** Undoes the newest change when it is still the one that left the dataset at `version`. */
  async undoChange(version: number): Promise<void> {
    if (this.version !== version) return;
    try {
      const result = await this.api.call('changes:undo', {});
      this.version = Math.max(this.version, result.version);
      this.toast('info', result.description);
    } catch (error) {
      this.toastError(error);
    }
  }

  /** Starts an import and returns its job id. */
  async startImport(source: string, kind: ImportKind | undefined, root?: string): Promise<JobId> {
    const { jobId } = await this.api.call('dataset:import', { source, ...(kind ? { kind } : {}), ...(root ? { root } : {}) });
    return jobId;
  }

  /** Asks the core to cancel a job; the job's own update says when it stopped. */
  async cancelJob(id: JobId): Promise<void> {
    try {
      const job = await this.api.call('jobs:cancel', { id });
      this.jobs = { ...this.jobs, [job.id]: job };
    } catch (error) {
      this.toastError(error);
    }
  }

  /** Shows an error as a toast; cancellation is a state, not an error. */
  toastError(error: unknown): void {
    if (error instanceof LoupeError && error.code === 'CANCELLED') return;
    console.error(error);
    this.toast('error', errorMessage(error));
  }

  /** Shows a toast and returns its id; only the newest few stay, so a burst of edits never covers the view. */
  toast(kind: Toast['kind'], message: string, action?: ToastAction): number {
    const id = this.nextToastId++;
    this.toasts.push(action ? { id, kind, message, action } : { id, kind, message });
    if (this.toasts.length > maxToasts) this.toasts.splice(0, this.toasts.length - maxToasts);
    setTimeout(() => this.dismissToast(id), action ? actionToastLifetimeMs : toastLifetimeMs);
    return id;
  }

  dismissToast(id: number): void {
    const index = this.toasts.findIndex((toast) => toast.id === id);
    if (index >= 0) this.toasts.splice(index, 1);
  }

  private setProject(project: ProjectInfo | null): void {
    const isSame = project !== null && this.project !== null && project.file === this.project.file;
    this.project = project;
    if (!project) {
      this.stats = null;
      this.values = null;
      this.version = 0;
      this.isImportOpen = false;
      this.isBinOpen = false;
      return;
    }
    this.version = isSame ? Math.max(this.version, project.version) : project.version;
    if (!isSame) this.values = null;
    void this.refreshStats();
    void this.refreshValues();
  }

  /**
   * Refetches the project's info after an edit: its task is derived from the labels, so binning
   * and its undo change it. The object is replaced only when more than the version moved, so views
   * that follow `project` do not rerun on every edit.
   */
  private async refreshInfo(): Promise<void> {
    if (!this.project) return;
    const request = ++this.infoRequest;
    try {
      const project = await this.api.call('project:current', {});
      const held = this.project;
      if (request !== this.infoRequest || !project || !held || project.file !== held.file) return;
      this.version = Math.max(this.version, project.version);
      if (JSON.stringify({ ...project, version: 0 }) !== JSON.stringify({ ...held, version: 0 })) this.project = project;
    } catch (error) {
      if (request === this.infoRequest) this.toastError(error);
    }
  }

  private async loadJobs(): Promise<void> {
    try {
      const list = await this.api.call('jobs:list', {});
      const jobs: Record<string, JobInfo> = {};
      for (const job of list) jobs[job.id] = job;
      // The core's answer is newer than anything held here.
      this.jobs = { ...this.jobs, ...jobs };
    } catch (error) {
      this.toastError(error);
    }
  }

  // Imports send many change events; refetch stats, values and the project's info at most a few
  // times a second, and once at the end.
  private scheduleStats(): void {
    if (this.statsTimer) {
      this.isStatsDirty = true;
      return;
    }
    void this.refreshStats();
    void this.refreshValues();
    void this.refreshInfo();
    this.statsTimer = setTimeout(() => {
      this.statsTimer = null;
      if (this.isStatsDirty) {
        this.isStatsDirty = false;
        this.scheduleStats();
      }
    }, statsThrottleMs);
  }
}
