/**
 * A run's label-error signals from the store: its labelled out-of-sample predictions, its
 * embedding neighbours (computed once by the training process and stored with the run,
 * store/signals.ts; train+valid and test rows searched apart), earlier runs' predictions of the
 * same images (the ensemble), fed to prepareSignals once; the conflicting near-duplicates (from the
 * health check: duplicates.ts) are applied after, cheaply (withDuplicates), as that set changes.
 */
import type { RunSummary } from '../../shared/train';
import type { ImageId, SplitName } from '../../shared/types';
import type { Db } from '../store/db';
import { contentHashes, embeddingKeyFor, loadNeighbours, saveNeighbours, type StoredNeighbours } from '../store/signals';
import { sql } from '../store/statements';
import { readEmbeddings } from '../model/embeddingCache';
import { listRuns } from '../train/runs';
import type { TrainingProcess } from '../train/client';
import type { NeighboursAnswer } from '../train/kinds/neighbours';
import type { NeighbourQuery, Neighbours } from './knn';
import { finishSignals, prepareSignals, type PreparedSignals, type SignalResult, type SplitGroup } from './signals';

/** Runs a neighbour search somewhere other than the core's thread (the training process). */
export type NeighbourSearch = (query: NeighbourQuery) => Promise<Neighbours>;

/** The neighbour search as the training process's kind 'neighbours'. */
export function searchInProcess(process: TrainingProcess): NeighbourSearch {
  return (query) => process.run<NeighboursAnswer>('neighbours', query);
}

/** Neighbours stored per image (the signals use the first `signalK`). */
export const storedK = 20;
/** Neighbours the kNN signal counts. */
export const signalK = 10;

/** One out-of-sample prediction of a run. */
export interface PredictionRow {
  imageId: ImageId;
  split: SplitName | null;
  fold: number;
  given: number | null;
  predicted: number;
  probability: number;
  givenProb: number | null;
  loss: number | null;
  probabilities: Buffer;
}

/** A run's labelled rows and their signals; `rowOf` maps an image to its index in `labelled`. */
export interface RunSignals {
  labelled: number[];
  rowOf: Map<ImageId, number>;
  /** Everything but the duplicate evidence (computed once). */
  prepared: PreparedSignals;
  signals: SignalResult;
  /** Per labelled row, its stored neighbours (image ids, similarities), nearest first. */
  neighbours: Array<{ ids: Int32Array; similarities: Float32Array }> | null;
  neighbourNote: string | null;
  /** The duplicate set the signals were computed with (to tell when it changed). */
  duplicates: ReadonlySet<ImageId> | null;
}

/** Reads a run's out-of-sample predictions. */
export function readPredictions(db: Db, runId: number): PredictionRow[] {
  return sql(
    db,
    `SELECT image_id AS imageId, split, fold, given, predicted, probability, given_prob AS givenProb, loss, probabilities
       FROM predictions WHERE run_id = ? AND in_sample = 0`,
  ).all(runId) as PredictionRow[];
}

