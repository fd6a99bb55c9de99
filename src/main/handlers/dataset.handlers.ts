import { exportDataset } from '../dataset/export';
import { importSource } from '../dataset/import.job';
import { datasetStats } from '../store/images';
import type { AreaHandlers, CoreServices } from './types';

/** dataset:stats, dataset:import, dataset:export. */
export function datasetHandlers(core: CoreServices): AreaHandlers<'dataset'> {
  return {
    'dataset:stats': () => datasetStats(core.requireProject().db),
    'dataset:import': ({ source, kind }) => {
      const project = core.requireProject();
      const job = core.jobs.start('import', (ctx) =>
        importSource(
          project,
          {
            source,
            kind,
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
    'dataset:export': (params) => exportDataset(core.requireProject(), params),
  };
}
