/** A project: its database, its file and the root folder that image paths are relative to. */
import fs from 'node:fs';
import path from 'node:path';
import type { ProjectInfo } from '../../shared/types';
import { datasetVersion } from './changes';
import type { ImportKind } from '../../shared/types';
import { openDatabase, schemaVersion, type Db } from './db';
import { getMeta, setMeta } from './meta';

/** An open project. */
export interface Project {
  db: Db;
  file: string;
  /** The root folder, or null before the first import. */
  root(): string | null;
  setRoot(folder: string): void;
  info(): ProjectInfo;
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

/** Opens a project file (creating it with `create`); imports left running by a crash become `interrupted`. */
export function openProject(file: string, options: { create?: boolean } = {}): Project {
  const absolute = path.resolve(file);
  const db = openDatabase(absolute, options);
  db.prepare("UPDATE imports SET status = 'interrupted', finished_at = ? WHERE status = 'running'").run(Date.now());
  const here = path.dirname(absolute);
  const project: Project = {
    db,
    file: absolute,
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
      const task = getMeta(db, 'task');
      return {
        file: absolute,
        name: path.basename(absolute).replace(/\.loupe$/i, ''),
        root: project.root(),
        version: datasetVersion(db),
        task: task === 'classification' || task === 'regression' ? task : null,
        schemaVersion: schemaVersion(db),
        unfinishedImport: unfinishedImport(db),
      };
    },
    close() {
      db.close();
    },
  };
  return project;
}
