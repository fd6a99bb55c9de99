/** Messages between the core and the training process (structured clone: typed arrays pass as they are). */
import type { ErrorInfo } from '../../shared/errors';
import type { BackendReport, CurvePoint } from '../../shared/train';

/** One image to embed: a file, and the augmentation view (0: the image itself). */
export interface EmbedItem {
  file: string;
  view: number;
  /** The image's content hash: seeds its augmented views. */
  key: string;
}

/**
 * What the core asks. Every request carries an id its answers repeat. Work goes by kind name
 * (kinds/index.ts); the process validates `input` with that kind's schema.
 */
export type ToProcess =
  | { type: 'backend'; id: number }
  | { type: 'run'; id: number; kind: string; input: unknown }
  | { type: 'cancel'; id: number };

/** What the training process answers. */
export type FromProcess =
  | { type: 'progress'; id: number; step: string; current: number; total: number }
  | { type: 'log'; id: number; line: string }
  | { type: 'curve'; id: number; points: CurvePoint[] }
  /** A kind's own message while it runs (a checkpoint, a batch of vectors). */
  | { type: 'emit'; id: number; message: unknown }
  | { type: 'done'; id: number; result: unknown }
  | { type: 'error'; id: number; error: ErrorInfo };

/** The answer to a backend request. */
export interface BackendAnswer {
  type: 'backend';
  report: BackendReport;
}
