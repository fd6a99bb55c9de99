/** Files outside the dataset: links, CSV rows and odd names, judged by real paths and path segments. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { startServer, type LoupeServer } from '../../../src/main/server/server';
import { relativeInside } from '../../../src/main/util/paths';
import { presetConfig } from '../../../src/shared/augment';
import { LoupeError } from '../../../src/shared/errors';
import type { ImageId, ImportSummary, JobInfo } from '../../../src/shared/types';
import { tempDir, writeImage } from '../../helpers/fixtures';

const cores: Core[] = [];
const servers: LoupeServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const core of cores.splice(0)) await core.shutdown();
});

async function newCore(dir: string): Promise<Core> {
  const core = new Core();
  cores.push(core);
  await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  return core;
}

async function runImport(core: Core, input: { source: string; root?: string }): Promise<ImportSummary> {
  const { jobId } = await core.call('dataset:import', input);
  const job: JobInfo = await core.jobs.finished(jobId);
  expect(job.error).toBeNull();
  return job.result as ImportSummary;
}

function rows(core: Core): Map<string, { id: ImageId; status: string; error: string | null; label: string | null }> {
  const all = core
    .requireProject()
    .db.prepare(
      `SELECT i.id, i.path, i.status, i.error, c.name AS label FROM images i
         LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id ORDER BY i.path`,
    )
    .all() as { id: ImageId; path: string; status: string; error: string | null; label: string | null }[];
  return new Map(all.map((r) => [r.path, r]));
}

function codeOf(action: () => unknown): string | null {
  try {
    action();
    return null;
  } catch (error) {
    return error instanceof LoupeError ? error.code : 'not a LoupeError';
  }
}

/** A project folder with `data/` (the dataset) beside `secret/` (files that must never be served). */
async function layout(): Promise<{ dir: string; data: string; secret: string }> {
  const dir = tempDir();
  const data = path.join(dir, 'data');
  const secret = path.join(dir, 'secret');
  await writeImage(path.join(data, 'cat', 'a.png'), 1);
  await writeImage(path.join(data, 'dog', 'b.png'), 2);
  await writeImage(path.join(secret, 'hidden.png'), 3);
  fs.writeFileSync(path.join(secret, 'passwords.txt'), 'TOP-SECRET-CONTENT\n');
  return { dir, data, secret };
}

describe('relativeInside compares path segments', () => {
  it('..name.png is inside; ../name.png, a sibling with the root as prefix and the root itself are not', () => {
    expect(relativeInside('/data', '/data/..name.png')).toBe('..name.png');
    expect(relativeInside('/data', '/data/cat/..x..png')).toBe('cat/..x..png');
    expect(relativeInside('/data', '/name.png')).toBeNull();
    expect(relativeInside('/data', '/data/../name.png')).toBeNull();
    expect(relativeInside('/data', '/data-other/x.png')).toBeNull();
    expect(relativeInside('/data', '/data')).toBeNull();
  });
});

describe('symbolic links in a folder import', () => {
  it('are counted and listed: outside and broken links refused, links inside imported, link loops not followed', async () => {
    const { dir, data, secret } = await layout();
    fs.symlinkSync(path.join(secret, 'hidden.png'), path.join(data, 'cat', 'out.png'));
    fs.symlinkSync(secret, path.join(data, 'leak'));
    fs.symlinkSync(path.join(data, 'gone.png'), path.join(data, 'cat', 'broken.png'));
    fs.symlinkSync(path.join(data, 'dog', 'b.png'), path.join(data, 'cat', 'alias.png'));
    fs.symlinkSync(data, path.join(data, 'dog', 'loop'));
    const core = await newCore(dir);
    const summary = await runImport(core, { source: data });

    expect([...rows(core).keys()]).toEqual(['cat/a.png', 'cat/alias.png', 'dog/b.png']);
    expect(rows(core).get('cat/alias.png')).toMatchObject({ status: 'active', label: 'cat' });
    expect(summary.skipped).toBe(4);
    expect(summary.skippedEntries.map((e) => [path.relative(data, e.path), e.cause])).toEqual([
      ['cat/broken.png', 'broken-link'],
      ['cat/out.png', 'outside-root'],
      ['dog/loop', 'repeated-folder'],
      ['leak', 'outside-root'],
    ]);
    expect(summary.skippedEntries[1]!.reason).toContain(path.join(secret, 'hidden.png'));
    expect(core.requireProject().info().root).toBe(data);
  });
});

