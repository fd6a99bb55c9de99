import Database from 'better-sqlite3';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { undo } from '../../../src/main/store/changes';
import { openDatabase } from '../../../src/main/store/db';
import { getMeta } from '../../../src/main/store/meta';
import { staleMs } from '../../../src/main/store/owners';
import { openProject } from '../../../src/main/store/project';
import type { EventPayloads } from '../../../src/shared/contract';
import { tempDir, writeImage } from '../../helpers/fixtures';
import { crash, startWorker } from './helpers/child';
import { writeSchema1Project } from './helpers/schema1';

/** A current-schema project with one image and one edit to undo. */
function writeProject(): string {
  const file = path.join(tempDir(), 'p.loupe');
  writeSchema1Project(file);
  openDatabase(file).close();
  return file;
}

/** Reads a project through a plain read-only connection, as a bystander would. */
function peek<T>(file: string, query: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(query).all() as T[];
  } finally {
    db.close();
  }
}

/** Opens the project as the app or a CLI command does: the Core's project:open, with its recovery. */
async function openWithCore(file: string): Promise<void> {
  const core = new Core();
  await core.call('project:open', { file });
  await core.shutdown();
}

describe('two processes on one project', () => {
  it('a write while another process holds the write lock waits for it instead of failing', async () => {
    const file = writeProject();
    const project = openProject(file);
    const holder = startWorker('hold-write', file, '1500');
    try {
      await holder.said('locked');
      // undo reads before it writes: as a deferred transaction it failed at once with SQLITE_BUSY.
      const started = Date.now();
      const result = undo(project.db);
      expect(Date.now() - started).toBeGreaterThan(500);
      expect(result.changed).toBe(1);
      expect(getMeta(project.db, 'held_by')).toBe(String(holder.child.pid));
      expect((await holder.exited).code).toBe(0);
    } finally {
      project.close();
      holder.child.kill('SIGKILL');
    }
  });

  it("opening beside a live import leaves it running; once its process is killed, the next open recovers it", async () => {
    const dir = tempDir();
    for (let i = 0; i < 6; i++) await writeImage(path.join(dir, 'data', i % 2 ? 'ant' : 'bee', `${i}.png`), i);
    const file = path.join(dir, 'p.loupe');
    openDatabase(file, { create: true }).close();
    const importer = startWorker('import', file, path.join(dir, 'data'));
    try {
      await importer.said('committed');
      await openWithCore(file);
      expect(peek(file, 'SELECT status FROM imports')).toEqual([{ status: 'running' }]);
      // Its images wait for the splits it assigns when it ends, stratified over the whole import.
      expect(peek(file, 'SELECT count(*) AS n FROM splits')).toEqual([{ n: 0 }]);
      await crash(importer);
      await openWithCore(file);
      expect(peek(file, 'SELECT status FROM imports')).toEqual([{ status: 'interrupted' }]);
      expect(peek(file, 'SELECT count(*) AS n FROM splits')).toEqual([{ n: 2 }]);
    } finally {
      importer.child.kill('SIGKILL');
    }
  });

  it("opening beside a live training run leaves it running; once its process is killed, the next open fails it", async () => {
    const file = writeProject();
    const trainer = startWorker('train', file);
    try {
      await trainer.said('running');
      await openWithCore(file);
      expect(peek(file, 'SELECT status FROM runs')).toEqual([{ status: 'running' }]);
      await crash(trainer);
      await openWithCore(file);
      expect(peek(file, 'SELECT status, error FROM runs')).toEqual([
        { status: 'failed', error: 'Loupe stopped while this run was training.' },
      ]);
    } finally {
      trainer.child.kill('SIGKILL');
    }
  });

  it('an edit committed by another process makes the open Core emit dataset:changed', async () => {
    const file = writeProject();
    const core = new Core();
    await core.call('project:open', { file });
    const before = core.requireProject().info().version;
    const changed = new Promise<EventPayloads['dataset:changed']>((resolve) =>
      core.subscribe((event, payload) => {
        if (event === 'dataset:changed') resolve(payload as EventPayloads['dataset:changed']);
      }),
    );
    const editor = startWorker('create-class', file, 'wasp');
    try {
      await editor.said('done');
      const payload = await changed;
      expect(payload.version).toBeGreaterThan(before);
      expect(payload.version).toBe(core.requireProject().info().version);
      expect((await core.call('classes:list', {})).map((c) => c.name)).toContain('wasp');
    } finally {
      editor.child.kill('SIGKILL');
      await core.shutdown();
    }
  }, 15_000);

  it('a lease whose pid runs but whose heartbeat is stale (a reused pid) is dead; a fresh one is alive', () => {
    const file = writeProject();
    const raw = new Database(file);
    const now = Date.now();
    // This test's own pid stands in for a pid the system reused after the owner died.
    raw
      .prepare('INSERT INTO owners (id, pid, host, heartbeat_at) VALUES (?, ?, ?, ?), (?, ?, ?, ?)')
      .run('gone', process.pid, os.hostname(), now - staleMs - 1000, 'alive', process.pid, os.hostname(), now);
    raw.exec(`INSERT INTO imports (source, kind, status, started_at, owner) VALUES
      ('a', 'folders', 'running', 1, 'gone'), ('b', 'folders', 'running', 1, 'alive'), ('c', 'folders', 'running', 1, NULL)`);
    raw.close();
    openProject(file).close();
    expect(peek(file, 'SELECT source, status FROM imports ORDER BY source')).toEqual([
      { source: 'a', status: 'interrupted' },
      { source: 'b', status: 'running' },
      { source: 'c', status: 'interrupted' },
    ]);
    expect(peek(file, 'SELECT id FROM owners')).toEqual([{ id: 'alive' }]);
  });
});
