import { diffVersions, listBatches } from '../store/history';
import type { AreaHandlers, CoreServices } from './types';

/** versions:* — the change log's batches and the difference between two dataset versions. */
export function versionHandlers(core: CoreServices): AreaHandlers<'versions'> {
  return {
    'versions:list': ({ offset, limit }) => listBatches(core.requireProject().db, offset, limit),
    'versions:diff': ({ from, to, limit }) => diffVersions(core.requireProject().db, from, to, limit),
  };
}
