/**
 * The hot queries' plans: each one is recorded as the store prepares it (the real SQL, not a copy),
 * then run through EXPLAIN QUERY PLAN. At 100,000 images a full scan or a sort in a temporary
 * B-tree is the difference between milliseconds and a stutter, so the plans are pinned here.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import type { Db } from '../../../src/main/store/db';
import { imageHistory } from '../../../src/main/store/history';
import { imageIds, imagePage } from '../../../src/main/store/images';
import type { ImageId } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addSyntheticImages } from '../../helpers/synthetic';

let core: Core;
let db: Db;
let recorded: string[];

beforeEach(async () => {
  core = new Core();
  // A fresh file per test: the statement cache is per connection, so every query is prepared (and recorded) anew.
  await core.call('project:open', { file: path.join(tempDir(), 'plans.loupe'), create: true });
  db = core.requireProject().db;
  // Twenty classes, as a real dataset has: a class filter is then selective enough to start from.
  addSyntheticImages(
    db,
    Array.from({ length: 20 }, (_, c) => ({ name: c === 0 ? 'cat' : `class_${c}`, count: 50, split: (i: number) => (i % 10 === 0 ? 'valid' : 'train') })),
  );
  db.exec('ANALYZE');
  recorded = [];
  const prepare = db.prepare.bind(db);
  db.prepare = ((text: string) => {
    recorded.push(text);
    return prepare(text);
  }) as Db['prepare'];
});
afterEach(async () => {
  await core.shutdown();
});

/** The plan of the recorded statement that contains `marker`, as one string. */
function planOf(marker: string): string {
  const text = recorded.find((t) => t.includes(marker));
  expect(text, `a statement containing ${marker}`).toBeDefined();
  const params = (text!.match(/\?/g) ?? []).map(() => null);
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...params) as { detail: string }[];
  return rows.map((r) => r.detail).join(' | ');
}

describe('query plans', () => {
  it('a gallery page in id or path order walks an index, with no sort of the whole table', () => {
    imagePage(db, {}, 4000, 200, 'id');
    const byId = planOf('ORDER BY k, i.id LIMIT');
    expect(byId).toMatch(/images_status/);
    expect(byId).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
    recorded = [];
    // A second connection prepares again; the name order has its own statement text.
    imagePage(db, {}, 4000, 200, 'name');
    const byName = planOf('i.path AS k');
    expect(byName).toMatch(/images_path/);
  });

  it('a class filter finds its class by name and every other row by key: no table is scanned', () => {
    imagePage(db, { className: 'cat', split: 'train' }, 0, 200, 'id');
    const plan = planOf('SELECT count(*) AS n FROM images i JOIN labels');
    expect(plan).toMatch(/SEARCH c USING (COVERING )?INDEX sqlite_autoindex_classes_1 \(name=\?/);
    expect(plan).not.toMatch(/\bSCAN\b/);
  });

  it('select-all, image history and the change log use their indexes', () => {
    imageIds(db, { split: 'train' });
    expect(planOf('SELECT i.id FROM images i')).toMatch(/splits_split|images_status/);
    imageHistory(db, 1 as ImageId);
    expect(planOf('WHERE c.image_id = ?')).toMatch(/SEARCH c USING INDEX changes_image/);
  });
});
