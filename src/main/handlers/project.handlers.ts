import { removeStaleStagingOfProject } from '../dataset/export';
import { assignMissingSplits } from '../dataset/import.job';
import { isImportRunning, openProject } from '../store/project';
import { failInterruptedRuns } from '../train/runs';
import type { AreaHandlers, CoreServices } from './types';

/** project:open, project:current, project:close. */
export function projectHandlers(core: CoreServices): AreaHandlers<'project'> {
  return {
    'project:open': async ({ file, create }) => {
      const project = openProject(file, { create });
      try {
        // Finish what a crash left: committed images still waiting for a split, runs still "running".
        // A read-only project is shown as it is; a live import elsewhere assigns its own splits when it ends.
        if (!project.readOnly && !isImportRunning(project.db)) assignMissingSplits(project);
        failInterruptedRuns(project.db);
        await removeStaleStagingOfProject(project);
      } catch (error) {
        // A project that could not be brought up to date is not left open behind the error.
        project.close();
        throw error;
      }
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
