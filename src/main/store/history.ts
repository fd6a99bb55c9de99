/**
 * Reading the change log: an image's history, the list of batches (dataset versions) and the exact
 * difference between two versions. Values are shown as people read them: class names, not ids.
 */
import { LoupeError } from '../../shared/errors';
import type { BatchInfo, HistoryEntry, VersionDiff } from '../../shared/curation';
import type { ImageId } from '../../shared/types';
import type { ChangeField, FieldChange } from './changes';
import { datasetVersion } from './changes';
import { classNames } from './classes';
import type { Db } from './db';
import { sql } from './statements';

interface ChangeRow {
  id: number;
  batchId: number;
  imageId: ImageId | null;
  classId: number | null;
  field: ChangeField;
  oldValue: string | null;
  newValue: string | null;
}

/** A stored value as a person reads it. */
function readable(field: ChangeField, value: string | null, names: Map<number, string>): string | null {
  if (value === null) return null;
  if (field === 'class' || field === 'class.merged_into') return names.get(Number(value)) ?? `class #${value}`;
  if (field === 'reviewed' || field === 'class.deleted') return value === '1' ? 'yes' : 'no';
  return value;
}

/** Every change to one image, oldest first. */
export function imageHistory(db: Db, id: ImageId): HistoryEntry[] {
  const names = classNames(db);
  const rows = sql(
    db,
    `SELECT c.id AS changeId, c.batch_id AS batchId, b.created_at AS at, b.kind, b.description, c.field,
            c.old_value AS oldValue, c.new_value AS newValue
       FROM changes c JOIN batches b ON b.id = c.batch_id WHERE c.image_id = ? ORDER BY c.id`,
  ).all(id) as (Omit<HistoryEntry, 'from' | 'to' | 'isCurrent'> & { oldValue: string | null; newValue: string | null })[];
  // The latest change of each field is the one whose value is current.
  const latest = new Map<string, number>();
  for (const row of rows) latest.set(row.field, row.changeId);
  return rows.map(({ oldValue, newValue, ...row }) => ({
    ...row,
    from: readable(row.field as ChangeField, oldValue, names),
    to: readable(row.field as ChangeField, newValue, names),
    isCurrent: latest.get(row.field) === row.changeId,
  }));
}

/** The change that sets one change's field back to its value before that change, and a description. */
export function planRevert(db: Db, changeId: number): { change: FieldChange; description: string } {
  const row = sql(
    db,
    `SELECT c.id, c.batch_id AS batchId, c.image_id AS imageId, c.class_id AS classId, c.field,
            c.old_value AS oldValue, c.new_value AS newValue, i.path
       FROM changes c LEFT JOIN images i ON i.id = c.image_id WHERE c.id = ?`,
  ).get(changeId) as (ChangeRow & { path: string | null }) | undefined;
  if (!row) throw new LoupeError('NOT_FOUND', `No change ${changeId}.`, { changeId });
  const names = classNames(db);
  const what = row.path ?? names.get(row.classId ?? -1) ?? 'class';
  const description = `Reverted ${row.field} of ${what} to ${readable(row.field, row.oldValue, names) ?? 'nothing'}`;
  const change: FieldChange =
    row.classId !== null
      ? { classId: row.classId, field: row.field as Extract<ChangeField, `class.${string}`>, value: row.oldValue }
      : { imageId: row.imageId!, field: row.field as Exclude<ChangeField, `class.${string}`>, value: row.oldValue };
  return { change, description };
}

/** The change log's batches, newest first, each with the version it produced. */
export function listBatches(db: Db, offset: number, limit: number): { total: number; version: number; rows: BatchInfo[] } {
  const total = (sql(db, 'SELECT count(*) AS n FROM batches').get() as { n: number }).n;
  const rows = sql(
    db,
    `SELECT b.id, b.created_at AS at, b.kind, b.action, b.description, b.undone,
            (SELECT count(*) FROM changes c WHERE c.batch_id = b.id) AS changes,
            (SELECT coalesce(max(c.id), 0) FROM changes c WHERE c.batch_id = b.id) AS version,
            (SELECT coalesce(min(c.id), 1) - 1 FROM changes c WHERE c.batch_id = b.id) AS previousVersion
       FROM batches b ORDER BY b.id DESC LIMIT ? OFFSET ?`,
  ).all(limit, offset) as (Omit<BatchInfo, 'undone'> & { undone: number })[];
  return {
    total,
    version: datasetVersion(db),
    rows: rows.map((r) => ({ ...r, undone: r.undone !== 0 })),
  };
}

/**
 * What differs between versions `from` and `to`: replaying the log between them, each field's value
 * at `from` against its value at `to`; fields that changed and changed back are not listed.
 */
export function diffVersions(db: Db, from: number, to: number, limit: number): VersionDiff {
  const current = datasetVersion(db);
  for (const v of [from, to]) {
    if (v > current) throw new LoupeError('NOT_FOUND', `Version ${v} does not exist yet (the current version is ${current}).`);
  }
  const [low, high] = from <= to ? [from, to] : [to, from];
  const rows = sql(
    db,
    `SELECT id, image_id AS imageId, class_id AS classId, field, old_value AS oldValue, new_value AS newValue
       FROM changes WHERE id > ? AND id <= ? ORDER BY id`,
  ).all(low, high) as Omit<ChangeRow, 'batchId'>[];
  const fields = new Map<string, { imageId: ImageId | null; classId: number | null; field: ChangeField; low: string | null; high: string | null }>();
  for (const row of rows) {
    const key = `${row.imageId ?? ''}:${row.classId ?? ''}:${row.field}`;
    const entry = fields.get(key);
    if (entry) entry.high = row.newValue;
    else fields.set(key, { imageId: row.imageId, classId: row.classId, field: row.field, low: row.oldValue, high: row.newValue });
  }
  const names = classNames(db);
  const pathOf = sql(db, 'SELECT path FROM images WHERE id = ?');
  const counts = { label: 0, split: 0, status: 0, value: 0, reviewed: 0, classes: 0 };
  const out: VersionDiff['rows'] = [];
  for (const entry of fields.values()) {
    if (entry.low === entry.high) continue;
    const bucket = entry.classId !== null ? 'classes' : entry.field === 'class' ? 'label' : (entry.field as keyof typeof counts);
    counts[bucket]++;
    if (out.length >= limit) continue;
    const [before, after] = from <= to ? [entry.low, entry.high] : [entry.high, entry.low];
    out.push({
      imageId: entry.imageId,
      path: entry.imageId !== null ? ((pathOf.get(entry.imageId) as { path: string } | undefined)?.path ?? null) : null,
      className: entry.classId !== null ? (names.get(entry.classId) ?? null) : null,
      field: entry.field,
      from: readable(entry.field, before, names),
      to: readable(entry.field, after, names),
    });
  }
  return { from, to, total: Object.values(counts).reduce((a, b) => a + b, 0), counts, rows: out };
}
