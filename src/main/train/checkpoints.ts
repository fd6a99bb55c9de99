/**
 * Checkpoints of full runs (table run_checkpoints): per run the last epoch's and the best epoch's
 * network weights, the optimizer's state, and the loop's position, each kind replaced by the next
 * one saved, so a run keeps two and resumes from 'last'. 'best' holds the weights the run keeps
 * (early stopping's pick, or the last epoch's when nothing was validated): what export and predict
 * read. Weights are stored as one BLOB of named float32 arrays, in order (the optimizer's state is
 * positional: its moments follow the network's trainable weights in order).
 */
import { LoupeError } from '../../shared/errors';
import type { NamedWeights } from '../model/archSpec';
import { write, type Db } from '../store/db';
import { sql } from '../store/statements';

/** Which checkpoint. */
export type CheckpointKind = 'last' | 'best';

/** Where the loop was and what early stopping knew: enough to continue exactly. */
export interface CheckpointState {
  /** Early stopping's best so far, and epochs since it improved. */
  best: { epoch: number; loss: number } | null;
  since: number;
  /** The optimizer's scalars that its weights do not carry (Adam's beta powers), as float32 values. */
  optimizerScalars: Record<string, number>;
  /** Why the fit ended at this epoch (early stopping), or null: a resume then trains no further. */
  stopped: string | null;
  /**
   * The batch size the steps were counted at: smaller than the config's when a batch did not fit
   * on the device and was halved, so a resume continues at it. Absent in older checkpoints (the config's).
   */
  batchSize?: number;
}

/** One checkpoint. */
export interface Checkpoint {
  runId: number;
  kind: CheckpointKind;
  /** The epoch it was taken after (from 1), and the optimizer steps taken by then. */
  epoch: number;
  step: number;
  weights: NamedWeights;
  /** The optimizer's own weights (tf.Optimizer#getWeights), in order. */
  optimizer: NamedWeights;
  state: CheckpointState;
  createdAt: number;
}

/** What a checkpoint saves. */
export type CheckpointInput = Omit<Checkpoint, 'runId' | 'kind' | 'createdAt'>;

interface CheckpointRow {
  kind: CheckpointKind;
  epoch: number;
  step: number;
  weights: Buffer;
  optimizer: Buffer;
  state: string;
  created_at: number;
}

/** Saves (replaces) a run's checkpoint of this kind. */
export function saveCheckpoint(db: Db, runId: number, kind: CheckpointKind, checkpoint: CheckpointInput): void {
  const weights = encodeWeights(checkpoint.weights);
  const optimizer = encodeWeights(checkpoint.optimizer);
  write(db, () =>
    sql(
      db,
      `INSERT OR REPLACE INTO run_checkpoints (run_id, kind, epoch, step, weights, optimizer, state, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(runId, kind, checkpoint.epoch, checkpoint.step, weights, optimizer, JSON.stringify(checkpoint.state), Date.now()),
  );
}

/** Saves an epoch's checkpoint as the last one, and as the best one too when it is: both or neither. */
export function saveEpochCheckpoint(db: Db, runId: number, checkpoint: CheckpointInput, isBest: boolean): void {
  write(db, () => {
    saveCheckpoint(db, runId, 'last', checkpoint);
    if (isBest) saveCheckpoint(db, runId, 'best', checkpoint);
  });
}

/** A run's checkpoint of this kind, or null when it has none. */
export function loadCheckpoint(db: Db, runId: number, kind: CheckpointKind): Checkpoint | null {
  const row = sql(db, 'SELECT kind, epoch, step, weights, optimizer, state, created_at FROM run_checkpoints WHERE run_id = ? AND kind = ?').get(runId, kind) as
    | CheckpointRow
    | undefined;
  if (!row) return null;
  return {
    runId,
    kind: row.kind,
    epoch: row.epoch,
    step: row.step,
    weights: decodeWeights(row.weights),
    optimizer: decodeWeights(row.optimizer),
    state: JSON.parse(row.state) as CheckpointState,
    createdAt: row.created_at,
  };
}

/** The epochs a run has checkpoints of, by kind (cheap: no weights read). */
export function checkpointEpochs(db: Db, runId: number): Partial<Record<CheckpointKind, number>> {
  const rows = sql(db, 'SELECT kind, epoch FROM run_checkpoints WHERE run_id = ?').all(runId) as Array<{ kind: CheckpointKind; epoch: number }>;
  const out: Partial<Record<CheckpointKind, number>> = {};
  for (const r of rows) out[r.kind] = r.epoch;
  return out;
}

/** Drops a run's checkpoints of a kind (or all). */
export function dropCheckpoints(db: Db, runId: number, kind?: CheckpointKind): void {
  write(db, () => {
    if (kind) sql(db, 'DELETE FROM run_checkpoints WHERE run_id = ? AND kind = ?').run(runId, kind);
    else sql(db, 'DELETE FROM run_checkpoints WHERE run_id = ?').run(runId);
  });
}

// Layout: uint32 header length, the header (JSON: name and shape of each array, in order), zero
// padding to a multiple of 4, then every array's float32 values back to back, little-endian.
const magic = 'loupe-weights-1';

/** Named float32 arrays as one buffer, in the map's order. */
export function encodeWeights(weights: NamedWeights): Buffer {
  const entries = [...weights].map(([name, w]) => ({ name, shape: w.shape, length: w.data.length }));
  const header = Buffer.from(JSON.stringify({ magic, entries }), 'utf8');
  const start = Math.ceil((4 + header.length) / 4) * 4;
  const total = entries.reduce((n, e) => n + e.length, 0);
  const out = Buffer.alloc(start + total * 4);
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  let offset = start;
  for (const [, w] of weights) {
    const bytes = Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    bytes.copy(out, offset);
    offset += bytes.length;
  }
  return out;
}

/** The inverse of encodeWeights; the arrays are copies (aligned). */
export function decodeWeights(buffer: Buffer): NamedWeights {
  const length = buffer.readUInt32LE(0);
  const header = JSON.parse(buffer.subarray(4, 4 + length).toString('utf8')) as { magic: string; entries: Array<{ name: string; shape: number[]; length: number }> };
  if (header.magic !== magic) throw new LoupeError('INTERNAL', 'This checkpoint was written by another version of Loupe; train the run again.');
  const out: NamedWeights = new Map();
  let offset = Math.ceil((4 + length) / 4) * 4;
  for (const e of header.entries) {
    const bytes = buffer.subarray(offset, offset + e.length * 4);
    const data = new Float32Array(e.length);
    Buffer.from(data.buffer).set(bytes);
    out.set(e.name, { shape: e.shape, data });
    offset += e.length * 4;
  }
  return out;
}
