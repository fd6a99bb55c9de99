/**
 * The core: one object that answers every request of the contract and pushes its events. Electron
 * IPC, the serve-mode server and the CLI all drive this same object; none of it imports electron.
 */
import { z } from 'zod';
import { requestSchemas, type EventName, type EventPayloads, type RequestName, type RequestOutput } from '../shared/contract';
import { LoupeError, toErrorInfo, type Reply } from '../shared/errors';
import type { ImageId } from '../shared/types';
import { classHandlers } from './handlers/classes.handlers';
import { datasetHandlers } from './handlers/dataset.handlers';
import { imageHandlers } from './handlers/images.handlers';
import { jobHandlers } from './handlers/jobs.handlers';
import { augmentHandlers } from './handlers/augment.handlers';
import { PreviewCache } from './augment/preview';
import { projectHandlers } from './handlers/project.handlers';
import { splitHandlers } from './handlers/splits.handlers';
import { versionHandlers } from './handlers/versions.handlers';
import { trainHandlers } from './handlers/train.handlers';
import { runHandlers } from './handlers/runs.handlers';
import { reviewHandlers } from './handlers/review.handlers';
import type { CoreServices, Handlers } from './handlers/types';
import { JobManager } from './jobs/manager';
import type { Project } from './store/project';
import { sql } from './store/statements';
import { resolveInside } from './util/paths';

type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;

/** Options for a core. */
export interface CoreOptions {
  /** Passed to imports; tests lower it. */
  pixelLimit?: number;
}

/** The running core. */
export class Core implements CoreServices {
  readonly jobs = new JobManager();
  /** The last few augmentation previews' PNGs, read by the image routes. */
  readonly previews = new PreviewCache();
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
      ...runHandlers(this),
      ...reviewHandlers(this),
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
    return handler(parsed.data);
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

  /** The absolute path of an image's file; refuses anything outside the project root. */
  imageFile(id: ImageId): string {
    const project = this.requireProject();
    const root = project.root();
    const row = sql(project.db, 'SELECT path FROM images WHERE id = ?').get(id) as { path: string } | undefined;
    if (!row || !root) throw new LoupeError('NOT_FOUND', `No image with id ${id}.`, { id });
    const file = resolveInside(root, row.path);
    if (!file) throw new LoupeError('NOT_FOUND', `Image ${id} lies outside the project root.`, { id });
    return file;
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
    if (this.project && this.project !== project) this.project.close();
    this.project = project;
    this.emit('project:changed', project?.info() ?? null);
  }

  /** Pushes an event to every listener. */
  emit<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    for (const listener of this.listeners) listener(event, payload);
  }
}
