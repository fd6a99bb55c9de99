/**
 * Class names are keys that come from users. Names such as "__proto__", "constructor" and
 * "toString" must behave like any other name everywhere, and never reach Object.prototype.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { tempDir, writeImage } from '../../helpers/fixtures';

const hostile = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

beforeAll(() => {
  process.env.LOUPE_OFFLINE = '1';
});

function expectPrototypeUntouched(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
  const probe = {} as Record<string, unknown>;
  for (const key of ['polluted', 'train', 'valid', 'test', 'unsplit', 'total']) expect(probe[key], key).toBeUndefined();
}

async function importInto(dir: string, source: string, root?: string): Promise<Core> {
  core = new Core();
  await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  const { jobId } = await core.call('dataset:import', root ? { source, root } : { source });
  const job = await core.jobs.finished(jobId);
  expect(job.state, JSON.stringify(job.error)).toBe('done');
  return core;
}

/** One sub-folder per hostile name, `perClass` images each. */
async function writeHostileFolders(root: string, perClass: number): Promise<void> {
  let seed = 0;
  for (const name of hostile) for (let i = 0; i < perClass; i++) await writeImage(path.join(root, name, `${i}.png`), seed++);
}

function namesOf(classes: readonly { name: string }[]): string[] {
  return classes.map((c) => c.name).sort();
}

describe('class names that are Object.prototype keys', () => {
  it('import (folders and CSV), stats, splits, rename, merge and export keep every class and leave Object.prototype alone', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    // Folders named "__proto__" or "constructor" are classes, not train/valid/test folders.
    await writeHostileFolders(data, 5);
    const core = await importInto(dir, data);
    const stats = await core.call('dataset:stats', {});
    expect(namesOf(stats.classes)).toEqual([...hostile].sort());
    for (const c of stats.classes) expect(c.total, c.name).toBe(5);
    expect(stats.unlabeled).toBe(0);
    expect(namesOf(await core.call('classes:list', {}))).toEqual([...hostile].sort());

    const report = await core.call('splits:report', {});
    expect(namesOf(report.classes)).toEqual([...hostile].sort());
    const plan = await core.call('splits:plan', { ratios: { train: 0.6, valid: 0.2, test: 0.2 } });
    expect(plan).toBeDefined();
    expectPrototypeUntouched();

    // Export both ways: the manifest has every class as an own key, the folders map back to them.
    const csvOut = path.join(dir, 'csv');
    await core.call('dataset:export', { format: 'csv', out: csvOut });
    const csvManifest = JSON.parse(fs.readFileSync(path.join(csvOut, 'manifest.json'), 'utf8')) as { classes: object };
    expect(Object.keys(csvManifest.classes).sort()).toEqual([...hostile].sort());
    const folderOut = path.join(dir, 'folders');
    await core.call('dataset:export', { format: 'folders', out: folderOut });
    const folderManifest = JSON.parse(fs.readFileSync(path.join(folderOut, 'manifest.json'), 'utf8')) as {
      classes: object;
      folders: object;
    };
    expect(Object.keys(folderManifest.classes).sort()).toEqual([...hostile].sort());
    expect(Object.entries(folderManifest.folders).sort()).toEqual(hostile.map((n) => [n, n]).sort());
    for (const split of fs.readdirSync(folderOut).filter((f) => f !== 'manifest.json')) {
      for (const folder of fs.readdirSync(path.join(folderOut, split))) expect(hostile).toContain(folder);
    }
    expectPrototypeUntouched();

    // The exported CSV imports into a new project with the same classes.
    const again = new Core();
    try {
      const otherDir = fs.mkdtempSync(path.join(dir, 'again-'));
      await again.call('project:open', { file: path.join(otherDir, 'p.loupe'), create: true });
      const { jobId } = await again.call('dataset:import', { source: path.join(csvOut, 'labels.csv'), root: dir });
      expect((await again.jobs.finished(jobId)).state).toBe('done');
      expect((await again.call('dataset:stats', {})).classes).toEqual(stats.classes);
    } finally {
      await again.shutdown();
    }

    // Rename and merge among these names.
    await core.call('classes:rename', { from: 'toString', to: 'valueOf' });
    const preview = await core.call('classes:previewMerge', { from: 'constructor', into: '__proto__' });
    expect(preview).toBeDefined();
    await core.call('classes:merge', { from: 'constructor', into: '__proto__' });
    const after = await core.call('dataset:stats', {});
    expect(after.classes.map((c) => [c.name, c.total]).sort()).toEqual([
      ['__proto__', 10],
      ['hasOwnProperty', 5],
      ['valueOf', 5],
    ]);
    const { ids } = await core.call('images:ids', { filter: { className: '__proto__' } });
    expect(ids).toHaveLength(10);
    expectPrototypeUntouched();
  });

  it('a CSV with these labels imports them all; a split cell named "constructor" is an unknown split', async () => {
    const dir = tempDir();
    const lines = ['path,label,split'];
    let seed = 0;
    for (const name of hostile) {
      for (let i = 0; i < 3; i++) {
        const file = `${seed}.png`;
        await writeImage(path.join(dir, file), seed++);
        lines.push(`${file},${name},${i === 0 ? 'test' : 'train'}`);
      }
    }
    await writeImage(path.join(dir, 'odd.png'), 99);
    lines.push('odd.png,toString,constructor', 'odd.png,toString,__proto__');
    fs.writeFileSync(path.join(dir, 'labels.csv'), lines.join('\n') + '\n');
    const core = await importInto(dir, path.join(dir, 'labels.csv'));
    const stats = await core.call('dataset:stats', {});
    expect(stats.classes.map((c) => [c.name, c.train, c.test]).sort()).toEqual(hostile.map((n) => [n, 2, 1]).sort());
    expect(stats.images).toBe(12);
    expectPrototypeUntouched();
  });

  it('quick training and review name these classes like any others', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeHostileFolders(data, 8);
    const core = await importInto(dir, data);
    const { jobId, runId } = await core.call('train:start', { config: { views: 1, folds: 2, epochs: 3, batchSize: 16 } });
    const job = await core.jobs.finished(jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('done');
    const run = await core.call('runs:get', { id: runId });
    expect([...run.classes].sort()).toEqual([...hostile].sort());
    expect(run.metrics!.train!.perClass.map((c) => c.name).sort()).toEqual([...hostile].sort());
    const pairs = await core.call('review:pairs', {});
    for (const pair of pairs) {
      expect(hostile).toContain(pair.a);
      expect(hostile).toContain(pair.b);
    }
    const queue = await core.call('review:queue', { kind: 'loss', limit: 50 });
    for (const row of queue.rows) expect(hostile).toContain(row.given);
    expectPrototypeUntouched();
  });
});
