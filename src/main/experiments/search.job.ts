/**
 * The hyperparameter search job: trials sampled (seeded) from the search space around a base
 * config, scheduled by ASHA (asha.ts) with budgets in epochs. Each rung of each trial trains a run
 * through the same path as train:start (the `train` callback), recorded as a child of the search;
 * its valid loss decides promotion. The search holds the one-training-job slot for its trials, and
 * its trials share the embedding cache (a quick trial embeds nothing new after the first).
 */
import { LoupeError, toErrorInfo } from '../../shared/errors';
import type { AshaSettings, SearchBest, SearchDetail, SearchSpace, SearchTrial, TrialParams } from '../../shared/experiments';
import type { TrainConfig } from '../../shared/train';
import type { JobContext } from '../jobs/manager';
import { datasetVersion } from '../store/changes';
import { getSearch, setRunExperiment, updateSearch } from '../store/experiments';
import type { Project } from '../store/project';
import { seededRandom } from '../train/folds';
import { createRun, getRun } from '../train/runs';
import { Asha, rungBudgets } from './asha';

/** Fields of the space that apply to each mode. */
const fieldsOf: Record<TrainConfig['mode'], ReadonlyArray<keyof SearchSpace>> = {
  quick: ['learningRate', 'weightDecay', 'head', 'hidden', 'views', 'dropout'],
  full: ['learningRate', 'weightDecay', 'augment', 'arch', 'batchSize'],
};

/** Refuses space fields that do not apply to the base config's mode (VALIDATION, naming them). */
export function checkSpace(mode: TrainConfig['mode'], space: SearchSpace): void {
  const allowed = new Set(fieldsOf[mode]);
  const wrong = (Object.keys(space) as Array<keyof SearchSpace>).filter((k) => space[k] !== undefined && !allowed.has(k));
  if (wrong.length > 0) throw new LoupeError('VALIDATION', `space.${wrong[0]}: does not apply to ${mode} runs (a ${mode} search varies ${fieldsOf[mode].join(', ')}).`, { field: `space.${wrong[0]}` });
}

/** Trial quick runs use two folds: the search reads the final head's valid loss, and folds only cost time. */
export const trialFolds = 2;

/** Samples `n` trials' values and configs (log-uniform ranges, uniform choices), the same for the same seed. */
export function sampleTrials(base: TrainConfig, space: SearchSpace, n: number, seed: number): Array<{ params: TrialParams; config: TrainConfig }> {
  const random = seededRandom(seed);
  const logUniform = (r: { min: number; max: number }) => Math.exp(Math.log(r.min) + random() * (Math.log(r.max) - Math.log(r.min)));
  const choice = <T>(values: readonly T[]) => values[Math.min(values.length - 1, Math.floor(random() * values.length))]!;
  return Array.from({ length: n }, () => {
    const params: TrialParams = {};
    for (const field of fieldsOf[base.mode]) {
      const value = space[field];
      if (value === undefined) continue;
      params[field] = Array.isArray(value) ? choice(value as ReadonlyArray<number | string>) : logUniform(value as { min: number; max: number });
    }
    const config = { ...base, ...params, ...(base.mode === 'quick' ? { folds: trialFolds } : {}) } as TrainConfig;
    return { params, config };
  });
}

/** The search as first stored: every trial pending. */
export function plannedSearch(base: TrainConfig, space: SearchSpace, asha: AshaSettings, trials: number, minutes: number | null, seed: number): Omit<SearchDetail, 'id' | 'status' | 'jobId' | 'note' | 'startedAt' | 'finishedAt'> {
  return {
    mode: base.mode,
    seed,
    asha,
    rungs: rungBudgets(asha.minBudget, asha.maxBudget, asha.eta),
    budget: { trials, minutes },
    trialsStarted: 0,
    trialsFinished: 0,
    best: null,
    base,
    space,
    trials: sampleTrials(base, space, trials, seed).map(({ params, config }, index) => ({ index, params, config, status: 'pending', rungs: [], runId: null, stoppedAt: null, error: null })),
  };
}

/** What the job needs of the core. */
export interface SearchHooks {
  /** Trains one created run to the end (train.handlers.ts trainRun). */
  train(runId: number, config: TrainConfig, ctx: JobContext): Promise<unknown>;
  onRun(runId: number): void;
  onChange(search: SearchDetail): void;
}

/** The config "apply best" gives the train form: the trial's values on the base config at the full budget. */
export function bestConfig(search: Pick<SearchDetail, 'base' | 'asha'>, trial: SearchTrial): TrainConfig {
  return { ...search.base, ...trial.params, epochs: search.asha.maxBudget } as TrainConfig;
}