describe('a folder reached both through a link and directly', () => {
  it('is read once, whichever comes first', async () => {
    const { dir, data } = await layout();
    // "a-link" sorts before "cat", the folder it points to.
    fs.symlinkSync(path.join(data, 'cat'), path.join(data, 'a-link'));
    const core = await newCore(dir);
    const summary = await runImport(core, { source: data });
    const paths = [...rows(core).keys()].sort();
    expect(paths.filter((p) => p.endsWith('/a.png'))).toHaveLength(1);
    expect(paths).toContain('dog/b.png');
    expect(summary.skippedEntries.map((e) => e.cause)).toContain('repeated-folder');
  });
});

describe('core.imageFile, the one check of both image routes', () => {
  it('refuses a file replaced after import by a link that leaves the root, and serves a link that stays inside', async () => {
    const { dir, data, secret } = await layout();
    const core = await newCore(dir);
    await runImport(core, { source: data });
    const { id: catId } = rows(core).get('cat/a.png')!;
    const { id: dogId } = rows(core).get('dog/b.png')!;
    expect(core.imageFile(catId)).toBe(fs.realpathSync(path.join(data, 'cat', 'a.png')));

    // The path text stays inside data/; only the real path shows where it leads.
    fs.rmSync(path.join(data, 'cat', 'a.png'));
    fs.symlinkSync(path.join(secret, 'passwords.txt'), path.join(data, 'cat', 'a.png'));
    expect(codeOf(() => core.imageFile(catId))).toBe('NOT_FOUND');
    // A folder on the way that is a link out is caught the same way.
    fs.renameSync(path.join(data, 'dog'), path.join(dir, 'dog-moved'));
    fs.symlinkSync(path.join(dir, 'dog-moved'), path.join(data, 'dog'));
    expect(codeOf(() => core.imageFile(dogId))).toBe('NOT_FOUND');

    fs.rmSync(path.join(data, 'cat', 'a.png'));
    fs.rmSync(path.join(data, 'dog'));
    fs.renameSync(path.join(dir, 'dog-moved'), path.join(data, 'dog'));
    fs.symlinkSync(path.join(data, 'dog', 'b.png'), path.join(data, 'cat', 'a.png'));
    expect(core.imageFile(catId)).toBe(fs.realpathSync(path.join(data, 'dog', 'b.png')));
  });

  it('every reader of image files holds to the root: an export and an augmentation preview never read a link out of it', async () => {
    const { dir, data, secret } = await layout();
    const core = await newCore(dir);
    await runImport(core, { source: data });
    fs.rmSync(path.join(data, 'cat', 'a.png'));
    fs.symlinkSync(path.join(secret, 'hidden.png'), path.join(data, 'cat', 'a.png'));

    const out = path.join(dir, 'exported');
    await expect(core.call('dataset:export', { format: 'folders', out, link: 'copy' })).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringContaining('cat/a.png'),
    });
    expect(fs.existsSync(out)).toBe(false);

    const { id } = rows(core).get('cat/a.png')!;
    await expect(core.call('augment:preview', { imageIds: [id], config: presetConfig('standard') })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('refuses unreadable entries', async () => {
    const { dir, data } = await layout();
    fs.writeFileSync(path.join(data, 'cat', 'fake.png'), 'not a PNG at all\n');
    const core = await newCore(dir);
    await runImport(core, { source: data });
    const fake = rows(core).get('cat/fake.png')!;
    expect(fake.status).toBe('unreadable');
    expect(codeOf(() => core.imageFile(fake.id))).toBe('NOT_FOUND');
    expect(codeOf(() => core.imageFile(rows(core).get('cat/a.png')!.id))).toBeNull();
  });

  it('serve mode answers 404 with no file content for a link out of the root, 200 with the bytes inside', async () => {
    const { dir, data, secret } = await layout();
    const core = await newCore(dir);
    await runImport(core, { source: data });
    const inside = rows(core).get('dog/b.png')!.id;
    const swapped = rows(core).get('cat/a.png')!.id;
    fs.rmSync(path.join(data, 'cat', 'a.png'));
    fs.symlinkSync(path.join(secret, 'passwords.txt'), path.join(data, 'cat', 'a.png'));
    const server = await startServer({ core, uiDir: tempDir() });
    servers.push(server);
    const get = (id: ImageId) => fetch(`http://127.0.0.1:${server.port}/image/${id}`, { headers: { 'x-loupe-token': server.token } });

    const refused = await get(swapped);
    expect(refused.status).toBe(404);
    const body = await refused.text();
    expect(body).not.toContain('TOP-SECRET');
    expect(JSON.parse(body)).toMatchObject({ code: 'NOT_FOUND' });

    const served = await get(inside);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer()).equals(fs.readFileSync(path.join(data, 'dog', 'b.png')))).toBe(true);
  });
});

