import { analyseRun, compareRuns } from '../analysis/issues';
import { searchInProcess } from '../analysis/runSignals';
import { reviewSessions } from '../analysis/sessions';
import { testTrust } from '../analysis/trust';
import { listRuns, runDetail } from '../train/runs';
import { trainingProcess } from './train.handlers';
import type { AreaHandlers, CoreServices } from './types';

/**
 * runs:list, runs:get (with test-set trust for finished runs: the run's analysis, whose neighbour
 * search runs in the training process), runs:compare, runs:sessions (model.handlers.ts answers
 * runs:exportModel and runs:predict).
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
  };
}
