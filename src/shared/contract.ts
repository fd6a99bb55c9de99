/**
 * The contract between the UI and the core: every request with its input schema and output type,
 * every pushed event with its payload. Electron IPC and the WebSocket server both carry exactly this.
 */
import { z } from 'zod';
import type {
  ChangeResult,
  DatasetStats,
  ImageDetail,
  ImagePage,
  ImageId,
  JobId,
  JobInfo,
  ProjectInfo,
} from './types';
import { importKinds, imageSorts, imageStatuses, splitNames } from './types';
import type {
  BatchInfo,
  ClassSummary,
  HistoryEntry,
  MergePreview,
  RebalancePlan,
  SplitReport,
  VersionDiff,
} from './curation';
import { augmentPreviewSchema, type AugmentPresetInfo, type AugmentPreview } from './augment';
import { trainRequestSchemas, type TrainEventPayloads, type TrainRequestOutputs } from './train';
import { healthFilters, healthRequestSchemas, type HealthEventPayloads, type HealthRequestOutputs } from './health';
import { experimentRequestSchemas, type ExperimentEventPayloads, type ExperimentRequestOutputs } from './experiments';
import { regressionRequestSchemas, type RegressionRequestOutputs } from './regression';
import { boundedText, className, filePath, freeText, requiredText } from './limits';

const imageId = z.number().int().positive().transform((n) => n as ImageId);
const imageIds = z.array(imageId).min(1, 'select at least one image').max(1_000_000);
const imageFilter = z
  .object({
    className: boundedText('className', 'class name').nullable().optional(),
    split: z.enum(splitNames).optional(),
    status: z.enum(imageStatuses).optional(),
    reviewed: z.boolean().optional(),
    search: freeText('search').optional(),
    predicted: boundedText('className', 'predicted class').optional(),
    /** A health check or duplicate/leakage membership (src/shared/health.ts). */
    health: z.enum(healthFilters).optional(),
    /** Numeric targets within [valueMin, valueMax] (either end open when omitted). */
    valueMin: z.number().finite().optional(),
    valueMax: z.number().finite().optional(),
    /** Images whose absolute residual (latest regression run) is at least this. */
    residualMin: z.number().min(0).optional(),
  })
  .default({});
const percent = z.number().min(0, 'ratios cannot be negative').max(100);
const rebalanceOptions = z.object({
  ratios: z
    .object({ train: percent, valid: percent, test: percent })
    .refine((r) => r.train + r.valid + r.test > 0, 'ratios must not all be zero'),
  locked: z.array(z.enum(splitNames)).max(2, 'at least one split must stay unlocked').default([]),
  seed: z.number().int().default(1),
});

/** Runtime schemas for every request input. A request without one is a compile error below. */
export const requestSchemas = {
  /** Open a .loupe project file, or create it when `create` is set. */
  'project:open': z.object({ file: filePath('project file'), create: z.boolean().optional() }),
  /** The open project, or null. */
  'project:current': z.object({}),
  'project:close': z.object({}),
  /** Class x split counts and totals. */
  'dataset:stats': z.object({}),
  /** Start importing a folder or CSV; returns the job id at once. `root` (new projects): the folder images must lie in. */
  'dataset:import': z.object({ source: filePath('source'), kind: z.enum(importKinds).optional(), root: filePath('root').optional() }),
  /** Write the active dataset out as CSV or a split/class folder tree. */
  'dataset:export': z.object({
    format: z.enum(['csv', 'folders']),
    out: filePath('output folder'),
    link: z.enum(['copy', 'hardlink']).optional(),
  }),
  /** One page of images matching a filter, in a stable order. */
  'images:page': z.object({
    filter: imageFilter,
    sort: z.enum(imageSorts).default('id'),
    /** Seed of the 'random' order. */
    seed: z.number().int().default(0),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(2000).default(200),
  }),
  /** Every id matching a filter ("select all"). */
  'images:ids': z.object({ filter: imageFilter }),
  /** Mark images reviewed (or not); undoable. */
  'images:review': z.object({ ids: imageIds, reviewed: z.boolean().default(true) }),
  /** Every change to one image, oldest first. */
  'images:history': z.object({ id: imageId }),
  'images:get': z.object({ id: imageId }),
  /** Give images a class (created when new). */
  'images:relabel': z.object({ ids: imageIds, className: className() }),
  /** Exclude images from the dataset; undoable, files untouched. */
  'images:remove': z.object({ ids: imageIds }),
  'images:restore': z.object({ ids: imageIds }),
  'changes:undo': z.object({}),
  'changes:redo': z.object({}),
  /** Set a changed field back to what it was before one change, as a new edit. */
  'changes:revert': z.object({ changeId: z.number().int().positive() }),
  /** Classes with counts per split. */
  'classes:list': z.object({}),
  'classes:create': z.object({ name: className() }),
  'classes:rename': z.object({ from: className('class'), to: className('new name') }),
  /** What merging `from` into `into` would move, without doing it. */
  'classes:previewMerge': z.object({ from: className('class'), into: className('target class') }),
  /** Move every image of `from` to `into` in one undoable batch. */
  'classes:merge': z.object({ from: className('class'), into: className('target class') }),
  /** Delete a class that labels no image. */
  'classes:delete': z.object({ name: className('class') }),
  /** The class x split table with its warnings. */
  'splits:report': z.object({
    pThreshold: z.number().gt(0).lt(1).default(0.01),
    minPerClass: z.number().int().min(1).default(10),
  }),
  /** What a stratified rebalance would do, without doing it. */
  'splits:plan': rebalanceOptions,
  /** Rebalance in one undoable batch. */
  'splits:apply': rebalanceOptions,
  /** The change log's batches, newest first. */
  'versions:list': z.object({
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(500).default(100),
  }),
  /** What changed between two dataset versions. */
  'versions:diff': z.object({
    from: z.number().int().min(0),
    to: z.number().int().min(0),
    limit: z.number().int().min(1).max(10_000).default(1000),
  }),
  'jobs:list': z.object({}),
  'jobs:cancel': z.object({ id: requiredText('id', 'job id').transform((s) => s as JobId) }),
  /** The augmentation presets as full configs. */
  'augment:presets': z.object({}),
  /** Render augmented previews; images are fetched with `previewUrl(previewId, index)`. */
  'augment:preview': augmentPreviewSchema,
  /** train:*, runs:*, review:* (src/shared/train.ts). */
  ...trainRequestSchemas,
  /** health:* (src/shared/health.ts). */
  ...healthRequestSchemas,
  /** experiments:* (src/shared/experiments.ts). */
  ...experimentRequestSchemas,
  /** Numeric targets: values, binning, regression runs' values and queues (src/shared/regression.ts). */
  ...regressionRequestSchemas,
} satisfies Record<string, z.ZodType>;

