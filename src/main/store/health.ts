/**
 * The health store: per-content features, the rows the checks read (active images with their
 * features, labels and splits), per-image flags for the gallery, the last results by dataset
 * version (with the dismissal revision they saw), dismissed duplicate groups, and what reads
 * need now: each active image's split, lock and class, and one image's scores.
 */
import type { DuplicateGroup, HealthFilter, HealthReport } from '../../shared/health';
import type { ImageId, SplitName } from '../../shared/types';
import type { ImageFeatures } from '../health/features';
import { write, type Db } from './db';
import { getMeta, setMeta } from './meta';
import { sql } from './statements';

/** Stores one content's features (first write wins: the same bytes give the same features). */
export function saveFeatures(db: Db, contentHash: string, f: ImageFeatures): void {
  sql(
    db,
    `INSERT OR IGNORE INTO health_features (content_hash, pixel_hash, grey, dhash, phash, brightness, contrast, entropy, sharpness, colourfulness)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(contentHash, f.pixelHash, f.grey, f.dhash, f.phash, f.brightness, f.contrast, f.entropy, f.sharpness, f.colourfulness);
}

/** One active (or unreadable) image as the checks see it; feature fields null until computed. */
export interface HealthRow {
  id: ImageId;
  path: string;
  status: 'active' | 'unreadable';
  contentHash: string | null;
  width: number | null;
  height: number | null;
  className: string | null;
  split: SplitName | null;
  locked: boolean;
  pixelHash: string | null;
  grey: Buffer | null;
  dhash: Buffer | null;
  phash: Buffer | null;
  brightness: number | null;
  contrast: number | null;
  entropy: number | null;
  sharpness: number | null;
  colourfulness: number | null;
}

/** Every active and unreadable image with its features, label and split, by id. */
export function healthRows(db: Db): HealthRow[] {
  const rows = sql(
    db,
    `SELECT i.id, i.path, i.status, i.content_hash AS contentHash, i.width, i.height, c.name AS className, s.split,
            coalesce(s.locked, 0) AS lockedFlag, f.pixel_hash AS pixelHash, f.grey, f.dhash, f.phash, f.brightness,
            f.contrast, f.entropy, f.sharpness, f.colourfulness
       FROM images i
       LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id
       LEFT JOIN splits s ON s.image_id = i.id
       LEFT JOIN health_features f ON f.content_hash = i.content_hash
      WHERE i.status IN ('active', 'unreadable') ORDER BY i.id`,
  ).all() as (Omit<HealthRow, 'locked'> & { lockedFlag: number })[];
  return rows.map(({ lockedFlag, ...row }) => ({ ...row, locked: lockedFlag === 1 }));
}

/** Active images whose content has no features yet: what the health job must read. */
export function imagesWithoutFeatures(db: Db): { id: ImageId; path: string; contentHash: string }[] {
  return sql(
    db,
    `SELECT i.id, i.path, i.content_hash AS contentHash FROM images i
      WHERE i.status = 'active' AND i.content_hash IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM health_features f WHERE f.content_hash = i.content_hash)
      ORDER BY i.id`,
  ).all() as { id: ImageId; path: string; contentHash: string }[];
}

/** One per-image flag row. */
export interface FlagRow {
  flag: HealthFilter;
  imageId: ImageId;
  value: number | null;
  reason: string;
}

/**
 * Replaces the stored results and flags with a new run's, in one transaction. `groups`: every group,
 * dismissed ones included; `dismissals`: the dismissal revision the run saw (dismissalRevision).
 */
export function saveResults(db: Db, report: HealthReport, groups: DuplicateGroup[], flags: FlagRow[], dismissals: number): void {
  write(db, () => {
    sql(db, 'DELETE FROM health_flags').run();
    const insert = sql(db, 'INSERT OR REPLACE INTO health_flags (flag, image_id, value, reason) VALUES (?, ?, ?, ?)');
    for (const f of flags) insert.run(f.flag, f.imageId, f.value, f.reason);
    sql(
      db,
      `INSERT INTO health_results (id, version, dismissals, computed_at, report, groups) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET version = excluded.version, dismissals = excluded.dismissals,
         computed_at = excluded.computed_at, report = excluded.report, groups = excluded.groups`,
    ).run(report.version, dismissals, report.computedAt, JSON.stringify(report), JSON.stringify(groups));
  });
}

/** What identifies the stored results (without reading them), or null before the first run. */
export function resultsStamp(db: Db): { version: number; dismissals: number; computedAt: number } | null {
  return (
    (sql(db, 'SELECT version, dismissals, computed_at AS computedAt FROM health_results WHERE id = 1').get() as
      | { version: number; dismissals: number; computedAt: number }
      | undefined) ?? null
  );
}

/** The stored results, or null before the first run. */
export function loadResults(db: Db): { version: number; dismissals: number; report: HealthReport; groups: DuplicateGroup[] } | null {
  const row = sql(db, 'SELECT version, dismissals, report, groups FROM health_results WHERE id = 1').get() as
    | { version: number; dismissals: number; report: string; groups: string }
    | undefined;
  if (!row) return null;
  return {
    version: row.version,
    dismissals: row.dismissals,
    report: JSON.parse(row.report) as HealthReport,
    groups: JSON.parse(row.groups) as DuplicateGroup[],
  };
}

/** Images carrying one flag in the stored results, or null when the checks have never run. */
export function imagesFlagged(db: Db, flag: HealthFilter): Set<ImageId> | null {
  if (!sql(db, 'SELECT 1 FROM health_results WHERE id = 1').get()) return null;
  return new Set((sql(db, 'SELECT image_id AS id FROM health_flags WHERE flag = ?').all(flag) as { id: ImageId }[]).map((r) => r.id));
}

/** The flags of one image. */
export function imageFlags(db: Db, id: ImageId): FlagRow[] {
  return sql(db, 'SELECT flag, image_id AS imageId, value, reason FROM health_flags WHERE image_id = ? ORDER BY flag').all(id) as FlagRow[];
}

/** Keys of dismissed groups. */
export function dismissedGroups(db: Db): Set<string> {
  return new Set((sql(db, 'SELECT group_key AS key FROM health_dismissed').all() as { key: string }[]).map((r) => r.key));
}

const dismissalKey = 'health_dismissal_revision';

/** A counter that moves with every dismissal and un-dismissal: stored results name the one they saw. */
export function dismissalRevision(db: Db): number {
  return Number(getMeta(db, dismissalKey) ?? '0');
}

/** Dismisses (true) or un-dismisses a group, moving the dismissal revision; returns whether anything changed. */
export function setDismissed(db: Db, key: string, dismissed: boolean): boolean {
  return write(db, () => {
    const result = dismissed
      ? sql(db, 'INSERT OR IGNORE INTO health_dismissed (group_key, created_at) VALUES (?, ?)').run(key, Date.now())
      : sql(db, 'DELETE FROM health_dismissed WHERE group_key = ?').run(key);
    if (result.changes > 0) setMeta(db, dismissalKey, String(dismissalRevision(db) + 1));
    return result.changes > 0;
  });
}

/** One active image as reads see it now: where it is, its lock and class, whether its features are missing. */
export interface MemberState {
  id: ImageId;
  split: SplitName | null;
  locked: boolean;
  className: string | null;
  featuresMissing: boolean;
}

/** Every active image's split, lock, class and whether its features are stored, by id (no feature blobs read). */
export function memberStates(db: Db): MemberState[] {
  const rows = sql(
    db,
    `SELECT i.id, s.split, coalesce(s.locked, 0) AS lockedFlag, c.name AS className,
            (i.content_hash IS NULL OR NOT EXISTS (SELECT 1 FROM health_features f WHERE f.content_hash = i.content_hash)) AS missingFlag
       FROM images i
       LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id
       LEFT JOIN splits s ON s.image_id = i.id
      WHERE i.status = 'active' ORDER BY i.id`,
  ).all() as { id: ImageId; split: SplitName | null; lockedFlag: number; className: string | null; missingFlag: number }[];
  return rows.map((r) => ({ id: r.id, split: r.split, locked: r.lockedFlag === 1, className: r.className, featuresMissing: r.missingFlag === 1 }));
}

/** One image's quality scores (null when its features are not stored yet), or undefined when there is no such image. */
export function imageScores(
  db: Db,
  id: ImageId,
): { brightness: number; contrast: number; entropy: number; sharpness: number; colourfulness: number } | null | undefined {
  const row = sql(
    db,
    `SELECT f.brightness, f.contrast, f.entropy, f.sharpness, f.colourfulness FROM images i
       LEFT JOIN health_features f ON f.content_hash = i.content_hash WHERE i.id = ?`,
  ).get(id) as { brightness: number | null; contrast: number; entropy: number; sharpness: number; colourfulness: number } | undefined;
  if (!row) return undefined;
  if (row.brightness === null) return null;
  return { brightness: row.brightness, contrast: row.contrast, entropy: row.entropy, sharpness: row.sharpness, colourfulness: row.colourfulness };
}
