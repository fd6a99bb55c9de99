/**
 * Opening a project file: a file that is not a Loupe project is refused before anything writes to it;
 * WAL mode, foreign keys, numbered migrations each in its own transaction, a backup before migrating
 * an existing file, a refusal to open a file from a newer Loupe, and a read-only fallback where the
 * file cannot be written. Writes go through `write`, an immediate transaction.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import { latestSchemaVersion, migrations } from './migrations';
import { loupeApplicationId } from './migrations/004_owners';

/** An open project database. A read-only project's connection has `readonly` set. */
export type Db = Database.Database;

/** How long a write waits for another process's write to finish. */
const busyTimeoutMs = 5000;

/** Tables every Loupe project has had since schema 1: how files written before the application id are recognised. */
const schema1Tables = ['meta', 'imports', 'images', 'classes', 'labels', 'splits', 'batches', 'changes', 'thumbnails'];

/** SQLite failures that mean "this file or its folder cannot be written". */
const cannotWrite = /^SQLITE_(READONLY|CANTOPEN|PERM|AUTH|IOERR)/;

/** Opens (or, with `create`, creates) a project file and brings its schema up to date. */
export function openDatabase(file: string, options: { create?: boolean } = {}): Db {
  const exists = fs.existsSync(file);
  if (!exists && !options.create) {
    throw new LoupeError('NOT_FOUND', `No project at ${file}. Create it first.`, { file });
  }
  if (!exists) return prepare(connect(file, false), file, false);
  // Look before touching: a read-only connection identifies the file, so a refused one stays byte-identical.
  const reader = connectReadOnly(file);
  let writer: Db | null = null;
  try {
    const kind = identify(reader, file, options.create === true);
    writer = isSnapshot.has(reader) ? null : connectWritable(file);
    if (writer) reader.close();
    return prepare(writer ?? reader, file, kind === 'project');
  } catch (error) {
    if (reader.open) reader.close();
    if (writer?.open) writer.close();
    throw error;
  }
}

/** The schema version stored in the file. */
export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** True when the project was opened read-only: edits are disabled. */
export function isReadOnly(db: Db): boolean {
  return db.readonly;
}

/** The error every write to a read-only project fails with. */
export function readOnlyError(file?: string): LoupeError {
  return new LoupeError(
    'READ_ONLY',
    `${file ?? 'This project'} is read-only, so edits are disabled. Copy the project to a folder you can write to, or make the file writable, to edit it.`,
    file === undefined ? undefined : { file },
  );
}

/**
 * Runs `fn` as one immediate write transaction: the write lock is taken up front, so a second
 * process waits out the busy timeout instead of failing with "database is locked" part way.
 * Nested calls become savepoints. A read-only project fails at once with READ_ONLY.
 */
export function write<T>(db: Db, fn: () => T): T {
  if (db.readonly) throw readOnlyError(projectFile(db));
  return db.transaction(fn).immediate();
}

/**
 * Turns SQLite's read-only and busy failures (from writes outside `write`) into Loupe errors a person
 * can act on; anything else is returned unchanged.
 */
export function storeError(error: unknown): unknown {
  if (!(error instanceof Database.SqliteError)) return error;
  if (error.code.startsWith('SQLITE_READONLY')) return readOnlyError();
  if (error.code.startsWith('SQLITE_BUSY')) {
    return new LoupeError('CONFLICT', 'Another program is writing to this project and did not finish in time. Try again.');
  }
  return error;
}

/** Where each snapshot connection's project lives (a read-only folder is read through a copy). */
const isSnapshot = new WeakMap<Db, string>();

function projectFile(db: Db): string {
  return isSnapshot.get(db) ?? db.name;
}

function connect(file: string, readonly: boolean): Db {
  try {
    return new Database(file, { readonly, fileMustExist: readonly });
  } catch (error) {
    throw new LoupeError('IO', `Cannot open ${file}: ${(error as Error).message}`, { file });
  }
}

/** A read-only connection; where WAL's -shm cannot be made beside the file (a read-only folder), one to a copy. */
function connectReadOnly(file: string): Db {
  const db = connect(file, true);
  try {
    db.pragma('schema_version');
    return db;
  } catch (error) {
    db.close();
    if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_CANTOPEN')) return snapshot(file);
    throw notProject(file, error);
  }
}

/**
 * A read-write connection, or null when writing turns out impossible. Permission bits do not
 * decide it (root writes a 0444 file); a write that is rolled back does.
 */
