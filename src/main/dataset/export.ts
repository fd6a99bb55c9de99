/**
 * Writing the active dataset out: a CSV of path,label,split (paths relative to the CSV, so it can
 * be imported again) or a split/class folder tree of copies or hard links. Originals are only read.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import type { Project } from '../store/project';
import { datasetVersion } from '../store/changes';
import type { JobContext } from '../jobs/manager';
import { resolveInside, safeSegment } from '../util/paths';

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
  // an export that fails half way leaves no half-written folder behind.
  await fs.mkdir(path.dirname(out), { recursive: true });
  const staging = await fs.mkdtemp(path.join(path.dirname(out), `.${path.basename(out)}.partial-`));
  try {
    const files =
      options.format === 'csv' ? await writeCsv(staging, out, root, rows) : await writeFolders(staging, root, rows, options, ctx);
    await writeManifest(staging, options, version, rows);
    if (existing) await fs.rmdir(out);
    await fs.rename(staging, out);
    return { out, files, version };
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    if (error instanceof LoupeError) throw error;
    throw new LoupeError('IO', `Export to ${out} failed: ${(error as Error).message}`, { out });
  }
}

/** labels.csv, with paths relative to where it will finally live (`out`), so it imports again. */
async function writeCsv(staging: string, out: string, root: string, rows: Row[]): Promise<number> {
  const isRegression = rows.some((r) => r.value !== null);
  const lines = [isRegression ? 'path,value,split' : 'path,label,split'];
  for (const row of rows) {
    const absolute = resolveInside(root, row.path);
    if (!absolute) continue;
    const rel = path.relative(out, absolute).split(path.sep).join('/');
    lines.push([rel, isRegression ? String(row.value ?? '') : (row.label ?? ''), row.split ?? ''].map(csvField).join(','));
  }
  await fs.writeFile(path.join(staging, 'labels.csv'), lines.join('\n') + '\n');
  return 1;
}

/** split/class/file copies (or hard links). Names that would collide, even by case alone, are told apart. */
async function writeFolders(
  staging: string,
  root: string,
  rows: Row[],
  options: ExportOptions,
  ctx?: Pick<JobContext, 'progress' | 'throwIfCancelled'>,
): Promise<number> {
  const folderOf = distinctSegments([...new Set(rows.map((r) => r.label ?? 'unlabeled'))]);
  const used = new Set<string>();
  let files = 0;
  for (const [index, row] of rows.entries()) {
    ctx?.throwIfCancelled();
    ctx?.progress('exporting', index, rows.length);
    const absolute = resolveInside(root, row.path);
    if (!absolute) continue;
    const folder = path.join(staging, row.split ?? 'unsplit', folderOf.get(row.label ?? 'unlabeled')!);
    const base = path.basename(row.path);
    let name = base;
    for (let n = 0; used.has(path.join(folder, name).toLowerCase()); n++) name = n === 0 ? `${row.id}_${base}` : `${row.id}_${n}_${base}`;
    used.add(path.join(folder, name).toLowerCase());
    await fs.mkdir(folder, { recursive: true });
    const target = path.join(folder, name);
    if (options.link === 'hardlink') await fs.link(absolute, target);
    else await fs.copyFile(absolute, target, fs.constants.COPYFILE_EXCL);
    files++;
  }
  return files;
}

/** A folder name per class: safe on every file system, and distinct even where case does not count. */
function distinctSegments(names: string[]): Map<string, string> {
  const taken = new Set<string>();
  const out = new Map<string, string>();
  for (const name of [...names].sort()) {
    const base = safeSegment(name);
    let segment = base;
    for (let n = 2; taken.has(segment.toLowerCase()); n++) segment = `${base}_${n}`;
    taken.add(segment.toLowerCase());
    out.set(name, segment);
  }
  return out;
}

/** manifest.json: which dataset version was exported, how, and the class x split counts. */
async function writeManifest(out: string, options: ExportOptions, version: number, rows: Row[]): Promise<void> {
  const classes: Record<string, Record<string, number>> = {};
  for (const row of rows) {
    const name = row.label ?? '(unlabeled)';
    const counts = (classes[name] ??= { train: 0, valid: 0, test: 0, unsplit: 0 });
    counts[row.split ?? 'unsplit'] = (counts[row.split ?? 'unsplit'] ?? 0) + 1;
  }
  const manifest = {
    generator: 'loupe',
    datasetVersion: version,
    exportedAt: new Date().toISOString(),
    format: options.format,
    link: options.format === 'folders' ? (options.link ?? 'copy') : null,
    images: rows.length,
    classes,
  };
  await fs.writeFile(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
