/**
 * The core: one object that answers every request of the contract and pushes its events. Electron
 * IPC, the serve-mode server and the CLI all drive this same object; none of it imports electron.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { requestSchemas, type EventName, type EventPayloads, type RequestName, type RequestOutput } from '../shared/contract';
import { LoupeError, toErrorInfo, type Reply } from '../shared/errors';
import type { ImageId, ImageStatus } from '../shared/types';
import { classHandlers } from './handlers/classes.handlers';
import { datasetHandlers } from './handlers/dataset.handlers';
import { imageHandlers } from './handlers/images.handlers';
import { jobHandlers } from './handlers/jobs.handlers';
import { augmentHandlers } from './handlers/augment.handlers';
import { PreviewCache } from './augment/preview';
import { projectHandlers } from './handlers/project.handlers';
import { splitHandlers } from './handlers/splits.handlers';
import { versionHandlers } from './handlers/versions.handlers';
import { trainHandlers, trainingProcess } from './handlers/train.handlers';
import { trainToolHandlers } from './handlers/trainTools.handlers';
import { runHandlers } from './handlers/runs.handlers';
import { modelHandlers } from './handlers/model.handlers';
import { reviewHandlers } from './handlers/review.handlers';
import { HealthScheduler, healthHandlers } from './handlers/health.handlers';
import { experimentHandlers } from './handlers/experiments.handlers';
import type { CoreOptions, CoreServices, Handlers } from './handlers/types';
import { JobManager } from './jobs/manager';
import { storeError } from './store/db';
import type { Project } from './store/project';
import { sql } from './store/statements';
import { realFileInside } from './util/paths';
import { analyseRun } from './analysis/issues';
import { searchInProcess } from './analysis/runSignals';
import { getRun } from './train/runs';

/** Statuses whose files the image routes serve: unreadable and missing entries are not images. */
const servableStatuses: ReadonlySet<ImageStatus> = new Set(['active', 'removed']);

type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;

export type { CoreOptions };

/** The running core. */
export class Core implements CoreServices {
  readonly jobs = new JobManager();
  /** The last few augmentation previews' PNGs, read by the image routes. */
  readonly previews = new PreviewCache();
  /** Runs the health job after imports and edits (src/main/handlers/health.handlers.ts). */
  private readonly health = new HealthScheduler(this);
  private project: Project | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly handlers: Handlers;

  constructor(readonly options: CoreOptions = {}) {
    this.jobs.subscribe({
      update: (job) => this.emit('jobs:update', job),
      log: (id, line) => this.emit('jobs:log', { id, line }),
    });
    this.handlers = {
      ...projectHandlers(this),
      ...datasetHandlers(this),
      ...imageHandlers(this),
      ...jobHandlers(this),
      ...classHandlers(this),
      ...splitHandlers(this),
      ...versionHandlers(this),
      ...augmentHandlers(this),
      ...trainHandlers(this),
      ...trainToolHandlers(this),
      ...runHandlers(this),
      ...modelHandlers(this),
      ...reviewHandlers(this),
      ...healthHandlers(this, this.health),
      ...experimentHandlers(this),
    };
  }

  /** Validates and runs one request, always answering with a Reply (errors never escape). */
  async request<N extends RequestName>(name: N, input: unknown): Promise<Reply<RequestOutput<N>>> {
    try {
      return { ok: true, value: await this.call(name, input) };
    } catch (error) {
      const info = toErrorInfo(error);
      if (info.code === 'INTERNAL') console.error(`request ${name} failed`, error);
      return { ok: false, error: info };
    }
  }

  /** Validates and runs one request; throws LoupeError. */
  async call<N extends RequestName>(name: N, input: unknown): Promise<RequestOutput<N>> {
    // Own keys only: a name like "toString" or "__proto__" is not a request.
    if (!Object.hasOwn(requestSchemas, name)) throw new LoupeError('VALIDATION', `Unknown request ${String(name)}.`);
    const schema = requestSchemas[name] as z.ZodType;
    const parsed = schema.safeParse(input ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new LoupeError('VALIDATION', `${name}: ${where}${issue?.message ?? 'invalid input'}`, parsed.error.issues);
    }
    const handler = this.handlers[name] as (params: unknown) => RequestOutput<N> | Promise<RequestOutput<N>>;
    try {
      return await handler(parsed.data);
    } catch (error) {
      throw storeError(error);
    }
  }

