/**
 * Importing a source into a project. Files are read and measured outside any transaction, several
 * at a time; results are written in chunks, each one transaction holding images, thumbnails and
 * their change-log batch, so a crash leaves only whole chunks behind. Re-running the same import
 * skips unchanged files (same size and mtime), which is how an interrupted import resumes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import { skippedListLimit, type ImageId, type ImageStatus, type ImportKind, type ImportSummary, type SkippedEntry } from '../../shared/types';
import type { JobContext } from '../jobs/manager';
import { ensureClass } from '../store/classes';
import { datasetVersion, recordBatch, type FieldChange } from '../store/changes';
import { getMeta, setMeta } from '../store/meta';
import { saveFeatures } from '../store/health';
import { write } from '../store/db';
import { claimOwner } from '../store/owners';
import type { Project } from '../store/project';
import { sql } from '../store/statements';
import { mapOrdered } from '../util/pool';
import { relativeInside } from '../util/paths';
import { defaultPixelLimit, readImageFacts, type ImageFacts } from './imageInfo';
import { scanSource, type ScannedImage } from './scan';
import { planMissingSplits } from './split';

/** How to import. */
export interface ImportOptions {
  source: string;
  kind?: ImportKind;
  /** For a new project: the folder its images must lie in (default: the folder, or the CSV's folder). */
  root?: string;
  pixelLimit?: number;
  /** Images per write transaction. */
  chunkSize?: number;
  /** Images read at once. */
  concurrency?: number;
  /** Called after each committed chunk with the new dataset version. */
  onCommit?: (version: number) => void;
}

interface Existing {
  id: ImageId;
  bytes: number;
  mtimeMs: number;
  status: ImageStatus;
}

interface WorkItem {
  scanned: ScannedImage;
  path: string;
  existing: Existing | undefined;
}

type Outcome =
  | { item: WorkItem; kind: 'unchanged' }
  | { item: WorkItem; kind: 'read'; bytes: number; mtimeMs: number; facts: ImageFacts }
  | { item: WorkItem; kind: 'unreadable'; bytes: number; mtimeMs: number; error: string };

/** Imports a source; resolves with what it did, or throws CANCELLED (details: the summary so far). */
export async function importSource(project: Project, options: ImportOptions, ctx: JobContext): Promise<ImportSummary> {
  const { db } = project;
  ctx.progress('scanning', 0, 0);
  const hadRoot = project.root() !== null;
  const scan = await scanSource(options.source, options.kind, await chosenRoot(project, options.root));
  const source = scan.kind.startsWith('csv') ? path.resolve(options.source) : scan.base;
  // A new project's root is the chosen folder, else the source folder or the CSV's; it never grows to fit.
  const root = project.root() ?? scan.root;
  if (!hadRoot) project.setRoot(root);
  const task = scan.kind === 'csv-values' ? 'regression' : 'classification';
  const projectTask = getMeta(db, 'task');
  if (projectTask !== null && projectTask !== task) {
    throw new LoupeError('CONFLICT', `This project holds ${projectTask} targets; ${source} has ${task} targets.`);
  }
  setMeta(db, 'task', task);

  const existing = new Map<string, Existing>();
  for (const row of db.prepare('SELECT id, path, bytes, mtime_ms AS mtimeMs, status FROM images').iterate() as Iterable<
    Existing & { path: string }
  >) {
    existing.set(row.path, row);
  }

  const seen = new Set<string>();
  const items: WorkItem[] = [];
  const refused: SkippedEntry[] = [...scan.refused];
  for (const scanned of scan.images) {
    // The scan judged real paths; the stored path is relative to the root as written.
    const rel = relativeInside(root, scanned.file);
    if (rel === null) {
      refused.push({ path: scanned.file, cause: 'outside-root', reason: `lies outside the project root ${root}` });
      continue;
    }
    if (seen.has(rel)) continue;
    seen.add(rel);
    items.push({ scanned, path: rel, existing: existing.get(rel) });
  }

  const summary: ImportSummary = {
    source,
    kind: scan.kind,
    scanned: items.length,
    added: 0,
    updated: 0,
    unchanged: 0,
    unreadable: 0,
    missing: 0,
    skipped: refused.length,
    skippedEntries: refused.slice(0, skippedListLimit),
    version: datasetVersion(db),
  };
  for (const entry of summary.skippedEntries) {
    ctx.log(`skipped ${entry.row === undefined ? '' : `row ${entry.row}: `}${entry.path}: ${entry.reason}`);
  }
  if (refused.length > skippedListLimit) ctx.log(`... and ${refused.length - skippedListLimit} more skipped`);
  if (hadRoot && items.length === 0 && refused.some((entry) => entry.cause === 'outside-root')) {
    throw new LoupeError(
      'CONFLICT',
      `Every image of ${source} lies outside this project's root (${root}). Import it into a new project.`,
      summary,
    );
  }

  const importId = Number(
    db
      .prepare('INSERT INTO imports (source, kind, status, started_at, owner) VALUES (?, ?, ?, ?, ?)')
      .run(source, scan.kind, 'running', Date.now(), claimOwner(db)).lastInsertRowid,
  );
  try {
    return await readAndCommit(project, options, ctx, { source, items, seen, summary, importId });
  } catch (error) {
    // A failure part way leaves whole chunks committed and says so; the import is not left "running".
    const status = ctx.signal.aborted ? 'cancelled' : 'failed';
    try {
      db.prepare('UPDATE imports SET status = ?, finished_at = ?, summary = ? WHERE id = ? AND status = ?').run(
        status,
        Date.now(),
        JSON.stringify(summary),
        importId,
        'running',
      );
    } catch {
      // The database itself is failing (busy or gone): the original error is the one to report; the
      // row stays 'running' until this process ends, and the next open recovers it as interrupted.
    }
    throw error;
  }
}

