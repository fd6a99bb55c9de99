import { confusedPairs, issueQueue } from '../analysis/issues';
import type { AreaHandlers, CoreServices } from './types';

/** review:queue, review:pairs. Actions on queue items are the ordinary edits (images:relabel, images:remove, images:review). */
export function reviewHandlers(core: CoreServices): AreaHandlers<'review'> {
  return {
    'review:queue': (params) => issueQueue(core.requireProject().db, params),
    'review:pairs': (params) => confusedPairs(core.requireProject().db, params),
  };
}
