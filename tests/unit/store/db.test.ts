import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoupeError } from '../../../src/shared/errors';
import { openDatabase, schemaVersion } from '../../../src/main/store/db';
import { latestSchemaVersion, migrations } from '../../../src/main/store/migrations';
import { tempDir } from '../../helpers/fixtures';

describe('openDatabase', () => {
  it('creates a project in WAL mode at the latest schema', () => {
    const file = path.join(tempDir(), 'p.loupe');
    const db = openDatabase(file, { create: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(schemaVersion(db)).toBe(latestSchemaVersion);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
      (t) => t.name,
    );
    expect(tables).toEqual(
      expect.arrayContaining(['images', 'classes', 'labels', 'splits', 'batches', 'changes', 'thumbnails', 'imports', 'meta']),
    );
    db.close();
  });

  it('numbers migrations 1..n without gaps', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it('refuses a missing project unless asked to create it', () => {
    const file = path.join(tempDir(), 'missing.loupe');
    expect(() => openDatabase(file)).toThrow(LoupeError);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses a file written by a newer Loupe, leaving it untouched', () => {
    const file = path.join(tempDir(), 'future.loupe');
    openDatabase(file, { create: true }).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${latestSchemaVersion + 1}`);
    raw.close();
    const before = fs.readFileSync(file);
    try {
      openDatabase(file);
      expect.unreachable();
    } catch (error) {
      expect((error as LoupeError).code).toBe('SCHEMA_TOO_NEW');
      expect((error as LoupeError).message).toMatch(/newer Loupe/);
    }
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a file that is not a project', () => {
    const file = path.join(tempDir(), 'notes.loupe');
    fs.writeFileSync(file, 'just some text, not SQLite');
    expect(() => openDatabase(file)).toThrow(/not a Loupe project/);
  });
});
