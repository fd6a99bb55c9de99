import { compareRuns } from '../analysis/issues';
import { listRuns, runDetail } from '../train/runs';
import type { AreaHandlers, CoreServices } from './types';

/** runs:list, runs:get, runs:compare (model.handlers.ts answers runs:exportModel and runs:predict). */
export function runHandlers(core: CoreServices): Omit<AreaHandlers<'runs'>, 'runs:exportModel' | 'runs:predict'> {
  return {
    'runs:list': () => listRuns(core.requireProject().db),
    'runs:get': ({ id }) => runDetail(core.requireProject().db, id),
    'runs:compare': (params) => compareRuns(core.requireProject().db, params),
  };
}
