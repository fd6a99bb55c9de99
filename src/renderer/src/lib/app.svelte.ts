/**
 * The app's top-level state: the open project, its stats, jobs, the current view and toasts.
 * Views read it; only this class talks to the project- and dataset-wide events.
 */
import type { LoupeApi } from '../../../shared/contract';
import { LoupeError } from '../../../shared/errors';
import type { DatasetStats, ImportKind, JobId, JobInfo, ProjectInfo } from '../../../shared/types';
import { errorMessage } from './format';

/** The views the sidebar switches between. */
export type ViewName = 'overview' | 'gallery' | 'augment' | 'classes' | 'splits' | 'versions' | 'train' | 'runs' | 'review' | 'health' | 'experiments';

/** A transient message in the corner. */
export interface Toast {
  id: number;
  kind: 'error' | 'info';
  message: string;
}

const statsThrottleMs = 400;
const toastLifetimeMs = 6000;
const maxToasts = 3;

/** Holds what the whole UI shares and keeps it in step with the core's events. */
export class AppState {
  readonly api: LoupeApi;

  /** True once the first `project:current` has been answered. */
  isReady = $state(false);
  project = $state.raw<ProjectInfo | null>(null);
  stats = $state.raw<DatasetStats | null>(null);
  /** Jobs by id, replaced whole on each update. */
  jobs = $state.raw<Record<string, JobInfo>>({});
  view = $state<ViewName>('overview');
  toasts = $state<Toast[]>([]);
  isImportOpen = $state(false);
  isExportOpen = $state(false);
  /** A dialog over the views: their keyboard shortcuts stand down while it is open. */
  readonly isDialogOpen = $derived(this.isImportOpen || this.isExportOpen);
  /** The latest dataset version heard of, from the project, stats or a change event. */
  version = $state(0);

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

  /** Shows a toast; only the newest few stay, so a burst of edits never covers the view. */
  toast(kind: Toast['kind'], message: string): void {
    const id = this.nextToastId++;
    this.toasts.push({ id, kind, message });
    if (this.toasts.length > maxToasts) this.toasts.splice(0, this.toasts.length - maxToasts);
    setTimeout(() => this.dismissToast(id), toastLifetimeMs);
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
      this.version = 0;
      this.isImportOpen = false;
      return;
    }
    this.version = isSame ? Math.max(this.version, project.version) : project.version;
    void this.refreshStats();
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

  // Imports send many change events; refetch stats at most a few times a second, and once at the end.
  private scheduleStats(): void {
    if (this.statsTimer) {
      this.isStatsDirty = true;
      return;
    }
    void this.refreshStats();
    this.statsTimer = setTimeout(() => {
      this.statsTimer = null;
      if (this.isStatsDirty) {
        this.isStatsDirty = false;
        this.scheduleStats();
      }
    }, statsThrottleMs);
  }
}
