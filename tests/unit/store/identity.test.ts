import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { openDatabase, schemaVersion } from '../../../src/main/store/db';
import { latestSchemaVersion } from '../../../src/main/store/migrations';
import { loupeApplicationId } from '../../../src/main/store/migrations/004_owners';
import { LoupeError } from '../../../src/shared/errors';
import { tempDir } from '../../helpers/fixtures';
import { writeSchema1Project } from './helpers/schema1';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Another program's database: its own tables, a user_version, even a `meta` table. */
function writeForeignDatabase(file: string, options: { applicationId?: number; wal?: boolean } = {}): void {
  const db = new Database(file);
  if (options.wal) db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
    INSERT INTO meta VALUES ('app', 'notes');
    INSERT INTO notes (body) VALUES ('keep me');
  `);
  db.pragma('user_version = 2');
  if (options.applicationId) db.pragma(`application_id = ${options.applicationId}`);
  db.close();
}

function expectRefused(open: () => unknown): LoupeError {
  try {
    open();
  } catch (error) {
    expect(error).toBeInstanceOf(LoupeError);
    expect((error as LoupeError).message).toMatch(/not a Loupe project; it was left unchanged/);
    return error as LoupeError;
  }
  return expect.unreachable('the file was opened as a project');
}

describe('a file that is not a Loupe project', () => {
  it('is refused, even when asked to create, and stays byte-identical', async () => {
    for (const options of [{}, { applicationId: 0x12345678 }, { wal: true }]) {
      const dir = tempDir();
      const file = path.join(dir, 'notes.db');
      writeForeignDatabase(file, options);
      const before = sha256(file);
      const listing = fs.readdirSync(dir);
      expect(expectRefused(() => openDatabase(file)).code).toBe('VALIDATION');
      expectRefused(() => openDatabase(file, { create: true }));
      const core = new Core();
      const reply = await core.request('project:open', { file, create: true });
      expect(reply.ok).toBe(false);
      await core.shutdown();
      expect(sha256(file), JSON.stringify(options)).toBe(before);
      // A WAL database gets SQLite's shared-memory files from any reader; nothing is written to its log.
      const added = fs.readdirSync(dir).filter((name) => !listing.includes(name));
      expect(added, JSON.stringify(options)).toEqual(options.wal ? ['notes.db-shm', 'notes.db-wal'] : []);
      if (options.wal) expect(fs.statSync(`${file}-wal`).size).toBe(0);
      const raw = new Database(file, { readonly: true });
      expect(raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()).toEqual([
        { name: 'meta' },
        { name: 'notes' },
      ]);
      raw.close();
    }
  });

  it('an empty file is refused unless asked to create a project in it', () => {
    const file = path.join(tempDir(), 'empty.loupe');
    fs.writeFileSync(file, '');
    expect(() => openDatabase(file)).toThrow(/an empty database, not a Loupe project/);
    expect(fs.statSync(file).size).toBe(0);
    const db = openDatabase(file, { create: true });
    expect(schemaVersion(db)).toBe(latestSchemaVersion);
    db.close();
  });
});

describe('Loupe projects', () => {
  it('one made by this Loupe opens, and carries the application id', () => {
    const file = path.join(tempDir(), 'p.loupe');
    openDatabase(file, { create: true }).close();
    const db = openDatabase(file);
    expect(db.pragma('application_id', { simple: true })).toBe(loupeApplicationId);
    db.close();
  });

  it('a schema-1 project from before the application id opens, and is stamped on upgrade', () => {
    const file = path.join(tempDir(), 'old.loupe');
    writeSchema1Project(file);
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('application_id', { simple: true })).toBe(0);
    raw.close();
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(latestSchemaVersion);
    expect(db.pragma('application_id', { simple: true })).toBe(loupeApplicationId);
    expect(db.prepare('SELECT count(*) AS n FROM changes').get()).toEqual({ n: 1 });
    db.close();
  });
});
