/**
 * Images with numeric values written straight into a real project file (rows, no pixels), for the
 * binning, histogram, value-edit and value-split tests.
 */
import type { Db } from '../../../src/main/store/db';
import type { ImageId, SplitName } from '../../../src/shared/types';

/**
 * Inserts one active image per entry of `values` (null: an image without a value), with the split
 * `split(i)` gives (default: train, train, train, valid, test in turn). Returns the ids in order.
 */
export function addValueImages(
  db: Db,
  values: readonly (number | null)[],
  split: (i: number) => SplitName | null = (i) => (['train', 'train', 'train', 'valid', 'test'] as const)[i % 5]!,
  prefix = 'val',
): ImageId[] {
  const insertImage = db.prepare(
    `INSERT INTO images (path, source, content_hash, perceptual_hash, width, height, bytes, mtime_ms, status, created_at)
     VALUES (?, 'synthetic', ?, ?, 32, 32, 1000, 1, 'active', 1)`,
  );
  const insertValue = db.prepare('INSERT INTO labels (image_id, class_id, value) VALUES (?, NULL, ?)');
  const insertSplit = db.prepare('INSERT INTO splits (image_id, split) VALUES (?, ?)');
  const ids: ImageId[] = [];
  db.transaction(() => {
    values.forEach((value, i) => {
      const hash = `${prefix}-${i}`;
      const id = Number(
        insertImage.run(`${prefix}/img_${String(i).padStart(5, '0')}.png`, hash, (0x2000000000000000n + BigInt(i) * 7919n).toString(16).slice(-16)).lastInsertRowid,
      ) as ImageId;
      if (value !== null) insertValue.run(id, value);
      const s = split(i);
      if (s) insertSplit.run(id, s);
      ids.push(id);
    });
  })();
  return ids;
}

/** A seeded shuffle of 0 .. n-1 scaled by `scale`: n distinct values in a random order. */
export function distinctValues(n: number, scale = 1, seed = 5): number[] {
  const values = Array.from({ length: n }, (_, i) => i * scale);
  let state = seed;
  for (let i = n - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}

/** Each active image's class name (null: none) and value, by id. */
export function labelsOf(db: Db): Map<ImageId, { className: string | null; value: number | null; split: SplitName | null }> {
  const rows = db
    .prepare(
      `SELECT i.id, c.name AS className, l.value, s.split FROM images i LEFT JOIN labels l ON l.image_id = i.id
         LEFT JOIN classes c ON c.id = l.class_id LEFT JOIN splits s ON s.image_id = i.id WHERE i.status = 'active'`,
    )
    .all() as { id: ImageId; className: string | null; value: number | null; split: SplitName | null }[];
  return new Map(rows.map((r) => [r.id, { className: r.className, value: r.value, split: r.split }]));
}
