import type { AreaHandlers, CoreServices } from './types';

/** jobs:list, jobs:cancel. */
export function jobHandlers(core: CoreServices): AreaHandlers<'jobs'> {
  return {
    'jobs:list': () => core.jobs.list(),
    'jobs:cancel': ({ id }) => core.jobs.cancel(id),
  };
}
