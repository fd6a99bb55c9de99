/**
 * The training process: one long-lived child of the core (child_process.fork, or Electron's
 * utilityProcess in the app) that owns TF.js and
 * the native model runtimes, so a native crash cannot take the UI with it and tfjs-node is loaded
 * once. It runs work by kind name (kinds/index.ts): each request's input is checked with its kind's
 * schema and run with a KindContext, streaming progress, curve points, logs and the kind's own
 * messages; a cancel message aborts the request's signal, and the work stops between batches.
 */
import { LoupeError, toErrorInfo } from '../../shared/errors';
import { backendNames, type BackendChoice, type CurvePoint } from '../../shared/train';
import { BackendSelector, type BackendLease } from '../model/backend';
import { assertNever } from '../../shared/assertNever';
import { TrainingCancelled } from './engine';
import { kinds } from './kinds';
import type { KindContext } from './kinds/types';
import type { FromProcess, ToProcess } from './protocol';

// Electron's utilityProcess talks through process.parentPort; a forked Node child through process.send.
interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}
const parentPort = (process as NodeJS.Process & { parentPort?: ParentPort }).parentPort;
const send = (message: FromProcess) => (parentPort ? parentPort.postMessage(message) : process.send?.(message));
function onParentMessage(listener: (message: ToProcess) => void): void {
  if (parentPort) parentPort.on('message', (event) => listener(event.data as ToProcess));
  else process.on('message', (raw) => listener(raw as ToProcess));
}
const running = new Map<number, AbortController>();
// The automatic order; LOUPE_BACKEND names the first backend to try (tests and benches pin one).
// A run that forces a backend (config.backend) gets that one or a clear error.
const backends = new BackendSelector({ order: backendOrder() });

function backendOrder() {
  const index = backendNames.findIndex((b) => b === process.env.LOUPE_BACKEND);
  return index > 0 ? backendNames.slice(index) : backendNames;
}

/** A kind's context for request `id`: curve points are sent in batches (every epoch point, else at most every 100 ms). */
function contextFor(id: number, signal: AbortSignal, choice: BackendChoice | null): KindContext & { flush(): void; release(): void } {
  // The request holds its backend from its first ctx.tf() to its end.
  let lease: Promise<BackendLease> | null = null;
  let pending: CurvePoint[] = [];
  let lastFlush = Date.now();
  const flush = () => {
    if (pending.length > 0) send({ type: 'curve', id, points: pending });
    pending = [];
    lastFlush = Date.now();
  };
  return {
    tf: async () => {
      lease ??= backends.acquire(choice);
      const { tf, report } = (await lease).selected;
      return { tf, report };
    },
    signal,
    progress: (step, current, total) => {
      flush();
      send({ type: 'progress', id, step, current, total });
    },
    log: (line) => send({ type: 'log', id, line }),
    curve: (points) => {
      pending.push(...points);
      if (points.some((p) => p.kind === 'epoch') || Date.now() - lastFlush > 100) flush();
    },
    emit: (message) => {
      flush();
      send({ type: 'emit', id, message });
    },
    flush,
    release: () => void lease?.then((held) => held.release(), () => {}),
  };
}

async function runKind(id: number, name: string, input: unknown, signal: AbortSignal): Promise<unknown> {
  const kind = kinds.get(name);
  if (!kind) throw new LoupeError('INTERNAL', `The training process has no kind "${name}"; the core and the process are from different builds.`);
  const parsed = kind.input.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LoupeError('VALIDATION', `${name}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid input'}`, parsed.error.issues);
  }
  const ctx = contextFor(id, signal, kind.backend?.(parsed.data) ?? null);
  try {
    return await kind.run(parsed.data, ctx);
  } finally {
    ctx.flush();
    ctx.release();
  }
}

function handle(message: Exclude<ToProcess, { type: 'cancel' }>, signal: AbortSignal): Promise<unknown> {
  switch (message.type) {
    case 'backend':
      return backends.acquire(null).then(({ selected, release }) => {
        release();
        return { type: 'backend', report: selected.report };
      });
    case 'run':
      return runKind(message.id, message.kind, message.input, signal);
    default:
      return assertNever(message, 'message');
  }
}

onParentMessage((message) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  const controller = new AbortController();
  running.set(message.id, controller);
  handle(message, controller.signal)
    .then(
      (result) => send({ type: 'done', id: message.id, result }),
      (error: unknown) => {
        // Cancelled by type or by the aborted signal, never by an error's text.
        const info =
          error instanceof TrainingCancelled || controller.signal.aborted
            ? { code: 'CANCELLED' as const, message: 'Training was cancelled.' }
            : toErrorInfo(error);
        if (info.code === 'INTERNAL' && error instanceof Error) info.details = { stack: error.stack };
        send({ type: 'error', id: message.id, error: info });
      },
    )
    .finally(() => running.delete(message.id));
});

// Leave when the core goes: a training process never outlives its parent (a utility process is ended by Electron).
process.on('disconnect', () => process.exit(0));
