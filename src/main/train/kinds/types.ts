/**
 * Work the training process does, by name: each kind has its own input schema (validated in the
 * process, since the core and the process are separate programs) and one `run`. The process looks
 * a kind up in the registry (./index.ts) and gives it a context; nothing else dispatches on names.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import type { BackendChoice, BackendReport, CurvePoint } from '../../../shared/train';

/** What a kind may use of the process while it runs. */
export interface KindContext {
  /** The TF.js the process selected (loaded on first use), and the report of how. */
  tf(): Promise<{ tf: typeof Tf; report: BackendReport }>;
  /** Aborted when the core cancels this request: kinds stop between batches (the engine throws TrainingCancelled). */
  signal: AbortSignal;
  progress(step: string, current: number, total: number): void;
  log(line: string): void;
  curve(points: CurvePoint[]): void;
  /**
   * Sends a message of the kind's own to the core while it runs (a checkpoint, vectors): structured
   * clone, so typed arrays pass as they are. The core side of the kind receives it.
   */
  emit(message: unknown): void;
}

/** One kind of work. */
export interface ProcessKind<I = unknown, O = unknown> {
  name: string;
  input: z.ZodType<I>;
  run(input: I, ctx: KindContext): Promise<O>;
  /** The backend the input asks for (a run's config.backend); absent: 'auto'. ctx.tf() gives that backend. */
  backend?(input: I): BackendChoice;
}

/** Declares a kind with its input type inferred from its schema. */
export function defineKind<S extends z.ZodType, O>(kind: {
  name: string;
  input: S;
  run(input: z.output<S>, ctx: KindContext): Promise<O>;
  backend?(input: z.output<S>): BackendChoice;
}): ProcessKind<z.output<S>, O> {
  return kind as ProcessKind<z.output<S>, O>;
}
