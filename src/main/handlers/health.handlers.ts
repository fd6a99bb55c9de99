import { LoupeError } from '../../shared/errors';
import type { DuplicateGroup, GroupView, HealthReport, ListedGroup } from '../../shared/health';
import { assertNever } from '../../shared/assertNever';
import type { JobId, SplitName } from '../../shared/types';
import { homeSplit, leakagePlan } from '../health/check';
import { emptyReport, healthJob, isFresh, readHealth, storedHealth, type HealthView } from '../health/service';
import { imageFlags, imageScores, setDismissed } from '../store/health';
import { datasetVersion, type FieldChange } from '../store/changes';
import { editBatch } from './images.handlers';
import type { AreaHandlers, CoreServices } from './types';
import { plural } from './types';

/** Seconds of quiet after an edit or import before the health job recomputes. */
const healthDelayMs = 2000;

/**
 * Runs the health job after the dataset changes (debounced), unless one is running, an import is
 * (it changes the dataset once more when it ends, which schedules the job), the project is
 * read-only, or the stored results are for the current version already. Reads never compute: they
 * serve the stored results marked stale until this job has run.
 */
export class HealthScheduler {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: JobId | null = null;
  constructor(private readonly core: CoreServices) {}

  /** The dataset changed: recompute once it has been quiet a moment. */
  changed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.startIfDue();
    }, healthDelayMs);
    this.timer.unref?.();
  }

  /** Starts the job when results are missing or out of date and nothing stands in the way; true when one runs. */
  startIfDue(): boolean {
    const project = this.core.currentProject();
    if (!project || project.info().readOnly) return false;
    if (this.running) return true;
    const importing = this.core.jobs.running('import');
    if (importing) {
      // Once the import ends (done, failed or cancelled), look again.
      void this.core.jobs.finished(importing.id).then(() => this.changed());
      return false;
    }
    if (isFresh(project.db, storedHealth(project.db))) return false;
    this.start();
    return true;
  }

  /** Starts the job now (or answers the one running). */
  start(): JobId {
    if (this.running) return this.running;
    const project = this.core.requireProject();
    this.core.emit('health:changed', { version: datasetVersion(project.db), computing: true });
    const job = this.core.jobs.start('health', async (ctx) => {
      try {
        const report = await healthJob(project, ctx, this.core.options.pixelLimit);
        this.core.emit('health:changed', { version: report.version, computing: false });
        return { version: report.version, elapsedMs: report.elapsedMs };
      } finally {
        this.running = null;
      }
    });
    this.running = job.id;
    return job.id;
  }

  /** True while the job runs. */
  isRunning(): boolean {
    return this.running !== null;
  }
}

function viewFilter(view: GroupView): (g: DuplicateGroup) => boolean {
  switch (view) {
    case 'exact':
      return (g) => g.kind === 'exact';
    case 'near':
      return (g) => g.kind === 'near';
    case 'crossSplit':
      return (g) => g.crossSplit;
    case 'labelConflict':
      return (g) => g.labelConflict;
    default:
      return assertNever(view);
  }
}

/** A group with its home split for the splits the request locks. */
function listed(group: DuplicateGroup, locked: ReadonlySet<SplitName>): ListedGroup {
  return { ...group, home: homeSplit(group, locked) };
}

/**
 * health:* — the report, duplicate groups, one image's health, leakage repair and group decisions.
 * Each serves the stored results (readHealth), never running the duplicate finder; before the
 * first run they start the job and answer with what there is.
 */
