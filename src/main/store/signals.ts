/**
 * What the label-error queue stores per run (migration 007): each labelled image's nearest images
 * by the run's embeddings, and which embeddings they came from. Also the person's choice of the run
 * that feeds the queues (a project setting) and the reads the queue's analysis needs.
 */
import type { ImageId } from '../../shared/types';
import { write, type Db } from './db';
import { getMeta, setMeta } from './meta';
import { sql } from './statements';

/** Stored neighbours of one image of a run. */
export interface StoredNeighbours {
  imageId: ImageId;
  neighbours: Int32Array;
  similarities: Float32Array;
}

/** Which embeddings a run's neighbours came from (null embedding: none; note says why). */
export interface NeighbourSource {
  embedding: string | null;
  k: number;
  note: string | null;
}

/** Stores a run's neighbours and their source in one transaction (replacing any before). */
export function saveNeighbours(db: Db, runId: number, source: NeighbourSource, rows: readonly StoredNeighbours[]): void {
  write(db, () => {
    sql(db, 'DELETE FROM run_neighbours WHERE run_id = ?').run(runId);
    const insert = sql(db, 'INSERT INTO run_neighbours (run_id, image_id, neighbours, similarities) VALUES (?, ?, ?, ?)');
    for (const r of rows) insert.run(runId, r.imageId, bytes(r.neighbours), bytes(r.similarities));
    sql(db, 'INSERT OR REPLACE INTO run_neighbour_sources (run_id, embedding, k, note, computed_at) VALUES (?, ?, ?, ?, ?)').run(
      runId,
      source.embedding,
      source.k,
      source.note,
      Date.now(),
    );
  });
}

/** A run's stored neighbours, or null when they were never computed. */
export function loadNeighbours(db: Db, runId: number): { source: NeighbourSource; rows: StoredNeighbours[] } | null {
  const source = sql(db, 'SELECT embedding, k, note FROM run_neighbour_sources WHERE run_id = ?').get(runId) as NeighbourSource | undefined;
  if (!source) return null;
  const rows = (
    sql(db, 'SELECT image_id AS imageId, neighbours, similarities FROM run_neighbours WHERE run_id = ?').all(runId) as Array<{
      imageId: ImageId;
      neighbours: Buffer;
      similarities: Buffer;
    }>
  ).map((r) => ({ imageId: r.imageId, neighbours: new Int32Array(copy(r.neighbours)), similarities: new Float32Array(copy(r.similarities)) }));
  return { source, rows };
}

/**
 * The embedding cache's backbone key that covers most of these content hashes at view 0 (the
 * original image), preferring vectors of dimension `dim` (the run's backbone); null when none.
 */
export function embeddingKeyFor(db: Db, hashes: readonly string[], dim: number | null): { key: string; covered: number } | null {
  if (hashes.length === 0) return null;
  const counts = new Map<string, { covered: number; dim: number }>();
  const lookup = sql(db, 'SELECT backbone, dim FROM embeddings WHERE content_hash = ? AND view = 0');
  // A sample is enough to tell which key covers the images.
  const step = Math.max(1, Math.floor(hashes.length / 200));
  for (let i = 0; i < hashes.length; i += step) {
    for (const row of lookup.all(hashes[i]) as Array<{ backbone: string; dim: number }>) {
      const c = counts.get(row.backbone) ?? { covered: 0, dim: row.dim };
      c.covered++;
      counts.set(row.backbone, c);
    }
  }
  const ranked = [...counts.entries()].sort((a, b) => Number(b[1].dim === dim) - Number(a[1].dim === dim) || b[1].covered - a[1].covered);
  const best = ranked[0];
  return best ? { key: best[0], covered: best[1].covered * step } : null;
}

/** Content hashes of images by id. */
export function contentHashes(db: Db, ids: readonly ImageId[]): Map<ImageId, string> {
  const get = sql(db, 'SELECT content_hash AS hash FROM images WHERE id = ?');
  const out = new Map<ImageId, string>();
  for (const id of ids) {
    const row = get.get(id) as { hash: string | null } | undefined;
    if (row?.hash) out.set(id, row.hash);
  }
  return out;
}

const sourceKey = 'review.source';

/** The run a person chose to feed the queues, or null (the best by out-of-sample quality). */
export function chosenQueueSource(db: Db): number | null {
  const v = getMeta(db, sourceKey);
  return v === null || v === '' ? null : Number(v);
}

/** Records (or clears, with null) the run that feeds the queues. */
export function setChosenQueueSource(db: Db, runId: number | null): void {
  write(db, () => setMeta(db, sourceKey, runId === null ? '' : String(runId)));
}

function bytes(a: Int32Array | Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function copy(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Every active labelled image's class name now. */
export function currentLabels(db: Db): Map<ImageId, string> {
  const rows = sql(
    db,
    `SELECT i.id, c.name FROM images i JOIN labels l ON l.image_id = i.id JOIN classes c ON c.id = l.class_id WHERE i.status = 'active'`,
  ).all() as Array<{ id: ImageId; name: string }>;
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** A run's out-of-sample predicted class and label at the run, per image (no probabilities: the cheap read review sessions need). */
export function predictedLabels(db: Db, runId: number): Array<{ imageId: ImageId; given: number | null; predicted: number }> {
  return sql(db, 'SELECT image_id AS imageId, given, predicted FROM predictions WHERE run_id = ? AND in_sample = 0').all(runId) as Array<{
    imageId: ImageId;
    given: number | null;
    predicted: number;
  }>;
}

/** One change of a not-undone edit batch, for review sessions. */
export interface SessionChange {
  batchId: number;
  createdAt: number;
  imageId: ImageId;
  field: 'class' | 'status' | 'reviewed';
  newValue: string | null;
}

/** The image changes (class, status, reviewed) of edit batches not undone, with change ids in (after, upTo] (upTo null: no bound). */
export function editChangesBetween(db: Db, after: number, upTo: number | null): SessionChange[] {
  return sql(
    db,
    `SELECT b.id AS batchId, b.created_at AS createdAt, c.image_id AS imageId, c.field, c.new_value AS newValue
       FROM changes c JOIN batches b ON b.id = c.batch_id
      WHERE b.kind = 'edit' AND b.undone = 0 AND c.image_id IS NOT NULL AND c.field IN ('class', 'status', 'reviewed')
        AND c.id > ? AND c.id <= ?
      ORDER BY c.id`,
  ).all(after, upTo ?? Number.MAX_SAFE_INTEGER) as SessionChange[];
}
