/** Handler maps: each area of the core answers its own requests; the Core joins them. */
import type { EventName, EventPayloads, RequestName, RequestOutput, RequestParams } from '../../shared/contract';
import type { JobManager } from '../jobs/manager';
import type { TrainerSpawner } from '../train/client';
import type { Project } from '../store/project';

/** The handler of every request, typed by the contract. */
export type Handlers = {
  [N in RequestName]: (params: RequestParams<N>) => RequestOutput<N> | Promise<RequestOutput<N>>;
};

/** Options for a core. */
export interface CoreOptions {
  /** Passed to imports; tests lower it. */
  pixelLimit?: number;
  /** How the training process starts: child_process.fork unless the host has its own (Electron's utilityProcess). */
  trainer?: TrainerSpawner;
  /**
   * Start a finished run's label-error analysis at once in the background (the app and serve mode,
   * so Review opens without waiting). Off by default: a CLI command would wait for it before exiting.
   */
  warmQueues?: boolean;
}

/** What an area's handlers may use of the core. */
export interface CoreServices {
  readonly jobs: JobManager;
  readonly options: CoreOptions;
  requireProject(): Project;
  currentProject(): Project | null;
  setProject(project: Project | null): void;
  emit<E extends EventName>(event: E, payload: EventPayloads[E]): void;
}

/** Handlers for the requests whose names start with `area:`. */
export type AreaHandlers<A extends string> = Pick<Handlers, Extract<RequestName, `${A}:${string}`>>;

/** "3 images", "1 image". */
export function plural(n: number, word: string): string {
  return `${n.toLocaleString('en')} ${word}${n === 1 ? '' : 's'}`;
}
