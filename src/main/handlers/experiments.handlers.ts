/**
 * The experiments: area: the project goal, diagnosis, baselines, hyperparameter searches,
 * ensembles, re-scoring, checked comparisons and run reports (src/shared/experiments.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LoupeError, toErrorInfo } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import { defaultSearchSpaces, type EnsembleSource, type ProjectGoal } from '../../shared/experiments';
import type { TrainConfig } from '../../shared/train';
import { diagnose } from '../experiments/diagnosis';
import { computeRunBaselines } from '../experiments/baselines';
import { checkSpace, plannedSearch, runSearchJob } from '../experiments/search.job';
import { completeEnsemble, completeFoldEnsemble, createEnsembleRun, requireFoldRun, requireMembers } from '../experiments/ensemble';
import { compareOnToday, rescoreRun } from '../experiments/rescore';
import { buildReport } from '../experiments/report';
import { createSearch, failInterruptedSearches, getBaselines, getGoal, getSearch, listRunExperiments, listSearches, setGoal, updateSearch } from '../store/experiments';
import { datasetVersion } from '../store/changes';
import { createRun, getRun, latestDoneRunOf, updateRun } from '../train/runs';
import type { JobContext } from '../jobs/manager';
import type { Project } from '../store/project';
import { parseTrainConfig, refuseSecondRun, refuseUnlessClassifier, trainRun } from './train.handlers';
import type { AreaHandlers, CoreServices } from './types';

function requireSearch(project: Project, id: number) {
  const search = getSearch(project.db, id);
  if (!search) throw new LoupeError('NOT_FOUND', `No search ${id}.`, { id });
  return search;
}

/** Starts the ensemble job: trains the seeds first when asked, then averages the members (or a quick run's fold heads) into the ensemble run. */
function startEnsemble(core: CoreServices, source: EnsembleSource) {
  const project = core.requireProject();
  refuseUnlessClassifier(project);
  let first: ReturnType<typeof getRun>;
  switch (source.kind) {
    case 'runs':
      first = requireMembers(project, source.runs)[0]!;
      break;
    case 'seeds':
      first = getRun(project.db, source.runId);
      if (first.status !== 'done') throw new LoupeError('CONFLICT', `Run ${source.runId} is ${first.status}; seed an ensemble from a finished run.`, { runId: source.runId });
      refuseSecondRun(core);
      break;
    case 'folds':
      first = requireFoldRun(project, source.runId);
      break;
    default:
      return assertNever(source, 'kind');
  }
  const runId = createEnsembleRun(project, source, first.config);
  core.emit('runs:changed', { runId, status: 'running' });
  const job = core.jobs.start('ensemble', async (ctx: JobContext) => {
    try {
      let result: ReturnType<typeof completeEnsemble>;
      if (source.kind === 'folds') {
        ctx.progress('averaging', 0, 1);
        result = completeFoldEnsemble(project, runId, source);
      } else {
        const members = source.kind === 'runs' ? source.runs : [source.runId, ...(await trainSeeds(core, project, first.config, source.k - 1, ctx))];
        ctx.progress('averaging', 0, 1);
        result = completeEnsemble(project, runId, source, members);
      }
      core.emit('runs:changed', { runId, status: 'done' });
      ctx.log(`ensemble run ${runId} of ${source.kind === 'folds' ? `run ${source.runId}'s fold heads` : `runs ${result.members.map((m) => m.runId).join(', ')}`}: valid accuracy ${((result.metrics.valid?.accuracy ?? 0) * 100).toFixed(1)}%`);
      return { runId, members: result.members };
    } catch (error) {
      const info = toErrorInfo(error);
      const status = info.code === 'CANCELLED' || ctx.signal.aborted ? 'cancelled' : 'failed';
      updateRun(project.db, runId, { status, error: info.message, finishedAt: Date.now() });
      core.emit('runs:changed', { runId, status });
      throw error;
    }
  });
  return { jobId: job.id, runId };
}

async function trainSeeds(core: CoreServices, project: Project, config: TrainConfig, count: number, ctx: JobContext): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 1; i <= count; i++) {
    const seeded = { ...config, seed: config.seed + i } as TrainConfig;
    const id = createRun(project.db, seeded, datasetVersion(project.db), 'classification');
    core.emit('runs:changed', { runId: id, status: 'running' });
    ctx.log(`training seed ${seeded.seed} as run ${id}`);
    await trainRun(core, project, id, seeded, ctx);
    ids.push(id);
  }
  return ids;
}

