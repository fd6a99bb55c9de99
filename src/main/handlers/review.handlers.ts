import { confusedPairs, imageNeighbours, issueQueue } from '../analysis/issues';
import { searchInProcess } from '../analysis/runSignals';
import { queueSource, setQueueSource } from '../analysis/source';
import { valueIssuePage } from '../analysis/values';
import { trainingProcess } from './train.handlers';
import type { AreaHandlers, CoreServices } from './types';

/**
 * review:queue, review:pairs, review:source, review:setSource, review:neighbours, and the regression
 * queues review:values. Actions on queue items are the ordinary edits (images:relabel, or for a value
 * images:setValue; images:remove, images:review). A run's neighbour search runs in the core's
 * training process, never on the core's thread.
 */
export function reviewHandlers(core: CoreServices): AreaHandlers<'review'> {
  const search = searchInProcess(trainingProcess(core));
  return {
    'review:queue': (params) => issueQueue(core.requireProject().db, params, search),
    'review:pairs': (params) => confusedPairs(core.requireProject().db, params),
    'review:source': () => queueSource(core.requireProject().db),
    'review:setSource': ({ runId }) => setQueueSource(core.requireProject().db, runId),
    'review:neighbours': (params) => imageNeighbours(core.requireProject().db, params, search),
    'review:values': (params) => valueIssuePage(core.requireProject().db, params, search),
  };
}
