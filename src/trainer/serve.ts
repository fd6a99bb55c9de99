/**
 * The GPU page's side of the port: it answers the training process's requests (protocol.ts) with
 * the host-agnostic training code on the `tf` it is given, so the core drives the page as it drives
 * the process. Kinds here: 'full' (a full run, its batches from the host), 'parity' (the
 * gradient-parity routine) and 'memory' (the tensors it holds). Independent of the browser: a test runs it in Node on a MessageChannel.
 */
import type * as Tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { fullInputSchema, runFull } from '../main/train/full';
import type { Callback } from '../main/train/engine';
import { TrainingCancelled } from '../main/train/engine';
import { defineKind, type KindContext, type ProcessKind } from '../main/train/kinds/types';
import { parityCases, runParity } from '../main/train/parity';
import type { FromWindow, ToWindow } from '../main/train/windowProtocol';
import { assertNever } from '../shared/assertNever';
import { LoupeError, toErrorInfo } from '../shared/errors';
import type { BackendReport, CurvePoint } from '../shared/train';
import { remoteSources } from './remoteSources';

/** What the page trains with. */
export interface TrainerDeps {
  tf: typeof Tf;
  report: BackendReport;
  /** Checks around every step (the page's WebGPU error scopes). */
  callbacks?: Callback[];
  /** Reads a full run's failed fit first (closes a step's error scope it left open); see FullHostSources. */
  failedFit?(error: unknown): Promise<unknown>;
}

/** Input of kind 'parity': which of the parity cases to run. */
export const parityInputSchema = z.object({ arch: z.enum(['small-cnn', 'resnet-small']) });

/**
 * Serves requests arriving through `onMessage`, answering through `post`. Returns the handler for
 * incoming messages (the caller wires it to its port).
 */
export function serveTraining(post: (message: FromWindow, transfer?: Transferable[]) => void, deps: TrainerDeps): (message: ToWindow) => void {
  const { tf, report } = deps;
  const sources = remoteSources((m) => post(m), { callbacks: deps.callbacks, failedFit: deps.failedFit });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const kinds = new Map<string, ProcessKind<any, unknown>>([
    ['full', defineKind({ name: 'full', input: fullInputSchema, run: (input, ctx) => runFull(input, ctx, sources) })],
    ['parity', defineKind({ name: 'parity', input: parityInputSchema, run: (input) => runParity(tf, parityCases[input.arch]) })],
    // What the page holds on the device now: a run that leaves tensors behind shows here.
    ['memory', defineKind({ name: 'memory', input: z.object({}), run: async () => ({ numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes }) })],
  ]);
  const running = new Map<number, AbortController>();

  const contextFor = (id: number, signal: AbortSignal): KindContext & { flush(): void } => {
    let pending: CurvePoint[] = [];
    let lastFlush = Date.now();
    const flush = () => {
      if (pending.length > 0) post({ type: 'curve', id, points: pending });
      pending = [];
      lastFlush = Date.now();
    };
    return {
      tf: async () => ({ tf, report }),
      signal,
      progress: (step, current, total) => {
        flush();
        post({ type: 'progress', id, step, current, total });
      },
      log: (line) => post({ type: 'log', id, line }),
      curve: (points) => {
        pending.push(...points);
        if (points.some((p) => p.kind === 'epoch') || Date.now() - lastFlush > 100) flush();
      },
      emit: (message) => {
        flush();
        post({ type: 'emit', id, message });
      },
      flush,
    };
  };

  const run = async (id: number, name: string, input: unknown, signal: AbortSignal): Promise<unknown> => {
    const kind = kinds.get(name);
    if (!kind) throw new LoupeError('CONFLICT', `The GPU training window runs only ${[...kinds.keys()].join(' and ')}, not "${name}"; run it on the training process's backend.`);
    const parsed = kind.input.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new LoupeError('VALIDATION', `${name}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid input'}`, parsed.error.issues);
    }
    const ctx = contextFor(id, signal);
    try {
      return await kind.run(parsed.data, ctx);
    } finally {
      ctx.flush();
    }
  };

  const answer = (id: number, work: (signal: AbortSignal) => Promise<unknown>) => {
    const controller = new AbortController();
    running.set(id, controller);
    work(controller.signal)
      .then(
        (result) => post({ type: 'done', id, result }),
        (error: unknown) => {
          const info = error instanceof TrainingCancelled || controller.signal.aborted ? { code: 'CANCELLED' as const, message: 'Training was cancelled.' } : toErrorInfo(error);
          if (info.code === 'INTERNAL' && error instanceof Error) info.details = { stack: error.stack };
          post({ type: 'error', id, error: info });
        },
      )
      .finally(() => running.delete(id));
  };

  return (message) => {
    switch (message.type) {
      case 'backend':
        answer(message.id, async () => ({ type: 'backend', report }));
        return;
      case 'run':
        answer(message.id, (signal) => run(message.id, message.kind, message.input, signal));
        return;
      case 'cancel':
        running.get(message.id)?.abort();
        return;
      case 'batch':
      case 'end':
      case 'feedError':
        sources.deliver(message);
        return;
      default:
        assertNever(message, 'message');
    }
  };
}
