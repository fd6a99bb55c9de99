/**
 * The core: one object that answers every request of the contract and pushes its events. Electron
 * IPC, the serve-mode server and the CLI all drive this same object; none of it imports electron.
 */
import { z } from 'zod';
import {
  requestSchemas,
  type EventName,
  type EventPayloads,
  type RequestName,
  type RequestOutput,
  type RequestParams,
} from '../shared/contract';
import { LoupeError, toErrorInfo, type Reply } from '../shared/errors';
import type { ImageId } from '../shared/types';
import { exportDataset } from './dataset/export';
import { importSource } from './dataset/import.job';
import { JobManager } from './jobs/manager';
import { redo, undo } from './store/changes';
import { ensureClass } from './store/classes';
import { recordBatch } from './store/changes';
import { datasetStats, imageDetail, imagePage, requireImages } from './store/images';
import { openProject, type Project } from './store/project';
import { sql } from './store/statements';
import { resolveInside } from './util/paths';

type Handlers = { [N in RequestName]: (params: RequestParams<N>) => RequestOutput<N> | Promise<RequestOutput<N>> };
type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;

/** Options for a core. */
export interface CoreOptions {
  /** Passed to imports; tests lower it. */
  pixelLimit?: number;
}

/** The running core. */
export class Core {
  readonly jobs = new JobManager();
  private project: Project | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly handlers: Handlers;

  constructor(private readonly options: CoreOptions = {}) {
    this.jobs.subscribe({
      update: (job) => this.emit('jobs:update', job),
      log: (id, line) => this.emit('jobs:log', { id, line }),
    });
    this.handlers = {
      'project:open': ({ file, create }) => {
        const next = openProject(file, { create });
        this.project?.close();
        this.project = next;
        const info = next.info();
        this.emit('project:changed', info);
        return info;
      },
      'project:current': () => this.project?.info() ?? null,
      'project:close': () => {
        this.project?.close();
        this.project = null;
        this.emit('project:changed', null);
        return null;
      },
      'dataset:stats': () => datasetStats(this.requireProject().db),
      'dataset:import': ({ source, kind }) => {
        const project = this.requireProject();
        const job = this.jobs.start('import', (ctx) =>
          importSource(
            project,
            {
              source,
              kind,
              pixelLimit: this.options.pixelLimit,
              onCommit: (version) => this.emit('dataset:changed', { version, reason: 'import' }),
            },
            ctx,
          ),
        );
        // Root, task and version change with an import: tell every window once it ends.
        void this.jobs.finished(job.id).then(() => {
          if (this.project === project) this.emit('project:changed', project.info());
        });
        return { jobId: job.id };
      },
      'dataset:export': (params) => exportDataset(this.requireProject(), params),
      'images:page': ({ filter, offset, limit }) => imagePage(this.requireProject().db, filter, offset, limit),
      'images:get': ({ id }) => imageDetail(this.requireProject().db, id),
      'images:relabel': ({ ids, className }) => {
        const { db } = this.requireProject();
        return this.edit(() => {
          requireImages(db, ids);
          const cls = ensureClass(db, className);
          return recordBatch(
            db,
            { kind: 'edit', action: 'relabel', description: `Relabelled ${plural(ids.length, 'image')} as ${cls.name}` },
            ids.map((imageId) => ({ imageId, field: 'class', value: String(cls.id) })),
          );
        }, `Relabelled ${plural(ids.length, 'image')} as ${className.trim()}`);
      },
      'images:remove': ({ ids }) => this.setStatus(ids, 'removed'),
      'images:restore': ({ ids }) => this.setStatus(ids, 'active'),
      'changes:undo': () => this.afterEdit(undo(this.requireProject().db)),
      'changes:redo': () => this.afterEdit(redo(this.requireProject().db)),
      'jobs:list': () => this.jobs.list(),
      'jobs:cancel': ({ id }) => this.jobs.cancel(id),
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
    const schema = requestSchemas[name] as z.ZodType | undefined;
    if (!schema) throw new LoupeError('VALIDATION', `Unknown request ${String(name)}.`);
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

  private setStatus(ids: ImageId[], status: 'active' | 'removed') {
    const { db } = this.requireProject();
    const verb = status === 'removed' ? 'Removed' : 'Restored';
    return this.edit(() => {
      requireImages(db, ids);
      return recordBatch(
        db,
        { kind: 'edit', action: status === 'removed' ? 'remove' : 'restore', description: `${verb} ${plural(ids.length, 'image')}` },
        ids.map((imageId) => ({ imageId, field: 'status', value: status })),
      );
    }, `${verb} ${plural(ids.length, 'image')}`);
  }

  private edit(apply: () => { changed: number }, description: string) {
    const { changed } = apply();
    const version = this.requireProject().info().version;
    if (changed > 0) this.emit('dataset:changed', { version, reason: description });
    return { version, description: changed > 0 ? description : 'Nothing changed', changed };
  }

  private afterEdit<T extends { version: number; description: string; changed: number }>(result: T): T {
    if (result.changed > 0) this.emit('dataset:changed', { version: result.version, reason: result.description });
    return result;
  }

  private emit<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    for (const listener of this.listeners) listener(event, payload);
  }
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en')} ${word}${n === 1 ? '' : 's'}`;
}
