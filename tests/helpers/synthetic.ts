/**
 * Synthetic projects: image rows written straight into a real project file (no pixels), for tests
 * and benchmarks of queries, splits and the change log at sizes that real images would make slow.
 */
import type { Db } from '../../src/main/store/db';
import type { SplitName } from '../../src/shared/types';

/** One class of synthetic images. */
export interface SyntheticClass {
  name: string;
  count: number;
  /** Split of image i, or null for none. */
  split?: (i: number) => SplitName | null;
}

/**
 * Inserts images (status active, sizes varying, hashes unique unless `duplicates` says otherwise),
 * labels and splits in one transaction. Returns the image ids per class, in insertion order.
 */
export function addSyntheticImages(
  db: Db,
  classes: SyntheticClass[],
  options: { duplicateOf?: (globalIndex: number) => number | null } = {},
): Map<string, number[]> {
  const insertImage = db.prepare(
    `INSERT INTO images (path, source, content_hash, perceptual_hash, width, height, bytes, mtime_ms, status, created_at)
     VALUES (?, 'synthetic', ?, ?, ?, ?, ?, 1, 'active', 1)`,
  );
  const insertClass = db.prepare('INSERT INTO classes (name, created_at) VALUES (?, 1)');
  const insertLabel = db.prepare('INSERT INTO labels (image_id, class_id) VALUES (?, ?)');
  const insertSplit = db.prepare('INSERT INTO splits (image_id, split) VALUES (?, ?)');
  const ids = new Map<string, number[]>();
  let k = 0;
  db.transaction(() => {
    for (const cls of classes) {
      const classId = Number(insertClass.run(cls.name).lastInsertRowid);
      const list: number[] = [];
      for (let i = 0; i < cls.count; i++, k++) {
        const twin = options.duplicateOf?.(k) ?? null;
        const hashIndex = twin ?? k;
        const id = Number(
          insertImage.run(
            `${cls.name}/img_${String(i).padStart(6, '0')}.jpg`,
            `content-${hashIndex}`,
            (0x1000000000000000n + BigInt(hashIndex) * 7919n).toString(16).slice(-16),
            100 + (k % 50),
            80 + ((k * 7) % 60),
            1000 + (k % 9000),
          ).lastInsertRowid,
        );
        insertLabel.run(id, classId);
        const split = cls.split?.(i) ?? null;
        if (split) insertSplit.run(id, split);
        list.push(id);
      }
      ids.set(cls.name, list);
    }
  })();
  return ids;
}
