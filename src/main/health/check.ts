/**
 * All health checks over stored features: duplicate groups (exact and verified near), leakage and
 * label conflicts inside them, quality flags, class balance per split. Pure over the rows the
 * store hands over, so it runs the same in the job, in tests and in the bench.
 */
import { createHash } from 'node:crypto';
import type {
  BalanceSummary,
  DuplicateGroup,
  DuplicateSummary,
  GroupMember,
  HealthReport,
  LeakageMode,
  LeakageMove,
  LeakagePlan,
  SplitMix,
  SplitPairLeak,
} from '../../shared/health';
import type { ImageId, SplitName } from '../../shared/types';
import { splitNames } from '../../shared/types';
import { chiSquareHomogeneity } from '../dataset/splitReport';
import type { FlagRow, HealthRow } from '../store/health';
import { duplicateThresholds, findDuplicates, flatContrastMax, lowEntropyMax, type FinderInput } from './duplicates';
import { checkQuality, greyColourMax, qualityThresholds } from './quality';

/** Everything one health run produces. */
export interface HealthResult {
  report: HealthReport;
  /** Every group not dismissed, ordered by size then first id. */
  groups: DuplicateGroup[];
  /** Every group, dismissed ones included (what is stored: dismissals are applied when read). */
  all: DuplicateGroup[];
  flags: FlagRow[];
}

/** A unit-length embedding by content hash, or null where none (see service.ts). */
export type EmbeddingOf = (contentHash: string) => Float32Array | null;

/** Finder input from the rows with features (active images only); `embeddingOf` when a run's embeddings exist. */
export function finderInput(rows: HealthRow[], embeddingOf?: EmbeddingOf): { input: FinderInput; rows: HealthRow[] } {
  const used = rows.filter((r) => r.status === 'active' && r.contentHash !== null);
  const n = used.length;
  const input: FinderInput = {
    ids: used.map((r) => r.id),
    contentHash: used.map((r) => r.contentHash!),
    pixelHash: used.map((r) => r.pixelHash),
    dhash: new Uint32Array(2 * n),
    phash: new Uint32Array(2 * n),
    grey: new Uint8Array(1024 * n),
    shortSide: Float64Array.from(used, (r) => (r.width && r.height ? Math.min(r.width, r.height) : 0)),
    skip: new Uint8Array(n),
    colour: Uint8Array.from(used, (r) => ((r.colourfulness ?? 0) >= greyColourMax ? 1 : 0)),
  };
  if (embeddingOf) {
    const read = new Map<number, Float32Array | null>();
    input.embedding = (i) => {
      if (!read.has(i)) read.set(i, embeddingOf(input.contentHash[i]!));
      return read.get(i)!;
    };
  }
  used.forEach((r, i) => {
    if (!r.dhash || !r.phash || !r.grey) {
      input.skip[i] = 1;
      return;
    }
    input.dhash[2 * i] = r.dhash.readUInt32BE(0);
    input.dhash[2 * i + 1] = r.dhash.readUInt32BE(4);
    input.phash[2 * i] = r.phash.readUInt32BE(0);
    input.phash[2 * i + 1] = r.phash.readUInt32BE(4);
    input.grey.set(r.grey, i * 1024);
    input.skip[i] = r.contrast! < flatContrastMax || r.entropy! < lowEntropyMax ? 1 : 0;
  });
  return { input, rows: used };
}

/** The groups as the contract shows them (dismissed ones included). */
export function duplicateGroups(rows: HealthRow[], embeddingOf?: EmbeddingOf): { groups: DuplicateGroup[]; stats: { candidatePairs: number; verifiedPairs: number; skipped: number } } {
  const { input, rows: used } = finderInput(rows, embeddingOf);
  const found = findDuplicates(input);
  const groups = found.groups.map((g): DuplicateGroup => {
    const members = g.members
      .map((i) => used[i]!)
      .sort((a, b) => a.id - b.id)
      .map((r): GroupMember => ({ imageId: r.id, path: r.path, split: r.split, locked: r.locked, className: r.className, width: r.width, height: r.height }));
    return { kind: g.exact ? 'exact' : 'near', members, evidence: g.evidence, ...groupFacts(members) };
  });
  groups.sort((a, b) => b.members.length - a.members.length || a.members[0]!.imageId - b.members[0]!.imageId);
  return { groups, stats: { candidatePairs: found.candidatePairs, verifiedPairs: found.verifiedPairs, skipped: found.skipped } };
}

/** A group's key: a hash of its sorted member ids (stable while its membership is). */
export function groupKey(ids: ImageId[]): string {
  return createHash('sha1').update([...ids].sort((a, b) => a - b).join(',')).digest('hex').slice(0, 20);
}

/**
 * What follows from a group's members (ordered by id): its key, its splits, leakage, and a label
 * conflict (two or more distinct classes among the labelled members; unlabelled ones do not count).
 */
