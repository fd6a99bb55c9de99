/**
 * The change log: the single way labels, splits and statuses change. Every edit is a batch of
 * per-image field changes; undo and redo append inverse batches, so the log only grows and the
 * dataset version (the last change id) names exactly one state of the dataset.
 */
import { LoupeError } from '../../shared/errors';
import type { ImageId } from '../../shared/types';
import type { ChangeResult } from '../../shared/types';
import { write, type Db } from './db';
import { sql } from './statements';

/** Image fields the change log can change. class holds a class id, value a number, reviewed '0'/'1', all as text. */
export type ImageField = 'class' | 'value' | 'split' | 'status' | 'reviewed';
/** Class fields the change log can change: the name, the class it was merged into, deleted '0'/'1'. */
export type ClassField = 'class.name' | 'class.merged_into' | 'class.deleted';
/** Any field the change log can change. */
export type ChangeField = ImageField | ClassField;

/** Set `field` of an image to `value` (null clears it). */
export interface ImageChange {
  imageId: ImageId;
  classId?: undefined;
  field: ImageField;
  value: string | null;
}
/** Set `field` of a class to `value`. */
export interface ClassChange {
  classId: number;
  imageId?: undefined;
  field: ClassField;
  value: string | null;
}
/** One requested change to an image or a class. */
export type FieldChange = ImageChange | ClassChange;

/** Batch kinds: a person's edit, its undo or redo, or an import chunk (not undoable). */
export type BatchKind = 'edit' | 'undo' | 'redo' | 'import';

interface StoredChange {
  imageId: ImageId | null;
  classId: number | null;
  field: ChangeField;
  oldValue: string | null;
  newValue: string | null;
}

/** The change that sets a stored change's target back to `value`. */
function toFieldChange(change: StoredChange, value: string | null): FieldChange {
  return change.classId !== null
    ? { classId: change.classId, field: change.field as ClassField, value }
    : { imageId: change.imageId!, field: change.field as ImageField, value };
}

/** The current dataset version: the id of the last change, 0 for an empty log. */
export function datasetVersion(db: Db): number {
  const row = sql(db, 'SELECT coalesce(max(id), 0) AS v FROM changes').get() as { v: number };
  return row.v;
}

/**
 * Records and applies one batch. Changes that set a field to the value it already has are dropped;
 * a batch left empty writes nothing. Must run inside the caller's transaction when it is part of a
 * larger write; otherwise it opens its own.
 */
