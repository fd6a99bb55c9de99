/** Messages between the core and the training process (structured clone: typed arrays pass as they are). */
import type { ErrorInfo } from '../../shared/errors';
import type { BackendReport, CurvePoint } from '../../shared/train';
import type { BackboneSpec } from '../model/backbones';
import type { QuickResult, QuickTask } from './quick';

/** One image to embed: a file, and the augmentation view (0: the image itself). */
export interface EmbedItem {
  file: string;
  view: number;
  /** The image's content hash: seeds its augmented views. */
  key: string;
}

/** What the core asks. Every request carries an id its answers repeat. */
export type ToProcess =
  | { type: 'backend'; id: number }
  | { type: 'embed'; id: number; spec: BackboneSpec; items: EmbedItem[] }
  | { type: 'quick'; id: number; task: QuickTask }
  | { type: 'cancel'; id: number };

/** What the training process answers. */
export type FromProcess =
  | { type: 'progress'; id: number; step: string; current: number; total: number }
  | { type: 'log'; id: number; line: string }
  | { type: 'curve'; id: number; points: CurvePoint[] }
  | { type: 'vectors'; id: number; start: number; dim: number; data: Float32Array; failed: Array<{ index: number; error: string }> }
  | { type: 'done'; id: number; result: ProcessResult }
  | { type: 'error'; id: number; error: ErrorInfo };

/** Results by request type. */
export type ProcessResult =
  | { type: 'backend'; report: BackendReport }
  | { type: 'embed'; dim: number; backbone: BackboneSpec; report: BackendReport | null }
  | { type: 'quick'; result: QuickResult; report: BackendReport };