export function groupFacts(members: GroupMember[]): Pick<DuplicateGroup, 'key' | 'splits' | 'crossSplit' | 'labelConflict'> {
  const splits = splitNames.filter((s) => members.some((m) => m.split === s));
  const classes = new Set(members.flatMap((m) => (m.className === null ? [] : [m.className])));
  return { key: groupKey(members.map((m) => m.imageId)), splits, crossSplit: splits.length > 1, labelConflict: classes.size > 1 };
}

/**
 * Runs every check. `dismissed`: keys of groups a person dismissed; `embeddingOf`: a run's
 * embeddings, when they exist (pixel-verified pairs must then agree there too).
 */
export function runChecks(rows: HealthRow[], options: { version: number; minPerSplit: number; dismissed: Set<string>; embeddingOf?: EmbeddingOf }): HealthResult {
  const start = performance.now();
  const { groups: all, stats } = duplicateGroups(rows, options.embeddingOf);
  const groups = all.filter((g) => !options.dismissed.has(g.key));
  const quality = checkQuality(rows);
  const active = rows.filter((r) => r.status === 'active');
  const flags: FlagRow[] = [];
  for (const [imageId, list] of quality.flags) for (const f of list) flags.push({ flag: f.check, imageId, value: f.value, reason: f.reason });
  for (const g of groups) {
    const size = g.members.length;
    for (const m of g.members) {
      const others = `${size - 1} other image${size === 2 ? '' : 's'}`;
      flags.push({ flag: g.kind === 'exact' ? 'exactDuplicate' : 'nearDuplicate', imageId: m.imageId, value: size, reason: `${g.kind === 'exact' ? 'exact copy of' : 'looks like'} ${others}` });
      if (g.crossSplit) flags.push({ flag: 'leakage', imageId: m.imageId, value: size, reason: `its duplicates lie in ${g.splits.join(' and ')}` });
      if (g.labelConflict) flags.push({ flag: 'labelConflict', imageId: m.imageId, value: size, reason: `its duplicates carry the labels ${[...new Set(g.members.map((x) => x.className ?? '(none)'))].join(', ')}` });
    }
  }
  const report: HealthReport = {
    version: options.version,
    computedAt: Date.now(),
    stale: false,
    computing: false,
    images: active.length,
    featuresMissing: active.filter((r) => r.brightness === null).length,
    duplicates: duplicateSummary(groups, all.length - groups.length, stats),
    quality: quality.summary,
    balance: balance(active, options.minPerSplit),
    thresholds: [...duplicateThresholds(), ...qualityThresholds()],
    elapsedMs: 0,
  };
  report.elapsedMs = Math.round(performance.now() - start);
  return { report, groups, all, flags };
}

/** The duplicate part of the report, over the groups not dismissed. */
export function duplicateSummary(groups: DuplicateGroup[], dismissed: number, stats: { candidatePairs: number; verifiedPairs: number; skipped: number }): DuplicateSummary {
  const pairs: SplitPairLeak[] = [];
  for (let a = 0; a < splitNames.length; a++) {
    for (let b = a + 1; b < splitNames.length; b++) {
      const sa = splitNames[a]!;
      const sb = splitNames[b]!;
      const crossing = groups.filter((g) => g.splits.includes(sa) && g.splits.includes(sb));
      pairs.push({ a: sa, b: sb, groups: crossing.length, images: crossing.reduce((n, g) => n + g.members.filter((m) => m.split === sa || m.split === sb).length, 0) });
    }
  }
  const extra = (kind: 'exact' | 'near') => groups.filter((g) => g.kind === kind).reduce((n, g) => n + g.members.length - 1, 0);
  return {
    exactGroups: groups.filter((g) => g.kind === 'exact').length,
    nearGroups: groups.filter((g) => g.kind === 'near').length,
    exactExtraImages: extra('exact'),
    nearExtraImages: extra('near'),
    crossSplitGroups: groups.filter((g) => g.crossSplit).length,
    labelConflicts: groups.filter((g) => g.labelConflict).length,
    crossSplitBySplitPair: pairs,
    dismissed,
    candidatePairs: stats.candidatePairs,
    verifiedPairs: stats.verifiedPairs,
    skippedLowInformation: stats.skipped,
  };
}

const share = (x: number) => `${Math.round(100 * x)}%`;