function connectWritable(file: string): Db | null {
  let db: Db;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch {
    return null;
  }
  try {
    db.pragma('busy_timeout = 0');
    db.exec('BEGIN IMMEDIATE');
    try {
      db.pragma(`user_version = ${schemaVersion(db)}`);
    } finally {
      db.exec('ROLLBACK');
    }
    return db;
  } catch (error) {
    // Busy: another process holds the write lock, so the file is writable.
    if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY')) return db;
    db.close();
    if (error instanceof Database.SqliteError && cannotWrite.test(error.code)) return null;
    throw error;
  }
}

/** A private copy of a project in a read-only folder, checkpointed into one file and opened read-only. */
function snapshot(file: string): Db {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-readonly-'));
  const copy = path.join(dir, path.basename(file));
  try {
    fs.copyFileSync(file, copy);
    if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    const flatten = new Database(copy, { fileMustExist: true });
    try {
      flatten.pragma('journal_mode = DELETE');
    } finally {
      flatten.close();
    }
    const db = new Database(copy, { readonly: true, fileMustExist: true });
    isSnapshot.set(db, file);
    return db;
  } catch (error) {
    throw notProject(file, error);
  } finally {
    // The open connection keeps the copy readable; a platform that cannot unlink an open file keeps it in tmp.
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Left for the system's tmp cleanup.
    }
  }
}

function notProject(file: string, error: unknown): LoupeError {
  if (error instanceof LoupeError) return error;
  return new LoupeError('VALIDATION', `${file} is not a Loupe project (${(error as Error).message}). Choose a .loupe file, or a new file name to create one.`, {
    file,
  });
}

/**
 * Decides from the header and the table list alone whether a file is a Loupe project: Loupe's
 * application id, or (files written before it) schema 1's tables. An empty database becomes one only with `create`.
 */
function identify(db: Db, file: string, create: boolean): 'project' | 'empty' {
  let applicationId: number;
  let version: number;
  let tables: Set<string>;
  try {
    applicationId = db.pragma('application_id', { simple: true }) as number;
    version = schemaVersion(db);
    tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name),
    );
  } catch (error) {
    throw notProject(file, error);
  }
  const isEmpty = applicationId === 0 && version === 0 && tables.size === 0;
  const isProject =
    applicationId === loupeApplicationId || (applicationId === 0 && version >= 1 && schema1Tables.every((t) => tables.has(t)));
  if (isEmpty && create) return 'empty';
  if (!isProject) {
    throw new LoupeError(
      'VALIDATION',
      `${file} is ${isEmpty ? 'an empty database' : 'a database of another program'}, not a Loupe project; it was left unchanged. Choose a .loupe file, or a new file name to create one.`,
      { file },
    );
  }
  if (version > latestSchemaVersion) {
    throw new LoupeError(
      'SCHEMA_TOO_NEW',
      `${file} was written by a newer Loupe (schema ${version}; this one reads up to ${latestSchemaVersion}). Update Loupe to open it.`,
      { file, schema: version, supported: latestSchemaVersion },
    );
  }
  return 'project';
}

/** Sets the connection up and migrates; closes it on failure. */
function prepare(db: Db, file: string, existed: boolean): Db {
  try {
    if (db.readonly) {
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      const version = schemaVersion(db);
      if (version < latestSchemaVersion) {
        throw new LoupeError(
          'READ_ONLY',
          `${file} is read-only and was written by an older Loupe (schema ${version}); it needs an upgrade this Loupe cannot write. Copy it to a folder you can write to and open the copy.`,
          { file, schema: version },
        );
      }
      return db;
    }
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, file, existed);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof LoupeError) throw error;
    throw notProject(file, error);
  }
}

function migrate(db: Db, file: string, existed: boolean): void {
  const current = schemaVersion(db);
  const pending = migrations.filter((m) => m.version > current);
  if (pending.length === 0) return;
  if (existed && current > 0) backup(db, file, current);
  for (const migration of pending) {
    write(db, () => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    });
  }
}

// VACUUM INTO writes one consistent copy, WAL included, even while another connection reads (a
// checkpoint then copy would silently miss what the checkpoint could not move).
function backup(db: Db, file: string, version: number): void {
  const target = `${file}.schema${version}.bak`;
  fs.rmSync(target, { force: true });
  db.prepare('VACUUM INTO ?').run(target);
}
