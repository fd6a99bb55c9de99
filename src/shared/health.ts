/**
 * Data health: verified duplicate groups (exact and near), leakage of groups across splits and its
 * repair, label conflicts inside groups, per-image quality checks with thresholds fit to the
 * dataset, and class balance per split. Plain data that crosses IPC and JSON; the request schemas
 * here are registered in the contract (src/shared/contract.ts).
 */
import { z } from 'zod';
import type { ChangeResult, ImageId, JobId, SplitName } from './types';
import { splitNames } from './types';

/**
 * The per-image quality checks. dark/bright: mean brightness far below/above the dataset's;
 * lowInfo: low contrast or low entropy; blurry: little fine detail (variance of the Laplacian)
 * relative to the dataset; tiny: short side under a fixed minimum; oddAspect: aspect ratio far
 * from the dataset's; oddSize: pixel count an outlier of the dataset's sizes; grayscale: a grey
 * image in a colour dataset; unreadable: the file could not be decoded.
 */
export const qualityChecks = ['dark', 'bright', 'lowInfo', 'blurry', 'tiny', 'oddAspect', 'oddSize', 'grayscale', 'unreadable'] as const;
/** One quality check. */
export type QualityCheck = (typeof qualityChecks)[number];

/** Duplicate kinds: exact (same bytes or same decoded pixels) and near (verified look-alikes). */
export const duplicateKinds = ['exact', 'near'] as const;
/** A duplicate kind. */
export type DuplicateKind = (typeof duplicateKinds)[number];

/** The group lists the Health view pages through: by kind, those crossing splits, those with different labels. */
export const groupViews = ['exact', 'near', 'crossSplit', 'labelConflict'] as const;
/** A group list. */
export type GroupView = (typeof groupViews)[number];

/**
 * What the gallery can filter by (imageFilter.health): every quality check, plus membership of an
 * exact or near duplicate group, of a group that crosses splits (leakage), of a label conflict.
 */
export const healthFilters = [...qualityChecks, 'exactDuplicate', 'nearDuplicate', 'leakage', 'labelConflict'] as const;
/** A gallery health filter. */
export type HealthFilter = (typeof healthFilters)[number];

/** How leakage is repaired: move the copies into one split, or remove (exclude, undoable) the extra copies. */
export const leakageModes = ['move', 'remove'] as const;
/** A leakage repair mode. */
export type LeakageMode = (typeof leakageModes)[number];

/** What to do with one duplicate group. */
export const groupActions = ['keep', 'undismiss', 'removeOthers', 'moveTogether'] as const;
/**
 * keep: "these are fine as they are": the group is remembered as dismissed and stops being
 * reported (until its membership changes); undismiss reverses that. removeOthers: remove every
 * member but `keep` (one undoable batch). moveTogether: put every member in `split` (one undoable batch).
 */
export type GroupAction = (typeof groupActions)[number];

/** A named constant behind a check, shown in the UI so a person knows what "duplicate" or "dark" means here. */
export interface HealthThreshold {
  /** The constant's name in src/main/health (e.g. "nearRmsMax"). */
  name: string;
  value: number;
  /** What it is and how it was chosen, in a sentence or two. */
  description: string;
}

/** Why two members of a group are in it. */
export interface PairEvidence {
  a: ImageId;
  b: ImageId;
  /** What made them equal: the file bytes, the decoded pixels, or the verified look. */
  basis: 'bytes' | 'pixels' | 'near';
  /** Bits that differ between their perceptual hashes (the smaller of dHash and pHash); null for exact pairs. */
  hamming: number | null;
  /** RMS difference (0-255 grey levels) of their brightness-normalised 32x32 grey thumbnails; null for exact pairs. */
  rms: number | null;
  /** Cosine similarity of their embeddings in the latest run, when one exists; null otherwise. */
  cosine: number | null;
}

/** One image of a group, with what decides where it belongs. */
export interface GroupMember {
  imageId: ImageId;
  path: string;
  split: SplitName | null;
  /** The image's own split lock (images:get splitLocked). */
  locked: boolean;
  className: string | null;
  width: number | null;
  height: number | null;
}

/** One duplicate group. */
export interface DuplicateGroup {
  /** Stable while the group's members stay the same (a hash of their sorted image ids); used by resolveGroup. */
  key: string;
  /** 'exact' when every member has the same content or pixels; 'near' otherwise. */
  kind: DuplicateKind;
  /** Members, ordered by id. */
  members: GroupMember[];
  /** The pairs that joined the group (a spanning set, not every pair). */
  evidence: PairEvidence[];
  /** The distinct splits of the members (unsplit members not counted). */
  splits: SplitName[];
  /** Members lie in more than one split: leakage. */
  crossSplit: boolean;
  /** Labelled members carry more than one distinct class: a label conflict (unlabelled members do not count). */
  labelConflict: boolean;
}