/** Class balance: imbalance, smallest classes, per-split minimums and gaps, each split's mix against train's. */
export function balance(active: readonly Pick<HealthRow, 'className' | 'split'>[], minPerSplit: number): BalanceSummary {
  const table = new Map<string, Record<SplitName, number>>();
  let labelled = 0;
  for (const r of active) {
    if (r.className === null) continue;
    labelled++;
    const counts = table.get(r.className) ?? { train: 0, valid: 0, test: 0 };
    if (r.split) counts[r.split]++;
    table.set(r.className, counts);
  }
  const classes = [...table.entries()]
    .map(([name, counts]) => {
      const total = active.filter((r) => r.className === name).length;
      return { name, total, counts, share: labelled > 0 ? total / labelled : 0 };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const withImages = classes.filter((c) => c.total > 0);
  const byTotal = [...withImages].sort((a, b) => a.total - b.total || (a.name < b.name ? -1 : 1));
  const totals: Record<SplitName, number> = { train: 0, valid: 0, test: 0 };
  for (const c of classes) for (const s of splitNames) totals[s] += c.counts[s];
  const underMinimum: BalanceSummary['underMinimum'] = [];
  const missingFromSplit: BalanceSummary['missingFromSplit'] = [];
  for (const c of withImages) {
    for (const s of splitNames) {
      if (totals[s] === 0) continue;
      if (c.counts[s] === 0) missingFromSplit.push({ split: s, className: c.name });
      else if (c.counts[s] < minPerSplit) underMinimum.push({ split: s, className: c.name, count: c.counts[s] });
    }
  }
  const mix: SplitMix[] = (['valid', 'test'] as const).map((split) => {
    const test = chiSquareHomogeneity(
      classes.map((c) => c.counts.train),
      classes.map((c) => c.counts[split]),
    );
    if (totals[split] === 0 || totals.train === 0) {
      return { split, pValue: null, mostDifferent: null, sentence: totals[split] === 0 ? `${split} has no images.` : 'train has no images to compare with.' };
    }
    let most: SplitMix['mostDifferent'] = null;
    for (const c of classes) {
      const s = c.counts[split] / totals[split];
      const t = c.counts.train / totals.train;
      if (!most || Math.abs(s - t) > Math.abs(most.share - most.trainShare)) most = { className: c.name, share: s, trainShare: t };
    }
    const differs = test.pValue !== null && test.pValue < 0.01;
    const sentence = !most
      ? `${split} has no labelled images.`
      : differs
        ? `${split}'s class mix differs from train's: ${split} has ${share(most.share)} ${most.className}, train ${share(most.trainShare)}.`
        : `${split}'s class mix matches train's (largest gap: ${most.className}, ${share(most.share)} vs ${share(most.trainShare)}).`;
    return { split, pValue: test.pValue, mostDifferent: most, sentence };
  });
  return {
    classes,
    imbalanceRatio: withImages.length >= 2 ? byTotal[byTotal.length - 1]!.total / byTotal[0]!.total : null,
    smallest: byTotal.slice(0, 3).map((c) => ({ name: c.name, total: c.total })),
    minPerSplit,
    underMinimum,
    missingFromSplit,
    mix,
  };
}

/**
 * Where a leaking group belongs: the split holding most of its locked members (in a split of
 * `locked`, or locked themselves), else the split holding most of its members; ties go to the
 * earlier split (train, then valid), so evaluation splits lose copies rather than gain them.
 */
export function homeSplit(group: DuplicateGroup, locked: ReadonlySet<SplitName>): SplitName | null {
  const isLocked = (m: GroupMember) => m.split !== null && (m.locked || locked.has(m.split));
  const pick = (members: GroupMember[]) => {
    let best: SplitName | null = null;
    let most = 0;
    for (const s of splitNames) {
      const n = members.filter((m) => m.split === s).length;
      if (n > most || (n === most && n > 0 && best !== null && splitNames.indexOf(s) < splitNames.indexOf(best))) {
        best = s;
        most = n;
      }
    }
    return best;
  };
  const anchors = group.members.filter(isLocked);
  return anchors.length > 0 ? pick(anchors) : pick(group.members);
}

/** The moves (or removals) that end every group's leakage; locked members never move. */
export function leakagePlan(groups: DuplicateGroup[], mode: LeakageMode, locked: readonly SplitName[]): LeakagePlan {
  const lockedSet = new Set(locked);
  const moves: LeakageMove[] = [];
  let repaired = 0;
  for (const g of groups) {
    if (!g.crossSplit) continue;
    const home = homeSplit(g, lockedSet);
    if (home === null) continue;
    let any = false;
    for (const m of g.members) {
      if (m.split === null || m.split === home) continue;
      if (m.locked || lockedSet.has(m.split)) continue;
      moves.push({ imageId: m.imageId, path: m.path, className: m.className, from: m.split, to: mode === 'move' ? home : null, groupKey: g.key });
      any = true;
    }
    if (any) repaired++;
  }
  const rule =
    mode === 'move'
      ? 'Each leaking group moves into the split of its locked members, else of its larger part; locked images never move.'
      : 'In each leaking group the copies outside the split of its locked members (else of its larger part) are removed (undoable; files untouched); locked images stay.';
  return { mode, groups: repaired, moves, rule };
}
