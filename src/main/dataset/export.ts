/**
 * Writing the active dataset out: a CSV of path,label,split (paths relative to the CSV, so it can
 * be imported again) or a split/class folder tree of copies or hard links. Originals are only read.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import type { Project } from '../store/project';
import { datasetVersion } from '../store/changes';
import { getMeta, setMeta } from '../store/meta';
import type { JobContext } from '../jobs/manager';
import { realFileInside, resolveInside } from '../util/paths';
import { needsNeutralising, neutraliseCell } from '../util/csvCells';
import { uniqueFolderNames } from '../util/folderNames';

/** How to export. */
export interface ExportOptions {
  format: 'csv' | 'folders';
  out: string;
  link?: 'copy' | 'hardlink';
}

interface Row {
  id: number;
  path: string;
  label: string | null;
  value: number | null;
  split: string | null;
}

type Counts = { train: number; valid: number; test: number; unsplit: number };

/** What the manifest adds for each format. */
type FormatNotes = { csv: { formulaGuard: string; neutralisedCells: number } } | { folders: Map<string, string> };

/** Exports the active images; returns where they went and how many files were written. */
export async function exportDataset(
  project: Project,
  options: ExportOptions,
  ctx?: Pick<JobContext, 'progress' | 'throwIfCancelled'>,
): Promise<{ out: string; files: number; version: number }> {
  const root = project.root();
  if (!root) throw new LoupeError('CONFLICT', 'The project has no images yet; import some first.');
  const out = path.resolve(options.out);
  const existing = await fs.readdir(out).catch(() => null);
  if (existing && existing.length > 0) {
    throw new LoupeError('CONFLICT', `${out} is not empty; export into a new or empty folder.`, { out });
  }
  const rows = project.db
    .prepare(
      `SELECT i.id, i.path, c.name AS label, l.value, s.split FROM images i
         LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id
         LEFT JOIN splits s ON s.image_id = i.id
        WHERE i.status = 'active' ORDER BY i.path`,
    )
    .all() as Row[];
  const version = datasetVersion(project.db);
  // Everything is written into a staging folder beside `out` and moved into place at the end:
  // an export that fails half way leaves no half-written folder behind, and one that was killed
  // leaves a folder that the next export removes.
  await fs.mkdir(path.dirname(out), { recursive: true });
  await removeStaleStagingOf(project, path.dirname(out));
  const staging = await fs.mkdtemp(path.join(path.dirname(out), stagingPrefix(out)));
  try {
    await writeStagingMarker(staging);
    const notes =
      options.format === 'csv' ? await writeCsv(staging, out, root, rows) : await writeFolders(staging, root, rows, options, ctx);
    await writeManifest(staging, options, version, rows, notes);
    await fs.rm(path.join(staging, stagingMarker));
    if (existing) await fs.rmdir(out);
    await fs.rename(staging, out);
    return { out, files: notes.files, version };
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    if (error instanceof LoupeError) throw error;
    throw new LoupeError('IO', `Export to ${out} failed: ${(error as Error).message}`, { out });
  } finally {
    // Bookkeeping only: failing it must not fail an export that worked.
    await forgetIfClean(project, path.dirname(out)).catch(() => undefined);
  }
}

/** labels.csv, with paths relative to where it will finally live (`out`), so it imports again. */
async function writeCsv(staging: string, out: string, root: string, rows: Row[]): Promise<FormatNotes & { files: number }> {
  const isRegression = rows.some((r) => r.value !== null);
  const lines = [isRegression ? 'path,value,split' : 'path,label,split'];
  let neutralisedCells = 0;
  // Free text is guarded against spreadsheet formulas; numbers and split names are not free text.
  const text = (cell: string): string => {
    if (needsNeutralising(cell)) neutralisedCells++;
    return neutraliseCell(cell);
  };
  for (const row of rows) {
    const absolute = resolveInside(root, row.path);
    if (!absolute) continue;
    const rel = path.relative(out, absolute).split(path.sep).join('/');
    const second = isRegression ? String(row.value ?? '') : text(row.label ?? '');
    lines.push([text(rel), second, row.split ?? ''].map(csvField).join(','));
  }
  await fs.writeFile(path.join(staging, 'labels.csv'), lines.join('\n') + '\n');
  return {
    files: 1,
    csv: {
      formulaGuard: "Text cells starting with = + - @ tab, CR or ' are written with a leading ' so spreadsheets do not run them; Loupe's import removes it.",
      neutralisedCells,
    },
  };
}

