/** Types of the curation workflow: classes, splits, rebalancing, history and dataset versions. */
import type { ImageId, SplitName } from './types';

/** A class with its active-image counts per split. */
export interface ClassSummary {
  id: number;
  name: string;
  train: number;
  valid: number;
  test: number;
  /** Active images without a split. */
  unsplit: number;
  total: number;
  /** Removed images that still carry this label. */
  removed: number;
}

/** What a merge would move. */
export interface MergePreview {
  from: string;
  into: string;
  /** Images (any status) whose label moves. */
  images: number;
  /** Active images of `into` after the merge, per split. */
  after: Record<SplitName, number>;
}

/** One warning about the splits, with what it concerns. */
export interface SplitWarning {
  kind: 'missing-class' | 'distribution' | 'too-small' | 'empty-split' | 'leakage';
  split: SplitName;
  className: string | null;
  message: string;
}

/** The class x split table with its health checks. */
export interface SplitReport {
  classes: { name: string; counts: Record<SplitName, number>; total: number }[];
  totals: Record<SplitName, number>;
  /** Per split (valid, test): the chi-square test of its class mix against train's. */
  tests: { split: SplitName; statistic: number; degreesOfFreedom: number; pValue: number | null }[];
  /** p-values under this flag a split whose class mix differs from train's. */
  pThreshold: number;
  /** Fewer images of a class than this in valid or test is too few to measure it. */
  minPerClass: number;
  warnings: SplitWarning[];
}

/** How to rebalance. */
export interface RebalanceOptions {
  /** Percentages or fractions; normalised. */
  ratios: Record<SplitName, number>;
  /** Splits whose images stay where they are. */
  locked: SplitName[];
  seed: number;
}

/** What a rebalance would do. */
export interface RebalancePlan {
  before: SplitReport['classes'];
  after: SplitReport['classes'];
  /** Images whose split changes. */
  moved: number;
  /** Verified duplicate groups (exact or near, src/main/health) kept together. */
  duplicateGroups: number;
  /** Always 0: locked splits no longer take in duplicates (kept so older clients read the plan). */
  joinedLocked: number;
  /** Groups with a member in a locked split and unlocked copies elsewhere: leakage, left to the Health view's repair. */
  leakingLocked: number;
}

/** One change in an image's history. */
export interface HistoryEntry {
  changeId: number;
  batchId: number;
  at: number;
  kind: 'edit' | 'undo' | 'redo' | 'import';
  description: string;
  field: string;
  /** Values as a person reads them (class names, not ids). */
  from: string | null;
  to: string | null;
  /** True when the field still holds `to`, so reverting this change is meaningful. */
  isCurrent: boolean;
}

/** One batch in the change log. */
export interface BatchInfo {
  id: number;
  /** The dataset version right after this batch. */
  version: number;
  /** The dataset version right before it. */
  previousVersion: number;
  at: number;
  kind: 'edit' | 'undo' | 'redo' | 'import';
  action: string;
  description: string;
  changes: number;
  undone: boolean;
}

/** What differs between two dataset versions, field by field. */
export interface VersionDiff {
  from: number;
  to: number;
  total: number;
  counts: { label: number; split: number; status: number; value: number; reviewed: number; classes: number };
  rows: {
    imageId: ImageId | null;
    path: string | null;
    className: string | null;
    field: string;
    from: string | null;
    to: string | null;
  }[];
}
