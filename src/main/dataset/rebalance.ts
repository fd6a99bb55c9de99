/**
 * Stratified rebalancing of splits. Locked splits keep exactly the images they have: nothing leaves
 * and nothing joins them. Verified duplicate groups (src/main/health) land in one split; an
 * unlocked duplicate of a locked image is not pulled into the locked split but counted as leakage
 * (the Health view repairs it when the user chooses). Within each class (or, for images with a
 * value and no class, each value decile: quantiles.ts, as split.ts does) the rest is dealt, in a
 * seeded order, toward the ratios (renormalised over the unlocked splits). The groups are the
 * stored health results as of now (groupsForSplits): a plan never reruns the duplicate finder.
 */
import { createHash } from 'node:crypto';
import type { RebalanceOptions, RebalancePlan } from '../../shared/curation';
import type { ImageId, SplitName } from '../../shared/types';
import { splitNames } from '../../shared/types';
import type { ImageChange } from '../store/changes';
import type { Db } from '../store/db';
import { allocate } from './allocate';
import { valueStrata } from './quantiles';
import { classSplitTable } from './splitReport';
import { groupsForSplits } from '../health/service';

interface Member {
  id: ImageId;
  stratum: string;
  className: string | null;
  split: SplitName | null;
  locked: boolean;
  contentHash: string | null;
  perceptualHash: string | null;
}

/** The changes a rebalance makes, and the before/after tables. */
export function planRebalance(db: Db, options: RebalanceOptions): RebalancePlan & { changes: ImageChange[] } {
  const lockedSplits = new Set(options.locked);
  const open = splitNames.filter((s) => !lockedSplits.has(s));
  const rows = (
    db
      .prepare(
        `SELECT i.id, i.content_hash AS contentHash, i.perceptual_hash AS perceptualHash, l.class_id AS classId,
                c.name AS className, l.value, s.split, coalesce(s.locked, 0) AS lockedFlag
           FROM images i LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id
           LEFT JOIN splits s ON s.image_id = i.id
          WHERE i.status = 'active' ORDER BY i.id`,
      )
      .all() as {
      id: ImageId;
      contentHash: string | null;
      perceptualHash: string | null;
      classId: number | null;
      className: string | null;
      value: number | null;
      split: SplitName | null;
      lockedFlag: number;
    }[]
  );
  const stratumOfValue = valueStrata(rows.map((r) => r.value).filter((v): v is number => v !== null));
  const members = rows.map(
    (r): Member => ({
      id: r.id,
      stratum: r.classId !== null ? `c${r.classId}` : r.value !== null ? stratumOfValue(r.value) : 'none',
      className: r.className,
      split: r.split,
      locked: r.split !== null && (lockedSplits.has(r.split) || r.lockedFlag === 1),
      contentHash: r.contentHash,
      perceptualHash: r.perceptualHash,
    }),
  );
  const groups = duplicateGroups(db, members);
  const target = new Map<ImageId, SplitName>();
  let leakingLocked = 0;
  const free: Member[][] = [];
  for (const group of groups) {
    // Locked members stay; the unlocked rest stays together in an open split.
    const locked = group.filter((m) => m.locked);
    for (const m of locked) target.set(m.id, m.split!);
    const rest = group.filter((m) => !m.locked);
    if (rest.length > 0) free.push(rest);
    if (locked.length > 0 && rest.length > 0) leakingLocked++;
  }
  // Deal free groups per stratum (the group's most common class), largest groups first.
  const strata = new Map<string, Member[][]>();
  for (const group of free) {
    const key = majority(group.map((m) => m.stratum));
    const list = strata.get(key);
    if (list) list.push(group);
    else strata.set(key, [group]);
  }
  const ratios = Object.fromEntries(splitNames.map((s) => [s, lockedSplits.has(s) ? 0 : options.ratios[s]])) as Record<
    SplitName,
    number
  >;
  for (const list of strata.values()) {
    const size = list.reduce((n, g) => n + g.length, 0);
    const quota = allocate(size, ratios, { train: 0, valid: 0, test: 0 });
    const given: Record<SplitName, number> = { train: 0, valid: 0, test: 0 };
    const ordered = list
      .map((g) => ({ g, order: seededKey(options.seed, g[0]!) }))
      .sort((a, b) => b.g.length - a.g.length || (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    for (const { g } of ordered) {
      let best = open[0]!;
      for (const s of open) if (quota[s] - given[s] > quota[best] - given[best]) best = s;
      given[best] += g.length;
      for (const m of g) target.set(m.id, best);
    }
  }
  const changes: ImageChange[] = [];
  for (const m of members) {
    const split = target.get(m.id)!;
    if (split !== m.split) changes.push({ imageId: m.id, field: 'split', value: split });
  }
  const before = classSplitTable(db);
  const after = before.map((row) => ({ ...row, counts: { ...row.counts } }));
  const byName = new Map(after.map((row) => [row.name, row]));
  for (const m of members) {
    const row = m.className ? byName.get(m.className) : undefined;
    if (!row) continue;
    const split = target.get(m.id)!;
    if (m.split) row.counts[m.split]--;
    else row.total++;
    row.counts[split]++;
  }
  return {
    before,
    after,
    moved: changes.length,
    duplicateGroups: groups.filter((g) => g.length > 1).length,
    joinedLocked: 0,
    leakingLocked,
    changes,
  };
}

/** The verified duplicate groups over the members, dismissed ones included (singletons for the rest). */
function duplicateGroups(db: Db, members: Member[]): Member[][] {
  const byId = new Map(members.map((m) => [m.id, m]));
  const grouped = new Set<ImageId>();
  const out: Member[][] = [];
  for (const group of groupsForSplits(db)) {
    const list = group.members.map((m) => byId.get(m.imageId)).filter((m): m is Member => m !== undefined);
    for (const m of list) grouped.add(m.id);
    if (list.length > 0) out.push(list);
  }
  for (const m of members) if (!grouped.has(m.id)) out.push([m]);
  return out;
}

function majority(keys: string[]): string {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
}

function seededKey(seed: number, m: Member): string {
  return createHash('sha1').update(`${seed}:${m.contentHash ?? ''}:${m.id}`).digest('hex');
}