/**
 * split/class/file copies (or hard links). Each class has its own folder (see uniqueFolderNames);
 * unlabelled images lie directly in their split folder, as import reads them back. File names
 * that would collide, even by case alone, are told apart.
 */
async function writeFolders(
  staging: string,
  root: string,
  rows: Row[],
  options: ExportOptions,
  ctx?: Pick<JobContext, 'progress' | 'throwIfCancelled'>,
): Promise<FormatNotes & { files: number }> {
  const folderOf = uniqueFolderNames(rows.flatMap((r) => (r.label === null ? [] : [r.label])));
  const splitFolder = (row: Row): string => row.split ?? 'unsplit';
  // Class folders are reserved first so an unlabelled file never takes a class folder's name.
  const used = new Set<string>();
  for (const split of new Set(rows.map(splitFolder))) {
    for (const segment of folderOf.values()) used.add(path.join(split, segment).toLowerCase());
  }
  let files = 0;
  for (const [index, row] of rows.entries()) {
    ctx?.throwIfCancelled();
    ctx?.progress('exporting', index, rows.length);
    const absolute = realFileInside(root, row.path);
    if (!absolute) {
      throw new LoupeError('IO', `${row.path} is missing, or its link leads outside the project root; import the folder again to refresh it, then export.`, {
        path: row.path,
      });
    }
    const folder = row.label === null ? splitFolder(row) : path.join(splitFolder(row), folderOf.get(row.label)!);
    const base = path.basename(row.path);
    let name = base;
    for (let n = 0; used.has(path.join(folder, name).toLowerCase()); n++) name = n === 0 ? `${row.id}_${base}` : `${row.id}_${n}_${base}`;
    used.add(path.join(folder, name).toLowerCase());
    await fs.mkdir(path.join(staging, folder), { recursive: true });
    const target = path.join(staging, folder, name);
    if (options.link === 'hardlink') await fs.link(absolute, target);
    else await fs.copyFile(absolute, target, fs.constants.COPYFILE_EXCL);
    files++;
  }
  const folders = new Map([...folderOf].map(([name, segment]) => [segment, name]));
  return { files, folders };
}

/**
 * manifest.json: which dataset version was exported, how, and the class x split counts. Keys that
 * come from users are built with Object.fromEntries, so a class named "__proto__" is an own key.
 */
