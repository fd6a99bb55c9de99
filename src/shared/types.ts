/** Domain types shared by the core and the UI. Plain data only: they cross IPC and JSON. */

/** The three splits every image belongs to exactly one of. */
export const splitNames = ['train', 'valid', 'test'] as const;
/** A dataset split. */
export type SplitName = (typeof splitNames)[number];

/** active: in the dataset; removed: excluded by a person (undoable); unreadable: could not be decoded; missing: file gone since import. */
export const imageStatuses = ['active', 'removed', 'unreadable', 'missing'] as const;
/** Where an image stands in the dataset. */
export type ImageStatus = (typeof imageStatuses)[number];

/** Branded integer ids so that an image id is never passed where a job id is expected. */
export type ImageId = number & { readonly __brand: 'ImageId' };
/** A job's id, unique within one running core. */
export type JobId = string & { readonly __brand: 'JobId' };

/** What the open project is. */
export interface ProjectInfo {
  /** Absolute path of the .loupe file. */
  file: string;
  /** The project's name (the file's base name). */
  name: string;
  /** Absolute path of the folder image paths are relative to; null until the first import. */
  root: string | null;
  /** The dataset version: the id of the last change in the change log. */
  version: number;
  /** 'classification' when labels are classes, 'regression' when they are only numbers (derived from the labels; null: nothing labelled yet). */
  task: import('./regression').Task | null;
  schemaVersion: number;
  /** An import that stopped before it finished (crash, cancel) and has not been run again since. */
  unfinishedImport: { source: string; kind: ImportKind; status: 'interrupted' | 'cancelled' } | null;
  /** True when the project file cannot be written: it opened for reading, and edits are disabled. */
  readOnly: boolean;
}

/** Per-class image counts by split (active images only). */
export interface ClassSplitCounts {
  name: string;
  train: number;
  valid: number;
  test: number;
  total: number;
}

/** The class x split table and the totals beside it. */
export interface DatasetStats {
  /** Active, readable images. */
  images: number;
  unreadable: number;
  removed: number;
  missing: number;
  /** Active images that have no class (regression targets or unlabeled). */
  unlabeled: number;
  version: number;
  classes: ClassSplitCounts[];
  splits: Record<SplitName, number>;
}

/** One image as a gallery cell or a list row shows it. */
export interface ImageSummary {
  id: ImageId;
  path: string;
  label: string | null;
  value: number | null;
  split: SplitName | null;
  status: ImageStatus;
  width: number | null;
  height: number | null;
  /** Why an unreadable image could not be read; null otherwise. */
  error: string | null;
  reviewed: boolean;
  /** What the latest run predicted for this image, if it predicted it. */
  prediction: { className: string; probability: number; loss: number | null } | null;
  /** What the latest regression run predicted for this image (residual: predicted - value now; null without a value). */
  valuePrediction: { value: number; residual: number | null } | null;
}

/** Everything known of one image. */
export interface ImageDetail extends ImageSummary {
  contentHash: string | null;
  perceptualHash: string | null;
  channels: number | null;
  format: string | null;
  bytes: number;
  splitLocked: boolean;
}

/** Which images a list shows. Omitted fields do not filter. */
export interface ImageFilter {
  className?: string | null;
  split?: SplitName;
  /** Defaults to 'active'. */
  status?: ImageStatus;
  reviewed?: boolean;
  /** Part of the path. */
  search?: string;
  /** The class the latest run predicted. */
  predicted?: string;
  /** A health check the image fails, or duplicate/leakage membership (src/shared/health.ts). */
  health?: import('./health').HealthFilter;
  /** Numeric targets within [valueMin, valueMax]. */
  valueMin?: number;
  valueMax?: number;
  /** Absolute residual of the latest regression run at least this. */
  residualMin?: number;
}

/**
 * Gallery orders: by id (import order), path, a seeded shuffle, pixel count; and, once a run exists,
 * its out-of-sample loss (worst first) or its confidence (least sure first); for numeric targets the
 * value (smallest first) and the latest regression run's absolute residual (largest first).
 */
export const imageSorts = ['id', 'name', 'random', 'size', 'loss', 'confidence', 'value', 'residual'] as const;
/** A gallery order. */
export type ImageSort = (typeof imageSorts)[number];

/** A page of images for the gallery: offset paging, because a virtual grid jumps anywhere. */
export interface ImagePage {
  total: number;
  offset: number;
  rows: ImageSummary[];
}

/** What an edit did, for the toast and the version badge. */
export interface ChangeResult {
  version: number;
  /** A sentence a person reads: "Relabelled 3 images as cat". */
  description: string;
  changed: number;
}

/** States a job passes through. interrupted: the core stopped while it ran. */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/** Progress of a long job: step/current/total with a rate and an estimate. */
export interface JobProgress {
  step: string;
  current: number;
  total: number;
  /** Items per second over the job so far. */
  rate: number;
  /** Seconds left at the current rate; null until known. */
  etaSeconds: number | null;
}

/** A job as the UI lists it. */
export interface JobInfo {
  id: JobId;
  kind: string;
  state: JobState;
  progress: JobProgress | null;
  result: unknown;
  error: import('./errors').ErrorInfo | null;
  startedAt: number;
  finishedAt: number | null;
}

/** What one import did. */
export interface ImportSummary {
  source: string;
  kind: ImportKind;
  scanned: number;
  added: number;
  updated: number;
  unchanged: number;
  unreadable: number;
  missing: number;
  /** Files and CSV rows left out (links leaving the root, rows outside it or naming no image, bad rows). */
  skipped: number;
  /** The first of them (at most `skippedListLimit`), each with why. */
  skippedEntries: SkippedEntry[];
  version: number;
}

/** Why import left a file or CSV row out. */
export type SkipCause = 'outside-root' | 'broken-link' | 'not-an-image' | 'bad-row' | 'repeated-folder' | 'name-too-long';

/** One file or CSV row that import left out. */
export interface SkippedEntry {
  /** The path as found or as the row names it. */
  path: string;
  cause: SkipCause;
  /** What a person reads. */
  reason: string;
  /** The CSV row (1-based, counting the header), for CSV sources. */
  row?: number;
}

/** How many skipped entries an import summary lists; the count covers all. */
export const skippedListLimit = 100;

/** The import formats Loupe reads. */
export const importKinds = ['folders', 'split-folders', 'csv-labels', 'csv-values'] as const;
/** How a source lays out its labels. */
export type ImportKind = (typeof importKinds)[number];
