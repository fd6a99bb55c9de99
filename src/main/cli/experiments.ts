/**
 * `loupe goal`, `loupe diagnose`, `loupe search`, `loupe ensemble` and `loupe report`: the
 * experiments area over the same core the app uses. The command table (commands.ts) has checked
 * their options and main.ts has opened the project.
 */
import { LoupeError } from '../../shared/errors';
import type { Diagnosis, EnsembleSource, SearchDetail } from '../../shared/experiments';
import type { JobInfo, JobId } from '../../shared/types';
import type { Core } from '../core';
import type { Options } from './commands';

/** Options the commands read. */
export type ExperimentCliOptions = Pick<
  Options,
  'json' | 'run' | 'out' | 'seed' | 'mode' | 'epochs' | 'budget-trials' | 'budget-minutes' | 'min-budget' | 'max-budget' | 'eta' | 'runs' | 'seeds' | 'folds' | 'error' | 'accuracy' | 'human' | 'clear' | 'compare'
>;

type Print = (json: unknown, text: string) => void;

function integer(text: string, what: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new LoupeError('VALIDATION', `${what} takes a whole number of at least ${min}, not "${text}".`, { field: what });
  return n;
}

function fraction(text: string, what: string): number {
  const raw = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text);
  if (!Number.isFinite(raw) || raw < 0 || raw > 1) throw new LoupeError('VALIDATION', `${what} takes a fraction such as 0.05 or a percentage such as 5%, not "${text}".`, { field: what });
  return raw;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);

/** Waits for a job, progress and log on stderr unless --json; Ctrl-C cancels it. */
async function follow(core: Core, jobId: JobId, quiet: boolean): Promise<JobInfo> {
  const unsubscribe = quiet
    ? () => {}
    : core.subscribe((event, payload) => {
        if (event === 'jobs:log' && (payload as { id: string }).id === jobId) process.stderr.write(`  ${(payload as { line: string }).line}\n`);
      });
  const stop = () => core.jobs.cancel(jobId);
  process.once('SIGINT', stop);
  try {
    const job = await core.jobs.finished(jobId);
    if (job.state === 'failed') throw new LoupeError(job.error?.code ?? 'INTERNAL', job.error?.message ?? 'the job failed', job.error?.details);
    return job;
  } finally {
    process.off('SIGINT', stop);
    unsubscribe();
  }
}

/** `loupe goal [--error X | --accuracy X] [--human X] [--clear]`: set or show the project's goal. */
export async function goalCommand(core: Core, options: ExperimentCliOptions, print: Print): Promise<number> {
  if (options.error !== undefined && options.accuracy !== undefined) throw new LoupeError('VALIDATION', 'Give either --error or --accuracy, not both.');
  let goal;
  if (options.clear) goal = await core.call('experiments:setGoal', { target: null });
  else if (options.error !== undefined || options.accuracy !== undefined) {
    const metric = options.error !== undefined ? 'error' : 'accuracy';
    goal = await core.call('experiments:setGoal', {
      metric,
      target: fraction((options.error ?? options.accuracy)!, `--${metric}`),
      human: options.human === undefined ? null : fraction(options.human, '--human'),
    });
  } else goal = await core.call('experiments:goal', {});
  print({ goal }, goal ? `Goal: ${goal.metric === 'error' ? `error under ${pct(goal.targetError)}` : `accuracy of ${pct(1 - goal.targetError)}`}${goal.humanError !== null ? ` (human-level error ${pct(goal.humanError)})` : ''}` : 'No goal set (loupe goal --error 0.05).');
  return 0;
}

/** The diagnosis as a person reads it. */
export function diagnosisText(d: Diagnosis): string {
  const e = d.errors;
  const lines = [
    `Run ${d.runId}: ${d.summary}`,
    '',
    `  goal ${pct(e.goal)}  human ${pct(e.human)}  train ${pct(e.train)}  k-fold ${pct(e.trainKFold)}  valid ${pct(e.valid)}  test ${pct(e.test)}`,
    `  avoidable bias ${pct(d.gaps.avoidableBias)}  variance ${pct(d.gaps.variance)}  valid→test shift ${pct(d.gaps.shift)}`,
    '',
    ...d.steps.map((s) => `  ${s.priority}. [${s.category}] ${s.title}: ${s.detail}`),
    ...d.notes.map((n) => `  note: ${n}`),
  ];
  return lines.join('\n');
}

/** `loupe diagnose [--run N] --json`. */
export async function diagnoseCommand(core: Core, options: ExperimentCliOptions, print: Print): Promise<number> {
  const d = await core.call('experiments:diagnose', { runId: options.run === undefined ? undefined : integer(options.run, '--run') });
  print(d, diagnosisText(d));
  return 0;
}