async function writeManifest(out: string, options: ExportOptions, version: number, rows: Row[], notes: FormatNotes): Promise<void> {
  const classes = new Map<string, Counts>();
  const unlabeled: Counts = { train: 0, valid: 0, test: 0, unsplit: 0 };
  for (const row of rows) {
    let counts = unlabeled;
    if (row.label !== null) {
      counts = classes.get(row.label) ?? { train: 0, valid: 0, test: 0, unsplit: 0 };
      classes.set(row.label, counts);
    }
    const split = row.split === 'train' || row.split === 'valid' || row.split === 'test' ? row.split : 'unsplit';
    counts[split]++;
  }
  const manifest = {
    generator: 'loupe',
    datasetVersion: version,
    exportedAt: new Date().toISOString(),
    format: options.format,
    link: options.format === 'folders' ? (options.link ?? 'copy') : null,
    images: rows.length,
    classes: Object.fromEntries(classes),
    unlabeled,
    ...('csv' in notes
      ? { csv: notes.csv }
      : {
          // Folder (below each split folder) -> class; unlabelled images lie in the split folder itself.
          folders: Object.fromEntries(notes.folders),
        }),
  };
  await fs.writeFile(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

// Staging folders: `.<out>.partial-<pid>-<started ms>-<6 random>`, holding a marker file that names
// the machine and process that made them. Cleanup removes only folders with both the name and the
// marker, so a user's folder that merely looks like one is never touched.
const stagingName = /^\..+\.partial-(\d+)-(\d+)-[A-Za-z0-9]{6}$/;
const stagingMarker = '.loupe-export-staging';
const staleAfterMs = 24 * 60 * 60 * 1000;
const stagingDirsKey = 'export.stagingDirs';

function stagingPrefix(out: string): string {
  return `.${path.basename(out)}.partial-${process.pid}-${Date.now()}-`;
}

async function writeStagingMarker(staging: string): Promise<void> {
  await fs.writeFile(path.join(staging, stagingMarker), JSON.stringify({ host: os.hostname(), pid: process.pid }) + '\n');
}

/** The marker of a staging folder, or null when it has none (not ours). */
async function readStagingMarker(dir: string): Promise<{ host: string; pid: number } | null> {
  try {
    const value = JSON.parse(await fs.readFile(path.join(dir, stagingMarker), 'utf8')) as { host?: unknown; pid?: unknown };
    return typeof value.host === 'string' && typeof value.pid === 'number' ? { host: value.host, pid: value.pid } : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes staging folders in `dir` that no live export owns: their process (on this machine) is
 * gone, or they are older than a day (a pid can be reused). Only folders with the staging name and
 * Loupe's marker inside are candidates. Returns the folders removed and how many are left.
 */
export async function removeStaleStaging(dir: string, now = Date.now()): Promise<{ removed: string[]; left: number }> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const removed: string[] = [];
  let left = 0;
  for (const entry of entries) {
    // Dirent.isDirectory() is false for a symlink: links are never followed or removed.
    if (!entry.isDirectory()) continue;
    const full = path.join(dir, entry.name);
    const match = stagingName.exec(entry.name);
    if (!match) continue;
    const marker = await readStagingMarker(full);
    if (!marker || marker.pid !== Number(match[1])) continue;
    // Another machine's export (a shared drive) is judged by age alone: its pid means nothing here.
    const isStale = now - Number(match[2]) > staleAfterMs || (marker.host === os.hostname() && !isAlive(marker.pid));
    if (!isStale) {
      left++;
      continue;
    }
    // One that cannot be removed (permissions) is left for a later try; it does not stop an export.
    const isGone = await fs.rm(full, { recursive: true, force: true }).then(
      () => true,
      () => false,
    );
    if (isGone) removed.push(full);
    else left++;
  }
  return { removed, left };
}

/** Removes what killed exports of this project left in the folders where they staged (at open). */
export async function removeStaleStagingOfProject(project: Project): Promise<void> {
  for (const dir of stagingDirs(project)) await forgetIfClean(project, dir);
}

/** Cleans `dir` and every folder where an earlier export of this project staged, and notes `dir`. */
async function removeStaleStagingOf(project: Project, dir: string): Promise<void> {
  await removeStaleStagingOfProject(project);
  await removeStaleStaging(dir);
  // A read-only project still exports; it just cannot remember where.
  if (!project.db.readonly) setMeta(project.db, stagingDirsKey, JSON.stringify([...new Set([...stagingDirs(project), dir])]));
}

/** Removes what is stale in `dir` and forgets it once no staging folder is left there. */
async function forgetIfClean(project: Project, dir: string): Promise<void> {
  if ((await removeStaleStaging(dir)).left > 0 || project.db.readonly) return;
  setMeta(project.db, stagingDirsKey, JSON.stringify(stagingDirs(project).filter((d) => d !== dir)));
}

function stagingDirs(project: Project): string[] {
  try {
    const value: unknown = JSON.parse(getMeta(project.db, stagingDirsKey) ?? '[]');
    return Array.isArray(value) ? value.filter((d): d is string => typeof d === 'string') : [];
  } catch {
    return [];
  }
}