/** Output type of every request. */
export interface RequestOutputs extends TrainRequestOutputs, HealthRequestOutputs, ExperimentRequestOutputs, RegressionRequestOutputs {
  'project:open': ProjectInfo;
  'project:current': ProjectInfo | null;
  'project:close': null;
  'dataset:stats': DatasetStats;
  'dataset:import': { jobId: JobId };
  'dataset:export': { out: string; files: number; version: number };
  'images:page': ImagePage;
  'images:get': ImageDetail;
  'images:relabel': ChangeResult;
  'images:remove': ChangeResult;
  'images:restore': ChangeResult;
  'images:ids': { ids: ImageId[] };
  'images:review': ChangeResult;
  'images:history': HistoryEntry[];
  'changes:undo': ChangeResult;
  'changes:redo': ChangeResult;
  'changes:revert': ChangeResult;
  'classes:list': ClassSummary[];
  'classes:create': ClassSummary;
  'classes:rename': ChangeResult;
  'classes:previewMerge': MergePreview;
  'classes:merge': ChangeResult;
  'classes:delete': ChangeResult;
  'splits:report': SplitReport;
  'splits:plan': RebalancePlan;
  'splits:apply': ChangeResult;
  'versions:list': { total: number; version: number; rows: BatchInfo[] };
  'versions:diff': VersionDiff;
  'jobs:list': JobInfo[];
  'jobs:cancel': JobInfo;
  'augment:presets': AugmentPresetInfo[];
  'augment:preview': AugmentPreview;
}

/** Every request name, `area:verb`. */
export type RequestName = keyof typeof requestSchemas;
/** What a caller passes (before defaults are applied). */
export type RequestInput<N extends RequestName> = z.input<(typeof requestSchemas)[N]>;
/** What a handler receives (validated, defaults applied). */
export type RequestParams<N extends RequestName> = z.output<(typeof requestSchemas)[N]>;
/** What a request resolves to. */
export type RequestOutput<N extends RequestName> = RequestOutputs[N];

/** The names as a runtime list, for transports that register one channel per request. */
export const requestNames = Object.keys(requestSchemas) as RequestName[];

/** Events the core pushes, with their payloads. */
export interface EventPayloads extends TrainEventPayloads, HealthEventPayloads, ExperimentEventPayloads {
  /** A job changed state or reported progress (throttled to about 10 a second). */
  'jobs:update': JobInfo;
  /** A job wrote a log line. */
  'jobs:log': { id: JobId; line: string };
  /** The dataset changed (edit, undo, import chunk); views refetch. */
  'dataset:changed': { version: number; reason: string };
  /** A project was opened or closed. */
  'project:changed': ProjectInfo | null;
}

/** Every event name, `area:event`. */
export type EventName = keyof EventPayloads;
/** The event names as a runtime list. */
export const eventNames: EventName[] = ['jobs:update', 'jobs:log', 'dataset:changed', 'project:changed', 'train:curve', 'runs:changed', 'health:changed', 'experiments:search'];

/** Compile-time guard: the schema map and the output map name the same requests. */
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;
const contractIsComplete: SameKeys<typeof requestSchemas, RequestOutputs> = true;
void contractIsComplete;

/** The client the UI uses; IPC and WebSocket both implement it. */
export interface LoupeApi {
  call<N extends RequestName>(name: N, input: RequestInput<N>): Promise<RequestOutput<N>>;
  /** Subscribe to an event; returns the unsubscribe. */
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void;
  /** URL of an image's thumbnail (WebP, longest side 256). */
  thumbUrl(id: ImageId): string;
  /** URL of an image's original file. */
  imageUrl(id: ImageId): string;
  /** URL of one PNG of an `augment:preview` answer. */
  previewUrl(previewId: string, index: number): string;
}

/** Channel names used by the Electron bridge. */
export const ipcChannel = {
  request: (name: RequestName) => `loupe:${name}`,
  event: 'loupe:event',
} as const;
