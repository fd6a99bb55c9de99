import type { ChangeResult, ImageId } from '../../shared/types';
import { recordBatch, redo, undo, type FieldChange } from '../store/changes';
import { ensureClass } from '../store/classes';
import { write } from '../store/db';
import { imageHistory, planRevert } from '../store/history';
import { imageDetail, imageIds, imagePage, requireImages } from '../store/images';
import type { AreaHandlers, CoreServices } from './types';
import { plural } from './types';

/**
 * Records one edit batch in a transaction and tells every window. `plan` runs inside the
 * transaction, so a refused edit (unknown id, unknown class) writes nothing at all.
 */
export function editBatch(
  core: CoreServices,
  action: string,
  describe: string | (() => string),
  plan: () => FieldChange[],
): ChangeResult {
  const project = core.requireProject();
  let description = '';
  const { changed } = write(project.db, () => {
    const changes = plan();
    // A description may depend on what the plan found (a merge names how many images moved).
    description = typeof describe === 'string' ? describe : describe();
    return recordBatch(project.db, { kind: 'edit', action, description }, changes);
  });
  return announce(core, { version: project.info().version, description: changed > 0 ? description : 'Nothing changed', changed });
}

/** Tells every window about an edit that changed something. */
export function announce(core: CoreServices, result: ChangeResult): ChangeResult {
  if (result.changed > 0) core.emit('dataset:changed', { version: result.version, reason: result.description });
  return result;
}

/** images:* (browse, edit labels and values, history) and changes:* (undo, redo, revert). */
export function imageHandlers(core: CoreServices): AreaHandlers<'images' | 'changes'> {
  const forImages = (ids: ImageId[], change: (id: ImageId) => FieldChange) => () => {
    requireImages(core.requireProject().db, ids);
    return ids.map(change);
  };
  return {
    'images:page': ({ filter, offset, limit, sort, seed }) =>
      imagePage(core.requireProject().db, filter, offset, limit, sort, seed),
    'images:ids': ({ filter }) => ({ ids: imageIds(core.requireProject().db, filter) }),
    'images:get': ({ id }) => imageDetail(core.requireProject().db, id),
    'images:history': ({ id }) => {
      const { db } = core.requireProject();
      requireImages(db, [id]);
      return imageHistory(db, id);
    },
    'images:relabel': ({ ids, className }) =>
      editBatch(core, 'relabel', `Relabelled ${plural(ids.length, 'image')} as ${className.trim()}`, () => {
        const { db } = core.requireProject();
        requireImages(db, ids);
        const cls = ensureClass(db, className);
        return [...cls.revive, ...ids.map((imageId): FieldChange => ({ imageId, field: 'class', value: String(cls.id) }))];
      }),
    // Values may sit beside classes (binning keeps them), so any project takes them.
    'images:setValue': ({ ids, value }) =>
      editBatch(
        core,
        'set-value',
        `Set the value of ${plural(ids.length, 'image')} to ${value}`,
        forImages(ids, (imageId) => ({ imageId, field: 'value', value: String(value) })),
      ),
    'images:remove': ({ ids }) =>
      editBatch(core, 'remove', `Removed ${plural(ids.length, 'image')}`, forImages(ids, (imageId) => ({ imageId, field: 'status', value: 'removed' }))),
    'images:restore': ({ ids }) =>
      editBatch(core, 'restore', `Restored ${plural(ids.length, 'image')}`, forImages(ids, (imageId) => ({ imageId, field: 'status', value: 'active' }))),
    'images:review': ({ ids, reviewed }) =>
      editBatch(
        core,
        reviewed ? 'review' : 'unreview',
        `Marked ${plural(ids.length, 'image')} ${reviewed ? 'reviewed' : 'not reviewed'}`,
        forImages(ids, (imageId) => ({ imageId, field: 'reviewed', value: reviewed ? '1' : '0' })),
      ),
    'changes:undo': () => announce(core, undo(core.requireProject().db)),
    'changes:redo': () => announce(core, redo(core.requireProject().db)),
    'changes:revert': ({ changeId }) => {
      const { change, description } = planRevert(core.requireProject().db, changeId);
      return editBatch(core, 'revert', description, () => [change]);
    },
  };
}