/**
 * A group as health:groups and health:image list it: with the split it belongs in by the one
 * leakage rule (src/main/health/check.ts homeSplit: the split of its locked members, counting the
 * splits the request locked, else of its larger part; train first on a tie). Null when no member
 * has a split. "Move together" defaults to it.
 */
export interface ListedGroup extends DuplicateGroup {
  home: SplitName | null;
}

/** A page of groups. */
export interface DuplicateGroupPage {
  view: GroupView;
  total: number;
  offset: number;
  rows: ListedGroup[];
}

/** Groups crossing one pair of splits. */
export interface SplitPairLeak {
  /** The two splits, in splitNames order (train before valid before test). */
  a: SplitName;
  b: SplitName;
  /** Groups with members in both a and b. */
  groups: number;
  /** Members of those groups in a or b. */
  images: number;
}

/** The duplicate part of the report. */
export interface DuplicateSummary {
  /** Groups of two or more images with equal bytes or equal decoded pixels. */
  exactGroups: number;
  /** Groups (not exact) of verified look-alikes. */
  nearGroups: number;
  /** Images in exact groups beyond one per group: what removing the extra copies would remove. */
  exactExtraImages: number;
  /** Images in near groups beyond one per group. */
  nearExtraImages: number;
  /** Groups (exact or near) with members in more than one split. */
  crossSplitGroups: number;
  /** Groups whose members carry different classes. */
  labelConflicts: number;
  /** Leakage counted per split pair (pairs with no leak included, groups 0). */
  crossSplitBySplitPair: SplitPairLeak[];
  /** Groups a person dismissed ("keep") that are no longer reported. */
  dismissed: number;
  /** Near-duplicate candidates the hashes proposed, and how many the pixel check confirmed. */
  candidatePairs: number;
  verifiedPairs: number;
  /** Images left out of perceptual grouping because they are flat or carry too little information. */
  skippedLowInformation: number;
}

/** One quality check's result over the dataset. */
export interface QualityCheckSummary {
  check: QualityCheck;
  /** Active images flagged. */
  count: number;
  /** The cut the dataset's distribution gave (in the check's unit), or null when the check is off for this dataset (e.g. grayscale in a grey dataset). */
  threshold: number | null;
  /** The rule in words: "mean brightness below 31 (darker than 99% of this dataset)". */
  rule: string;
}

/** The quality part of the report. */
export interface QualitySummary {
  /** Active images flagged, per check. */
  counts: Record<QualityCheck, number>;
  /** Every check in qualityChecks order, with its threshold and rule. */
  checks: QualityCheckSummary[];
  /** True when most images are colour (then grey ones are flagged). */
  colourDataset: boolean;
}

/** A class's counts. */
export interface BalanceClass {
  name: string;
  total: number;
  counts: Record<SplitName, number>;
  /** Share of all active labelled images, 0-1. */
  share: number;
}

/** A split's class mix compared with train's. */
export interface SplitMix {
  split: SplitName;
  /** Chi-square test of the mix against train's; null when there is nothing to compare. */
  pValue: number | null;
  /** The class whose share differs most from train's, and both shares (0-1). */
  mostDifferent: { className: string; share: number; trainShare: number } | null;
  /** In plain words: "test's class mix matches train's" or "test has 18% Shirt, train 10% ...". */
  sentence: string;
}

/** The balance part of the report. */
export interface BalanceSummary {
  classes: BalanceClass[];
  /** Largest class count over smallest (classes with images); null with fewer than two classes. */
  imbalanceRatio: number | null;
  /** The smallest classes, smallest first (at most 3). */
  smallest: { name: string; total: number }[];
  /** The per-split minimum used below. */
  minPerSplit: number;
  /** Classes with fewer than minPerSplit images in a split (but more than zero). */
  underMinimum: { split: SplitName; className: string; count: number }[];
  /** Classes with images but none in a split that has images. */
  missingFromSplit: { split: SplitName; className: string }[];
  /** valid and test against train. */
  mix: SplitMix[];
}

/** Everything the Health view and `loupe health` show. */
export interface HealthReport {
  /** The dataset version these results are for. */
  version: number;
  /** When they were computed (ms since epoch). */
  computedAt: number;
  /**
   * True when the dataset changed since the duplicate finder last ran: the groups shown are the
   * stored ones with their members' current splits, labels and status (removed members dropped),
   * but images added since are in no group yet and quality thresholds are the old ones; the health
   * job (scheduled after every change) brings them up to date. Balance is always computed now.
   */
  stale: boolean;
  /** The health job is running now. Before the first run the report is empty (computedAt 0), stale and computing. */
  computing: boolean;
  /** Active images considered. */
  images: number;
  /** Active images whose features are not computed yet (imported before this version of Loupe); the health job reads them. */
  featuresMissing: number;
  duplicates: DuplicateSummary;
  quality: QualitySummary;
  balance: BalanceSummary;
  /** Every named constant the checks use. */
  thresholds: HealthThreshold[];
  /** How long computing the checks took, ms (features already stored). */
  elapsedMs: number;
}

