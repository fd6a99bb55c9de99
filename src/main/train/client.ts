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
import type { BackendAnswer, FromProcess, ToProcess } from './protocol';
import { assertNever } from '../../shared/assertNever';

/** Listeners of one request's stream. */
export interface RequestListeners {
  onProgress?(step: string, current: number, total: number): void;
  onLog?(line: string): void;
  onCurve?(points: CurvePoint[]): void;
  /** A message of the kind's own (ctx.emit in the process): its checkpoints, its vectors. */
  onEmit?(message: unknown): void;
}

interface Pending {
  listeners: RequestListeners;
  resolve(result: unknown): void;
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

/** A started training process, as the client drives it: Node's fork here, Electron's utilityProcess in the app. */
export interface TrainerHandle {
  readonly pid: number | undefined;
  /** Whether it is running and can take messages. */
  alive(): boolean;
  send(message: ToProcess): void;
  onMessage(listener: (message: FromProcess) => void): void;
  /** Called once when it stops, with why ("exit code 1", "signal SIGKILL"). */
  onExit(listener: (why: string) => void): void;
  /** Whether it keeps the host process alive: a busy one must, an idle one must not (the CLI exits when done). */
  hold(busy: boolean): void;
  kill(): void;
}

/** Starts the training process from its entry file. */
export type TrainerSpawner = (entry: { file: string; execArgv: string[] }) => TrainerHandle;

/** child_process.fork with structured-clone messages: plain Node (CLI, serve mode, tests). */
export const forkTrainer: TrainerSpawner = ({ file, execArgv }) => {
  const child: ChildProcess = fork(file, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const channel = (child as ChildProcess & { channel?: { ref(): void; unref(): void } }).channel;
  return {
    get pid() {
      return child.pid;
    },
    alive: () => child.exitCode === null && child.signalCode === null && child.connected,
    send: (message) => {
      if (child.connected) child.send(message);
    },
    onMessage: (listener) => child.on('message', (raw) => listener(raw as FromProcess)),
    onExit: (listener) => child.once('exit', (code, signal) => listener(signal ? `signal ${signal}` : `exit code ${code}`)),
    hold: (busy) => {
      if (busy) {
        child.ref();
        channel?.ref();
      } else {
        child.unref();
        channel?.unref();
      }
    },
    kill: () => child.kill(),
  };
};

/** One long-lived training process. */
export class TrainingProcess {
  private child: TrainerHandle | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly spawn: TrainerSpawner = forkTrainer) {}

  /** Which TF.js backend the process loaded, and why the better ones did not. */
  request(message: { type: 'backend' }): Promise<BackendAnswer> {
    return this.send(message, {}) as Promise<BackendAnswer>;
  }

  /**
   * Runs a kind of work (kinds/index.ts) with its input; resolves with what the kind returns (the
   * caller names its type: the kind's answer type, exported beside it). Aborting `signal` sends a
   * cancel, and the kind stops between batches with CANCELLED.
   */
  run<O>(kind: string, input: unknown, listeners: RequestListeners = {}, signal?: AbortSignal): Promise<O> {
    return this.send({ type: 'run', kind, input }, listeners, signal) as Promise<O>;
  }

  private send(message: Request, listeners: RequestListeners, signal?: AbortSignal): Promise<unknown> {
    const child = this.ensure();
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = () => child.send({ type: 'cancel', id } satisfies ToProcess);
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
    if (!child || !child.alive()) return;
    const exited = new Promise<void>((resolve) => child.onExit(() => resolve()));
    child.kill();
    await exited;
  }

  // An idle training process must not keep the core's process alive (the CLI exits when done);
  // a busy one must.
  private holdOpen(): void {
    this.child?.hold(this.pending.size > 0);
  }

  private ensure(): TrainerHandle {
    if (this.child?.alive()) return this.child;
    const child = this.spawn(entry());
    child.onMessage((message) => this.route(message));
    child.onExit((why) => {
      if (this.child === child) this.child = null;
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
      // The process must stop that work too: it would go on training for a request nobody hears.
      this.child?.send({ type: 'cancel', id: message.id });
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
      case 'emit':
        p.listeners.onEmit?.(message.message);
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

