import { assignMissingSplits } from '../dataset/import.job';
import { openProject } from '../store/project';
import type { AreaHandlers, CoreServices } from './types';

/** project:open, project:current, project:close. */
export function projectHandlers(core: CoreServices): AreaHandlers<'project'> {
  return {
    'project:open': ({ file, create }) => {
      const project = openProject(file, { create });
      // Finish what an interrupted import left: committed images still waiting for a split.
      assignMissingSplits(project);
      core.setProject(project);
      return project.info();
    },
    'project:current': () => core.currentProject()?.info() ?? null,
    'project:close': () => {
      core.setProject(null);
      return null;
    },
  };
}
