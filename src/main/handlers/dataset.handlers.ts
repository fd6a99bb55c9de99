import { LoupeError } from '../../shared/errors';
import { exportDataset } from '../dataset/export';
import { importSource } from '../dataset/import.job';
import { datasetStats } from '../store/images';
import type { AreaHandlers, CoreServices } from './types';

/** dataset:stats, dataset:import, dataset:export. */
export function datasetHandlers(core: CoreServices): AreaHandlers<'dataset'> {
  return {
    'dataset:stats': () => datasetStats(core.requireProject().db),
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
