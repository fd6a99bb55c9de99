import { analyseRun, compareRuns } from '../analysis/issues';
import { searchInProcess } from '../analysis/runSignals';
import { reviewSessions } from '../analysis/sessions';
import { testTrust } from '../analysis/trust';
import { LoupeError } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import type { ValuePoints } from '../../shared/regression';
import type { SplitName } from '../../shared/types';
import type { Db } from '../store/db';
import { getRun, latestDoneRunOf, listRuns, runDetail, valuePredictions } from '../train/runs';
import { trainingProcess } from './train.handlers';
import type { AreaHandlers, CoreServices } from './types';

/**
 * runs:list, runs:get (with test-set trust for finished runs: the run's analysis, whose neighbour
 * search runs in the training process), runs:compare, runs:sessions, runs:values (model.handlers.ts
 * answers runs:exportModel and runs:predict).
 */
export function runHandlers(core: CoreServices): Omit<AreaHandlers<'runs'>, 'runs:exportModel' | 'runs:predict'> {
  const search = searchInProcess(trainingProcess(core));
  return {
    'runs:list': () => listRuns(core.requireProject().db),
    'runs:get': async ({ id, trust }) => {
      const db = core.requireProject().db;
      const detail = runDetail(db, id);
      if (detail.status !== 'done' || !trust) return { ...detail, trust: null };
      return { ...detail, trust: testTrust(await analyseRun(db, detail, search)) };
    },
    'runs:compare': (params) => compareRuns(core.requireProject().db, params),
    'runs:sessions': () => reviewSessions(core.requireProject().db),
    'runs:values': ({ runId, split, limit }) => runValues(core.requireProject().db, runId, split, limit),
  };
}

/**
 * A regression run's predicted values (the latest finished regression run when `runId` is omitted),
 * sampled evenly down to `limit` points in image order. NOT_FOUND without such a run; CONFLICT for a
 * classification run, whose predictions are classes.
 */
export function runValues(db: Db, runId: number | undefined, split: SplitName | undefined, limit: number): ValuePoints {
  const run = runId === undefined ? latestDoneRunOf(db, 'regression') : getRun(db, runId);
  if (!run) throw new LoupeError('NOT_FOUND', 'No finished regression run yet; train the quick model on this regression project first (loupe train).');
  switch (run.task) {
    case 'regression':
      break;
    case 'classification':
      throw new LoupeError('CONFLICT', `Run ${run.id} is a classification run: it predicts classes, not values; pick a regression run.`, { runId: run.id });
    default:
      return assertNever(run.task, 'task');
  }
  const points = valuePredictions(db, run.id, split);
  return { runId: run.id, total: points.length, points: sampleEvenly(points, limit) };
}

/** At most `limit` items spread evenly over the list (all of them when there are no more than that). */
export function sampleEvenly<T>(items: readonly T[], limit: number): T[] {
  if (items.length <= limit) return [...items];
  return Array.from({ length: limit }, (_, i) => items[Math.floor((i * items.length) / limit)]!);
}
