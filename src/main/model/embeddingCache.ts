/**
 * The embedding cache, in the project: vectors keyed by (backbone key, content hash, view), so they
 * survive renames and moves, are shared by identical files, and are invalidated only when the image
 * (its hash) or the backbone (its key carries the weights' checksum) changes.
 */
import { write, type Db } from '../store/db';
import { sql } from '../store/statements';

/** Which of `hashes` (for one view) have no vector for this backbone yet. */
export function missingEmbeddings(db: Db, backbone: string, hashes: readonly string[], view: number): string[] {
  const has = sql(db, 'SELECT 1 FROM embeddings WHERE backbone = ? AND content_hash = ? AND view = ?');
  return hashes.filter((h) => !has.get(backbone, h, view));
}

/** Stores vectors in one transaction. */
export function putEmbeddings(db: Db, backbone: string, rows: ReadonlyArray<{ hash: string; view: number; vector: Float32Array }>): void {
  const insert = sql(db, 'INSERT OR REPLACE INTO embeddings (backbone, content_hash, view, dim, vector) VALUES (?, ?, ?, ?, ?)');
  write(db, () => {
    for (const row of rows) {
      insert.run(backbone, row.hash, row.view, row.vector.length, Buffer.from(row.vector.buffer, row.vector.byteOffset, row.vector.byteLength));
    }
  });
}

/** Reads vectors for `hashes` into one row-major matrix; missing ones are reported, not filled. */
export function readEmbeddings(db: Db, backbone: string, hashes: readonly string[], view: number): { data: Float32Array; dim: number; missing: number[] } {
  const get = sql(db, 'SELECT dim, vector FROM embeddings WHERE backbone = ? AND content_hash = ? AND view = ?');
  let dim = 0;
  const vectors: Array<Float32Array | null> = hashes.map((h) => {
    const row = get.get(backbone, h, view) as { dim: number; vector: Buffer } | undefined;
    if (!row) return null;
    dim = row.dim;
    return new Float32Array(row.vector.buffer.slice(row.vector.byteOffset, row.vector.byteOffset + row.vector.byteLength));
  });
  const data = new Float32Array(hashes.length * dim);
  const missing: number[] = [];
  vectors.forEach((v, i) => (v ? data.set(v, i * dim) : missing.push(i)));
  return { data, dim, missing };
}

/** How many vectors a backbone has cached. */
export function countEmbeddings(db: Db, backbone: string): number {
  return (sql(db, 'SELECT count(*) AS n FROM embeddings WHERE backbone = ?').get(backbone) as { n: number }).n;
}