/** A stored probability vector as floats. */
export function floats(b: Buffer): Float32Array {
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The group a prediction row's signals are computed in. */
const groupOf = (r: Pick<PredictionRow, 'split'>): SplitGroup => (r.split === 'test' ? 'test' : 'trainValid');

/** Computes a run's signals (neighbours from the store, searched by `search` and stored the first time). */
export async function runSignals(
  db: Db,
  run: RunSummary,
  rows: readonly PredictionRow[],
  probabilities: readonly Float32Array[],
  duplicates: ReadonlySet<ImageId> | null,
  search: NeighbourSearch,
): Promise<RunSignals> {
  const labelled: number[] = [];
  rows.forEach((r, i) => r.given !== null && labelled.push(i));
  const rowOf = new Map<ImageId, number>(labelled.map((i, r) => [rows[i]!.imageId, r]));
  const group = labelled.map((i) => groupOf(rows[i]!));
  const stored = await neighboursOf(db, run, labelled.map((i) => rows[i]!), search);
  // Only neighbours of the same group vote (neighbours stored before groups were searched apart may cross).
  const sameGroup = (id: number, r: number) => {
    const other = rowOf.get(id as ImageId);
    return other !== undefined && group[other] === group[r];
  };
  const neighbours = stored.rows
    ? labelled.map((i, r) => {
        const found = stored.rows!.get(rows[i]!.imageId);
        if (!found) return { ids: new Int32Array(0), similarities: new Float32Array(0) };
        const keep = Array.from({ length: found.ids.length }, (_, j) => j).filter((j) => sameGroup(found.ids[j]!, r));
        return keep.length === found.ids.length ? found : { ids: Int32Array.from(keep, (j) => found.ids[j]!), similarities: Float32Array.from(keep, (j) => found.similarities[j]!) };
      })
    : null;
  const neighbourRows = neighbours?.map((n) => [...n.ids.subarray(0, signalK)].map((id) => rowOf.get(id as ImageId)!)) ?? null;
  const prepared = prepareSignals({
    classCount: run.classes.length,
    given: labelled.map((i) => rows[i]!.given!),
    probabilities: labelled.map((i) => probabilities[i]!),
    group,
    neighbours: neighbourRows,
    ensemble: ensembleOf(db, run, labelled.map((i) => rows[i]!.imageId)),
  });
  const base = { labelled, rowOf, prepared, neighbours, neighbourNote: stored.note };
  return { ...base, signals: finishSignals(prepared, duplicateFlags(rows, labelled, duplicates)), duplicates };
}

/** The signals with another conflicting-duplicate set: only the fusion step reruns. */
export function withDuplicates(s: RunSignals, rows: readonly PredictionRow[], duplicates: ReadonlySet<ImageId> | null): RunSignals {
  return { ...s, signals: finishSignals(s.prepared, duplicateFlags(rows, s.labelled, duplicates)), duplicates };
}

function duplicateFlags(rows: readonly PredictionRow[], labelled: readonly number[], duplicates: ReadonlySet<ImageId> | null): boolean[] | null {
  return duplicates ? labelled.map((i) => duplicates.has(rows[i]!.imageId)) : null;
}

/**
 * The stored neighbours of a run's labelled images, computing and storing them the first time from
 * the embedding cache's vectors of view 0 (a full run has none of its own: the vectors any quick
 * run cached for these images serve), by `search`, train+valid and test apart. A read-only project
 * computes without storing. Also a regression run's rows (analysis/values.ts). No rows: nothing is
 * searched or stored (a regression run has no class predictions for the label analysis to read).
 */
export async function neighboursOf(
  db: Db,
  run: RunSummary,
  labelledRows: ReadonlyArray<Pick<PredictionRow, 'imageId' | 'split'>>,
  search: NeighbourSearch,
): Promise<{ rows: Map<ImageId, { ids: Int32Array; similarities: Float32Array }> | null; note: string | null }> {
  if (labelledRows.length === 0) return { rows: null, note: null };
  const ids = labelledRows.map((r) => r.imageId);
  const loaded = loadNeighbours(db, run.id);
  if (loaded) {
    if (!loaded.source.embedding) return { rows: null, note: loaded.source.note };
    return { rows: new Map(loaded.rows.map((r) => [r.imageId, { ids: r.neighbours, similarities: r.similarities }])), note: loaded.source.note };
  }
  const hashes = contentHashes(db, ids);
  const withHash = ids.filter((id) => hashes.has(id));
  const key = embeddingKeyFor(db, withHash.map((id) => hashes.get(id)!), run.backbone?.dim ?? null);
  let rows: StoredNeighbours[] = [];
  let note: string | null;
  if (!key) {
    note = 'No cached embeddings for these images: the kNN signal needs a quick run (any backbone) on this dataset.';
  } else {
    const read = readEmbeddings(db, key.key, withHash.map((id) => hashes.get(id)!), 0);
    const missing = new Set(read.missing);
    const present = withHash.filter((_, i) => !missing.has(i));
    const data = new Float32Array(present.length * read.dim);
    let r = 0;
    withHash.forEach((_, i) => {
      if (!missing.has(i)) data.set(read.data.subarray(i * read.dim, (i + 1) * read.dim), r++ * read.dim);
    });
    const groupOfId = new Map(labelledRows.map((r) => [r.imageId, groupOf(r) === 'test' ? 1 : 0]));
    const found = await search({ data, n: present.length, dim: read.dim, k: storedK, group: Int32Array.from(present, (id) => groupOfId.get(id)!) });
    rows = present.map((imageId, i) => {
      const k = found.k;
      const list = [...found.index.subarray(i * k, (i + 1) * k)].filter((j) => j >= 0);
      return { imageId, neighbours: Int32Array.from(list, (j) => present[j]!), similarities: found.similarity.slice(i * k, i * k + list.length) };
    });
    note = `Nearest images by cosine similarity of the ${key.key.split('@')[0]} embeddings (${read.dim} values), train+valid and test apart${missing.size > 0 ? `; ${missing.size} images without a vector have no neighbours` : ''}.`;
  }
  if (!db.readonly) saveNeighbours(db, run.id, { embedding: key?.key ?? null, k: storedK, note }, rows);
  return { rows: key ? new Map(rows.map((r) => [r.imageId, { ids: r.neighbours, similarities: r.similarities }])) : null, note };
}

/**
 * Earlier finished runs' out-of-sample probabilities of the same images, in this run's class order
 * (classes it lacks count as 0); null when there is no earlier finished run with the same classes.
 */
function ensembleOf(db: Db, run: RunSummary, ids: readonly ImageId[]): Array<Float32Array[]> | null {
  const others = listRuns(db).filter((r) => r.id < run.id && r.status === 'done' && r.task === 'classification' && r.classes.some((c) => run.classes.includes(c)));
  if (others.length === 0) return null;
  const index = new Map(ids.map((id, i) => [id, i]));
  const out: Array<Float32Array[]> = ids.map(() => []);
  for (const other of others) {
    const map = run.classes.map((c) => other.classes.indexOf(c));
    for (const r of readPredictions(db, other.id)) {
      const i = index.get(r.imageId);
      if (i === undefined) continue;
      const p = floats(r.probabilities);
      out[i]!.push(Float32Array.from(map, (j) => (j >= 0 ? p[j]! : 0)));
    }
  }
  return out;
}
