import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { planRebalance } from '../../../src/main/dataset/rebalance';
import type { Db } from '../../../src/main/store/db';
import type { SplitName } from '../../../src/shared/types';
import { splitNames } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addSyntheticImages } from '../../helpers/synthetic';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

async function project(): Promise<Db> {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'r.loupe'), create: true });
  return core.requireProject().db;
}

function splitsOf(db: Db): Map<number, { split: SplitName | null; cls: string }> {
  const rows = db
    .prepare(
      `SELECT i.id, s.split, c.name AS cls FROM images i JOIN labels l ON l.image_id = i.id
         JOIN classes c ON c.id = l.class_id LEFT JOIN splits s ON s.image_id = i.id`,
    )
    .all() as { id: number; split: SplitName | null; cls: string }[];
  return new Map(rows.map((r) => [r.id, { split: r.split, cls: r.cls }]));
}

function counts(db: Db): Map<string, Record<SplitName, number>> {
  const out = new Map<string, Record<SplitName, number>>();
  for (const { split, cls } of splitsOf(db).values()) {
    const row = out.get(cls) ?? { train: 0, valid: 0, test: 0 };
    if (split) row[split]++;
    out.set(cls, row);
  }
  return out;
}

// Everything starts in train: the worst case for a split.
const allTrain = () => 'train' as const;

describe('rebalance', () => {
  it('is stratified: every class lands within one image of its ideal count in every split', async () => {
    const db = await project();
    const sizes = { a: 101, b: 37, c: 8, d: 1, e: 250 };
    addSyntheticImages(db, Object.entries(sizes).map(([name, count]) => ({ name, count, split: allTrain })));
    await core!.call('splits:apply', { ratios: { train: 70, valid: 15, test: 15 }, locked: [], seed: 3 });
    for (const [name, row] of counts(db)) {
      const n = sizes[name as keyof typeof sizes];
      for (const [split, share] of [['train', 0.7], ['valid', 0.15], ['test', 0.15]] as const) {
        expect(Math.abs(row[split] - share * n), `${name} ${split}: ${JSON.stringify(row)}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('never moves an image of a locked split, and fills the others by their renormalised ratios', async () => {
    const db = await project();
    addSyntheticImages(db, [
      { name: 'a', count: 100, split: (i) => (i < 30 ? 'test' : 'train') },
      { name: 'b', count: 60, split: (i) => (i < 3 ? 'test' : i < 50 ? 'train' : 'valid') },
    ]);
    const before = splitsOf(db);
    const plan = planRebalance(db, { ratios: { train: 80, valid: 10, test: 10 }, locked: ['test'], seed: 1 });
    expect(plan.changes.every((c) => before.get(c.imageId)!.split !== 'test')).toBe(true);
    expect(plan.changes.every((c) => c.value !== 'test')).toBe(true);
    await core!.call('splits:apply', { ratios: { train: 80, valid: 10, test: 10 }, locked: ['test'], seed: 1 });
    const after = splitsOf(db);
    for (const [id, was] of before) if (was.split === 'test') expect(after.get(id)!.split).toBe('test');
    const c = counts(db);
    // 70 unlocked images of a: 8/9 train, 1/9 valid.
    expect(c.get('a')).toEqual({ train: 62, valid: 8, test: 30 });
    expect(Math.abs(c.get('b')!.valid - 57 / 9)).toBeLessThanOrEqual(1);
    expect(c.get('b')!.test).toBe(3);
  });

  it('keeps images with the same content in one split; an equal dHash alone groups nothing', async () => {
    const db = await project();
    // Every 5th image duplicates the one before it: 40 pairs among 200 images.
    addSyntheticImages(db, [{ name: 'a', count: 120, split: allTrain }, { name: 'b', count: 80, split: allTrain }], {
      duplicateOf: (k) => (k % 5 === 4 ? k - 1 : null),
    });
    // An equal dHash with different content: noise on plain images, not a duplicate (issue 14).
    db.prepare("UPDATE images SET perceptual_hash = (SELECT perceptual_hash FROM images WHERE id = 1) WHERE id = 2").run();
    const plan = planRebalance(db, { ratios: { train: 60, valid: 20, test: 20 }, locked: [], seed: 9 });
    expect(plan.duplicateGroups).toBe(40);
    await core!.call('splits:apply', { ratios: { train: 60, valid: 20, test: 20 }, locked: [], seed: 9 });
    const groups = db
      .prepare(
        `SELECT content_hash AS hash, count(DISTINCT s.split) AS splits FROM images i JOIN splits s ON s.image_id = i.id
          GROUP BY content_hash HAVING count(*) > 1`,
      )
      .all() as { hash: string; splits: number }[];
    expect(groups).toHaveLength(40);
    expect(groups.every((g) => g.splits === 1)).toBe(true);
  });

  it('never moves an unlocked duplicate into a locked split: it is reported as leakage', async () => {
    const db = await project();
    addSyntheticImages(db, [{ name: 'a', count: 20, split: (i) => (i === 0 ? 'test' : 'train') }], {
      duplicateOf: (k) => (k === 1 ? 0 : null),
    });
    const plan = planRebalance(db, { ratios: { train: 80, valid: 10, test: 10 }, locked: ['test'], seed: 1 });
    expect(plan.joinedLocked).toBe(0);
    expect(plan.leakingLocked).toBe(1);
    expect(plan.changes.find((c) => c.imageId === 2)?.value).not.toBe('test');
    expect(plan.after.find((r) => r.name === 'a')!.counts.test).toBe(1);
  });

  it('is deterministic for a seed and differs for another', async () => {
    const db = await project();
    addSyntheticImages(db, [{ name: 'a', count: 200, split: allTrain }]);
    const options = { ratios: { train: 80, valid: 10, test: 10 }, locked: [] as SplitName[] };
    const first = planRebalance(db, { ...options, seed: 5 }).changes;
    expect(planRebalance(db, { ...options, seed: 5 }).changes).toEqual(first);
    expect(planRebalance(db, { ...options, seed: 6 }).changes).not.toEqual(first);
  });

  it('previews the new table without changing anything, then applies it as one undoable batch', async () => {
    const db = await project();
    addSyntheticImages(db, [{ name: 'a', count: 50, split: allTrain }]);
    const version = core!.requireProject().info().version;
    const plan = await core!.call('splits:plan', { ratios: { train: 80, valid: 10, test: 10 }, locked: [], seed: 1 });
    expect(plan.moved).toBe(10);
    expect(plan.after.find((r) => r.name === 'a')!.counts).toEqual({ train: 40, valid: 5, test: 5 });
    expect(core!.requireProject().info().version).toBe(version);
    const applied = await core!.call('splits:apply', { ratios: { train: 80, valid: 10, test: 10 }, locked: [], seed: 1 });
    expect(applied.changed).toBe(10);
    expect(counts(db).get('a')).toEqual({ train: 40, valid: 5, test: 5 });
    await core!.call('changes:undo', {});
    expect(counts(db).get('a')).toEqual({ train: 50, valid: 0, test: 0 });
  });

  it('refuses ratios that are all zero and locking every split', async () => {
    await project();
    await expect(core!.call('splits:plan', { ratios: { train: 0, valid: 0, test: 0 }, locked: [], seed: 1 })).rejects.toThrow(/all be zero/);
    await expect(core!.call('splits:plan', { ratios: { train: 8, valid: 1, test: 1 }, locked: [...splitNames], seed: 1 })).rejects.toThrow(/unlocked/);
  });
});
