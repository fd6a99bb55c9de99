/**
 * Seeded, stratified split assignment for images that have none. Each class (or value decile for
 * regression targets) is filled toward the target ratios, counting the images it already has
 * (see allocate), so a first import and every later one keep every split's class mix close to the whole.
 * Verified duplicate groups (src/main/health) are placed whole: a new copy of an image that has a
 * split joins it, and a new group is dealt as one unit, so import never creates leakage. The groups
 * are the current version's (computed and stored here when the stored ones are older: at the end
 * of an import, which then leaves the health report up to date but for the splits it assigns).
 */
import { createHash } from 'node:crypto';
import type { ImageId, SplitName } from '../../shared/types';
import { splitNames } from '../../shared/types';
import { allocate, type SplitRatios } from './allocate';
import { valueStrata } from './quantiles';
import type { ImageChange } from '../store/changes';
import type { Db } from '../store/db';
import { currentGroups } from '../health/service';

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
  const stratumOfValue = valueStrata(rows.map((r) => r.value).filter((v): v is number => v !== null));
  const candidates: Candidate[] = rows.map((r) => ({
    id: r.id,
    key: r.key,
    hasSplit: r.split,
    group: r.classId !== null ? `c${r.classId}` : r.value !== null ? stratumOfValue(r.value) : 'none',
  }));
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const changes: ImageChange[] = [];
  // Units: a duplicate group with no split yet, or one image. A group part-split joins its split.
  const inGroup = new Set<ImageId>();
  const units: Candidate[][] = [];
  for (const group of currentGroups(db)) {
    const members = group.members.map((m) => byId.get(m.imageId)).filter((c): c is Candidate => c !== undefined);
    for (const m of members) inGroup.add(m.id);
    const unassigned = members.filter((m) => m.hasSplit === null);
    if (unassigned.length === 0) continue;
    const placed = members.filter((m) => m.hasSplit !== null);
    if (placed.length === 0) {
      units.push(unassigned);
      continue;
    }
    const home = splitNames.reduce((best, s) =>
      placed.filter((m) => m.hasSplit === s).length > placed.filter((m) => m.hasSplit === best).length ? s : best,
    );
    for (const m of unassigned) changes.push({ imageId: m.id, field: 'split', value: home });
  }
  for (const c of candidates) if (!inGroup.has(c.id) && c.hasSplit === null) units.push([c]);
  const strata = new Map<string, { existing: Record<SplitName, number>; units: Candidate[][] }>();
  const stratum = (key: string) => {
    let entry = strata.get(key);
    if (!entry) strata.set(key, (entry = { existing: { train: 0, valid: 0, test: 0 }, units: [] }));
    return entry;
  };
  for (const c of candidates) if (c.hasSplit) stratum(c.group).existing[c.hasSplit]++;
  for (const change of changes) stratum(byId.get(change.imageId)!.group).existing[change.value as SplitName]++;
  for (const unit of units) stratum(majority(unit.map((m) => m.group))).units.push(unit);
  for (const { existing, units: list } of strata.values()) {
    const ordered = list
      .map((unit) => ({ unit, order: seededOrder(seed, unit[0]!.key, unit[0]!.id) }))
      .sort((a, b) => b.unit.length - a.unit.length || (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    const quota = allocate(
      list.reduce((n, u) => n + u.length, 0),
      ratios,
      existing,
    );
    // Deal units (largest first, then the seeded order) to the split furthest below its quota.
    const given: Record<SplitName, number> = { train: 0, valid: 0, test: 0 };
    for (const { unit } of ordered) {
      let best: SplitName = 'train';
      for (const split of splitNames) if (quota[split] - given[split] > quota[best] - given[best]) best = split;
      given[best] += unit.length;
      for (const m of unit) changes.push({ imageId: m.id, field: 'split', value: best });
    }
  }
  return changes;
}

function majority(keys: string[]): string {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
}

function seededOrder(seed: number, key: string, id: number): string {
  return createHash('sha1').update(`${seed}:${key}:${id}`).digest('hex');
}
