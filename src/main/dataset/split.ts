/**
 * Seeded, stratified split assignment for images that have none. Each class (or value decile for
 * regression targets) is filled toward the target ratios, counting the images it already has
 * (see allocate), so a first import and every later one keep every split's class mix close to the whole.
 */
import { createHash } from 'node:crypto';
import type { ImageId, SplitName } from '../../shared/types';
import { splitNames } from '../../shared/types';
import { allocate, type SplitRatios } from './allocate';
import type { ImageChange } from '../store/changes';
import type { Db } from '../store/db';

/** Default train/valid/test ratios. */
export const defaultRatios: SplitRatios = { train: 0.8, valid: 0.1, test: 0.1 };

interface Candidate {
  id: ImageId;
  group: string;
  key: string;
  hasSplit: SplitName | null;
}

/** The split changes that give every active image without a split one. */
export function planMissingSplits(db: Db, seed: number, ratios = defaultRatios): ImageChange[] {
  const rows = db
    .prepare(
      `SELECT i.id, coalesce(i.content_hash, i.path) AS key, l.class_id AS classId, l.value AS value, s.split AS split
         FROM images i LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN splits s ON s.image_id = i.id
        WHERE i.status = 'active'`,
    )
    .all() as { id: ImageId; key: string; classId: number | null; value: number | null; split: SplitName | null }[];
  if (!rows.some((r) => r.split === null)) return [];
  const deciles = valueDeciles(rows.map((r) => r.value).filter((v): v is number => v !== null));
  const candidates: Candidate[] = rows.map((r) => ({
    id: r.id,
    key: r.key,
    hasSplit: r.split,
    group: r.classId !== null ? `c${r.classId}` : r.value !== null ? `v${decileOf(deciles, r.value)}` : 'none',
  }));
  const groups = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const members = groups.get(c.group);
    if (members) members.push(c);
    else groups.set(c.group, [c]);
  }
  const changes: ImageChange[] = [];
  for (const members of groups.values()) {
    const existing: Record<SplitName, number> = { train: 0, valid: 0, test: 0 };
    for (const m of members) if (m.hasSplit) existing[m.hasSplit]++;
    const unassigned = members
      .filter((m) => m.hasSplit === null)
      .map((m) => ({ m, order: seededOrder(seed, m.key, m.id) }))
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    const quota = allocate(unassigned.length, ratios, existing);
    // Deal the seeded order out: the first quota.train to train, then valid, then test.
    let next = 0;
    for (const split of splitNames) {
      for (let i = 0; i < quota[split]; i++) changes.push({ imageId: unassigned[next++]!.m.id, field: 'split', value: split });
    }
  }
  return changes;
}

function seededOrder(seed: number, key: string, id: number): string {
  return createHash('sha1').update(`${seed}:${key}:${id}`).digest('hex');
}

function valueDeciles(values: number[]): number[] {
  if (values.length === 0) return [];
  const sorted = [...values].sort((a, b) => a - b);
  return Array.from({ length: 9 }, (_, i) => sorted[Math.floor(((i + 1) * sorted.length) / 10)]!);
}

function decileOf(edges: number[], value: number): number {
  let bin = 0;
  while (bin < edges.length && value >= edges[bin]!) bin++;
  return bin;
}
