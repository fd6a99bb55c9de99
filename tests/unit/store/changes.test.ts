import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { datasetVersion } from '../../../src/main/store/changes';
import { LoupeError } from '../../../src/shared/errors';
import type { ImageId, ImageStatus } from '../../../src/shared/types';
import { tempDir, writeClassFolders } from '../../helpers/fixtures';

interface Row {
  id: ImageId;
  path: string;
  label: string | null;
  status: ImageStatus;
}

let core: Core;

/** Every image with its class name and status, in id order. */
function snapshot(): Row[] {
  return core
    .requireProject()
    .db.prepare(
      `SELECT i.id, i.path, c.name AS label, i.status FROM images i
         LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id ORDER BY i.id`,
    )
    .all() as Row[];
}

function count(table: 'batches' | 'changes'): number {
  return (core.requireProject().db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

function editBatches(): { id: number; action: string; undone: number }[] {
  return core
    .requireProject()
    .db.prepare("SELECT id, action, undone FROM batches WHERE kind = 'edit' ORDER BY id")
    .all() as { id: number; action: string; undone: number }[];
}

function maxChangeId(): number {
  return (core.requireProject().db.prepare('SELECT coalesce(max(id), 0) AS v FROM changes').get() as { v: number }).v;
}

async function version(): Promise<number> {
  return (await core.call('dataset:stats', {})).version;
}

beforeEach(async () => {
  const dir = tempDir();
  await writeClassFolders(path.join(dir, 'data'), ['cat', 'dog'], 4);
  core = new Core();
  await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  const { jobId } = await core.call('dataset:import', { source: path.join(dir, 'data') });
  const job = await core.jobs.finished(jobId);
  expect(job.state).toBe('done');
});

afterEach(async () => {
  await core.shutdown();
});

describe('the change log through Core', () => {
  it('records one edit batch per relabel, remove and restore, with one change row per changed image', async () => {
    const before = snapshot();
    const cats = before.filter((r) => r.label === 'cat').map((r) => r.id);
    const batches0 = count('batches');
    const changes0 = count('changes');

    const relabel = await core.call('images:relabel', { ids: cats.slice(0, 3), className: 'dog' });
    expect(relabel.changed).toBe(3);
    expect(relabel.description).toBe('Relabelled 3 images as dog');
    expect(count('batches')).toBe(batches0 + 1);
    expect(count('changes')).toBe(changes0 + 3);

    const removed = await core.call('images:remove', { ids: [cats[3]!] });
    expect(removed.changed).toBe(1);
    expect(removed.description).toBe('Removed 1 image');
    const restored = await core.call('images:restore', { ids: [cats[3]!] });
    expect(restored.changed).toBe(1);
    expect(count('batches')).toBe(batches0 + 3);
    expect(count('changes')).toBe(changes0 + 5);
    expect(editBatches().map((b) => b.action)).toEqual(['relabel', 'remove', 'restore']);

    const stored = core
      .requireProject()
      .db.prepare(
        `SELECT c.image_id AS imageId, c.field, c.old_value AS oldValue, c.new_value AS newValue
           FROM changes c JOIN batches b ON b.id = c.batch_id WHERE b.action = 'remove'`,
      )
      .all();
    expect(stored).toEqual([{ imageId: cats[3], field: 'status', oldValue: 'active', newValue: 'removed' }]);

    const stats = await core.call('dataset:stats', {});
    expect(stats.classes.find((c) => c.name === 'cat')!.total).toBe(1);
    expect(stats.classes.find((c) => c.name === 'dog')!.total).toBe(7);
    expect(stats.removed).toBe(0);
  });

  it('walks undo and redo across mixed relabel and remove batches', async () => {
    const original = snapshot();
    const cats = original.filter((r) => r.label === 'cat').map((r) => r.id);
    const dogs = original.filter((r) => r.label === 'dog').map((r) => r.id);

    await core.call('images:relabel', { ids: cats.slice(0, 3), className: 'dog' });
    const afterRelabel = snapshot();
    await core.call('images:remove', { ids: dogs.slice(0, 2) });
    expect((await core.call('dataset:stats', {})).removed).toBe(2);

    const undo1 = await core.call('changes:undo', {});
    expect(undo1.description).toBe('Undid: Removed 2 images');
    expect(undo1.changed).toBe(2);
    expect(snapshot()).toEqual(afterRelabel);

    const undo2 = await core.call('changes:undo', {});
    expect(undo2.description).toBe('Undid: Relabelled 3 images as dog');
    expect(undo2.changed).toBe(3);
    expect(snapshot()).toEqual(original);

    const undo3 = await core.call('changes:undo', {});
    expect(undo3).toMatchObject({ description: 'Nothing to undo', changed: 0 });
    expect(snapshot()).toEqual(original);

    // Redo re-applies the most recently undone edit first: the relabel.
    const redo1 = await core.call('changes:redo', {});
    expect(redo1.description).toBe('Redid: Relabelled 3 images as dog');
    expect(snapshot()).toEqual(afterRelabel);

    const redo2 = await core.call('changes:redo', {});
    expect(redo2.description).toBe('Redid: Removed 2 images');
    const afterRemove = snapshot();
    expect(afterRemove.filter((r) => r.status === 'removed').map((r) => r.id)).toEqual(dogs.slice(0, 2));

    expect((await core.call('changes:redo', {})).description).toBe('Nothing to redo');
    // And the whole walk can be undone again.
    await core.call('changes:undo', {});
    await core.call('changes:undo', {});
    expect(snapshot()).toEqual(original);
  });

  it('a new edit after an undo clears the redo stack', async () => {
    const original = snapshot();
    const cats = original.filter((r) => r.label === 'cat').map((r) => r.id);
    await core.call('images:relabel', { ids: cats.slice(0, 2), className: 'dog' });
    await core.call('images:remove', { ids: [cats[3]!] });
    await core.call('changes:undo', {});
    await core.call('changes:undo', {});
    expect(snapshot()).toEqual(original);

    await core.call('images:remove', { ids: [cats[2]!] });
    const v = await version();
    const redo = await core.call('changes:redo', {});
    expect(redo).toEqual({ version: v, description: 'Nothing to redo', changed: 0 });
    expect(editBatches().map((b) => b.undone)).toEqual([2, 2, 0]);

    // Undo still works for the new edit, and then stops: the superseded edits are not undone twice.
    expect((await core.call('changes:undo', {})).description).toBe('Undid: Removed 1 image');
    expect((await core.call('changes:undo', {})).description).toBe('Nothing to undo');
    expect(snapshot()).toEqual(original);
  });

  it('the version is the last change id and grows on every edit, undo and redo', async () => {
    const db = core.requireProject().db;
    const ids = snapshot().map((r) => r.id);
    const seen: number[] = [await version()];
    expect(seen[0]).toBe(maxChangeId());
    expect(core.requireProject().info().version).toBe(seen[0]);

    const steps = [
      () => core.call('images:relabel', { ids: ids.slice(0, 3), className: 'bird' }),
      () => core.call('images:remove', { ids: ids.slice(4, 6) }),
      () => core.call('changes:undo', {}),
      () => core.call('changes:undo', {}),
      () => core.call('changes:redo', {}),
      () => core.call('images:restore', { ids: [ids[7]!] }), // already active: no-op
    ];
    for (const step of steps) {
      const result = await step();
      expect(result.version).toBe(maxChangeId());
      expect(result.version).toBe(datasetVersion(db));
      seen.push(result.version);
    }
    // Strictly increasing except for the last no-op.
    for (let i = 1; i < seen.length - 1; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(seen.at(-1)).toBe(seen.at(-2));
    expect(await version()).toBe(maxChangeId());
  });

  it('a no-op edit writes no batch and keeps the version', async () => {
    const rows = snapshot();
    const cats = rows.filter((r) => r.label === 'cat').map((r) => r.id);
    const v0 = await version();
    const batches0 = count('batches');

    const same = await core.call('images:relabel', { ids: cats, className: 'cat' });
    expect(same).toEqual({ version: v0, description: 'Nothing changed', changed: 0 });
    const restore = await core.call('images:restore', { ids: cats });
    expect(restore).toEqual({ version: v0, description: 'Nothing changed', changed: 0 });
    expect(count('batches')).toBe(batches0);
    expect(await version()).toBe(v0);

    // A partly no-op edit records only the images that change.
    await core.call('images:relabel', { ids: [cats[0]!], className: 'dog' });
    const mixed = await core.call('images:relabel', { ids: rows.map((r) => r.id), className: 'dog' });
    expect(mixed.changed).toBe(3);
    expect(mixed.version).toBe(v0 + 4);

    // A no-op edit does not clear the redo stack either.
    await core.call('changes:undo', {});
    await core.call('images:relabel', { ids: [cats[1]!], className: 'cat' });
    expect((await core.call('changes:redo', {})).changed).toBe(3);
  });

  it('edits naming an unknown image id are NOT_FOUND and write nothing', async () => {
    const ids = snapshot().map((r) => r.id);
    const unknown = (Math.max(...ids) + 100) as ImageId;
    const before = snapshot();
    const v0 = await version();
    const batches0 = count('batches');
    const classes0 = (await core.call('dataset:stats', {})).classes.map((c) => c.name);

    for (const call of [
      () => core.call('images:relabel', { ids: [ids[0]!, unknown], className: 'zebra' }),
      () => core.call('images:remove', { ids: [ids[0]!, unknown] }),
      () => core.call('images:restore', { ids: [unknown] }),
    ]) {
      const error = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LoupeError);
      expect((error as LoupeError).code).toBe('NOT_FOUND');
      expect((error as LoupeError).message).toContain(String(unknown));
    }
    expect(snapshot()).toEqual(before);
    expect(await version()).toBe(v0);
    expect(count('batches')).toBe(batches0);
    // No stray class either.
    expect((await core.call('dataset:stats', {})).classes.map((c) => c.name)).toEqual(classes0);
  });

  it('rejects invalid edit input before touching the project', async () => {
    const v0 = await version();
    await expect(core.call('images:relabel', { ids: [], className: 'dog' })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(core.call('images:relabel', { ids: [1], className: '   ' })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(core.call('images:remove', { ids: [0] })).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(await version()).toBe(v0);
  });
});
