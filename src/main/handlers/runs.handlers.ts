import { compareRuns } from '../analysis/issues';
import { listRuns, runDetail } from '../train/runs';
import type { AreaHandlers, CoreServices } from './types';

/** runs:list, runs:get, runs:compare. */
export function runHandlers(core: CoreServices): AreaHandlers<'runs'> {
  return {
    'runs:list': () => listRuns(core.requireProject().db),
    'runs:get': ({ id }) => runDetail(core.requireProject().db, id),
    'runs:compare': (params) => compareRuns(core.requireProject().db, params),
  };
}
