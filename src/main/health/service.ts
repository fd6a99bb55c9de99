/**
 * Health results by dataset version. Only the health job (and the end of an import, which needs
 * the groups to place new images) runs the duplicate finder; reads never do. A read serves the
 * stored results: when the dataset moved since, their groups are brought up to date with the
 * members' current splits, locks, labels and status (cheap: one query) and the report is marked
 * stale until the scheduled job recomputes; balance is always computed at read time, so the stored
 * results do not depend on the per-split minimum a view asks for. A read-only project cannot store:
 * its results are computed once per version and dismissal revision and kept in memory.
 */
import type { DuplicateGroup, HealthReport, QualitySummary } from '../../shared/health';
import { qualityChecks } from '../../shared/health';
import type { ImageId } from '../../shared/types';
import type { JobContext } from '../jobs/manager';
import { datasetVersion } from '../store/changes';
import { isReadOnly, type Db } from '../store/db';
import {
  dismissalRevision,
  dismissedGroups,
  healthRows,
  imagesWithoutFeatures,
  loadResults,
  memberStates,
  resultsStamp,
  saveFeatures,
  saveResults,
  type HealthRow,
  type MemberState,
} from '../store/health';
import type { Project } from '../store/project';
import { mapOrdered } from '../util/pool';
import { realFileInside } from '../util/paths';
import { defaultPixelLimit, readImageFacts } from '../dataset/imageInfo';
import { readEmbeddings } from '../model/embeddingCache';
import { embeddingKeyFor } from '../store/signals';
import { balance, duplicateSummary, groupFacts, runChecks, type EmbeddingOf } from './check';
import { duplicateThresholds } from './duplicates';
import { qualityThresholds } from './quality';

/** Default per-split minimum of the balance check. */
export const defaultMinPerSplit = 10;

/** Results as stored: the report of the run and every group it found (dismissed ones included). */
export interface StoredHealth {
  version: number;
  /** The dismissal revision the run saw. */
  dismissals: number;
  report: HealthReport;
  groups: DuplicateGroup[];
}

/** Results as a read serves them. */
export interface HealthView {
  /** The report as of now, balance for `minPerSplit` (reads every active image's split and class: only when wanted). */
  report(minPerSplit?: number): HealthReport;
  /** Groups not dismissed, as of now (members' current splits and labels). */
  groups: DuplicateGroup[];
  /** Every group, dismissed ones included: what splits keep together. */
  all: DuplicateGroup[];
}

// A read-only project's results, per connection (they cannot be stored in the file).
const inMemory = new WeakMap<Db, StoredHealth>();
// The last parse of a project's stored results, so reads do not parse the JSON every time.
const parsed = new WeakMap<Db, { computedAt: number; stored: StoredHealth }>();

/**
 * A run's embeddings for the duplicate check, when the embedding cache holds vectors of these
 * images (view 0, the image itself; any run's backbone, the one covering most of them): each read
 * when a pixel-verified pair asks for it, made unit-length. Undefined when no run cached any.
 */
export function runEmbeddings(db: Db, rows: readonly HealthRow[]): EmbeddingOf | undefined {
  const hashes = rows.flatMap((r) => (r.status === 'active' && r.contentHash ? [r.contentHash] : []));
  const key = embeddingKeyFor(db, hashes, null);
  if (!key || key.covered === 0) return undefined;
  return (hash) => {
    const { data, missing } = readEmbeddings(db, key.key, [hash], 0);
    let squares = 0;
    for (const x of data) squares += x * x;
    if (missing.length > 0 || squares === 0) return null;
    const scale = 1 / Math.sqrt(squares);
    return data.map((x) => x * scale);
  };
}

/** Runs every check now over stored features; stores the results (in memory for a read-only project). */
export function computeHealth(db: Db): StoredHealth {
  const revision = dismissalRevision(db);
  const rows = healthRows(db);
  const result = runChecks(rows, { version: datasetVersion(db), minPerSplit: defaultMinPerSplit, dismissed: dismissedGroups(db), embeddingOf: runEmbeddings(db, rows) });
  const stored: StoredHealth = { version: result.report.version, dismissals: revision, report: result.report, groups: result.all };
  if (isReadOnly(db)) inMemory.set(db, stored);
  else saveResults(db, result.report, result.all, result.flags, revision);
  return stored;
}

/** The last results stored (or kept in memory), whatever version they are for; null before the first run. */
export function storedHealth(db: Db): StoredHealth | null {
  const memory = inMemory.get(db);
  if (memory) return memory;
  const stamp = resultsStamp(db);
  if (!stamp) return null;
  const cached = parsed.get(db);
  if (cached && cached.computedAt === stamp.computedAt && cached.stored.version === stamp.version && cached.stored.dismissals === stamp.dismissals) {
    return cached.stored;
  }
  const loaded = loadResults(db);
  if (!loaded) return null;
  parsed.set(db, { computedAt: stamp.computedAt, stored: loaded });
  return loaded;
}

/** True when stored results are for the current dataset version and dismissal revision. */
export function isFresh(db: Db, stored: StoredHealth | null): boolean {
  return stored !== null && stored.version === datasetVersion(db) && stored.dismissals === dismissalRevision(db);
}

/**
 * The stored groups as of now: members no longer active dropped, splits, locks and classes read
 * anew, groups left with one member dropped. New images since the run are in no group yet.
 */
