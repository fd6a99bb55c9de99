import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openProject } from '../../../src/main/store/project';
import { tempDir, writeImage } from '../../helpers/fixtures';

const bin = path.resolve('bin/loupe.mjs');
const classes = ['ant', 'bee', 'cow'];
const perClass = 300;
const total = classes.length * perClass;
/** The CLI imports with the default chunk size. */
const chunkSize = 256;

function startImport(folder: string, file: string): ChildProcess {
  return spawn(process.execPath, [bin, 'import', folder, '--project', file, '--json'], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** Polls the project file (read-only) until `done(count)` holds or the child exits; returns the last count. */
async function watchCount(file: string, child: ChildProcess, done: (count: number) => boolean): Promise<number> {
  let db: Database.Database | null = null;
  let exitedEarly = false;
  child.once('exit', () => (exitedEarly = true));
  try {
    for (;;) {
      if (exitedEarly) return -1;
      if (!db && fs.existsSync(file)) {
        try {
          db = new Database(file, { readonly: true, fileMustExist: true });
        } catch {
          db = null;
        }
      }
      if (db) {
        try {
          const { n } = db.prepare('SELECT count(*) AS n FROM images').get() as { n: number };
          if (done(n)) return n;
        } catch {
          // The schema is not there yet.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    db?.close();
  }
}

describe('an import killed mid-way', () => {
  it('leaves only whole chunks, is marked interrupted, and a second run completes it exactly', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    let seed = 0;
    for (const name of classes) {
      for (let i = 0; i < perClass; i++) await writeImage(path.join(data, name, `${i}.png`), seed++);
    }
    const file = path.join(dir, 'p.loupe');

    const child = startImport(data, file);
    const result = exited(child);
    const seen = await watchCount(file, child, (n) => n > 0 && n < total);
    expect(seen, 'the import finished before a chunk could be seen; generate more images').toBeGreaterThan(0);
    child.kill('SIGKILL');
    const { signal } = await result;
    expect(signal).toBe('SIGKILL');

    const project = openProject(file);
    try {
      const { db } = project;
      expect(db.prepare('SELECT status FROM imports').all()).toEqual([{ status: 'interrupted' }]);
      expect(project.info().unfinishedImport).toEqual({ source: data, kind: 'folders', status: 'interrupted' });
      const rows = db.prepare('SELECT count(*) AS n FROM images').get() as { n: number };
      expect(rows.n).toBeGreaterThan(0);
      expect(rows.n).toBeLessThan(total);
      // Only whole chunks: the images count is a multiple of the chunk size, one import batch per chunk.
      const chunks = (db.prepare("SELECT count(*) AS n FROM batches WHERE kind = 'import' AND action = 'import'").get() as {
        n: number;
      }).n;
      expect(rows.n).toBe(chunks * chunkSize);
      const changesPerImage = db
        .prepare(
          `SELECT i.id, count(c.id) AS n FROM images i LEFT JOIN changes c ON c.image_id = i.id GROUP BY i.id HAVING n <> 2`,
        )
        .all();
      expect(changesPerImage, 'each image has its status and class change').toEqual([]);
      // Every row is complete: active, labelled, with a thumbnail and its measurements.
      const incomplete = db
        .prepare(
          `SELECT i.path FROM images i LEFT JOIN labels l ON l.image_id = i.id
            WHERE i.status <> 'active' OR l.class_id IS NULL OR i.content_hash IS NULL OR i.width IS NULL
               OR NOT EXISTS (SELECT 1 FROM thumbnails t WHERE t.content_hash = i.content_hash)`,
        )
        .all();
      expect(incomplete).toEqual([]);
    } finally {
      project.close();
    }

    const second = await exited(startImport(data, file));
    expect(second.code, second.stderr).toBe(0);
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ state: 'done', scanned: total, missing: 0, unreadable: 0 });
    expect((summary.added as number) + (summary.unchanged as number)).toBe(total);
    expect(summary.added).toBeGreaterThan(0);

    const finished = openProject(file);
    try {
      const { db } = finished;
      const perClass = db
        .prepare(
          `SELECT c.name, count(*) AS n, count(s.split) AS split FROM images i JOIN labels l ON l.image_id = i.id
             JOIN classes c ON c.id = l.class_id LEFT JOIN splits s ON s.image_id = i.id
            WHERE i.status = 'active' GROUP BY c.name ORDER BY c.name`,
        )
        .all();
      expect(perClass).toEqual(classes.map((name) => ({ name, n: 300, split: 300 })));
      expect(db.prepare('SELECT count(*) AS n, count(DISTINCT path) AS paths FROM images').get()).toEqual({
        n: total,
        paths: total,
      });
      expect(db.prepare('SELECT status FROM imports ORDER BY id').all()).toEqual([
        { status: 'interrupted' },
        { status: 'done' },
      ]);
      expect(finished.info().unfinishedImport).toBeNull();
      // Splits are stratified over the whole class, even though part of it came from the interrupted run.
      const splits = db
        .prepare(
          `SELECT c.name, s.split, count(*) AS n FROM images i JOIN labels l ON l.image_id = i.id
             JOIN classes c ON c.id = l.class_id JOIN splits s ON s.image_id = i.id GROUP BY c.name, s.split`,
        )
        .all() as { name: string; split: string; n: number }[];
      for (const row of splits) expect(row.n).toBe(row.split === 'train' ? 240 : 30);
    } finally {
      finished.close();
    }
  });
});
