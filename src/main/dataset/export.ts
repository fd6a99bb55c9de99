/**
 * Writing the active dataset out: a CSV of path,label,split (paths relative to the CSV, so it can
 * be imported again) or a split/class folder tree of copies or hard links. Originals are only read.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import type { Project } from '../store/project';
import { datasetVersion } from '../store/changes';
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
): Promise<{ out: string; files: number; version: number }> {
  const root = project.root();
  if (!root) throw new LoupeError('CONFLICT', 'The project has no images yet; import some first.');
  const out = path.resolve(options.out);
  await fs.mkdir(out, { recursive: true });
  if ((await fs.readdir(out)).length > 0) {
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
  if (options.format === 'csv') {
    const isRegression = rows.some((r) => r.value !== null);
    const lines = [isRegression ? 'path,value,split' : 'path,label,split'];
    for (const row of rows) {
      const absolute = resolveInside(root, row.path);
      if (!absolute) continue;
      const rel = path.relative(out, absolute).split(path.sep).join('/');
      lines.push([rel, isRegression ? String(row.value ?? '') : (row.label ?? ''), row.split ?? ''].map(csvField).join(','));
    }
    await fs.writeFile(path.join(out, 'labels.csv'), lines.join('\n') + '\n');
    await writeManifest(out, options, version, rows);
    return { out, files: 1, version };
  }
  let files = 0;
  const used = new Set<string>();
  for (const row of rows) {
    const absolute = resolveInside(root, row.path);
    if (!absolute) continue;
    const folder = path.join(out, row.split ?? 'unsplit', safeSegment(row.label ?? 'unlabeled'));
    let name = path.basename(row.path);
    // Two classes' folders may hold files with the same name; keep both.
    if (used.has(path.join(folder, name))) name = `${row.id}_${name}`;
    used.add(path.join(folder, name));
    await fs.mkdir(folder, { recursive: true });
    const target = path.join(folder, name);
    if (options.link === 'hardlink') await fs.link(absolute, target);
    else await fs.copyFile(absolute, target, fs.constants.COPYFILE_EXCL);
    files++;
  }
  await writeManifest(out, options, version, rows);
  return { out, files, version };
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