describe('CSV rows', () => {
  it('outside the CSV folder are skipped with the reason; the root stays the CSV folder', async () => {
    const { dir, data } = await layout();
    await writeImage(path.join(dir, 'outside.png'), 9);
    fs.writeFileSync(
      path.join(data, 'labels.csv'),
      `path,label\ncat/a.png,cat\n/etc/passwd,label\n../outside.png,label\n${path.join(dir, 'outside.png')},label\ndog/b.png,dog\n`,
    );
    const core = await newCore(dir);
    const summary = await runImport(core, { source: path.join(data, 'labels.csv') });

    expect(core.requireProject().info().root).toBe(data);
    expect([...rows(core).keys()]).toEqual(['cat/a.png', 'dog/b.png']);
    expect(summary).toMatchObject({ added: 2, skipped: 3 });
    expect(summary.skippedEntries.map((e) => [e.row, e.path, e.cause])).toEqual([
      [3, '/etc/passwd', 'outside-root'],
      [4, '../outside.png', 'outside-root'],
      [5, path.join(dir, 'outside.png'), 'outside-root'],
    ]);
    expect(summary.skippedEntries[0]!.reason).toMatch(/outside .*choose a root/);
    const job = (await core.call('jobs:list', {}))[0]!;
    expect(job.result).toEqual(summary);
  });

  it('with a label or class folder longer than a class name may be are skipped with the reason', async () => {
    const { dir, data } = await layout();
    const long = 'x'.repeat(201);
    fs.writeFileSync(path.join(data, 'labels.csv'), `path,label\ncat/a.png,${long}\ndog/b.png,dog\n`);
    const core = await newCore(dir);
    const summary = await runImport(core, { source: path.join(data, 'labels.csv') });
    expect([...rows(core).keys()]).toEqual(['dog/b.png']);
    expect(summary.skippedEntries.map((e) => [e.row, e.cause])).toEqual([[2, 'name-too-long']]);
    expect(summary.skippedEntries[0]!.reason).toMatch(/longer than 200 characters/);

    const folders = path.join(dir, 'folders');
    await writeImage(path.join(folders, 'y'.repeat(201), 'a.png'), 1);
    await writeImage(path.join(folders, 'ok', 'b.png'), 2);
    const other = new Core();
    await other.call('project:open', { file: path.join(dir, 'folders.loupe'), create: true });
    const byFolder = await runImport(other, { source: folders });
    expect(byFolder).toMatchObject({ added: 1, skipped: 1 });
    expect(byFolder.skippedEntries[0]).toMatchObject({ cause: 'name-too-long' });
    await other.shutdown();
  });

  it('naming a non-image file is skipped, a fake image is unreadable, like a folder import', async () => {
    const { dir, data } = await layout();
    fs.writeFileSync(path.join(data, 'notes.txt'), 'notes\n');
    fs.writeFileSync(path.join(data, 'fake.png'), 'not a PNG\n');
    fs.writeFileSync(path.join(data, 'labels.csv'), 'path,label\ncat/a.png,cat\nnotes.txt,cat\nfake.png,dog\n');
    const core = await newCore(dir);
    const summary = await runImport(core, { source: path.join(data, 'labels.csv') });
    expect(summary).toMatchObject({ added: 2, unreadable: 1, skipped: 1 });
    expect(summary.skippedEntries).toEqual([
      expect.objectContaining({ row: 3, path: 'notes.txt', cause: 'not-an-image' }),
    ]);
    expect(rows(core).get('fake.png')).toMatchObject({ status: 'unreadable' });
    expect(rows(core).has('notes.txt')).toBe(false);
  });

  it('a link a row names is judged by where it leads', async () => {
    const { dir, data, secret } = await layout();
    fs.symlinkSync(path.join(secret, 'hidden.png'), path.join(data, 'link.png'));
    fs.writeFileSync(path.join(data, 'labels.csv'), 'path,label\ncat/a.png,cat\nlink.png,cat\n');
    const core = await newCore(dir);
    const summary = await runImport(core, { source: path.join(data, 'labels.csv') });
    expect(summary.skippedEntries).toEqual([expect.objectContaining({ row: 3, path: 'link.png', cause: 'outside-root' })]);
    expect([...rows(core).keys()]).toEqual(['cat/a.png']);
  });

  it('may name files above the CSV when the user chooses a root that holds them', async () => {
    const { dir, data } = await layout();
    const csvDir = path.join(dir, 'lists');
    fs.mkdirSync(csvDir);
    fs.writeFileSync(path.join(csvDir, 'labels.csv'), 'path,label\n../data/cat/a.png,cat\n../secret/hidden.png,x\n');
    const core = await newCore(dir);
    const summary = await runImport(core, { source: path.join(csvDir, 'labels.csv'), root: data });
    expect(core.requireProject().info().root).toBe(data);
    expect([...rows(core).keys()]).toEqual(['cat/a.png']);
    expect(summary.skippedEntries).toEqual([expect.objectContaining({ row: 3, cause: 'outside-root' })]);

    const missing = await core.call('dataset:import', { source: path.join(csvDir, 'labels.csv'), root: path.join(dir, 'nope') });
    const failed = await core.jobs.finished(missing.jobId);
    expect(failed.error).toMatchObject({ code: 'VALIDATION' });
  });

  it('..name.png imports and is served', async () => {
    const { dir, data } = await layout();
    await writeImage(path.join(data, '..name.png'), 5);
    fs.writeFileSync(path.join(data, 'labels.csv'), 'path,label\n..name.png,cat\ncat/a.png,cat\n');
    const core = await newCore(dir);
    const summary = await runImport(core, { source: path.join(data, 'labels.csv') });
    expect(summary).toMatchObject({ added: 2, skipped: 0 });
    const odd = rows(core).get('..name.png')!;
    expect(odd.status).toBe('active');
    expect(core.imageFile(odd.id)).toBe(fs.realpathSync(path.join(data, '..name.png')));
  });

  it('..name.png in a class folder imports too; hidden folders and AppleDouble ._ files do not', async () => {
    const { dir, data } = await layout();
    await writeImage(path.join(data, 'cat', '..name.png'), 5);
    await writeImage(path.join(data, 'cat', '._a.png'), 6);
    await writeImage(path.join(data, '.git', 'x.png'), 7);
    const core = await newCore(dir);
    await runImport(core, { source: data });
    expect([...rows(core).keys()].sort()).toEqual(['cat/..name.png', 'cat/a.png', 'dog/b.png']);
    expect(core.imageFile(rows(core).get('cat/..name.png')!.id)).toBe(fs.realpathSync(path.join(data, 'cat', '..name.png')));
  });
});
