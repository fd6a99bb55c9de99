import { LoupeError, toErrorInfo } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import { trainConfigSchema, type CurvePoint, type RunStatus, type TrainConfig } from '../../shared/train';
import type { JobId } from '../../shared/types';
import type { Task } from '../../shared/regression';
import { importBackbone, listBackbones } from '../model/backbones';
import { datasetVersion } from '../store/changes';
import { TrainingProcess } from '../train/client';
import { prepareResume, runFullJob } from '../train/full.job';
import { estimateFullRun } from '../train/estimate';
import { runQuickJob } from '../train/quick.job';
import { createRun, getRun, latestRun } from '../train/runs';
import type { TrainToolRequest } from './trainTools.handlers';
import type { JobContext } from '../jobs/manager';
import { projectTask, type Project } from '../store/project';
import { computeRunBaselines } from '../experiments/baselines';
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

/** What a project trains: its task, classification before anything is labelled (the run then says what is missing). */
export function trainingTask(project: Project): Task {
  return projectTask(project.db) ?? 'classification';
}

/**
 * The seam where searches and ensembles will learn regression (the quick and full models and the
 * full model's checks train on values already): until then CONFLICT on a regression project,
 * naming the ways on.
 */
export function refuseUnlessClassifier(project: Project): void {
  const task = trainingTask(project);
  switch (task) {
    case 'classification':
      return;
    case 'regression':
      throw new LoupeError('CONFLICT', 'Searches and ensembles train classifiers for now; train a quick or full run on this regression project, or turn the values into classes (Bin) first.', { task });
    default:
      assertNever(task, 'task');
  }
}

/** Starts a run as a job (quick or full, by the config's mode); returns the job and run ids at once. */
export function startTraining(core: CoreServices, config: TrainConfig): { jobId: JobId; runId: number } {
  const project = core.requireProject();
  refuseSecondRun(core);
  const runId = createRun(project.db, config, datasetVersion(project.db), trainingTask(project));
  core.emit('runs:changed', { runId, status: 'running' });
  const job = core.jobs.start('train', (ctx) => trainRun(core, project, runId, config, ctx));
  return { jobId: job.id, runId };
}

/**
 * Trains one created run inside a job: train:start's own job, or a search trial or an ensemble
 * seed inside the search's or ensemble's job (which hold the one-training-job slot). Quick or full
 * by the config's mode; the run's baselines are stored after it finishes (a failure there is logged,
 * never fails the run).
 */
export async function trainRun(core: CoreServices, project: Project, runId: number, config: TrainConfig, ctx: JobContext): Promise<unknown> {
  const hooks = runHooks(core);
  let result: unknown;
  switch (config.mode) {
    case 'quick':
      result = await runQuickJob(project, trainingProcess(core), runId, config, hooks, ctx);
      break;
    case 'full':
      result = await runFullJob(project, trainingProcess(core), runId, config, hooks, ctx);
      break;
    default:
      return assertNever(config, 'mode');
  }
  const task = getRun(project.db, runId).task;
  switch (task) {
    case 'classification':
      await logBaselines(project, runId, ctx);
      break;
    case 'regression':
      // Its baseline (predict the train mean) is in its own metrics; the stored baselines are a classifier's.
      break;
    default:
      return assertNever(task, 'task');
  }
  return result;
}

/** Stores a classification run's baselines (majority class, linear on pixels) and logs the lift; a failure is logged, never fails the run. */
async function logBaselines(project: Project, runId: number, ctx: JobContext): Promise<void> {
  try {
    const baselines = await computeRunBaselines(project, runId);
    const lift = baselines.lift.linear.valid ?? baselines.lift.majority.valid;
    if (lift !== null) ctx.log(`baselines: majority ${pct(baselines.majority.valid?.accuracy)}, linear on pixels ${pct(baselines.linear?.valid?.accuracy)} valid accuracy; lift ${(lift * 100).toFixed(1)} points`);
  } catch (error) {
    ctx.log(`baselines not computed: ${toErrorInfo(error).message}`);
  }
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);

/** Continues a cancelled or failed full run from its last checkpoint, as the same run. */
export function resumeTraining(core: CoreServices, runId: number): { jobId: JobId; runId: number } {
  const project = core.requireProject();
  refuseSecondRun(core);
  const { config } = prepareResume(project.db, runId);
  core.emit('runs:changed', { runId, status: 'running' });
  const job = core.jobs.start('train', (ctx) => runFullJob(project, trainingProcess(core), runId, config, runHooks(core), ctx, { resume: true }));
  return { jobId: job.id, runId };
}

/**
 * One run at a time, and none beside an LR finder, a sanity check, a search or an ensemble's seeds:
 * they would share the training process and the machine's cores. CONFLICT names what is running.
 */
export function refuseSecondRun(core: CoreServices): void {
  const running = runningTraining(core);
  if (running?.kind === 'train') throw new LoupeError('CONFLICT', 'A run is already training; wait for it or cancel it first.', { jobId: running.id });
  if (running) throw new LoupeError('CONFLICT', `A ${running.kind} is training runs; wait for it or cancel it first.`, { jobId: running.id });
  const checking = core.jobs.running('lrFind') ?? core.jobs.running('sanity');
  if (checking) {
    throw new LoupeError('CONFLICT', 'An LR finder or sanity check is running; wait for it or cancel it, then start the run.', { jobId: checking.id });
  }
}

/** Jobs that train runs: a run, and a search or an ensemble's seeds (they train their runs inside their own job). */
const trainingJobKinds = ['train', 'search', 'ensemble'] as const;

/** The job that holds the one training slot, if any. */
export function runningTraining(core: CoreServices) {
  for (const kind of trainingJobKinds) {
    const job = core.jobs.running(kind);
    if (job) return job;
  }
  return null;
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