/** Runs a stored search to its end (or its minutes budget, or cancellation). */
export async function runSearchJob(project: Project, searchId: number, hooks: SearchHooks, ctx: JobContext): Promise<SearchDetail> {
  const { db } = project;
  const search = getSearch(db, searchId);
  if (!search) throw new LoupeError('NOT_FOUND', `No search ${searchId}.`);
  const asha = new Asha(search.asha, search.trials.length);
  const deadline = search.budget.minutes === null ? Infinity : Date.now() + search.budget.minutes * 60_000;
  const save = () => {
    search.trialsStarted = search.trials.filter((t) => t.status !== 'pending').length;
    search.trialsFinished = search.trials.filter((t) => t.status === 'done' || t.status === 'stopped' || t.status === 'failed').length;
    search.best = bestOf(search);
    updateSearch(db, searchId, search);
    hooks.onChange(search);
  };
  let work = 0;
  const totalWork = search.trials.length * 2;
  try {
    for (;;) {
      if (Date.now() > deadline && search.note === null) {
        asha.close();
        search.note = `The ${search.budget.minutes}-minute budget was spent; trials not started were left out.`;
      }
      const decision = asha.next();
      if (decision.kind === 'done' || decision.kind === 'wait') break;
      const trial = search.trials[decision.trial]!;
      const config = { ...trial.config, epochs: decision.budget } as TrainConfig;
      trial.status = 'running';
      const runId = createRun(db, config, datasetVersion(db), 'classification');
      setRunExperiment(db, { runId, role: 'trial', searchId, trial: trial.index, budget: decision.budget, members: [], source: null });
      trial.runId = runId;
      hooks.onRun(runId);
      save();
      ctx.progress(`trial ${trial.index + 1}/${search.trials.length} at ${decision.budget} epochs`, Math.min(work++, totalWork), totalWork);
      const started = performance.now();
      try {
        await hooks.train(runId, config, ctx);
        const run = getRun(db, runId);
        const scored = run.metrics?.valid ?? run.metrics?.train ?? null;
        const loss = scored?.logLoss ?? Infinity;
        asha.report(trial.index, decision.rung, loss);
        trial.rungs.push({ budget: decision.budget, runId, validLoss: scored?.logLoss ?? null, validAccuracy: scored?.accuracy ?? null, seconds: (performance.now() - started) / 1000 });
        trial.status = decision.rung === asha.rungs.length - 1 ? 'done' : 'paused';
        ctx.log(`trial ${trial.index + 1} at ${decision.budget} epochs: valid loss ${loss.toFixed(4)}, accuracy ${((scored?.accuracy ?? 0) * 100).toFixed(1)}% (run ${runId})`);
      } catch (error) {
        if (ctx.signal.aborted || toErrorInfo(error).code === 'CANCELLED') throw error;
        asha.fail(trial.index, decision.rung);
        trial.status = 'failed';
        trial.error = toErrorInfo(error).message;
        ctx.log(`trial ${trial.index + 1} failed: ${trial.error}`);
      }
      save();
    }
    for (const trial of search.trials) {
      if (trial.status === 'paused') {
        trial.status = 'stopped';
        trial.stoppedAt = trial.rungs[trial.rungs.length - 1]?.budget ?? null;
      }
    }
    search.status = 'done';
    search.finishedAt = Date.now();
    save();
    return search;
  } catch (error) {
    const cancelled = ctx.signal.aborted || toErrorInfo(error).code === 'CANCELLED';
    for (const trial of search.trials) if (trial.status === 'running' || trial.status === 'paused') trial.status = cancelled ? 'stopped' : 'failed';
    search.status = cancelled ? 'cancelled' : 'failed';
    search.note = cancelled ? 'Cancelled.' : toErrorInfo(error).message;
    search.finishedAt = Date.now();
    save();
    throw error;
  }
}

/** The trial with the lowest valid loss at the highest budget it reached, preferring higher budgets (a loss at 2 epochs is not comparable with one at 18). */
export function bestOf(search: Pick<SearchDetail, 'trials' | 'base' | 'asha'>): SearchBest | null {
  let best: SearchBest | null = null;
  for (const trial of search.trials) {
    const last = trial.rungs[trial.rungs.length - 1];
    if (!last || last.validLoss === null) continue;
    if (!best || last.budget > best.budget || (last.budget === best.budget && last.validLoss < best.validLoss)) {
      best = { trial: trial.index, runId: last.runId, budget: last.budget, validLoss: last.validLoss, validAccuracy: last.validAccuracy, config: bestConfig(search, trial) };
    }
  }
  return best;
}