/** Reads every work item and commits them in chunks; marks what disappeared; finishes the imports row. */
async function readAndCommit(
  project: Project,
  options: ImportOptions,
  ctx: JobContext,
  state: { source: string; items: WorkItem[]; seen: Set<string>; summary: ImportSummary; importId: number },
): Promise<ImportSummary> {
  const { db } = project;
  const { source, items, seen, summary, importId } = state;
  const pixelLimit = options.pixelLimit ?? defaultPixelLimit;
  const chunkSize = options.chunkSize ?? 256;
  const concurrency = options.concurrency ?? Math.max(2, os.availableParallelism() * 2);
  const commit = (chunk: Outcome[]) => {
    if (chunk.length === 0) return;
    writeChunk(project, source, chunk, summary);
    summary.version = datasetVersion(db);
    options.onCommit?.(summary.version);
  };

  let chunk: Outcome[] = [];
  let done = 0;
  ctx.progress('reading', 0, items.length);
  for await (const outcome of mapOrdered(items, concurrency, (item) => readOne(item, pixelLimit), ctx.signal)) {
    if (outcome.kind === 'unchanged') summary.unchanged++;
    else chunk.push(outcome);
    if (chunk.length >= chunkSize) {
      commit(chunk);
      chunk = [];
    }
    ctx.progress('reading', ++done, items.length);
  }
  commit(chunk);

  const cancelled = ctx.signal.aborted;
  if (!cancelled) markMissing(project, source, seen, summary);
  assignMissingSplits(project);
  summary.version = datasetVersion(db);
  options.onCommit?.(summary.version);
  db.prepare('UPDATE imports SET status = ?, finished_at = ?, summary = ? WHERE id = ?').run(
    cancelled ? 'cancelled' : 'done',
    Date.now(),
    JSON.stringify(summary),
    importId,
  );
  if (cancelled) throw new LoupeError('CANCELLED', 'Import cancelled; the images read so far are kept.', summary);
  return summary;
}

/** The root a scan must keep to: the project's, else the folder the user chose (which must exist). */
async function chosenRoot(project: Project, chosen: string | undefined): Promise<string | null> {
  const root = project.root();
  if (chosen === undefined) return root;
  const absolute = path.resolve(chosen);
  const real = await fs.realpath(absolute).catch(() => null);
  if (real === null || !(await fs.stat(real)).isDirectory()) {
    throw new LoupeError('VALIDATION', `The root ${absolute} is not a folder. Choose the folder that holds the images.`);
  }
  if (root !== null && real !== (await fs.realpath(root).catch(() => root))) {
    throw new LoupeError('CONFLICT', `This project's root is ${root}, not ${absolute}. Import into a new project to use another root.`);
  }
  return root ?? absolute;
}

/** Gives a split to every active image that lacks one (after imports, and to finish an interrupted one). */
export function assignMissingSplits(project: Project): void {
  const seed = Number(getMeta(project.db, 'split_seed') ?? '1');
  const changes = planMissingSplits(project.db, seed);
  if (changes.length > 0) {
    recordBatch(project.db, { kind: 'import', action: 'assign-splits', description: `Assigned splits to ${changes.length} images` }, changes);
  }
}

