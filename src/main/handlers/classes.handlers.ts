import type { ClassSummary } from '../../shared/curation';
import type { SplitName } from '../../shared/types';
import { ensureClass, planDelete, planMerge, planRename } from '../store/classes';
import type { Db } from '../store/db';
import { sql } from '../store/statements';
import { editBatch } from './images.handlers';
import type { AreaHandlers, CoreServices } from './types';
import { plural } from './types';

/** Visible classes with active counts per split and their removed images. */
export function classSummaries(db: Db): ClassSummary[] {
  const rows = sql(
    db,
    `SELECT c.id, c.name, i.status, s.split, count(i.id) AS n
       FROM classes c
       LEFT JOIN labels l ON l.class_id = c.id
       LEFT JOIN images i ON i.id = l.image_id
       LEFT JOIN splits s ON s.image_id = i.id
      WHERE c.merged_into IS NULL AND c.deleted = 0
      GROUP BY c.id, i.status, s.split ORDER BY c.name`,
  ).all() as { id: number; name: string; status: string | null; split: SplitName | null; n: number }[];
  const byId = new Map<number, ClassSummary>();
  for (const row of rows) {
    const entry = byId.get(row.id) ?? { id: row.id, name: row.name, train: 0, valid: 0, test: 0, unsplit: 0, total: 0, removed: 0 };
    if (row.status === 'active') {
      if (row.split) entry[row.split] += row.n;
      else entry.unsplit += row.n;
      entry.total += row.n;
    } else if (row.status === 'removed') entry.removed += row.n;
    byId.set(row.id, entry);
  }
  return [...byId.values()];
}

/** classes:* — list, create, rename, merge (with a preview), delete; every change undoable. */
export function classHandlers(core: CoreServices): AreaHandlers<'classes'> {
  const db = () => core.requireProject().db;
  return {
    'classes:list': () => classSummaries(db()),
    'classes:create': ({ name }) => {
      let id = 0;
      editBatch(core, 'create-class', `Created class ${name.trim()}`, () => {
        const cls = ensureClass(db(), name);
        id = cls.id;
        return cls.revive;
      });
      return classSummaries(db()).find((c) => c.id === id)!;
    },
    'classes:rename': ({ from, to }) =>
      editBatch(core, 'rename', `Renamed class ${from.trim()} to ${to.trim()}`, () => planRename(db(), from, to)),
    'classes:previewMerge': ({ from, into }) => {
      const plan = planMerge(db(), from, into);
      const summaries = classSummaries(db());
      const source = summaries.find((c) => c.id === plan.from.id)!;
      const target = summaries.find((c) => c.id === plan.into.id)!;
      return {
        from: plan.from.name,
        into: plan.into.name,
        images: plan.images,
        after: { train: source.train + target.train, valid: source.valid + target.valid, test: source.test + target.test },
      };
    },
    'classes:merge': ({ from, into }) => {
      let description = '';
      return editBatch(
        core,
        'merge',
        () => description,
        () => {
          const plan = planMerge(db(), from, into);
          description = `Merged ${plan.from.name} into ${plan.into.name} (${plural(plan.images, 'image')})`;
          return plan.changes;
        },
      );
    },
    'classes:delete': ({ name }) => editBatch(core, 'delete-class', `Deleted class ${name.trim()}`, () => planDelete(db(), name)),
  };
}
