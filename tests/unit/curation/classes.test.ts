import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import type { ImageId } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addSyntheticImages } from '../../helpers/synthetic';

let core: Core;
let ids: Map<string, number[]>;

beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'c.loupe'), create: true });
  ids = addSyntheticImages(core.requireProject().db, [
    { name: 'cat', count: 30, split: (i) => (i < 24 ? 'train' : i < 27 ? 'valid' : 'test') },
    { name: 'kitten', count: 10, split: (i) => (i < 8 ? 'train' : 'valid') },
    { name: 'dog', count: 20, split: () => 'train' },
  ]);
});
afterEach(async () => {
  await core.shutdown();
});

function labels(): Map<number, string | null> {
  const rows = core
    .requireProject()
    .db.prepare('SELECT i.id, c.name FROM images i LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id')
    .all() as { id: number; name: string | null }[];
  return new Map(rows.map((r) => [r.id, r.name]));
}

const names = async () => (await core.call('classes:list', {})).map((c) => c.name);

describe('classes', () => {
  it('lists classes with active counts per split and removed images', async () => {
    await core.call('images:remove', { ids: [ids.get('dog')![0]! as ImageId] });
    const list = await core.call('classes:list', {});
    expect(list.find((c) => c.name === 'cat')).toMatchObject({ train: 24, valid: 3, test: 3, total: 30, removed: 0 });
    expect(list.find((c) => c.name === 'dog')).toMatchObject({ train: 19, total: 19, removed: 1 });
  });

  it('previews a merge, merges in one batch, and undo restores every label', async () => {
    const before = labels();
    const preview = await core.call('classes:previewMerge', { from: 'kitten', into: 'cat' });
    expect(preview).toMatchObject({ from: 'kitten', into: 'cat', images: 10, after: { train: 32, valid: 5, test: 3 } });
    expect(labels()).toEqual(before);
    const batches = () => (core.requireProject().db.prepare("SELECT count(*) AS n FROM batches WHERE kind = 'edit'").get() as { n: number }).n;
    const merged = await core.call('classes:merge', { from: 'kitten', into: 'cat' });
    expect(merged).toMatchObject({ changed: 10, description: 'Merged kitten into cat (10 images)' });
    expect(batches()).toBe(1);
    expect(await names()).toEqual(['cat', 'dog']);
    expect((await core.call('classes:list', {})).find((c) => c.name === 'cat')!.total).toBe(40);
    await core.call('changes:undo', {});
    expect(labels()).toEqual(before);
    expect(await names()).toEqual(['cat', 'dog', 'kitten']);
    await core.call('changes:redo', {});
    expect([...labels().values()].filter((n) => n === 'kitten')).toHaveLength(0);
  });

  it('renames a class (undoably) and refuses a name that is taken', async () => {
    await core.call('classes:rename', { from: 'dog', to: 'puppy' });
    expect(await names()).toEqual(['cat', 'kitten', 'puppy']);
    await expect(core.call('classes:rename', { from: 'puppy', to: 'cat' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await core.call('changes:undo', {});
    expect(await names()).toEqual(['cat', 'dog', 'kitten']);
  });

  it('a merged-away name can be used again, and undo gives everything back', async () => {
    const before = labels();
    await core.call('classes:merge', { from: 'kitten', into: 'cat' });
    // Relabelling into the old name brings that class back in the same batch.
    await core.call('images:relabel', { ids: [ids.get('dog')![0]! as ImageId], className: 'kitten' });
    expect(await names()).toEqual(['cat', 'dog', 'kitten']);
    await core.call('changes:undo', {});
    await core.call('changes:undo', {});
    expect(labels()).toEqual(before);
    expect(await names()).toEqual(['cat', 'dog', 'kitten']);
  });

  it('deletes only an empty class', async () => {
    await expect(core.call('classes:delete', { name: 'dog' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await core.call('classes:create', { name: 'bird' });
    expect(await names()).toContain('bird');
    await core.call('classes:delete', { name: 'bird' });
    expect(await names()).not.toContain('bird');
    await core.call('changes:undo', {});
    expect(await names()).toContain('bird');
  });

  it('names the known classes when one is unknown', async () => {
    await expect(core.call('classes:merge', { from: 'catt', into: 'dog' })).rejects.toThrow(/Unknown class "catt". Known classes: cat, dog, kitten/);
  });
});

describe('class names through undo and redo', () => {
  it('a rename never jams undo when a class of the old name was created and undone since', async () => {
    await core.call('classes:rename', { from: 'cat', to: 'feline' });
    await core.call('images:relabel', { ids: [ids.get('dog')![0]! as ImageId], className: 'cat' });
    expect(await names()).toEqual(['cat', 'dog', 'feline', 'kitten']);
    await core.call('changes:undo', {});
    // The new "cat" was born in the undone batch: it is hidden again.
    expect(await names()).toEqual(['dog', 'feline', 'kitten']);
    const undone = await core.call('changes:undo', {});
    expect(undone.changed).toBeGreaterThan(0);
    expect(await names()).toEqual(['cat', 'dog', 'kitten']);
    expect(labels().get(ids.get('cat')![0]!)).toBe('cat');
    await core.call('changes:redo', {});
    expect(await names()).toEqual(['dog', 'feline', 'kitten']);
  });

  it('creating a class is an undoable edit', async () => {
    await core.call('classes:create', { name: 'bird' });
    expect(await names()).toContain('bird');
    await core.call('changes:undo', {});
    expect(await names()).not.toContain('bird');
    await core.call('changes:redo', {});
    expect(await names()).toContain('bird');
  });

  it('refuses to rename onto a visible class, with a clear message', async () => {
    await expect(core.call('classes:rename', { from: 'cat', to: 'dog' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
