import { LoupeError } from '../../shared/errors';
import { exportDataset } from '../dataset/export';
import { importSource } from '../dataset/import.job';
import { binChanges, planBins, unbinChanges } from '../dataset/binning';
import { datasetStats } from '../store/images';
import { valueHistogram } from '../store/values';
import { editBatch } from './images.handlers';
import type { AreaHandlers, CoreServices } from './types';
import { plural } from './types';

/** dataset:stats, dataset:import, dataset:export; the values' histogram, binning them into classes and back. */
export function datasetHandlers(core: CoreServices): AreaHandlers<'dataset'> {
  return {
    'dataset:stats': () => datasetStats(core.requireProject().db),
    'dataset:values': ({ bins }) => valueHistogram(core.requireProject().db, bins),
    'dataset:binPlan': (request) => planBins(core.requireProject().db, request).plan,
    'dataset:bin': (request) => {
      let summary = '';
      return editBatch(
        core,
        'bin',
        () => summary,
        () => {
          const { plan, changes } = binChanges(core.requireProject().db, request);
          const names = plan.bins.map((b) => b.name);
          summary = `Turned the values of ${plural(plan.labelled, 'image')} into ${names.length} classes (${names[0]} … ${names[names.length - 1]})`;
          return changes;
        },
      );
    },
    'dataset:unbin': () => {
      let summary = '';
      return editBatch(
        core,
        'unbin',
        () => summary,
        () => {
          const { cleared, hidden, changes } = unbinChanges(core.requireProject().db);
          const hid = hidden === 0 ? '' : `; hid ${hidden === 1 ? '1 empty class' : `${hidden.toLocaleString('en')} empty classes`}`;
          summary = `Turned ${plural(cleared, 'image')} back into values (cleared their classes${hid})`;
          return changes;
        },
      );
    },
    'dataset:import': ({ source, kind, root }) => {
      const project = core.requireProject();
      // Two imports would race on the same paths: one at a time.
      const running = core.jobs.running('import');
      if (running) {
        throw new LoupeError('CONFLICT', 'An import is already running; wait for it to finish or cancel it first.', {
          jobId: running.id,
        });
      }
      const job = core.jobs.start('import', (ctx) =>
        importSource(
          project,
          {
            source,
            kind,
            root,
            pixelLimit: core.options.pixelLimit,
            onCommit: (version) => core.emit('dataset:changed', { version, reason: 'import' }),
          },
          ctx,
        ),
      );
      // Root, task and version change with an import: tell every window once it ends.
      void core.jobs.finished(job.id).then(() => {
        if (core.currentProject() === project) core.emit('project:changed', project.info());
      });
      return { jobId: job.id };
    },
    // An export of many images is a job (progress, cancel); the request still answers with its result.
    'dataset:export': async (params) => {
      const project = core.requireProject();
      const job = core.jobs.start('export', (ctx) => exportDataset(project, params, ctx));
      const done = await core.jobs.finished(job.id);
      if (done.state === 'done') return done.result as Awaited<ReturnType<typeof exportDataset>>;
      if (done.state === 'cancelled') throw new LoupeError('CANCELLED', 'Export cancelled; nothing was written.');
      const error = done.error ?? { code: 'INTERNAL' as const, message: 'Export failed.' };
      throw new LoupeError(error.code, error.message, error.details);
    },
  };
}
