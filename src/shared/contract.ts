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
import { importKinds, imageStatuses, splitNames } from './types';

const imageId = z.number().int().positive().transform((n) => n as ImageId);
const imageIds = z.array(imageId).min(1, 'select at least one image').max(1_000_000);
const nonEmpty = (what: string) => z.string().trim().min(1, `${what} is required`);

/** Runtime schemas for every request input. A request without one is a compile error below. */
export const requestSchemas = {
  /** Open a .loupe project file, or create it when `create` is set. */
  'project:open': z.object({ file: nonEmpty('project file'), create: z.boolean().optional() }),
  /** The open project, or null. */
  'project:current': z.object({}),
  'project:close': z.object({}),
  /** Class x split counts and totals. */
  'dataset:stats': z.object({}),
  /** Start importing a folder or CSV; returns the job id at once. */
  'dataset:import': z.object({ source: nonEmpty('source'), kind: z.enum(importKinds).optional() }),
  /** Write the active dataset out as CSV or a split/class folder tree. */
  'dataset:export': z.object({
    format: z.enum(['csv', 'folders']),
    out: nonEmpty('output folder'),
    link: z.enum(['copy', 'hardlink']).optional(),
  }),
  /** One page of images matching a filter, in a stable order. */
  'images:page': z.object({
    filter: z
      .object({
        className: z.string().nullable().optional(),
        split: z.enum(splitNames).optional(),
        status: z.enum(imageStatuses).optional(),
      })
      .default({}),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(2000).default(200),
  }),
  'images:get': z.object({ id: imageId }),
  /** Give images a class (created when new). */
  'images:relabel': z.object({ ids: imageIds, className: nonEmpty('class name') }),
  /** Exclude images from the dataset; undoable, files untouched. */
  'images:remove': z.object({ ids: imageIds }),
  'images:restore': z.object({ ids: imageIds }),
  'changes:undo': z.object({}),
  'changes:redo': z.object({}),
  'jobs:list': z.object({}),
  'jobs:cancel': z.object({ id: z.string().min(1).transform((s) => s as JobId) }),
} satisfies Record<string, z.ZodType>;

/** Output type of every request. */
export interface RequestOutputs {
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
  'changes:undo': ChangeResult;
  'changes:redo': ChangeResult;
  'jobs:list': JobInfo[];
  'jobs:cancel': JobInfo;
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
export interface EventPayloads {
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
export const eventNames: EventName[] = ['jobs:update', 'jobs:log', 'dataset:changed', 'project:changed'];

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
}

/** Channel names used by the Electron bridge. */
export const ipcChannel = {
  request: (name: RequestName) => `loupe:${name}`,
  event: 'loupe:event',
} as const;
