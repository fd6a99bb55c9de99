/**
 * The core's side of the training process: forks it once, on first use, and keeps it; sends
 * requests and routes each answer to the request it belongs to. If the process dies, every request
 * in flight fails with a message a person can read, and the next request starts a new process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LoupeError } from '../../shared/errors';
import type { CurvePoint } from '../../shared/train';
import type { FromProcess, ProcessResult, ToProcess } from './protocol';
import { assertNever } from '../../shared/assertNever';

/** Listeners of one request's stream. */
export interface RequestListeners {
  onProgress?(step: string, current: number, total: number): void;
  onLog?(line: string): void;
  onCurve?(points: CurvePoint[]): void;
  onVectors?(start: number, dim: number, data: Float32Array, failed: Array<{ index: number; error: string }>): void;
}

interface Pending {
  listeners: RequestListeners;
  resolve(result: ProcessResult): void;
  reject(error: unknown): void;
}

type Request = ToProcess extends infer T ? (T extends { type: 'cancel' } ? never : Omit<T, 'id'>) : never;

/** Where the process entry lives: the TypeScript source (run through tsx) or a built file beside this one. */
function entry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = createRequire(import.meta.url).resolve('tsx/esm');
    return { file: path.join(path.dirname(here), 'process.ts'), execArgv: ['--import', pathToFileURL(tsx).href] };
  }
  const built = path.join(path.dirname(here), 'trainProcess.js');
  if (!fs.existsSync(built)) throw new LoupeError('INTERNAL', `The training process is missing (${built}).`);
  return { file: built, execArgv: [] };
}

/** One long-lived training process. */
export class TrainingProcess {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** Sends a request; resolves with its result. Aborting `signal` sends a cancel. */
  request(message: Request, listeners: RequestListeners = {}, signal?: AbortSignal): Promise<ProcessResult> {
    const child = this.ensure();
    const id = this.nextId++;
    return new Promise<ProcessResult>((resolve, reject) => {
      const onAbort = () => child.connected && child.send({ type: 'cancel', id } satisfies ToProcess);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => {
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        this.holdOpen();
        fn(...args);
      };
      this.pending.set(id, { listeners, resolve: done(resolve), reject: done(reject) });
      this.holdOpen();
      child.send({ ...message, id } as ToProcess);
      if (signal?.aborted) onAbort();
    });
  }

  /** The process id, when running (for tests). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Stops the process. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill();
    await exited;
  }

  // An idle training process must not keep the core's process alive (the CLI exits when done);
  // a busy one must.
  private holdOpen(): void {
    const child = this.child;
    if (!child) return;
    const channel = (child as ChildProcess & { channel?: { ref(): void; unref(): void } }).channel;
    if (this.pending.size > 0) {
      child.ref();
      channel?.ref();
    } else {
      child.unref();
      channel?.unref();
    }
  }

  private ensure(): ChildProcess {
    if (this.child && this.child.exitCode === null && this.child.connected) return this.child;
    const { file, execArgv } = entry();
    const child = fork(file, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (raw) => this.route(raw as FromProcess));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      const why = signal ? `signal ${signal}` : `exit code ${code}`;
      for (const p of [...this.pending.values()]) {
        p.reject(new LoupeError('INTERNAL', `The training process stopped (${why}); the app is fine. Try again.`));
      }
    });
    this.child = child;
    return child;
  }

  private route(message: FromProcess): void {
    const p = this.pending.get(message.id);
    if (!p) return;
    // A listener that throws (its project closed under it, say) fails its request, never the process.
    try {
      this.deliver(p, message);
    } catch (error) {
      p.reject(error);
    }
  }

  private deliver(p: Pending, message: FromProcess): void {
    switch (message.type) {
      case 'progress':
        p.listeners.onProgress?.(message.step, message.current, message.total);
        return;
      case 'log':
        p.listeners.onLog?.(message.line);
        return;
      case 'curve':
        p.listeners.onCurve?.(message.points);
        return;
      case 'vectors':
        p.listeners.onVectors?.(message.start, message.dim, message.data, message.failed);
        return;
      case 'done':
        p.resolve(message.result);
        return;
      case 'error':
        p.reject(new LoupeError(message.error.code, message.error.message, message.error.details));
        return;
      default:
        assertNever(message, 'message');
    }
  }
}

