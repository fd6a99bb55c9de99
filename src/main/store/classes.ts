/**
 * Classes: lookup, creation, and the change-log plans for rename, merge and delete. A class is never
 * removed from the table: a merged class points to the class it went into and a deleted one is
 * flagged, so undo can bring either back.
 */
import { LoupeError } from '../../shared/errors';
import type { ImageId } from '../../shared/types';
import type { ClassChange, FieldChange } from './changes';
import type { Db } from './db';
import { sql } from './statements';

/** A class row. */
export interface ClassRow {
  id: number;
  name: string;
}

interface StoredClass extends ClassRow {
  mergedInto: number | null;
  deleted: number;
}

/**
 * The class called `name`, created when it does not exist yet. A new class is born hidden and a
 * hidden one (merged away, deleted) stays hidden: the returned `revive` changes show it, and belong
 * in the caller's batch, so that undoing that batch hides the class again.
 */
export function ensureClass(db: Db, name: string): ClassRow & { revive: ClassChange[] } {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new LoupeError('VALIDATION', 'A class name cannot be empty.');
  const existing = sql(db, 'SELECT id, name, merged_into AS mergedInto, deleted FROM classes WHERE name = ?').get(trimmed) as
    | StoredClass
    | undefined;
  if (existing) {
    const revive: ClassChange[] = [];
    if (existing.mergedInto !== null) revive.push({ classId: existing.id, field: 'class.merged_into', value: null });
    if (existing.deleted) revive.push({ classId: existing.id, field: 'class.deleted', value: '0' });
    return { id: existing.id, name: existing.name, revive };
  }
  const id = Number(
    sql(db, 'INSERT INTO classes (name, deleted, created_at) VALUES (?, 1, ?)').run(trimmed, Date.now()).lastInsertRowid,
  );
  return { id, name: trimmed, revive: [{ classId: id, field: 'class.deleted', value: '0' }] };
}

/** The visible class called `name`, or null. */
export function findClass(db: Db, name: string): ClassRow | null {
  return (
    (sql(db, 'SELECT id, name FROM classes WHERE name = ? AND merged_into IS NULL AND deleted = 0').get(name.trim()) as
      | ClassRow
      | undefined) ?? null
  );
}

/** The visible class called `name`; NOT_FOUND names the known classes so a typo is easy to see. */
export function requireClass(db: Db, name: string): ClassRow {
  const found = findClass(db, name);
  if (found) return found;
  const known = listClasses(db).map((c) => c.name);
  throw new LoupeError('NOT_FOUND', `Unknown class "${name}". Known classes: ${known.join(', ') || 'none'}.`, {
    name,
    known,
  });
}

/** Every visible class, by name. */
export function listClasses(db: Db): ClassRow[] {
  return sql(db, 'SELECT id, name FROM classes WHERE merged_into IS NULL AND deleted = 0 ORDER BY name').all() as ClassRow[];
}

/** Class names by id, hidden classes included (history and diffs name them). */
export function classNames(db: Db): Map<number, string> {
  return new Map((sql(db, 'SELECT id, name FROM classes').all() as ClassRow[]).map((c) => [c.id, c.name]));
}

/** The change that renames `from` to `to`; renaming onto an existing class is a merge, and says so. */
export function planRename(db: Db, from: string, to: string): ClassChange[] {
  const source = requireClass(db, from);
  const target = to.trim();
  if (target.length === 0) throw new LoupeError('VALIDATION', 'A class name cannot be empty.');
  if (target === source.name) return [];
  const clash = sql(db, 'SELECT id, merged_into AS mergedInto, deleted FROM classes WHERE name = ?').get(target) as
    | StoredClass
    | undefined;
  if (clash && clash.mergedInto === null && !clash.deleted) {
    throw new LoupeError('CONFLICT', `A class "${target}" already exists; merge "${source.name}" into it instead.`, {
      from: source.name,
      to: target,
    });
  }
  // A hidden class holding the name is renamed aside by the change log itself (recordBatch).
  return [{ classId: source.id, field: 'class.name', value: target }];
}

/** What merging `from` into `into` would do. */
export interface MergePlan {
  from: ClassRow;
  into: ClassRow;
  /** Images (any status) whose label moves. */
  images: number;
  changes: FieldChange[];
}

/** The changes that move every image of `from` to `into` and retire `from`. */
export function planMerge(db: Db, from: string, into: string): MergePlan {
  const source = requireClass(db, from);
  const target = requireClass(db, into);
  if (source.id === target.id) throw new LoupeError('VALIDATION', `Cannot merge "${source.name}" into itself.`);
  const ids = (sql(db, 'SELECT image_id AS id FROM labels WHERE class_id = ? ORDER BY image_id').all(source.id) as {
    id: number;
  }[]).map((r) => r.id);
  const changes: FieldChange[] = ids.map((id) => ({ imageId: id as ImageId, field: 'class', value: String(target.id) }));
  changes.push({ classId: source.id, field: 'class.merged_into', value: String(target.id) });
  return { from: source, into: target, images: ids.length, changes };
}

/** The change that deletes an empty class; a class that still labels an image is refused. */
export function planDelete(db: Db, name: string): ClassChange[] {
  const cls = requireClass(db, name);
  const used = (sql(db, 'SELECT count(*) AS n FROM labels WHERE class_id = ?').get(cls.id) as { n: number }).n;
  if (used > 0) {
    throw new LoupeError('CONFLICT', `"${cls.name}" still labels ${used} image(s); relabel or merge them first.`, {
      name: cls.name,
      images: used,
    });
  }
  return [{ classId: cls.id, field: 'class.deleted', value: '1' }];
}
