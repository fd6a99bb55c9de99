/**
 * Opening a project file: WAL mode, foreign keys, numbered migrations each in its own transaction,
 * a backup before migrating an existing file, and a refusal to open a file from a newer Loupe.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { LoupeError } from '../../shared/errors';
import { latestSchemaVersion, migrations } from './migrations';

/** An open project database. */
export type Db = Database.Database;

/** Opens (or, with `create`, creates) a project file and brings its schema up to date. */
export function openDatabase(file: string, options: { create?: boolean } = {}): Db {
  const exists = fs.existsSync(file);
  if (!exists && !options.create) {
    throw new LoupeError('NOT_FOUND', `No project at ${file}. Create it first.`, { file });
  }
  let db: Db;
  try {
    db = new Database(file, { fileMustExist: !options.create });
  } catch (error) {
    throw new LoupeError('IO', `Cannot open ${file}: ${(error as Error).message}`, { file });
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, file, exists);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof LoupeError) throw error;
    throw new LoupeError('IO', `${file} is not a Loupe project: ${(error as Error).message}`, { file });
  }
}

/** The schema version stored in the file. */
export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db, file: string, existed: boolean): void {
  const current = schemaVersion(db);
  if (current > latestSchemaVersion) {
    throw new LoupeError(
      'SCHEMA_TOO_NEW',
      `${file} was written by a newer Loupe (schema ${current}; this one reads up to ${latestSchemaVersion}). Update Loupe to open it.`,
      { file, schema: current, supported: latestSchemaVersion },
    );
  }
  const pending = migrations.filter((m) => m.version > current);
  if (pending.length === 0) return;
  if (existed && current > 0) backup(db, file, current);
  for (const migration of pending) {
    db.transaction(() => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}

function backup(db: Db, file: string, version: number): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
  fs.copyFileSync(file, `${file}.schema${version}.bak`);
}
