import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { exportDataset } from '../../../src/main/dataset/export';
import { LoupeError } from '../../../src/shared/errors';
import type { ImageId, ImportSummary } from '../../../src/shared/types';
import { snapshotFiles, tempDir, writeClassFolders, writeImage } from '../../helpers/fixtures';

const cores: Core[] = [];
afterEach(async () => {
  for (const core of cores.splice(0)) await core.shutdown();
});

async function projectWith(source: string, dir = tempDir()): Promise<Core> {
  const core = new Core();
  cores.push(core);
  await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  const { jobId } = await core.call('dataset:import', { source });
  const job = await core.jobs.finished(jobId);
  expect(job.state, JSON.stringify(job.error)).toBe('done');
  return core;
}

function idOf(core: Core, p: string): ImageId {
  return (core.requireProject().db.prepare('SELECT id FROM images WHERE path = ?').get(p) as { id: ImageId }).id;
}

async function errorOf(promise: Promise<unknown>): Promise<LoupeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LoupeError);
  return error as LoupeError;
}

describe('export', () => {
  it('a CSV export imports again into a new project with the same labels and splits', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['cat', 'dog'], 5, 'splits');
    const core = await projectWith(data, fs.mkdtempSync(path.join(dir, 'one-')));
    await core.call('images:remove', { ids: [idOf(core, 'train/cat/cat_2.png')] });
    const out = path.join(dir, 'exported');
    await core.call('dataset:export', { format: 'csv', out });
    const before = await core.call('dataset:stats', {});

    const again = await projectWith(path.join(out, 'labels.csv'), fs.mkdtempSync(path.join(dir, 'two-')));
    const job = (await again.call('jobs:list', {}))[0]!;
    expect(job.result as ImportSummary).toMatchObject({ kind: 'csv-labels', added: 9 });
    const after = await again.call('dataset:stats', {});
    expect(after.classes).toEqual(before.classes);
  });

  it('regression projects export path,value,split', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    for (let i = 0; i < 3; i++) await writeImage(path.join(data, `${i}.png`), i);
    fs.writeFileSync(path.join(data, 'v.csv'), 'path,value\n0.png,1.5\n1.png,2\n2.png,-4\n');
    const core = await projectWith(path.join(data, 'v.csv'));
    const out = path.join(dir, 'out');
    await core.call('dataset:export', { format: 'csv', out });
    const lines = fs.readFileSync(path.join(out, 'labels.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('path,value,split');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 2))).toEqual([
      ['../data/0.png', '1.5'],
      ['../data/1.png', '2'],
      ['../data/2.png', '-4'],
    ]);
  });

  it('folders: files with the same name in two classes are both kept; hard links share the original', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    // Both land in the same split/class folder after a relabel.
    await writeImage(path.join(data, 'cat', 'same.png'), 1);
    await writeImage(path.join(data, 'dog', 'same.png'), 2);
    const core = await projectWith(data);
    await core.call('images:relabel', { ids: [idOf(core, 'cat/same.png'), idOf(core, 'dog/same.png')], className: 'pet' });
    const splits = core
      .requireProject()
      .db.prepare("UPDATE splits SET split = 'train'")
      .run();
    expect(splits.changes).toBe(2);
    const out = path.join(dir, 'out');
    const result = await core.call('dataset:export', { format: 'folders', out, link: 'hardlink' });
    expect(result.files).toBe(2);
    const files = [...snapshotFiles(out).keys()].filter((f) => f !== 'manifest.json').sort();
    expect(files).toEqual([path.join('train', 'pet', `${idOf(core, 'dog/same.png')}_same.png`), path.join('train', 'pet', 'same.png')]);
    expect(fs.statSync(path.join(out, 'train', 'pet', 'same.png')).ino).toBe(fs.statSync(path.join(data, 'cat', 'same.png')).ino);
  });

  it('folders: a class name cannot write outside the output folder', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeImage(path.join(data, 'a.png'), 1);
    fs.writeFileSync(path.join(data, 'labels.csv'), 'path,label,split\na.png,../../escaped,train\n');
    const core = await projectWith(path.join(data, 'labels.csv'));
    const out = path.join(dir, 'deep', 'out');
    const result = await core.call('dataset:export', { format: 'folders', out }).catch((e: unknown) => e);
    // Either refused, or written inside `out`; never beside it.
    expect(fs.existsSync(path.join(dir, 'deep', 'escaped'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'escaped'))).toBe(false);
    if (!(result instanceof Error)) expect([...snapshotFiles(out).keys()].filter((f) => f !== 'manifest.json')).toHaveLength(1);
  });

  it('exporting folders twice into the same place is a readable error, not INTERNAL', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['a'], 2);
    const core = await projectWith(data);
    const out = path.join(dir, 'out');
    await core.call('dataset:export', { format: 'folders', out });
    const error = await errorOf(core.call('dataset:export', { format: 'folders', out }));
    expect(error.code).not.toBe('INTERNAL');
    expect(error.message).toContain(out);
  });

  it('needs an imported project', async () => {
    const core = new Core();
    cores.push(core);
    const dir = tempDir();
    await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
    const error = await errorOf(core.call('dataset:export', { format: 'csv', out: path.join(dir, 'out') }));
    expect(error.code).toBe('CONFLICT');
  });
});

describe('export into place', () => {
  it('gives classes whose names collide on disk (by separator or by case) folders of their own', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    for (const [i, name] of ['a.png', 'b.png', 'c.png'].entries()) await writeImage(path.join(data, name), i);
    fs.writeFileSync(path.join(data, 'labels.csv'), 'path,label,split\na.png,x/y,train\nb.png,x_y,train\nc.png,X_Y,train\n');
    const core = await projectWith(path.join(data, 'labels.csv'), dir);
    const out = path.join(dir, 'out');
    const result = await core.call('dataset:export', { format: 'folders', out });
    expect(result.files).toBe(3);
    const folders = fs.readdirSync(path.join(out, 'train')).sort();
    expect(folders).toHaveLength(3);
    expect(new Set(folders.map((f) => f.toLowerCase())).size).toBe(3);
  });

  it('leaves nothing behind when an export fails half way', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['cat', 'dog'], 5);
    const core = await projectWith(data, dir);
    // An original that vanished after import: its copy fails part way through the export.
    fs.rmSync(path.join(data, 'dog', 'dog_4.png'));
    const out = path.join(dir, 'out');
    const error = await errorOf(core.call('dataset:export', { format: 'folders', out }));
    expect(error.code).toBe('IO');
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});

describe('export as a job', () => {
  it('reports progress, and a cancelled export leaves nothing behind', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['cat', 'dog'], 10);
    const core = await projectWith(data, dir);
    const out = path.join(dir, 'out');
    const seen: number[] = [];
    const ctx = {
      progress: (_step: string, current: number) => seen.push(current),
      throwIfCancelled: () => {
        if (seen.length >= 5) throw new LoupeError('CANCELLED', 'export was cancelled.');
      },
    };
    const error = await errorOf(exportDataset(core.requireProject(), { format: 'folders', out }, ctx));
    expect(error.code).toBe('CANCELLED');
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.partial-'))).toEqual([]);
    // Through the core the export is a job the job list shows, and the request answers with its result.
    const updates: string[] = [];
    const unsubscribe = core.subscribe((event, payload) => {
      if (event === 'jobs:update') updates.push(`${(payload as { kind: string }).kind}:${(payload as { state: string }).state}`);
    });
    const result = await core.call('dataset:export', { format: 'folders', out });
    unsubscribe();
    expect(result.files).toBe(20);
    expect(updates).toContain('export:done');
  });
});
