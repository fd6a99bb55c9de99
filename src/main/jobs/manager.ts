/**
 * One queue for long work. A job kind is {kind, run(params, ctx)}; ctx carries the abort signal,
 * a throttled progress reporter and a log. Every state change is pushed to listeners.
 */
import { randomUUID } from 'node:crypto';
import { LoupeError, toErrorInfo } from '../../shared/errors';
import type { JobId, JobInfo, JobProgress } from '../../shared/types';
import { storeError } from '../store/db';

/** What a running job can use. */
export interface JobContext {
  signal: AbortSignal;
  /** Report progress; events are throttled to about 10 a second, the last always delivered. */
  progress(step: string, current: number, total: number): void;
  log(line: string): void;
  /** Throws CANCELLED when the job was cancelled; call it between units of work. */
  throwIfCancelled(): void;
}

/** Events the manager emits. */
export interface JobEvents {
  update(job: JobInfo): void;
  log(id: JobId, line: string): void;
}

const progressIntervalMs = 100;

interface RunningJob {
  info: JobInfo;
  controller: AbortController;
  done: Promise<JobInfo>;
}

/** Runs jobs and tells listeners about them. Jobs run concurrently; each one owns its own work. */
export class JobManager {
  private readonly jobs = new Map<JobId, RunningJob>();
  private readonly listeners = new Set<JobEvents>();

  /** Listen to job updates; returns the unsubscribe. */
  subscribe(listener: JobEvents): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts a job and returns its info at once; `finished(id)` resolves when it ends. */
  start<R>(kind: string, run: (ctx: JobContext) => Promise<R>): JobInfo {
    const id = randomUUID() as JobId;
    const controller = new AbortController();
    const startedAt = Date.now();
    const info: JobInfo = {
      id,
      kind,
      state: 'running',
      progress: null,
      result: null,
      error: null,
      startedAt,
      finishedAt: null,
    };
    let lastSent = 0;
    let pending: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      pending = null;
      lastSent = Date.now();
      this.emit(info);
    };
    const ctx: JobContext = {
      signal: controller.signal,
      progress: (step, current, total) => {
        const elapsed = (Date.now() - startedAt) / 1000;
        const rate = elapsed > 0 ? current / elapsed : 0;
        const progress: JobProgress = {
          step,
          current,
          total,
          rate,
          etaSeconds: rate > 0 && total >= current ? (total - current) / rate : null,
        };
        info.progress = progress;
        if (Date.now() - lastSent >= progressIntervalMs) flush();
        else pending ??= setTimeout(flush, progressIntervalMs);
      },
      log: (line) => {
        for (const l of this.listeners) l.log(id, line);
      },
      throwIfCancelled: () => {
        if (controller.signal.aborted) throw new LoupeError('CANCELLED', `${kind} was cancelled.`);
      },
    };
    const done = (async () => {
      try {
        info.result = await run(ctx);
        info.state = 'done';
      } catch (error) {
        const errorInfo = toErrorInfo(storeError(error));
        if (errorInfo.code === 'CANCELLED' || controller.signal.aborted) {
          info.state = 'cancelled';
          info.result = errorInfo.details ?? null;
        } else {
          info.state = 'failed';
          info.error = errorInfo;
          if (errorInfo.code === 'INTERNAL') console.error(`job ${kind} failed`, error);
        }
      } finally {
        if (pending) clearTimeout(pending);
        info.finishedAt = Date.now();
        this.emit(info);
      }
      return { ...info };
    })();
    this.jobs.set(id, { info, controller, done });
    this.emit(info);
    return { ...info };
  }

  /** Asks a job to stop; it ends as `cancelled` at its next check. */
  cancel(id: JobId): JobInfo {
    const job = this.require(id);
    job.controller.abort();
    return { ...job.info };
  }

  /** Resolves with the job's final info. */
  finished(id: JobId): Promise<JobInfo> {
    return this.require(id).done;
  }

  /** The running job of a kind, if one is: for work that must not run twice at once. */
  running(kind: string): JobInfo | undefined {
    return this.list().find((job) => job.kind === kind && job.state === 'running');
  }

  /** Every job this core has run, newest first. */
  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => ({ ...j.info })).reverse();
  }

  /** Cancels every running job and waits for them to end. */
  async shutdown(): Promise<void> {
    const running = [...this.jobs.values()].filter((j) => j.info.state === 'running');
    for (const job of running) job.controller.abort();
    await Promise.all(running.map((j) => j.done));
  }

  private require(id: JobId): RunningJob {
    const job = this.jobs.get(id);
    if (!job) throw new LoupeError('NOT_FOUND', `No job ${id}.`, { id });
    return job;
  }

  private emit(info: JobInfo): void {
    const copy = { ...info };
    for (const l of this.listeners) l.update(copy);
  }
}