/** `loupe search [--budget-trials N] [--budget-minutes M] [--min-budget E] [--max-budget E] [--eta K] [--run N] [--mode quick|full] [--seed S] --json`. */
export async function searchCommand(core: Core, options: ExperimentCliOptions, print: Print): Promise<number> {
  let base: Record<string, unknown> = { mode: options.mode ?? 'quick' };
  if (options.run !== undefined) base = { ...(await core.call('runs:get', { id: integer(options.run, '--run') })).config };
  const min = options['min-budget'] === undefined ? undefined : integer(options['min-budget'], '--min-budget');
  const max = options['max-budget'] === undefined ? undefined : integer(options['max-budget'], '--max-budget');
  const { jobId, searchId } = await core.call('experiments:searchStart', {
    base,
    trials: options['budget-trials'] === undefined ? 24 : integer(options['budget-trials'], '--budget-trials'),
    minutes: options['budget-minutes'] === undefined ? null : Number(options['budget-minutes']),
    asha: { minBudget: min ?? 2, maxBudget: max ?? 18, eta: options.eta === undefined ? 3 : integer(options.eta, '--eta', 2) },
    seed: options.seed === undefined ? 1 : integer(options.seed, '--seed', 0),
  });
  const job = await follow(core, jobId, options.json === true);
  const search = await core.call('experiments:search', { id: searchId });
  print(searchJson(search), searchText(search));
  return job.state === 'cancelled' ? 130 : 0;
}

/** What `loupe search --json` prints: each trial with its rungs, and the best. */
export function searchJson(s: SearchDetail) {
  return {
    searchId: s.id,
    status: s.status,
    rungs: s.rungs,
    trials: s.trials.map((t) => ({ trial: t.index, status: t.status, params: t.params, stoppedAt: t.stoppedAt, rungs: t.rungs, error: t.error })),
    best: s.best,
    note: s.note,
    seconds: s.finishedAt === null ? null : (s.finishedAt - s.startedAt) / 1000,
  };
}

function searchText(s: SearchDetail): string {
  const lines = [`Search ${s.id}: ${s.status}, ${s.trials.length} trials, rungs ${s.rungs.join('/')} epochs`];
  for (const t of s.trials) {
    const last = t.rungs[t.rungs.length - 1];
    const params = Object.entries(t.params).map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(3)) : v}`).join(' ');
    lines.push(`  ${String(t.index + 1).padStart(3)} ${t.status.padEnd(8)} ${last ? `${last.budget} ep: loss ${last.validLoss?.toFixed(4) ?? '–'} acc ${pct(last.validAccuracy)} (run ${last.runId})` : '–'}  ${params}`);
  }
  if (s.best) lines.push(`Best: trial ${s.best.trial + 1} (run ${s.best.runId}), valid loss ${s.best.validLoss.toFixed(4)}, accuracy ${pct(s.best.validAccuracy)}`);
  if (s.note) lines.push(s.note);
  return lines.join('\n');
}

/** `loupe ensemble --runs 3,4,5 | --run N --seeds K | --folds N --json`. */
export async function ensembleCommand(core: Core, options: ExperimentCliOptions, print: Print): Promise<number> {
  let source: EnsembleSource;
  if (options.runs !== undefined) source = { kind: 'runs' as const, runs: options.runs.split(',').map((r) => integer(r.trim(), '--runs')) };
  else if (options.run !== undefined && options.seeds !== undefined) source = { kind: 'seeds' as const, runId: integer(options.run, '--run'), k: integer(options.seeds, '--seeds', 2) };
  else if (options.folds !== undefined) source = { kind: 'folds' as const, runId: integer(options.folds, '--folds') };
  else throw new LoupeError('VALIDATION', 'Give --runs 3,4,5 (finished runs), --run N --seeds K (K seeds of run N\'s config), or --folds N (the fold heads of quick run N).');
  const { jobId, runId } = await core.call('experiments:ensemble', { source });
  const job = await follow(core, jobId, options.json === true);
  const run = await core.call('runs:get', { id: runId });
  const info = (await core.call('experiments:runs', {})).find((r) => r.runId === runId);
  const members = info?.members ?? [];
  print(
    { runId, state: job.state, metrics: run.metrics, members },
    [
      source.kind === 'folds'
        ? `Ensemble run ${runId} of run ${source.runId}'s fold heads (test and unlabelled images: their mean; train and valid: out-of-fold)`
        : `Ensemble run ${runId} of runs ${members.map((m) => m.runId).join(', ')} (scored on the images all cover)`,
      ...members.map((m) => `  run ${m.runId}: valid ${pct(m.accuracy.valid)}  test ${pct(m.accuracy.test)}`),
      `  ensemble: valid ${pct(run.metrics?.valid?.accuracy)}  test ${pct(run.metrics?.test?.accuracy)}`,
    ].join('\n'),
  );
  return job.state === 'cancelled' ? 130 : 0;
}

/** `loupe report --run N [--compare M] --out report.html`. */
export async function reportCommand(core: Core, options: ExperimentCliOptions, print: Print): Promise<number> {
  const result = await core.call('experiments:report', {
    runId: integer(options.run!, '--run'),
    compareTo: options.compare === undefined ? undefined : integer(options.compare, '--compare'),
    out: options.out!,
  });
  print({ out: result.out, bytes: result.bytes }, `Wrote ${result.out} (${(result.bytes / 1024).toFixed(0)} KiB)`);
  return 0;
}
