import type { ChangeResult, ImageId } from '../../shared/types';
import { recordBatch, redo, undo, type FieldChange } from '../store/changes';
import { ensureClass } from '../store/classes';
import { imageDetail, imagePage, requireImages } from '../store/images';
import type { AreaHandlers, CoreServices } from './types';
import { plural } from './types';

/** images:* (browse and edit) and changes:* (undo, redo). */
export function imageHandlers(core: CoreServices): AreaHandlers<'images' | 'changes'> {
  /** Records one edit batch and tells every window. */
  const edit = (action: string, description: string, ids: ImageId[], change: (id: ImageId) => FieldChange): ChangeResult => {
    const project = core.requireProject();
    // One transaction: unknown ids write nothing, not even a new class.
    const { changed } = project.db.transaction(() => {
      requireImages(project.db, ids);
      return recordBatch(project.db, { kind: 'edit', action, description }, ids.map(change));
    })();
    return announce({ version: project.info().version, description: changed > 0 ? description : 'Nothing changed', changed });
  };
  const announce = (result: ChangeResult): ChangeResult => {
    if (result.changed > 0) core.emit('dataset:changed', { version: result.version, reason: result.description });
    return result;
  };
  return {
    'images:page': ({ filter, offset, limit }) => imagePage(core.requireProject().db, filter, offset, limit),
    'images:get': ({ id }) => imageDetail(core.requireProject().db, id),
    'images:relabel': ({ ids, className }) => {
      const { db } = core.requireProject();
      let classId: number | null = null;
      return edit('relabel', `Relabelled ${plural(ids.length, 'image')} as ${className.trim()}`, ids, (imageId) => {
        classId ??= ensureClass(db, className).id;
        return { imageId, field: 'class', value: String(classId) };
      });
    },
    'images:remove': ({ ids }) =>
      edit('remove', `Removed ${plural(ids.length, 'image')}`, ids, (imageId) => ({ imageId, field: 'status', value: 'removed' })),
    'images:restore': ({ ids }) =>
      edit('restore', `Restored ${plural(ids.length, 'image')}`, ids, (imageId) => ({ imageId, field: 'status', value: 'active' })),
    'changes:undo': () => announce(undo(core.requireProject().db)),
    'changes:redo': () => announce(redo(core.requireProject().db)),
  };
}
