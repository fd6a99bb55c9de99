import { assignMissingSplits } from '../dataset/import.job';
import { openProject } from '../store/project';
import { failInterruptedRuns } from '../train/runs';
import type { AreaHandlers, CoreServices } from './types';

/** project:open, project:current, project:close. */
export function projectHandlers(core: CoreServices): AreaHandlers<'project'> {
  return {
    'project:open': async ({ file, create }) => {
      const project = openProject(file, { create });
      // Finish what a crash left: committed images still waiting for a split, runs still "running".
      assignMissingSplits(project);
      failInterruptedRuns(project.db);
      // Jobs write to the open project: they end before it closes.
      await core.jobs.shutdown();
      core.setProject(project);
      return project.info();
    },
    'project:current': () => core.currentProject()?.info() ?? null,
    'project:close': async () => {
      await core.jobs.shutdown();
      core.setProject(null);
      return null;
    },
  };
}
