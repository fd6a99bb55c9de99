/**
 * The reads the regression review queues (analysis/values.ts) make of the dataset as it is now:
 * which images changed value or status since a run, which are marked reviewed, and the current
 * path, value and reviewed flag of the images on a page.
 */
import type { ImageId } from '../../shared/types';
import type { Db } from './db';
import { sql } from './statements';

/** An image's state now, as the value queues need it. */
export interface ValueImageState {
  id: ImageId;
  status: string;
  /** Its value now (null: none). */
  value: number | null;
}

/**
 * The images whose value or status changed after dataset version `version` (a change id), with
 * their state now: found through the change log, so the cost follows the edits, not the dataset.
 */
export function valueEditsSince(db: Db, version: number): ValueImageState[] {
  return sql(
    db,
    `SELECT DISTINCT c.image_id AS id, i.status, l.value FROM changes c
       JOIN images i ON i.id = c.image_id LEFT JOIN labels l ON l.image_id = i.id
      WHERE c.id > ? AND c.field IN ('status', 'value')`,
  ).all(version) as ValueImageState[];
}

/** Active images marked reviewed. */
export function reviewedImageIds(db: Db): Set<ImageId> {
  return new Set((sql(db, "SELECT id FROM images WHERE status = 'active' AND reviewed = 1").all() as Array<{ id: ImageId }>).map((r) => r.id));
}

/** Path, value and reviewed flag of each of these images now (an id with no image is left out). */
export function imageValueStates(db: Db, ids: readonly ImageId[]): Map<ImageId, { path: string; value: number | null; reviewed: boolean }> {
  const get = sql(db, 'SELECT i.path, i.reviewed, l.value FROM images i LEFT JOIN labels l ON l.image_id = i.id WHERE i.id = ?');
  const out = new Map<ImageId, { path: string; value: number | null; reviewed: boolean }>();
  for (const id of ids) {
    const row = get.get(id) as { path: string; reviewed: number; value: number | null } | undefined;
    if (row) out.set(id, { path: row.path, value: row.value, reviewed: row.reviewed === 1 });
  }
  return out;
}
