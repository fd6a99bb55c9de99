import { LoupeError } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import { trainConfigSchema, type CurvePoint, type RunStatus, type TrainConfig } from '../../shared/train';
import type { JobId } from '../../shared/types';
import { importBackbone, listBackbones } from '../model/backbones';
import { datasetVersion } from '../store/changes';
import { TrainingProcess } from '../train/client';
import { prepareResume, runFullJob } from '../train/full.job';
import { estimateFullRun } from '../train/estimate';
import { runQuickJob } from '../train/quick.job';
import { createRun, latestRun } from '../train/runs';
import type { TrainToolRequest } from './trainTools.handlers';
import type { AreaHandlers, CoreServices } from './types';

const processes = new WeakMap<CoreServices, TrainingProcess>();

/** The core's one training process, started on first use. */
export function trainingProcess(core: CoreServices): TrainingProcess {
  let process = processes.get(core);
  if (!process) processes.set(core, (process = new TrainingProcess(core.options.trainer)));
  return process;
}

/** A config as a request gave it, checked: VALIDATION names the field and what it takes. */
export function parseTrainConfig(input: unknown): TrainConfig {
  const parsed = trainConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.length ? `config.${issue.path.join('.')}` : 'config';
  throw new LoupeError('VALIDATION', `${field}: ${issue?.message ?? 'invalid training config'}`, { field, issues: parsed.error.issues });
}

/** Starts a run as a job (quick or full, by the config's mode); returns the job and run ids at once. */
export function startTraining(core: CoreServices, config: TrainConfig): { jobId: JobId; runId: number } {
  const project = core.requireProject();
  refuseSecondRun(core);
  const runId = createRun(project.db, config, datasetVersion(project.db));
  core.emit('runs:changed', { runId, status: 'running' });
  const hooks = runHooks(core);
  const job = core.jobs.start('train', (ctx): Promise<unknown> => {
    switch (config.mode) {
      case 'quick':
        return runQuickJob(project, trainingProcess(core), runId, config, hooks, ctx);
      case 'full':
        return runFullJob(project, trainingProcess(core), runId, config, hooks, ctx);
      default:
        return assertNever(config, 'mode');
    }
  });
  return { jobId: job.id, runId };
}

/** Continues a cancelled or failed full run from its last checkpoint, as the same run. */
export function resumeTraining(core: CoreServices, runId: number): { jobId: JobId; runId: number } {
  const project = core.requireProject();
  refuseSecondRun(core);
  const { config } = prepareResume(project.db, runId);
  core.emit('runs:changed', { runId, status: 'running' });
  const job = core.jobs.start('train', (ctx) => runFullJob(project, trainingProcess(core), runId, config, runHooks(core), ctx, { resume: true }));
  return { jobId: job.id, runId };
}

// One run at a time, and none beside an LR finder or a sanity check: they would share the training
// process and the machine's cores.
function refuseSecondRun(core: CoreServices): void {
  const running = core.jobs.running('train');
  if (running) throw new LoupeError('CONFLICT', 'A run is already training; wait for it or cancel it first.', { jobId: running.id });
  const checking = core.jobs.running('lrFind') ?? core.jobs.running('sanity');
  if (checking) {
    throw new LoupeError('CONFLICT', 'An LR finder or sanity check is running; wait for it or cancel it, then start the run.', { jobId: checking.id });
  }
}

function runHooks(core: CoreServices) {
  return {
    onCurve: (id: number, points: CurvePoint[]) => core.emit('train:curve', { runId: id, points }),
    onStatus: (id: number, status: RunStatus) => core.emit('runs:changed', { runId: id, status }),
  };
}

/** train:start, train:retrain, train:estimate, train:backbones, train:importBackbone. */
export function trainHandlers(core: CoreServices): Omit<AreaHandlers<'train'>, TrainToolRequest> {
  return {
    'train:start': ({ config, resume }) => (resume === undefined ? startTraining(core, parseTrainConfig(config)) : resumeTraining(core, resume)),
    'train:retrain': () => {
      const last = latestRun(core.requireProject().db);
      return startTraining(core, parseTrainConfig(last?.config ?? {}));
    },
    'train:estimate': ({ config }) => {
      const full = parseTrainConfig({ mode: 'full', ...config });
      if (full.mode !== 'full') return { seconds: null, basis: "Estimates are for full runs; a quick run's time is its embedding estimate." };
      return estimateFullRun(core.requireProject(), full);
    },
    'train:backbones': async () => {
      const answer = await trainingProcess(core).request({ type: 'backend' });
      return { backbones: listBackbones(core.currentProject()?.db ?? null), backend: answer.report };
    },
    'train:importBackbone': ({ file, name, preprocessing, dryRun }) => importBackbone(file, name, { preprocessing, dryRun }),
  };
}