  /** Listen to every event; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The open project, for the CLI and the image routes. */
  requireProject(): Project {
    if (!this.project) throw new LoupeError('NO_PROJECT', 'No project is open. Open or create one first.');
    return this.project;
  }

  /** An image's WebP thumbnail. */
  thumbnail(id: ImageId): Buffer {
    const row = sql(
      this.requireProject().db,
      'SELECT t.webp FROM images i JOIN thumbnails t ON t.content_hash = i.content_hash WHERE i.id = ?',
    ).get(id) as { webp: Buffer } | undefined;
    if (!row) throw new LoupeError('NOT_FOUND', `No thumbnail for image ${id}.`, { id });
    return row.webp;
  }

  /** One PNG of a recent augmentation preview; NOT_FOUND once evicted. */
  previewImage(previewId: string, index: number): Buffer {
    return this.previews.get(previewId, index);
  }

  /**
   * The real path (links resolved) of an image's file, for the image routes of every transport:
   * NOT_FOUND unless it is a file really inside the project root and its status is servable.
   */
  imageFile(id: ImageId): string {
    const project = this.requireProject();
    const root = project.root();
    const row = sql(project.db, 'SELECT path, status FROM images WHERE id = ?').get(id) as
      | { path: string; status: ImageStatus }
      | undefined;
    if (!row || !root) throw new LoupeError('NOT_FOUND', `No image with id ${id}.`, { id });
    if (!servableStatuses.has(row.status)) {
      throw new LoupeError('NOT_FOUND', `Image ${id} is ${row.status}; only readable images are served.`, { id });
    }
    const real = realFileInside(root, row.path);
    if (real === null || !fs.statSync(real, { throwIfNoEntry: false })?.isFile()) {
      throw new LoupeError('NOT_FOUND', `Image ${id} is not a file inside the project root.`, { id });
    }
    // The real path holds no links, so nothing can redirect the open between this check and the read.
    return real;
  }

  /** Cancels running jobs and closes the project. */
  async shutdown(): Promise<void> {
    await this.jobs.shutdown();
    this.project?.close();
    this.project = null;
  }

  /** The open project, or null. */
  currentProject(): Project | null {
    return this.project;
  }

  /** Replaces the open project (closing the previous one) and tells every window. */
  setProject(project: Project | null): void {
    const isNew = this.project !== project;
    if (this.project && isNew) this.project.close();
    this.project = project;
    // Edits another process commits (a CLI beside the app) refresh every window; close() stops the watch.
    if (isNew) project?.watch((version) => this.emit('dataset:changed', { version, reason: 'Changed by another program' }));
    this.emit('project:changed', project?.info() ?? null);
  }

  /**
   * A finished run's label-error analysis (its embedding neighbours above all) starts at once in the
   * background, so opening Review does not wait for it. A failure here shows when Review asks.
   */
  private warmQueues({ runId, status }: EventPayloads['runs:changed']): void {
    if (status !== 'done' || !this.project || !this.options.warmQueues) return;
    const db = this.project.db;
    setImmediate(() => {
      if (this.project?.db !== db) return;
      Promise.resolve()
        .then(() => {
          const run = getRun(db, runId);
          // Label-error signals read class probabilities; a regression run's queues are computed on request.
          if (run.task === 'classification') return analyseRun(db, run, searchInProcess(trainingProcess(this)));
          return undefined;
        })
        .catch(() => undefined);
    });
  }

  /** Pushes an event to every listener. */
  emit<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    if (event === 'dataset:changed') this.health.changed();
    if (event === 'runs:changed') this.warmQueues(payload as EventPayloads['runs:changed']);
    for (const listener of this.listeners) listener(event, payload);
  }
}
