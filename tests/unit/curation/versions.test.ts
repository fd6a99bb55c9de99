import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import type { ImageId } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addSyntheticImages } from '../../helpers/synthetic';
import { computeHealth } from '../../../src/main/health/service';

let core: Core;
let cats: ImageId[];
let dogs: ImageId[];

beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'v.loupe'), create: true });
  const ids = addSyntheticImages(core.requireProject().db, [
    { name: 'cat', count: 10, split: () => 'train' },
    { name: 'dog', count: 10, split: () => 'valid' },
  ]);
  cats = ids.get('cat')! as ImageId[];
  dogs = ids.get('dog')! as ImageId[];
});
afterEach(async () => {
  await core.shutdown();
});

const version = () => core.requireProject().info().version;

describe('dataset versions', () => {
  it('lists batches newest first with the version each produced', async () => {
    const a = await core.call('images:relabel', { ids: cats.slice(0, 3), className: 'dog' });
    const b = await core.call('images:remove', { ids: [dogs[0]!] });
    await core.call('changes:undo', {});
    const list = await core.call('versions:list', {});
    expect(list.version).toBe(version());
    expect(list.rows.map((r) => [r.kind, r.action, r.changes])).toEqual([
      ['undo', 'undo', 1],
      ['edit', 'remove', 1],
      ['edit', 'relabel', 3],
    ]);
    expect(list.rows[1]!.undone).toBe(true);
    expect(list.rows.map((r) => r.version)).toEqual([version(), b.version, a.version]);
    // Each batch also names the version just before it: its diff shows exactly what it did.
    expect(list.rows[2]!.previousVersion).toBe(a.version - 3);
    expect(list.rows[1]!.previousVersion).toBe(a.version);
  });

  it('diffs two versions exactly: net changes only, in both directions', async () => {
    const start = version();
    await core.call('images:relabel', { ids: cats.slice(0, 3), className: 'dog' });
    await core.call('images:relabel', { ids: [cats[0]!], className: 'cat' }); // back: no net change for cats[0]
    await core.call('images:remove', { ids: [dogs[0]!, dogs[1]!] });
    await core.call('images:restore', { ids: [dogs[1]!] });
    await core.call('splits:apply', { ratios: { train: 1, valid: 1, test: 0 }, locked: [], seed: 2 });
    const end = version();
    const diff = await core.call('versions:diff', { from: start, to: end });
    // Replaying the log by hand must give the same set of (image, field, from, to).
    const expected = new Map<string, [string | null, string | null]>();
    const db = core.requireProject().db;
    const rows = db
      .prepare('SELECT image_id AS imageId, field, old_value AS o, new_value AS n FROM changes WHERE id > ? AND id <= ? ORDER BY id')
      .all(start, end) as { imageId: number; field: string; o: string | null; n: string | null }[];
    for (const r of rows) {
      const key = `${r.imageId}:${r.field}`;
      const prev = expected.get(key);
      expected.set(key, [prev ? prev[0] : r.o, r.n]);
    }
    for (const [key, [o, n]] of expected) if (o === n) expected.delete(key);
    expect(diff.total).toBe(expected.size);
    expect(diff.counts.label).toBe(2);
    expect(diff.counts.status).toBe(1);
    expect(diff.rows.find((r) => r.imageId === cats[1] && r.field === 'class')).toMatchObject({ from: 'cat', to: 'dog' });
    expect(diff.rows.some((r) => r.imageId === cats[0] && r.field === 'class')).toBe(false);
    expect(diff.rows.find((r) => r.imageId === dogs[0] && r.field === 'status')).toMatchObject({ from: 'active', to: 'removed' });
    const back = await core.call('versions:diff', { from: end, to: start });
    expect(back.total).toBe(diff.total);
    expect(back.rows.find((r) => r.imageId === cats[1] && r.field === 'class')).toMatchObject({ from: 'dog', to: 'cat' });
    await expect(core.call('versions:diff', { from: 0, to: end + 5 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('shows an image history and reverts one change as a new, undoable edit', async () => {
    await core.call('images:relabel', { ids: [cats[0]!], className: 'dog' });
    await core.call('images:review', { ids: [cats[0]!], reviewed: true });
    const history = await core.call('images:history', { id: cats[0]! });
    const relabel = history.find((h) => h.field === 'class')!;
    expect(relabel).toMatchObject({ from: 'cat', to: 'dog', kind: 'edit', isCurrent: true });
    expect(history.find((h) => h.field === 'reviewed')).toMatchObject({ from: 'no', to: 'yes' });
    const reverted = await core.call('changes:revert', { changeId: relabel.changeId });
    expect(reverted.description).toMatch(/Reverted class of cat\/img_000000.jpg to cat/);
    expect((await core.call('images:get', { id: cats[0]! })).label).toBe('cat');
    // The review stays: only the one change was reverted.
    expect((await core.call('images:get', { id: cats[0]! })).reviewed).toBe(true);
    await core.call('changes:undo', {});
    expect((await core.call('images:get', { id: cats[0]! })).label).toBe('dog');
  });

  it('filters by reviewed, a health check and path, and sorts by name, size and a seeded shuffle', async () => {
    await core.call('images:review', { ids: cats.slice(0, 4), reviewed: true });
    const page = (input: Parameters<typeof core.call<'images:page'>>[1]) => core.call('images:page', input);
    expect((await page({ filter: { reviewed: true } })).total).toBe(4);
    expect((await page({ filter: { reviewed: false, className: 'cat' } })).total).toBe(6);
    expect((await page({ filter: { search: 'img_00000' } })).total).toBe(20);
    expect((await page({ filter: { search: 'dog/img_000003' } })).rows.map((r) => r.id)).toEqual([dogs[3]]);
    expect((await page({ filter: { search: '%' } })).total).toBe(0);
    const db = core.requireProject().db;
    db.prepare('UPDATE images SET width = 10, height = 300 WHERE id = ?').run(cats[9]);
    computeHealth(db);
    expect((await page({ filter: { health: 'tiny' } })).rows.map((r) => r.id)).toEqual([cats[9]]);
    expect((await page({ filter: { health: 'oddAspect' } })).rows.map((r) => r.id)).toEqual([cats[9]]);
    const byName = (await page({ sort: 'name', limit: 20 })).rows.map((r) => r.path);
    expect(byName).toEqual([...byName].sort());
    const bySize = (await page({ sort: 'size', limit: 20 })).rows.map((r) => (r.width ?? 0) * (r.height ?? 0));
    expect(bySize).toEqual([...bySize].sort((a, b) => a - b));
    const shuffled = (await page({ sort: 'random', seed: 1, limit: 20 })).rows.map((r) => r.id);
    expect((await page({ sort: 'random', seed: 1, limit: 20 })).rows.map((r) => r.id)).toEqual(shuffled);
    expect((await page({ sort: 'random', seed: 2, limit: 20 })).rows.map((r) => r.id)).not.toEqual(shuffled);
    expect([...shuffled].sort((a, b) => a - b)).toEqual([...cats, ...dogs]);
    expect((await core.call('images:ids', { filter: { className: 'dog' } })).ids).toEqual(dogs);
  });
});
