import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultRatios, planMissingSplits } from '../../../src/main/dataset/split';
import type { FieldChange } from '../../../src/main/store/changes';
import type { Db } from '../../../src/main/store/db';
import { openProject, type Project } from '../../../src/main/store/project';
import type { SplitName } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';

const open: Project[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

/** A project whose images are given straight in SQL: per class, `n` images, the first ones with preset splits. */
function makeDb(classes: Record<string, { n: number; preset?: SplitName[] }>, extra: { values?: number[] } = {}): Db {
  const project = openProject(path.join(tempDir(), 'p.loupe'), { create: true });
  open.push(project);
  const { db } = project;
  const insertImage = db.prepare(
    "INSERT INTO images (path, source, content_hash, bytes, mtime_ms, status, created_at) VALUES (?, 's', ?, 1, 1, ?, 1)",
  );
  let k = 0;
  for (const [name, spec] of Object.entries(classes)) {
    const classId = Number(db.prepare('INSERT INTO classes (name, created_at) VALUES (?, 1)').run(name).lastInsertRowid);
    for (let i = 0; i < spec.n; i++) {
      const id = Number(insertImage.run(`${name}/${i}.png`, `hash-${k++}`, 'active').lastInsertRowid);
      db.prepare('INSERT INTO labels (image_id, class_id) VALUES (?, ?)').run(id, classId);
      const preset = spec.preset?.[i];
      if (preset) db.prepare('INSERT INTO splits (image_id, split) VALUES (?, ?)').run(id, preset);
    }
  }
  for (const value of extra.values ?? []) {
    const id = Number(insertImage.run(`values/${k}.png`, `hash-${k++}`, 'active').lastInsertRowid);
    db.prepare('INSERT INTO labels (image_id, value) VALUES (?, ?)').run(id, value);
  }
  return db;
}

/** Per class name: the split counts after applying `changes` on top of the stored splits. */
function countsAfter(db: Db, changes: FieldChange[]): Map<string, Record<SplitName, number>> {
  const planned = new Map(changes.map((c) => [c.imageId as number, c.value as SplitName]));
  const rows = db
    .prepare(
      `SELECT i.id, coalesce(c.name, 'none') AS name, s.split FROM images i LEFT JOIN labels l ON l.image_id = i.id
         LEFT JOIN classes c ON c.id = l.class_id LEFT JOIN splits s ON s.image_id = i.id WHERE i.status = 'active'`,
    )
    .all() as { id: number; name: string; split: SplitName | null }[];
  const out = new Map<string, Record<SplitName, number>>();
  for (const row of rows) {
    const split = row.split ?? planned.get(row.id);
    expect(split, `image ${row.id} has a split`).toBeDefined();
    const counts = out.get(row.name) ?? { train: 0, valid: 0, test: 0 };
    counts[split!]++;
    out.set(row.name, counts);
  }
  return out;
}

describe('planMissingSplits', () => {
  it('is stratified: every class is within one image of the ideal 80/10/10', () => {
    const sizes = { a: 1, b: 2, c: 7, d: 13, e: 50, f: 101, g: 333 };
    const db = makeDb(Object.fromEntries(Object.entries(sizes).map(([k, n]) => [k, { n }])));
    const changes = planMissingSplits(db, 1);
    expect(changes).toHaveLength(Object.values(sizes).reduce((a, b) => a + b, 0));
    expect(changes.every((c) => c.field === 'split')).toBe(true);
    expect(new Set(changes.map((c) => c.imageId)).size).toBe(changes.length);
    const counts = countsAfter(db, changes);
    for (const [name, n] of Object.entries(sizes)) {
      const c = counts.get(name)!;
      expect(c.train + c.valid + c.test).toBe(n);
      for (const split of ['train', 'valid', 'test'] as const) {
        expect(Math.abs(c[split] - defaultRatios[split] * n), `${name} ${split}`).toBeLessThan(1 + 1e-9);
      }
    }
    expect(counts.get('e')).toEqual({ train: 40, valid: 5, test: 5 });
  });

  it('is deterministic for a seed and differs for another seed', () => {
    const db = makeDb({ a: { n: 60 }, b: { n: 40 } });
    const first = planMissingSplits(db, 7);
    const again = planMissingSplits(db, 7);
    expect(again).toEqual(first);
    const other = planMissingSplits(db, 8);
    // Same class totals, different members.
    expect(countsAfter(db, other)).toEqual(countsAfter(db, first));
    const byId = (changes: FieldChange[]) => changes.map((c) => `${c.imageId}:${c.value}`).sort();
    expect(byId(other)).not.toEqual(byId(first));
  });

  it('the same images in a second project get the same splits for the same seed', () => {
    const spec = { a: { n: 30 }, b: { n: 20 } };
    const one = planMissingSplits(makeDb(spec), 3);
    const two = planMissingSplits(makeDb(spec), 3);
    expect(two.map((c) => [c.imageId, c.value]).sort()).toEqual(one.map((c) => [c.imageId, c.value]).sort());
  });

  it('fills toward the targets counting splits the class already has', () => {
    // a: 10 already in train, 10 without: the whole class should end near 16/2/2.
    // b: 5 already in test, 15 without: test is over target, so none of the new ones go there.
    const db = makeDb({
      a: { n: 20, preset: Array(10).fill('train') },
      b: { n: 20, preset: Array(5).fill('test') },
    });
    const changes = planMissingSplits(db, 1);
    expect(changes).toHaveLength(25);
    const counts = countsAfter(db, changes);
    expect(counts.get('a')).toEqual({ train: 16, valid: 2, test: 2 });
    // b's targets are 16/2/2; test is 3 over and cannot give any back, so the 15 new images go to train and
    // valid, each ending within one image of its target (13/2/5 or 14/1/5), never starving valid.
    const b = counts.get('b')!;
    expect(b.test).toBe(5);
    expect(b.train + b.valid).toBe(15);
    expect(Math.abs(b.valid - 2), `b valid ${JSON.stringify(b)}`).toBeLessThanOrEqual(1);
    const db2 = makeDb({ a: { n: 20, preset: Array(20).fill('valid') } });
    expect(planMissingSplits(db2, 1)).toEqual([]);
  });

  it('only plans for active images', () => {
    const db = makeDb({ a: { n: 10 } });
    db.prepare("UPDATE images SET status = 'removed' WHERE id <= 3").run();
    db.prepare("UPDATE images SET status = 'unreadable' WHERE id = 4").run();
    const changes = planMissingSplits(db, 1);
    expect(changes.map((c) => c.imageId).sort((x, y) => x - y)).toEqual([5, 6, 7, 8, 9, 10]);
  });

  it('stratifies regression targets by value decile', () => {
    const values = Array.from({ length: 200 }, (_, i) => i);
    const db = makeDb({}, { values });
    const changes = planMissingSplits(db, 1);
    expect(changes).toHaveLength(200);
    const valueOf = new Map(
      (db.prepare('SELECT image_id AS id, value FROM labels').all() as { id: number; value: number }[]).map((r) => [
        r.id,
        r.value,
      ]),
    );
    // Each decile (20 images) gets 16/2/2, so every split spans the whole range.
    for (let decile = 0; decile < 10; decile++) {
      const inDecile = changes.filter((c) => Math.floor(valueOf.get(c.imageId)! / 20) === decile);
      const counts = { train: 0, valid: 0, test: 0 };
      for (const c of inDecile) counts[c.value as SplitName]++;
      expect(counts, `decile ${decile}`).toEqual({ train: 16, valid: 2, test: 2 });
    }
  });
});