/** One quality flag of one image, with why. */
export interface ImageFlag {
  check: QualityCheck;
  /** The measured value in the check's unit (null for unreadable). */
  value: number | null;
  /** "darker than 99% of this dataset (mean brightness 12, cut 31)". */
  reason: string;
}

/** What the health checks say about one image. */
export interface ImageHealth {
  imageId: ImageId;
  /** Null when the image's features are not computed yet. */
  scores: {
    brightness: number;
    contrast: number;
    entropy: number;
    sharpness: number;
    colourfulness: number;
  } | null;
  flags: ImageFlag[];
  /** The duplicate group the image belongs to, if any (as of the stored results, brought up to date with splits and labels). */
  group: ListedGroup | null;
}

/** One image a leakage fix moves or removes. */
export interface LeakageMove {
  imageId: ImageId;
  path: string;
  className: string | null;
  from: SplitName;
  /** The split it moves to; null when the mode is 'remove' (the image is excluded). */
  to: SplitName | null;
  /** The group it belongs to (DuplicateGroup.key). */
  groupKey: string;
}

/** What fixing leakage would do. */
export interface LeakagePlan {
  mode: LeakageMode;
  /** Groups crossing splits that the plan repairs. */
  groups: number;
  /** Every image that moves (or is removed), by group. */
  moves: LeakageMove[];
  /** The rule in words: "each group goes to the split of its locked member, else of its larger part". */
  rule: string;
}

const imageId = z.number().int().positive().transform((n) => n as ImageId);
/** The splits the app's views lock by default (a held-out test set): Splits' rebalance and Health's leakage repair. */
export const defaultLockedSplits: readonly SplitName[] = ['test'];

const lockedSplits = z
  .array(z.enum(splitNames))
  .max(3)
  .default([])
  .describe('splits whose members never move (e.g. a locked test set); images with their own split lock never move either');

/** Request schemas of the health: area. */
export const healthRequestSchemas = {
  /**
   * The latest health results: the stored ones (never recomputed in the request), marked stale when
   * the dataset moved since; before the first run, an empty report while the health job computes.
   */
  'health:report': z.object({
    /** Fewer images of a class than this in a split is reported. */
    minPerSplit: z.number().int().min(1).max(100_000).default(10),
  }),
  /** Recompute now (features for images that lack them, then every check) as a job; returns at once. */
  'health:run': z.object({}),
  /** One page of duplicate groups: by kind, those that cross splits, or those with label conflicts. */
  'health:groups': z.object({
    view: z.enum(groupViews),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(500).default(50),
    /** Splits whose members never move: each group's `home` counts them. */
    locked: lockedSplits,
  }),
  /** One image's quality scores, flags with reasons, and duplicate group. */
  'health:image': z.object({ id: imageId, locked: lockedSplits }),
  /** What fixing leakage would do, without doing it: the preview list. */
  'health:leakagePlan': z.object({ mode: z.enum(leakageModes).default('move'), locked: lockedSplits }),
  /** Fix every leaking group in ONE undoable batch (changes:undo brings it back). */
  'health:fixLeakage': z.object({ mode: z.enum(leakageModes).default('move'), locked: lockedSplits }),
  /**
   * Decide one group. `group`: the DuplicateGroup.key as listed. keep/undismiss: dismiss or
   * un-dismiss it; removeOthers needs `keep` (the member that stays); moveTogether needs `split`
   * and is refused (CONFLICT) when it would move a member out of a split in `locked` or one with its own lock.
   */
  'health:resolveGroup': z.object({
    group: z.string().min(1).max(200),
    action: z.enum(groupActions),
    keep: imageId.optional(),
    split: z.enum(splitNames).optional(),
    locked: lockedSplits,
  }),
} satisfies Record<string, z.ZodType>;

/** Outputs of the health: requests. */
export interface HealthRequestOutputs {
  'health:report': HealthReport;
  'health:run': { jobId: JobId };
  'health:groups': DuplicateGroupPage;
  'health:image': ImageHealth;
  'health:leakagePlan': LeakagePlan;
  'health:fixLeakage': ChangeResult;
  'health:resolveGroup': ChangeResult;
}

/** Events of the health area. */
export interface HealthEventPayloads {
  /** New health results are stored (after the job), or a job started computing them. */
  'health:changed': { version: number; computing: boolean };
}