export function recordBatch(
  db: Db,
  batch: { kind: BatchKind; action: string; description: string; reverts?: number },
  requested: readonly FieldChange[],
): { batchId: number | null; changed: number } {
  return write(db, () => {
    const effective: StoredChange[] = [];
    for (const change of withNamesFreed(db, requested)) {
      const oldValue = readField(db, change);
      if (oldValue === change.value) continue;
      effective.push({
        imageId: change.imageId ?? null,
        classId: change.classId ?? null,
        field: change.field,
        oldValue,
        newValue: change.value,
      });
    }
    if (effective.length === 0) return { batchId: null, changed: 0 };
    if (batch.kind === 'edit') {
      // A new edit ends the redo stack, as in every editor.
      sql(db, 'UPDATE batches SET undone = 2 WHERE kind = ? AND undone = 1').run('edit');
    }
    const batchId = Number(
      sql(db, 'INSERT INTO batches (kind, action, description, reverts, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(batch.kind, batch.action, batch.description, batch.reverts ?? null, Date.now()).lastInsertRowid,
    );
    const insert = sql(
      db,
      'INSERT INTO changes (batch_id, image_id, class_id, field, old_value, new_value) VALUES (?, ?, ?, ?, ?, ?)',
    );
    for (const change of effective) {
      insert.run(batchId, change.imageId, change.classId, change.field, change.oldValue, change.newValue);
      writeField(db, toFieldChange(change, change.newValue));
    }
    // Images changed, or classes when a batch touches only classes (a rename).
    const images = new Set(effective.filter((c) => c.imageId !== null).map((c) => c.imageId)).size;
    return { batchId, changed: images > 0 ? images : effective.length };
  });
}

/**
 * Class names are unique, and a hidden class (merged away, deleted, or created by an edit that was
 * undone) keeps its name. A rename onto such a name first renames the hidden class aside, in the
 * same batch, so that undo, redo and revert never fail on it; a rename onto a visible class's name
 * is refused.
 */
function withNamesFreed(db: Db, requested: readonly FieldChange[]): FieldChange[] {
  const out: FieldChange[] = [];
  for (const change of requested) {
    if (change.field === 'class.name' && change.value !== null) {
      const holder = sql(db, 'SELECT id, merged_into AS mergedInto, deleted FROM classes WHERE name = ? AND id <> ?').get(
        change.value,
        change.classId,
      ) as { id: number; mergedInto: number | null; deleted: number } | undefined;
      if (holder && holder.mergedInto === null && !holder.deleted) {
        throw new LoupeError('CONFLICT', `A class "${change.value}" exists; rename or merge it first.`, { name: change.value });
      }
      if (holder) out.push({ classId: holder.id, field: 'class.name', value: `${change.value} (hidden #${holder.id})` });
    }
    out.push(change);
  }
  return out;
}

/** Reverts the latest edit that is not undone. */
export function undo(db: Db): ChangeResult {
  return write(db, () => {
    const target = db
      .prepare("SELECT id, description FROM batches WHERE kind = 'edit' AND undone = 0 ORDER BY id DESC LIMIT 1")
      .get() as { id: number; description: string } | undefined;
    if (!target) return { version: datasetVersion(db), description: 'Nothing to undo', changed: 0 };
    const inverse = batchChanges(db, target.id)
      .reverse()
      .map((c) => toFieldChange(c, c.oldValue));
    const { changed } = recordBatch(
      db,
      { kind: 'undo', action: 'undo', description: `Undo: ${target.description}`, reverts: target.id },
      inverse,
    );
    sql(db, 'UPDATE batches SET undone = 1 WHERE id = ?').run(target.id);
    return { version: datasetVersion(db), description: `Undid: ${target.description}`, changed };
  });
}

/** Re-applies the most recently undone edit, if no edit came after the undo. */
export function redo(db: Db): ChangeResult {
  return write(db, () => {
    // The most recently undone edit is the one whose undo batch is newest.
    const target = db
      .prepare(
        `SELECT e.id, e.description FROM batches e JOIN batches u ON u.reverts = e.id AND u.kind = 'undo'
         WHERE e.kind = 'edit' AND e.undone = 1 ORDER BY u.id DESC LIMIT 1`,
      )
      .get() as { id: number; description: string } | undefined;
    if (!target) return { version: datasetVersion(db), description: 'Nothing to redo', changed: 0 };
    const forward = batchChanges(db, target.id).map((c) => toFieldChange(c, c.newValue));
    const { changed } = recordBatch(
      db,
      { kind: 'redo', action: 'redo', description: `Redo: ${target.description}`, reverts: target.id },
      forward,
    );
    sql(db, 'UPDATE batches SET undone = 0 WHERE id = ?').run(target.id);
    return { version: datasetVersion(db), description: `Redid: ${target.description}`, changed };
  });
}

function batchChanges(db: Db, batchId: number): StoredChange[] {
  return db
    .prepare(
      'SELECT image_id AS imageId, class_id AS classId, field, old_value AS oldValue, new_value AS newValue FROM changes WHERE batch_id = ? ORDER BY id',
    )
    .all(batchId) as StoredChange[];
}

/**
 * Where each field lives: the SQL that reads it for one target id, the SQL that writes it (value
 * then id), and how text from the log becomes the column's value. Splits are rows: null deletes.
 */
interface FieldStorage {
  read: string;
  write: string;
  toColumn: (value: string | null) => string | number | null;
  clear?: string;
}
const asText = (value: string | null) => value;
const asNumber = (value: string | null) => (value === null ? null : Number(value));
const asFlag = (value: string | null) => Number(value ?? 0);
const upsertLabel = (column: string) =>
  `INSERT INTO labels (${column}, image_id) VALUES (?, ?) ON CONFLICT (image_id) DO UPDATE SET ${column} = excluded.${column}`;

const storage: Record<ChangeField, FieldStorage> = {
  class: { read: 'SELECT class_id AS v FROM labels WHERE image_id = ?', write: upsertLabel('class_id'), toColumn: asNumber },
  value: { read: 'SELECT value AS v FROM labels WHERE image_id = ?', write: upsertLabel('value'), toColumn: asNumber },
  split: {
    read: 'SELECT split AS v FROM splits WHERE image_id = ?',
    write: 'INSERT INTO splits (split, image_id) VALUES (?, ?) ON CONFLICT (image_id) DO UPDATE SET split = excluded.split',
    clear: 'DELETE FROM splits WHERE image_id = ?',
    toColumn: asText,
  },
  status: { read: 'SELECT status AS v FROM images WHERE id = ?', write: 'UPDATE images SET status = ? WHERE id = ?', toColumn: asText },
  reviewed: { read: 'SELECT reviewed AS v FROM images WHERE id = ?', write: 'UPDATE images SET reviewed = ? WHERE id = ?', toColumn: asFlag },
  'class.name': { read: 'SELECT name AS v FROM classes WHERE id = ?', write: 'UPDATE classes SET name = ? WHERE id = ?', toColumn: asText },
  'class.merged_into': {
    read: 'SELECT merged_into AS v FROM classes WHERE id = ?',
    write: 'UPDATE classes SET merged_into = ? WHERE id = ?',
    toColumn: asNumber,
  },
  'class.deleted': { read: 'SELECT deleted AS v FROM classes WHERE id = ?', write: 'UPDATE classes SET deleted = ? WHERE id = ?', toColumn: asFlag },
};

function targetId(change: FieldChange): number {
  return change.classId ?? change.imageId!;
}

function readField(db: Db, change: FieldChange): string | null {
  const row = sql(db, storage[change.field].read).get(targetId(change)) as { v: string | number | null } | undefined;
  return row?.v === null || row?.v === undefined ? null : String(row.v);
}

function writeField(db: Db, change: FieldChange): void {
  const place = storage[change.field];
  if (change.value === null && place.clear) sql(db, place.clear).run(targetId(change));
  else sql(db, place.write).run(place.toColumn(change.value), targetId(change));
}