/** experiments:* */
export function experimentHandlers(core: CoreServices): AreaHandlers<'experiments'> {
  return {
    'experiments:goal': () => getGoal(core.requireProject().db),
    'experiments:setGoal': ({ metric, target, human }) => {
      const { db } = core.requireProject();
      if (target === null) {
        setGoal(db, null);
        return null;
      }
      const asError = (x: number) => (metric === 'error' ? x : 1 - x);
      const goal: ProjectGoal = { metric, targetError: asError(target), humanError: human === undefined || human === null ? null : asError(human), setAt: Date.now() };
      setGoal(db, goal);
      return goal;
    },
    'experiments:diagnose': ({ runId }) => {
      const { db } = core.requireProject();
      const run = runId === undefined ? latestDoneRunOf(db, 'classification') : getRun(db, runId);
      if (!run) throw new LoupeError('NOT_FOUND', 'No finished classification run to diagnose; train one first (loupe train).');
      if (run.task !== 'classification') {
        throw new LoupeError('CONFLICT', `Run ${run.id} is a regression run; the diagnosis compares error rates of classifiers. Its MAE and R² beside the mean baseline are in the Train view.`, { runId: run.id });
      }
      return diagnose({ runId: run.id, config: run.config, metrics: run.metrics, goal: getGoal(db) });
    },
    'experiments:baselines': async ({ runId }) => {
      const project = core.requireProject();
      const run = getRun(project.db, runId);
      const stored = getBaselines(project.db, runId);
      if (stored) return stored;
      if (run.status !== 'done') throw new LoupeError('CONFLICT', `Run ${runId} is ${run.status}; baselines are computed for finished runs.`, { runId });
      return computeRunBaselines(project, runId);
    },
    'experiments:runs': () => listRunExperiments(core.requireProject().db),
    'experiments:searchStart': ({ base, space, asha, trials, minutes, seed }) => {
      const project = core.requireProject();
      refuseSecondRun(core);
      refuseUnlessClassifier(project);
      const config = parseTrainConfig(base);
      const chosen = space ?? defaultSearchSpaces[config.mode];
      checkSpace(config.mode, chosen);
      const searchId = createSearch(project.db, plannedSearch(config, chosen, asha, trials, minutes, seed));
      const job = core.jobs.start('search', (ctx) =>
        runSearchJob(
          project,
          searchId,
          {
            train: (runId, trialConfig, jobCtx) => trainRun(core, project, runId, trialConfig, jobCtx),
            onRun: (runId) => core.emit('runs:changed', { runId, status: 'running' }),
            onChange: (search) => core.emit('experiments:search', { searchId, status: search.status }),
          },
          ctx,
        ),
      );
      const search = requireSearch(project, searchId);
      updateSearch(project.db, searchId, { ...search, jobId: job.id });
      return { jobId: job.id, searchId };
    },
    'experiments:searches': () => {
      const { db } = core.requireProject();
      failInterruptedSearches(db);
      return listSearches(db).map(({ base: _b, space: _s, trials: _t, ...summary }) => summary);
    },
    'experiments:search': ({ id }) => requireSearch(core.requireProject(), id),
    'experiments:applyBest': ({ id }) => {
      const search = requireSearch(core.requireProject(), id);
      if (!search.best) throw new LoupeError('CONFLICT', `Search ${id} has no finished trial yet; wait for its first rung.`, { id });
      return { config: search.best.config, trial: search.best.trial, runId: search.best.runId };
    },
    'experiments:ensemble': ({ source }) => startEnsemble(core, source),
    'experiments:rescore': ({ runId }) => rescoreRun(core.requireProject().db, runId),
    'experiments:compare': ({ a, b, filter, sort, offset, limit }) => compareOnToday(core.requireProject().db, a, b, { filter, sort, offset, limit }),
    'experiments:report': async ({ runId, compareTo, out }) => {
      const project = core.requireProject();
      const html = await buildReport(project, runId, compareTo);
      if (out === undefined) return { out: null, bytes: Buffer.byteLength(html), html };
      const file = path.resolve(out);
      // Only an .html name: a report never overwrites an image or any other file a person keeps.
      if (!/\.html?$/i.test(file)) throw new LoupeError('VALIDATION', `out: ${path.basename(file)} is not an .html file; name the report something.html.`, { field: 'out' });
      if (!fs.existsSync(path.dirname(file))) throw new LoupeError('VALIDATION', `out: the folder ${path.dirname(file)} does not exist; create it or write the report elsewhere.`, { field: 'out' });
      fs.writeFileSync(file, html);
      return { out: file, bytes: Buffer.byteLength(html), html: null };
    },
  };
}
