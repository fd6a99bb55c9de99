import { LoupeError } from '../../shared/errors';
import { trainConfigSchema, type TrainConfig } from '../../shared/train';
import { importBackbone, listBackbones } from '../model/backbones';
import { datasetVersion } from '../store/changes';
import { TrainingProcess } from '../train/client';
import { runQuickJob } from '../train/quick.job';
import { createRun, latestRun } from '../train/runs';
import type { AreaHandlers, CoreServices } from './types';

const processes = new WeakMap<CoreServices, TrainingProcess>();

/** The core's one training process, started on first use. */
export function trainingProcess(core: CoreServices): TrainingProcess {
  let process = processes.get(core);
  if (!process) processes.set(core, (process = new TrainingProcess(core.options.trainer)));
  return process;
}

/** Starts a quick-model run as a job; returns the job and run ids at once. */
export function startTraining(core: CoreServices, config: TrainConfig): { jobId: import('../../shared/types').JobId; runId: number } {
  const project = core.requireProject();
  // One run at a time: two would share the training process and the machine's cores.
  const running = core.jobs.running('train');
  if (running) throw new LoupeError('CONFLICT', 'A run is already training; wait for it or cancel it first.', { jobId: running.id });
  const runId = createRun(project.db, config, datasetVersion(project.db));
  core.emit('runs:changed', { runId, status: 'running' });
  const job = core.jobs.start('train', (ctx) =>
    runQuickJob(
      project,
      trainingProcess(core),
      runId,
      config,
      {
        onCurve: (id, points) => core.emit('train:curve', { runId: id, points }),
        onStatus: (id, status) => core.emit('runs:changed', { runId: id, status }),
      },
      ctx,
    ),
  );
  return { jobId: job.id, runId };
}

/** train:start, train:retrain, train:backbones, train:importBackbone. */
export function trainHandlers(core: CoreServices): AreaHandlers<'train'> {
  return {
    'train:start': ({ config }) => startTraining(core, trainConfigSchema.parse(config)),
    'train:retrain': () => {
      const last = latestRun(core.requireProject().db);
      return startTraining(core, trainConfigSchema.parse(last?.config ?? {}));
    },
    'train:backbones': async () => {
      const answer = await trainingProcess(core).request({ type: 'backend' });
      return { backbones: listBackbones(), backend: answer.type === 'backend' ? answer.report : null };
    },
    'train:importBackbone': ({ file, name }) => importBackbone(file, name),
  };
}