async function readOne(item: WorkItem, pixelLimit: number): Promise<Outcome> {
  const stat = await fs.stat(item.scanned.file).catch(() => null);
  if (!stat) return { item, kind: 'unreadable', bytes: 0, mtimeMs: 0, error: 'file not found' };
  const mtimeMs = Math.floor(stat.mtimeMs);
  const { existing } = item;
  if (existing && existing.bytes === stat.size && existing.mtimeMs === mtimeMs && existing.status !== 'missing') {
    return { item, kind: 'unchanged' };
  }
  try {
    const facts = await readImageFacts(item.scanned.file, pixelLimit);
    return { item, kind: 'read', bytes: stat.size, mtimeMs, facts };
  } catch (error) {
    const message = error instanceof LoupeError ? error.message : `cannot read: ${(error as Error).message}`;
    return { item, kind: 'unreadable', bytes: stat.size, mtimeMs, error: message };
  }
}

function writeChunk(project: Project, source: string, chunk: Outcome[], summary: ImportSummary): void {
  const { db } = project;
  write(db, () => {
    const changes: FieldChange[] = [];
    const revived = new Set<number>();
    for (const outcome of chunk) {
      if (outcome.kind === 'unchanged') continue;
      const facts = outcome.kind === 'read' ? outcome.facts : null;
      const columns = [
        facts?.contentHash ?? null,
        facts?.perceptualHash ?? null,
        facts?.width ?? null,
        facts?.height ?? null,
        facts?.channels ?? null,
        facts?.format ?? null,
        outcome.bytes,
        outcome.mtimeMs,
        outcome.kind === 'unreadable' ? outcome.error : null,
      ];
      if (facts) {
        sql(db, 'INSERT OR IGNORE INTO thumbnails (content_hash, width, height, webp) VALUES (?, ?, ?, ?)').run(
          facts.contentHash,
          facts.thumbnail.width,
          facts.thumbnail.height,
          facts.thumbnail.webp,
        );
        saveFeatures(db, facts.contentHash, facts.features);
      }
      const status: ImageStatus = outcome.kind === 'read' ? 'active' : 'unreadable';
      if (outcome.kind === 'unreadable') summary.unreadable++;
      const { existing, scanned } = outcome.item;
      if (existing) {
        sql(
          db,
          `UPDATE images SET content_hash = ?, perceptual_hash = ?, width = ?, height = ?, channels = ?, format = ?,
             bytes = ?, mtime_ms = ?, error = ?, source = ? WHERE id = ?`,
        ).run(...columns, source, existing.id);
        summary.updated++;
        // A person's removal stands; anything else follows what the file is now.
        if (existing.status !== 'removed') changes.push({ imageId: existing.id, field: 'status', value: status });
        continue;
      }
      // New rows start 'missing' (not yet in the dataset); the import batch brings them in.
      const id = Number(
        sql(
          db,
          `INSERT INTO images (content_hash, perceptual_hash, width, height, channels, format, bytes, mtime_ms, error,
             path, source, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'missing', ?)`,
        ).run(...columns, outcome.item.path, source, Date.now()).lastInsertRowid,
      ) as ImageId;
      summary.added++;
      changes.push({ imageId: id, field: 'status', value: status });
      if (scanned.label !== null) {
        const cls = ensureClass(db, scanned.label);
        // A class new to this chunk is shown once, however many of its images the chunk holds.
        if (!revived.has(cls.id)) changes.push(...cls.revive);
        revived.add(cls.id);
        changes.push({ imageId: id, field: 'class', value: String(cls.id) });
      }
      if (scanned.value !== null) changes.push({ imageId: id, field: 'value', value: String(scanned.value) });
      if (scanned.split !== null && status === 'active') changes.push({ imageId: id, field: 'split', value: scanned.split });
    }
    recordBatch(db, { kind: 'import', action: 'import', description: `Imported ${chunk.length} files from ${source}` }, changes);
  });
}

function markMissing(project: Project, source: string, seen: Set<string>, summary: ImportSummary): void {
  const { db } = project;
  const gone = (
    db.prepare("SELECT id, path FROM images WHERE source = ? AND status IN ('active', 'unreadable')").all(source) as {
      id: ImageId;
      path: string;
    }[]
  ).filter((row) => !seen.has(row.path));
  if (gone.length === 0) return;
  summary.missing = gone.length;
  recordBatch(
    db,
    { kind: 'import', action: 'missing', description: `${gone.length} files no longer in ${source}` },
    gone.map((row) => ({ imageId: row.id, field: 'status', value: 'missing' })),
  );
}
