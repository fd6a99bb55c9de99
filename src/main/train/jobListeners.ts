/**
 * How a core job follows its request to the training process: the process's progress and log lines
 * become the job's, and a run's curve points are stored with the run and pushed to every window.
 * One definition for the quick run, the full run and the checks.
 */
import type { CurvePoint, RunStatus } from '../../shared/train';
import type { JobContext } from '../jobs/manager';
import type { Db } from '../store/db';
import type { RequestListeners } from './client';
import { appendCurves } from './runs';

/** What a run's job tells the rest of the core. */
export interface RunHooks {
  onCurve(runId: number, points: CurvePoint[]): void;
  onStatus(runId: number, status: RunStatus): void;
}

/** The process's progress and log lines, as the job's. */
export function jobListeners(ctx: JobContext): RequestListeners {
  return { onProgress: (step, current, total) => ctx.progress(step, current, total), onLog: (line) => ctx.log(line) };
}

/** jobListeners, and curve points stored with run `runId` and passed to `hooks.onCurve`. */
export function runListeners(db: Db, runId: number, ctx: JobContext, hooks: Pick<RunHooks, 'onCurve'>): RequestListeners {
  return {
    ...jobListeners(ctx),
    onCurve: (points) => {
      appendCurves(db, runId, points);
      hooks.onCurve(runId, points);
    },
  };
}
