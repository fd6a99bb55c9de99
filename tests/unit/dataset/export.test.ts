import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { exportDataset, removeStaleStaging } from '../../../src/main/dataset/export';
import { openProject } from '../../../src/main/store/project';
import { neutraliseCell, restoreCell } from '../../../src/main/util/csvCells';
import { maxFolderBytes, uniqueFolderNames } from '../../../src/main/util/folderNames';
import { LoupeError } from '../../../src/shared/errors';
import type { ImageId, ImportSummary } from '../../../src/shared/types';
import { snapshotFiles, tempDir, writeClassFolders, writeImage } from '../../helpers/fixtures';

const cores: Core[] = [];
afterEach(async () => {
  for (const core of cores.splice(0)) await core.shutdown();
});

/** `root`: where the images lie, for a CSV (such as an exported one) that names files outside its folder. */
async function projectWith(source: string, dir = tempDir(), root?: string): Promise<Core> {
  const core = new Core();
  cores.push(core);
  await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  const { jobId } = await core.call('dataset:import', root ? { source, root } : { source });
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

    const again = await projectWith(path.join(out, 'labels.csv'), fs.mkdtempSync(path.join(dir, 'two-')), dir);
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

describe('CSV export and spreadsheet formulas', () => {
  const tricky = ['=HYPERLINK("http://evil","x")', '+1+1', '-2+3', '@SUM(A1)', "'=already quoted", "'plain quote", 'cat', 'a=b'];

  it('neutraliseCell and restoreCell round-trip every text, and leave plain text alone', () => {
    for (const text of [...tricky, '', "'", "''", '\t=x', '\r=x', '=', "'+"]) expect(restoreCell(neutraliseCell(text))).toBe(text);
    expect(neutraliseCell('=1+1')).toBe("'=1+1");
    expect(neutraliseCell('cat')).toBe('cat');
    // A quote a person typed before something harmless is theirs, not Loupe's guard.
    expect(restoreCell("'plain")).toBe("'plain");
  });

  it('writes labels that start with = + - @ (or a quote) with a leading quote, says so, and imports back the same labels', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    for (const [i] of tricky.entries()) await writeImage(path.join(data, `${i}.png`), i);
    const core = await projectWith(data, fs.mkdtempSync(path.join(dir, 'one-')));
    // Labels given in Loupe: a leading quote here is the person's own, and must survive.
    for (const [i, label] of tricky.entries()) await core.call('images:relabel', { ids: [idOf(core, `${i}.png`)], className: label });
    const before = await core.call('dataset:stats', {});
    expect(before.classes.map((c) => c.name).sort()).toEqual([...tricky].sort());

    const out = path.join(dir, 'exported');
    await core.call('dataset:export', { format: 'csv', out });
    const text = fs.readFileSync(path.join(out, 'labels.csv'), 'utf8');
    // Every label cell (after the path and its comma, quoted or not) that starts with a trigger is guarded.
    const cells = text.trim().split('\n').slice(1).map((l) => l.slice(l.indexOf(',') + 1).replace(/^"/, ''));
    for (const cell of cells) expect(cell, cell).not.toMatch(/^[=+\-@]/);
    expect(cells.filter((c) => c.startsWith("'"))).toHaveLength(6);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { csv: { neutralisedCells: number; formulaGuard: string } };
    expect(manifest.csv.neutralisedCells).toBe(6);
    expect(manifest.csv.formulaGuard).toMatch(/leading '/);

    const again = await projectWith(path.join(out, 'labels.csv'), fs.mkdtempSync(path.join(dir, 'two-')), dir);
    expect((await again.call('dataset:stats', {})).classes).toEqual(before.classes);
  });
});

describe('folder names from class names', () => {
  it('are portable, at most maxFolderBytes, distinct ignoring case and Unicode form, and stable', () => {
    const long = 'ü'.repeat(100_000);
    const names = ['cat', 'x/y', 'x_y', 'X_Y', long, `${long}!`, 'CON', 'dots...', '.hidden', 'caf\u00e9', 'cafe\u0301'];
    const folders = uniqueFolderNames(names);
    expect(folders.size).toBe(names.length);
    const segments = [...folders.values()];
    expect(new Set(segments.map((s) => s.normalize('NFC').toLowerCase())).size).toBe(names.length);
    for (const segment of segments) {
      expect(Buffer.byteLength(segment)).toBeLessThanOrEqual(maxFolderBytes);
      expect(segment).not.toMatch(/[/\\:]|^\.|[. ]$|^con$/i);
    }
    // Plain names keep their spelling; a name that had to change to stay unique gets its hash suffix.
    expect(folders.get('cat')).toBe('cat');
    // Of two plain names equal but for case, the first in code-point order keeps its spelling.
    expect(folders.get('X_Y')).toBe('X_Y');
    expect(folders.get('x_y')).toMatch(/^x_y~[0-9a-f]{8}$/);
    expect(folders.get('x/y')).toMatch(/^x_y~[0-9a-f]{8}$/);
    expect(folders.get(long)).toMatch(/~[0-9a-f]{8}$/);
    // Stable: the same name gets the same folder whichever other classes exist.
    expect(uniqueFolderNames(['x/y', 'x_y', 'X_Y', 'dog']).get('x/y')).toBe(folders.get('x/y'));
    expect(uniqueFolderNames([long]).get(long)).toBe(folders.get(long));
  });

  it('a 100,000-character class exports; unlabelled images and a class named "unlabeled" stay apart; the manifest maps folders to classes', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    const long = 'L'.repeat(100_000);
    for (let i = 0; i < 4; i++) await writeImage(path.join(data, `${i}.png`), i);
    fs.writeFileSync(path.join(data, 'labels.csv'), `path,label,split\n0.png,long,train\n1.png,unlabeled,train\n2.png,,train\n3.png,,train\n`);
    const core = await projectWith(path.join(data, 'labels.csv'), dir);
    // Requests refuse such a name now; a project from before the limits can still hold one.
    core.requireProject().db.prepare("UPDATE classes SET name = ? WHERE name = 'long'").run(long);
    const before = await core.call('dataset:stats', {});
    expect(before.unlabeled).toBe(2);
    const out = path.join(dir, 'out');
    const result = await core.call('dataset:export', { format: 'folders', out });
    expect(result.files).toBe(4);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
      folders: Record<string, string>;
      classes: Record<string, { train: number }>;
      unlabeled: { train: number };
    };
    const longFolder = Object.keys(manifest.folders).find((f) => manifest.folders[f] === long)!;
    expect(Buffer.byteLength(longFolder)).toBeLessThanOrEqual(maxFolderBytes);
    expect(manifest.folders.unlabeled).toBe('unlabeled');
    expect(fs.readdirSync(path.join(out, 'train', 'unlabeled'))).toEqual(['1.png']);
    expect(fs.readdirSync(path.join(out, 'train', longFolder))).toEqual(['0.png']);
    // Unlabelled images lie in the split folder itself, which import reads as "no class".
    expect(fs.readdirSync(path.join(out, 'train')).filter((f) => f.endsWith('.png')).sort()).toEqual(['2.png', '3.png']);
    expect(manifest.unlabeled.train).toBe(2);
    expect(manifest.classes[long]!.train).toBe(1);

    const again = await projectWith(out, fs.mkdtempSync(path.join(dir, 'again-')));
    const after = await again.call('dataset:stats', {});
    expect(after.unlabeled).toBe(2);
    expect(after.classes.map((c) => [c.name, c.train])).toEqual([
      [longFolder, 1],
      ['unlabeled', 1],
    ]);
  });
});

describe('stale staging folders', () => {
  /** The pid of a process that has already exited. */
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => child.on('exit', resolve));
    return child.pid!;
  }

  it('an export removes staging folders whose process is gone or that are over a day old, and nothing else', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['a'], 2);
    const core = await projectWith(data, dir);
    const now = Date.now();
    const make = (name: string, marker?: { host: string; pid: number }): string => {
      fs.mkdirSync(path.join(dir, name, 'train', 'a'), { recursive: true });
      fs.writeFileSync(path.join(dir, name, 'train', 'a', 'x.png'), 'x');
      if (marker) fs.writeFileSync(path.join(dir, name, '.loupe-export-staging'), JSON.stringify(marker));
      return name;
    };
    const host = os.hostname();
    const gone = await deadPid();
    const dead = make(`.old.partial-${gone}-${now}-aB3dE9`, { host, pid: gone });
    const aged = make(`.old.partial-${process.pid}-${now - 2 * 86_400_000}-zzzzzz`, { host, pid: process.pid });
    const live = make(`.busy.partial-${process.pid}-${now}-Qw12Er`, { host, pid: process.pid });
    // Another machine's export on a shared drive: its pid says nothing here, so only age counts.
    const elsewhere = make(`.shared.partial-${gone}-${now}-Rm0te1`, { host: `not-${host}`, pid: gone });
    const users = make('.notes.partial-mine');
    // A user's folder that merely has a staging name, without Loupe's marker, is never touched.
    const lookalike = make(`.thesis.partial-${gone}-${now - 2 * 86_400_000}-draft1`);
    // A link with a staging name is neither followed nor removed.
    const target = make('kept-target');
    fs.symlinkSync(path.join(dir, target), path.join(dir, `.link.partial-${await deadPid()}-${now}-Link00`));

    await core.call('dataset:export', { format: 'folders', out: path.join(dir, 'out') });
    const left = fs.readdirSync(dir);
    expect(left).not.toContain(dead);
    expect(left).not.toContain(aged);
    expect(left).toEqual(expect.arrayContaining([live, elsewhere, users, lookalike, target, 'out']));
    expect(fs.existsSync(path.join(dir, target, 'train', 'a', 'x.png'))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'out'))).not.toContain('.loupe-export-staging');
    expect((await removeStaleStaging(dir)).left).toBe(2);
  });

  /** Runs a real folder export of `file` into `out` in another process and SIGKILLs it half way. */
  async function killMidExport(file: string, out: string): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'killedExport.child.ts'), file, out], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('midway') && resolve());
      child.on('exit', (code) => reject(new Error(`the export child exited (${code}) before it was killed`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    expect(fs.readdirSync(path.dirname(out)).filter((f) => f.includes('.partial-'))).toHaveLength(1);
    expect(fs.existsSync(out)).toBe(false);
  }

  async function closedProject(dir: string): Promise<string> {
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['cat', 'dog'], 4);
    const core = await projectWith(data, dir);
    await core.shutdown();
    cores.splice(cores.indexOf(core), 1);
    return path.join(dir, 'p.loupe');
  }

  it('a killed export leaves its staging folder, and opening the project removes it', async () => {
    const dir = tempDir();
    const file = await closedProject(dir);
    const first = path.join(dir, 'first', 'out');
    await killMidExport(file, first);
    const next = new Core();
    cores.push(next);
    await next.call('project:open', { file });
    expect(fs.readdirSync(path.dirname(first))).toEqual([]);
  });

  it('a killed export leaves its staging folder, and the next export, even into another folder, removes it', async () => {
    const dir = tempDir();
    const file = await closedProject(dir);
    const first = path.join(dir, 'first', 'out');
    await killMidExport(file, first);
    const project = openProject(file);
    try {
      await exportDataset(project, { format: 'csv', out: path.join(dir, 'elsewhere', 'out') });
    } finally {
      project.close();
    }
    expect(fs.readdirSync(path.dirname(first))).toEqual([]);
  });
});