export function refreshGroups(groups: DuplicateGroup[], states: ReadonlyMap<ImageId, MemberState>): DuplicateGroup[] {
  const out: DuplicateGroup[] = [];
  for (const g of groups) {
    const members = g.members.flatMap((m) => {
      const now = states.get(m.imageId);
      return now ? [{ ...m, split: now.split, locked: now.locked, className: now.className }] : [];
    });
    if (members.length < 2) continue;
    const ids = new Set(members.map((m) => m.imageId));
    const evidence = members.length === g.members.length ? g.evidence : g.evidence.filter((e) => ids.has(e.a) && ids.has(e.b));
    out.push({ ...g, members, evidence, ...groupFacts(members) });
  }
  return out;
}

/** Active images up to which the first run (no results stored yet) is computed in the request: well under a second. */
export const firstRunInlineMax = 2000;

/**
 * The results a read serves, or null when the checks have never run on a project larger than
 * `inlineMax` (the caller starts the job). Runs the duplicate finder only for the first results of a
 * small project, and on a read-only one (into memory) when what it has is not current.
 */
export function readHealth(db: Db, inlineMax = firstRunInlineMax): HealthView | null {
  let stored = storedHealth(db);
  let states: MemberState[] | null = null;
  const statesNow = () => (states ??= memberStates(db));
  if (isReadOnly(db) ? !isFresh(db, stored) : stored === null && statesNow().length <= inlineMax) stored = computeHealth(db);
  if (!stored) return null;
  const base = stored;
  const fresh = isFresh(db, base);
  const all = fresh ? base.groups : refreshGroups(base.groups, new Map(statesNow().map((s) => [s.id, s])));
  const dismissed = dismissedGroups(db);
  const groups = all.filter((g) => !dismissed.has(g.key));
  const report = (minPerSplit = defaultMinPerSplit): HealthReport => {
    const d = base.report.duplicates;
    return {
      ...base.report,
      stale: !fresh,
      images: statesNow().length,
      featuresMissing: statesNow().filter((s) => s.featuresMissing).length,
      duplicates: duplicateSummary(groups, all.length - groups.length, {
        candidatePairs: d.candidatePairs,
        verifiedPairs: d.verifiedPairs,
        skipped: d.skippedLowInformation,
      }),
      balance: balance(statesNow(), minPerSplit),
    };
  };
  return { report, groups, all };
}

/** The report before the first run: nothing found yet, balance as of now, stale and computing. */
export function emptyReport(db: Db, minPerSplit = defaultMinPerSplit): HealthReport {
  const states = memberStates(db);
  const counts = Object.fromEntries(qualityChecks.map((c) => [c, 0])) as QualitySummary['counts'];
  return {
    version: datasetVersion(db),
    computedAt: 0,
    stale: true,
    computing: true,
    images: states.length,
    featuresMissing: states.filter((s) => s.featuresMissing).length,
    duplicates: duplicateSummary([], 0, { candidatePairs: 0, verifiedPairs: 0, skipped: 0 }),
    quality: {
      counts,
      checks: qualityChecks.map((check) => ({ check, count: 0, threshold: null, rule: 'not checked yet: the health checks are running' })),
      colourDataset: false,
    },
    balance: balance(states, minPerSplit),
    thresholds: [...duplicateThresholds(), ...qualityThresholds()],
    elapsedMs: 0,
  };
}

/**
 * Every group (dismissed ones included) for placing images in splits: the stored ones as of now,
 * or, before the first run, computed once (and stored). A rebalance or a split plan is an explicit
 * action, and placing duplicates apart would create the leakage the checks report.
 */
export function groupsForSplits(db: Db): DuplicateGroup[] {
  return readHealth(db)?.all ?? computeHealth(db).groups;
}

/**
 * Every group (dismissed ones included) for the current version: the stored ones when they are
 * current, else computed now and stored. For import's split placement at its end, which must see
 * the images it has just added to keep each new group in one split.
 */
export function currentGroups(db: Db): DuplicateGroup[] {
  const stored = storedHealth(db);
  return stored && isFresh(db, stored) ? stored.groups : computeHealth(db).groups;
}

/**
 * The health job: reads the files of images without features (progress, cancel) with the same
 * reader import uses (pixel limit, decode rules, pixel hash), then computes and stores the checks.
 * Cheap when nothing changed: stored results for this version and dismissals are kept.
 */
export async function healthJob(project: Project, ctx: JobContext, pixelLimit = defaultPixelLimit): Promise<HealthReport> {
  const { db } = project;
  // A read-only project cannot store features: the checks run over the ones it has (the rest are
  // reported as not measured) and the results are kept in memory (computeHealth).
  const readOnly = isReadOnly(db);
  const missing = readOnly ? [] : imagesWithoutFeatures(db);
  const root = project.root();
  if (missing.length > 0 && root) {
    ctx.progress('reading features', 0, missing.length);
    let done = 0;
    const work = async (row: { path: string; contentHash: string }) => {
      const file = realFileInside(root, row.path);
      if (!file) return null;
      try {
        const facts = await readImageFacts(file, pixelLimit);
        // The file changed since import: its features belong to other content.
        return facts.contentHash === row.contentHash ? facts : null;
      } catch {
        // Unreadable now: import records that on its next run; the checks skip it.
        return null;
      }
    };
    for await (const facts of mapOrdered(missing, 4, work, ctx.signal)) {
      if (facts) saveFeatures(db, facts.contentHash, facts.features);
      ctx.progress('reading features', ++done, missing.length);
    }
    ctx.throwIfCancelled();
  }
  ctx.progress('checking', 0, 1);
  const stored = storedHealth(db);
  const report = stored && isFresh(db, stored) && missing.length === 0 ? stored.report : computeHealth(db).report;
  ctx.progress('checking', 1, 1);
  return report;
}
