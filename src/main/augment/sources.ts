/** Which images augmentation reads: preview picks and the training feeder's items, from the project's store. */
import { LoupeError } from '../../shared/errors';
import type { ImageId, SplitName } from '../../shared/types';
import type { Project } from '../store/project';
import { sql } from '../store/statements';
import { realFileInside } from '../util/paths';
import type { FeederItem } from './feeder';
import type { PreviewSource } from './preview';
import { rngFor } from './random';

interface SourceRow {
  id: number;
  path: string;
  width: number | null;
  height: number | null;
  label: string | null;
  value: number | null;
}

const columns = `i.id, i.path, i.width, i.height, c.name AS label, l.value AS value
  FROM images i LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id`;

/** A preview source with what the UI shows beside it. */
export interface PreviewPick extends PreviewSource {
  path: string;
  label: string | null;
}

function requireRoot(project: Project): string {
  const root = project.root();
  if (!root) throw new LoupeError('NOT_FOUND', 'This project has no images yet. Import a folder first.');
  return root;
}

function toPick(root: string, row: SourceRow): PreviewPick {
  const file = realFileInside(root, row.path);
  if (!file) throw new LoupeError('NOT_FOUND', `Image ${row.path} is missing or lies outside the project root.`, { id: row.id });
  return { id: row.id, input: file, width: row.width, height: row.height, path: row.path, label: row.label };
}

/** The named images, in the order given; any unknown id is NOT_FOUND. */
export function previewPicksById(project: Project, ids: readonly ImageId[]): PreviewPick[] {
  const root = requireRoot(project);
  const get = sql(project.db, `SELECT ${columns} WHERE i.id = ?`);
  return ids.map((id) => {
    const row = get.get(id) as SourceRow | undefined;
    if (!row) throw new LoupeError('NOT_FOUND', `No image with id ${id}.`, { id });
    return toPick(root, row);
  });
}

/** Up to `count` distinct active images, drawn with `seed`. */
export function samplePreviewPicks(project: Project, count: number, seed: number): PreviewPick[] {
  const root = requireRoot(project);
  const { n } = sql(project.db, "SELECT COUNT(*) AS n FROM images WHERE status = 'active'").get() as { n: number };
  if (n === 0) throw new LoupeError('NOT_FOUND', 'There are no active images to preview. Import some first.');
  const rng = rngFor(seed, 0, 'preview-sample');
  const offsets = new Set<number>();
  const wanted = Math.min(count, n);
  // Rejection sampling is fine: at most 64 picks.
  while (offsets.size < wanted) offsets.add(Math.floor(rng() * n));
  const at = sql(project.db, `SELECT ${columns} WHERE i.status = 'active' ORDER BY i.id LIMIT 1 OFFSET ?`);
  return [...offsets].map((offset) => toPick(root, at.get(offset) as SourceRow));
}

/**
 * The feeder's items for one split (or all active images): classification labels become indices
 * into `classes` (sorted names), regression targets pass through. Unlabelled images are left out.
 */
export function feederItems(project: Project, split?: SplitName): { items: FeederItem[]; classes: string[] } {
  const root = requireRoot(project);
  const rows = sql(
    project.db,
    `SELECT ${columns} LEFT JOIN splits s ON s.image_id = i.id
     WHERE i.status = 'active' AND (? IS NULL OR s.split = ?) ORDER BY i.id`,
  ).all(split ?? null, split ?? null) as SourceRow[];
  const classes = [...new Set(rows.map((r) => r.label).filter((l): l is string => l !== null))].sort();
  const index = new Map(classes.map((name, i) => [name, i]));
  const items: FeederItem[] = [];
  for (const row of rows) {
    const label = row.label !== null ? index.get(row.label)! : row.value;
    if (label === null || label === undefined) continue;
    const file = realFileInside(root, row.path);
    if (file) items.push({ id: row.id, input: file, width: row.width, height: row.height, label });
  }
  return { items, classes };
}
