/** A project: its database, its file and the root folder that image paths are relative to. */
import fs from 'node:fs';
import path from 'node:path';
import type { ProjectInfo } from '../../shared/types';
import { datasetVersion } from './changes';
import type { ImportKind } from '../../shared/types';
import { isReadOnly, openDatabase, schemaVersion, write, type Db } from './db';
import { getMeta, setMeta } from './meta';
import { liveOwners, stopHeartbeat } from './owners';
import { sql } from './statements';
import type { Task } from '../../shared/regression';

/** How often an open project looks for commits made by other processes. */
const watchMs = 1000;

/** An open project. */
export interface Project {
  db: Db;
  file: string;
  /** True when the file cannot be written: the project opened for reading, edits fail with READ_ONLY. */
  readOnly: boolean;
  /** The root folder, or null before the first import. */
  root(): string | null;
  setRoot(folder: string): void;
  info(): ProjectInfo;
  /**
   * Calls `listener` with the new dataset version when another process changes the change log;
   * checks about once a second until the project closes. Returns the unsubscribe.
   */
  watch(listener: (version: number) => void): () => void;
  close(): void;
}

/** The latest import of a source, when it stopped part way: running it again resumes it. */
function unfinishedImport(db: Db): ProjectInfo['unfinishedImport'] {
  const row = db
    .prepare(
      `SELECT source, kind, status FROM imports i
        WHERE id = (SELECT max(id) FROM imports j WHERE j.source = i.source)
          AND status IN ('interrupted', 'cancelled')
        ORDER BY id DESC LIMIT 1`,
    )
    .get() as { source: string; kind: ImportKind; status: 'interrupted' | 'cancelled' } | undefined;
  return row ?? null;
}

/** Imports left running by a process that is gone (see owners.ts) become `interrupted`; a live one's stay running. */
function recoverImports(db: Db): void {
  write(db, () =>
    db
      .prepare(
        `UPDATE imports SET status = 'interrupted', finished_at = ?
          WHERE status = 'running' AND (owner IS NULL OR owner NOT IN (SELECT value FROM json_each(?)))`,
      )
      .run(Date.now(), JSON.stringify(liveOwners(db))),
  );
}

/** True while an import of a live process is still running in the project (after recovery). */
/**
 * The project's task, derived from its labels: classification when an active image carries a class,
 * regression when active images carry only numeric values; before any label, what the first import
 * declared (or null). Binning (class labels beside kept values) and its undo move a project between
 * the two with no setting to keep in step.
 */
export function projectTask(db: Db): Task | null {
  const row = sql(
    db,
    `SELECT EXISTS (SELECT 1 FROM labels l JOIN images i ON i.id = l.image_id WHERE l.class_id IS NOT NULL AND i.status = 'active') AS classes,
            EXISTS (SELECT 1 FROM labels l JOIN images i ON i.id = l.image_id WHERE l.value IS NOT NULL AND i.status = 'active') AS vals`,
  ).get() as { classes: number; vals: number };
  if (row.classes) return 'classification';
  if (row.vals) return 'regression';
  const declared = getMeta(db, 'task');
  return declared === 'classification' || declared === 'regression' ? declared : null;
}

export function isImportRunning(db: Db): boolean {
  return db.prepare("SELECT 1 FROM imports WHERE status = 'running' LIMIT 1").get() !== undefined;
}

/**
 * Opens a project file (creating it with `create`); imports left running by a process that is gone
 * become `interrupted`. A file that cannot be written opens read-only.
 */
export function openProject(file: string, options: { create?: boolean } = {}): Project {
  const absolute = path.resolve(file);
  const db = openDatabase(absolute, options);
  const readOnly = isReadOnly(db);
  if (!readOnly) recoverImports(db);
  const here = path.dirname(absolute);
  const watchers = new Set<(version: number) => void>();
  let timer: ReturnType<typeof setInterval> | null = null;
  let seen = { dataVersion: 0, version: 0 };
  const check = () => {
    // data_version changes only when another connection commits; the dataset version says whether it touched the data.
    let dataVersion: number;
    let version: number;
    try {
      dataVersion = db.pragma('data_version', { simple: true }) as number;
      if (dataVersion === seen.dataVersion) return;
      version = datasetVersion(db);
    } catch {
      // Unreadable for now (a drive gone, another process migrating it): look again at the next tick.
      return;
    }
    const changed = version !== seen.version;
    seen = { dataVersion, version };
    if (changed) for (const listener of watchers) listener(version);
  };
  const project: Project = {
    db,
    file: absolute,
    readOnly,
    root() {
      // The root is stored relative to the project file so that both can move together.
      const relative = getMeta(db, 'root');
      if (relative !== null) {
        const candidate = path.resolve(here, relative);
        if (fs.existsSync(candidate)) return candidate;
      }
      return getMeta(db, 'root_absolute');
    },
    setRoot(folder) {
      setMeta(db, 'root', path.relative(here, folder) || '.');
      setMeta(db, 'root_absolute', folder);
    },
    info() {
      const task = projectTask(db);
      return {
        file: absolute,
        name: path.basename(absolute).replace(/\.loupe$/i, ''),
        root: project.root(),
        version: datasetVersion(db),
        task,
        schemaVersion: schemaVersion(db),
        unfinishedImport: unfinishedImport(db),
        readOnly,
      };
    },
    watch(listener) {
      if (!timer) {
        seen = { dataVersion: db.pragma('data_version', { simple: true }) as number, version: datasetVersion(db) };
        timer = setInterval(check, watchMs);
        timer.unref();
      }
      watchers.add(listener);
      return () => {
        watchers.delete(listener);
        if (watchers.size === 0 && timer) {
          clearInterval(timer);
          timer = null;
        }
      };
    },
    close() {
      if (timer) clearInterval(timer);
      timer = null;
      watchers.clear();
      stopHeartbeat(db);
      db.close();
    },
  };
  return project;
}
