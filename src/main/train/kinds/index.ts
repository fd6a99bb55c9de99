/**
 * The training process's kinds of work, by name: the process runs a request's kind with its input
 * checked by the kind's schema. One import and one entry per kind.
 */
import type { ProcessKind } from './types';
import { embedKind } from './embed';
import { fullKind } from './full';
import { quickKind } from './quick';
import { predictKind } from './predict';
import { exportCheckKind } from './exportCheck';
import { exportFinetuneKind } from './exportFinetune';
import { lrFindKind } from './lrFind';
import { sanityKind } from './sanity';
import { showBatchKind } from './showBatch';
import { neighboursKind } from './neighbours';

// Inputs are checked by each kind's own schema before run; the registry only needs the names.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKind = ProcessKind<any, unknown>;

/** Every kind the process runs. */
export const kinds: ReadonlyMap<string, AnyKind> = new Map<string, AnyKind>([
  ['embed', embedKind],
  ['quick', quickKind],
  ['full', fullKind],
  ['predict', predictKind],
  ['exportCheck', exportCheckKind],
  ['exportFinetune', exportFinetuneKind],
  ['lrFind', lrFindKind],
  ['sanity', sanityKind],
  ['showBatch', showBatchKind],
  ['neighbours', neighboursKind],
]);
