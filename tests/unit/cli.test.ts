import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestSchemaVersion } from '../../src/main/store/migrations';
import { snapshotFiles, writeClassFolders } from '../helpers/fixtures';

const bin = path.resolve('bin/loupe.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function loupe(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: process.env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function json<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const run = await loupe(...args, '--json');
  expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout.trim()) as T;
}

interface Stats {
  images: number;
  unreadable: number;
  removed: number;
  version: number;
  classes: { name: string; train: number; valid: number; test: number; total: number }[];
}

function expectOneErrorLine(run: Run, pattern: RegExp): void {
  expect(run.code).not.toBe(0);
  const lines = run.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^loupe: /);
  expect(lines[0]).toMatch(pattern);
}

// One project shared by the tests below, in order: the CLI starts in about a second, so each test runs few commands.
let dir: string;
let data: string;
let project: string;
let originals: ReturnType<typeof snapshotFiles>;

describe('the loupe CLI', () => {
  beforeAll(async () => {
    // tempDir() cleans up after each test; this folder must outlive them, so it is made here and removed in afterAll.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-cli-'));
    data = path.join(dir, 'data');
    project = path.join(dir, 'p.loupe');
    // Per class: 6 train, 2 valid, 2 test.
    await writeClassFolders(data, ['cat', 'dog'], 10, 'splits');
    originals = snapshotFiles(data);
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('imports a folder and prints exact stats', async () => {
    const summary = await json('import', data, '--project', project);
    expect(summary).toMatchObject({ state: 'done', kind: 'split-folders', added: 20, unreadable: 0 });
    const stats = await json<Stats>('stats', '--project', project);
    expect(stats).toMatchObject({ images: 20, unreadable: 0, removed: 0, version: summary.version });
    expect(stats.classes).toEqual([
      { name: 'cat', train: 6, valid: 2, test: 2, total: 10 },
      { name: 'dog', train: 6, valid: 2, test: 2, total: 10 },
    ]);
    const text = await loupe('stats', '--project', project);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^cat\s+6\s+2\s+2\s+10$/m);
    expect(text.stdout).toMatch(/20 images, 0 unreadable, 0 removed/);
  });

  it('relabel, remove, restore, undo and redo change the stats', async () => {
    const v0 = (await json<Stats>('stats', '--project', project)).version;
    const relabel = await json('relabel', 'train/cat/cat_2.png', 'valid/cat/cat_0.png', '--to', 'dog', '--project', project);
    expect(relabel).toEqual({ version: v0 + 2, description: 'Relabelled 2 images as dog', changed: 2 });
    const removed = await json('remove', 'train/dog/dog_3.png', '--project', project);
    expect(removed).toMatchObject({ changed: 1, description: 'Removed 1 image' });
    let stats = await json<Stats>('stats', '--project', project);
    expect(stats).toMatchObject({ images: 19, removed: 1 });
    expect(stats.classes).toEqual([
      { name: 'cat', train: 5, valid: 1, test: 2, total: 8 },
      { name: 'dog', train: 6, valid: 3, test: 2, total: 11 },
    ]);

    expect(await json('restore', 'train/dog/dog_3.png', '--project', project)).toMatchObject({ changed: 1 });
    const undo = await json('undo', '--project', project);
    expect(undo).toMatchObject({ description: 'Undid: Restored 1 image', changed: 1 });
    const redo = await json('redo', '--project', project);
    expect(redo).toMatchObject({ description: 'Redid: Restored 1 image', changed: 1 });
    stats = await json<Stats>('stats', '--project', project);
    expect(stats).toMatchObject({ images: 20, removed: 0, version: redo.version });
    expect(stats.classes.find((c) => c.name === 'dog')).toEqual({ name: 'dog', train: 7, valid: 3, test: 2, total: 12 });

    // --create makes a new class; without it the class must exist (see the errors below).
    const bird = await json('relabel', 'test/cat/cat_1.png', '--to', 'bird', '--create', '--project', project);
    expect(bird).toMatchObject({ changed: 1 });
    // Leave one image removed for the exports.
    await json('remove', 'train/cat/cat_3.png', '--project', project);
  });

  it('exports a CSV of path,label,split that leaves removed images out', async () => {
    const out = path.join(dir, 'export-csv');
    const result = await json('export', '--format', 'csv', '--out', out, '--project', project);
    expect(result).toMatchObject({ out, files: 1 });
    const lines = fs.readFileSync(path.join(out, 'labels.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('path,label,split');
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows).toHaveLength(19);
    const byName = new Map(rows.map(([p, label, split]) => [path.basename(p!), { p: p!, label, split }]));
    expect(byName.has('cat_3.png')).toBe(false);
    expect(byName.get('cat_2.png')).toMatchObject({ label: 'dog', split: 'train' });
    expect(byName.get('cat_1.png')).toMatchObject({ label: 'bird', split: 'test' });
    for (const { p } of byName.values()) {
      const target = path.resolve(out, p);
      expect(fs.existsSync(target), p).toBe(true);
      expect(path.relative(data, target).startsWith('..')).toBe(false);
    }
    const counts = new Map<string, number>();
    for (const [, label] of rows) counts.set(label!, (counts.get(label!) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ cat: 6, dog: 12, bird: 1 });
  });

  it('exports split/class folders of byte-identical copies', async () => {
    const out = path.join(dir, 'export-folders');
    const result = await json('export', '--format', 'folders', '--out', out, '--project', project);
    expect(result).toMatchObject({ out, files: 19 });
    const copies = snapshotFiles(out);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ generator: 'loupe', format: 'folders', images: 19, datasetVersion: result.version });
    copies.delete('manifest.json');
    expect(copies.size).toBe(19);
    expect(copies.has(path.join('train', 'cat', 'cat_3.png'))).toBe(false);
    expect(copies.has(path.join('train', 'dog', 'cat_2.png'))).toBe(true);
    expect(copies.has(path.join('test', 'bird', 'cat_1.png'))).toBe(true);
    for (const [rel, copy] of copies) {
      const [, , name] = rel.split(path.sep);
      const original = [...originals.entries()].find(([o]) => path.basename(o) === name);
      expect(original, rel).toBeDefined();
      expect(copy.sha256, rel).toBe(original![1].sha256);
    }
    // The originals themselves are untouched by everything above.
    expect(snapshotFiles(data)).toEqual(originals);
  });

  it('errors exit non-zero with one "loupe:" line on stderr', async () => {
    const missing = path.join(dir, 'nope', 'missing.loupe');
    const future = path.join(dir, 'future.loupe');
    fs.copyFileSync(project, future);
    for (const suffix of ['-wal', '-shm']) {
      if (fs.existsSync(project + suffix)) fs.copyFileSync(project + suffix, future + suffix);
    }
    const raw = new Database(future);
    raw.pragma('wal_checkpoint(TRUNCATE)');
    raw.pragma(`user_version = ${latestSchemaVersion + 5}`);
    raw.close();
    const version = (await json<Stats>('stats', '--project', project)).version;

    const [noProject, unknownClass, tooNew, jsonError] = await Promise.all([
      loupe('stats', '--project', missing),
      loupe('relabel', 'train/cat/cat_4.png', '--to', 'zebra', '--project', project),
      loupe('stats', '--project', future),
      loupe('relabel', 'train/cat/cat_4.png', '--to', 'zebra', '--project', project, '--json'),
    ]);
    expectOneErrorLine(noProject, /No project at/);
    expect(fs.existsSync(missing)).toBe(false);
    expect(fs.existsSync(path.dirname(missing))).toBe(false);

    expectOneErrorLine(unknownClass, /Unknown class "zebra"/);
    expect(unknownClass.stderr).toMatch(/Known classes: bird, cat, dog/);
    expect(JSON.parse(jsonError.stdout.trim())).toMatchObject({ error: { code: 'NOT_FOUND' } });

    expectOneErrorLine(tooNew, /newer Loupe/);
    const check = new Database(future, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(latestSchemaVersion + 5);
    check.close();

    // Nothing was written by the failed relabel.
    expect((await json<Stats>('stats', '--project', project)).version).toBe(version);
  });

  it('usage errors exit 2', async () => {
    const [unknown, noPath] = await Promise.all([
      loupe('frobnicate', '--project', project),
      loupe('remove', '--project', project),
    ]);
    expect(unknown.code).toBe(2);
    expectOneErrorLine(unknown, /Unknown command "frobnicate"/);
    expect(noPath.code).toBe(2);
    expectOneErrorLine(noPath, /at least one image path/);
  });
});