export function healthHandlers(core: CoreServices, scheduler: HealthScheduler): AreaHandlers<'health'> {
  const db = () => core.requireProject().db;
  /** The results to serve; null before the first run (the job is started then). */
  const view = (): HealthView | null => {
    const results = readHealth(db());
    if (!results) scheduler.startIfDue();
    return results;
  };
  /** The results an edit acts on: refused before the first run, rather than acting on nothing. */
  const required = (): HealthView => {
    const results = view();
    if (!results) {
      throw new LoupeError('CONFLICT', 'The health checks have not run on this project yet. They are running now: wait for them to finish (Health shows progress), then try again.');
    }
    return results;
  };
  const findGroup = (key: string) => {
    const group = required().groups.find((g) => g.key === key);
    if (!group) throw new LoupeError('NOT_FOUND', `No duplicate group ${key}; the dataset changed since it was listed. Reload the Health view.`, { key });
    return group;
  };
  return {
    'health:report': ({ minPerSplit }): HealthReport => {
      const results = view();
      if (results) return { ...results.report(minPerSplit), computing: scheduler.isRunning() };
      return { ...emptyReport(db(), minPerSplit), computing: scheduler.isRunning() || core.jobs.running('import') !== undefined };
    },
    'health:run': () => ({ jobId: scheduler.start() }),
    'health:groups': ({ view: which, offset, limit, locked }) => {
      const lockedSet = new Set(locked);
      const rows = (view()?.groups ?? []).filter(viewFilter(which));
      return { view: which, total: rows.length, offset, rows: rows.slice(offset, offset + limit).map((g) => listed(g, lockedSet)) };
    },
    'health:image': ({ id, locked }) => {
      const scores = imageScores(db(), id);
      if (scores === undefined) throw new LoupeError('NOT_FOUND', `No image with id ${id}.`, { id });
      const group = view()?.groups.find((g) => g.members.some((m) => m.imageId === id)) ?? null;
      const flags = imageFlags(db(), id).filter((f) => f.flag !== 'exactDuplicate' && f.flag !== 'nearDuplicate' && f.flag !== 'leakage' && f.flag !== 'labelConflict');
      return {
        imageId: id,
        scores,
        flags: flags.map((f) => ({ check: f.flag as never, value: f.value, reason: f.reason })),
        group: group ? listed(group, new Set(locked)) : null,
      };
    },
    'health:leakagePlan': ({ mode, locked }) => leakagePlan(required().groups, mode, locked),
    'health:fixLeakage': ({ mode, locked }) => {
      const plan = leakagePlan(required().groups, mode, locked);
      const verb = mode === 'move' ? 'Moved' : 'Removed';
      return editBatch(core, 'fix-leakage', `${verb} ${plural(plan.moves.length, 'duplicate')} to end leakage in ${plural(plan.groups, 'group')}`, () =>
        plan.moves.map((m): FieldChange => (m.to === null ? { imageId: m.imageId, field: 'status', value: 'removed' } : { imageId: m.imageId, field: 'split', value: m.to })),
      );
    },
    'health:resolveGroup': ({ group: key, action, keep, split, locked }) => {
      switch (action) {
        case 'keep':
        case 'undismiss': {
          const changed = setDismissed(db(), key, action === 'keep');
          const version = datasetVersion(db());
          core.emit('health:changed', { version, computing: false });
          // The gallery's duplicate flags follow dismissals once the job has run.
          if (changed) scheduler.changed();
          const what = action === 'keep' ? 'Kept the group as it is (dismissed)' : 'The group is reported again';
          return { version, description: changed ? what : 'Nothing changed', changed: changed ? 1 : 0 };
        }
        case 'removeOthers': {
          const group = findGroup(key);
          if (keep === undefined || !group.members.some((m) => m.imageId === keep)) {
            throw new LoupeError('VALIDATION', 'health:resolveGroup: removeOthers needs `keep`, the id of the member that stays.');
          }
          const others = group.members.filter((m) => m.imageId !== keep);
          return editBatch(core, 'remove-duplicates', `Removed ${plural(others.length, 'duplicate')} of image ${keep}`, () =>
            others.map((m): FieldChange => ({ imageId: m.imageId, field: 'status', value: 'removed' })),
          );
        }
        case 'moveTogether': {
          const group = findGroup(key);
          if (!split) throw new LoupeError('VALIDATION', 'health:resolveGroup: moveTogether needs `split`, where the group goes.');
          const lockedSet = new Set(locked);
          const stuck = group.members.find((m) => m.split !== null && m.split !== split && (m.locked || lockedSet.has(m.split)));
          if (stuck) {
            const why = stuck.locked ? `image ${stuck.imageId} has its own split lock in ${stuck.split}` : `image ${stuck.imageId} is in ${stuck.split}, which is locked`;
            const home = homeSplit(group, lockedSet);
            throw new LoupeError(
              'CONFLICT',
              `Cannot move this group into ${split}: ${why}. Move it into ${home ?? stuck.split} instead, or unlock ${stuck.locked ? `image ${stuck.imageId}` : stuck.split} first.`,
              { group: key, imageId: stuck.imageId, split: stuck.split },
            );
          }
          const moving = group.members.filter((m) => m.split !== split);
          return editBatch(core, 'move-duplicates', `Moved ${plural(moving.length, 'duplicate')} together into ${split}`, () =>
            moving.map((m): FieldChange => ({ imageId: m.imageId, field: 'split', value: split })),
          );
        }
        default:
          return assertNever(action);
      }
    },
  };
}
