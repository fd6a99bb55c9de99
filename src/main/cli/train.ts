/**
 * `loupe train` and `loupe issues`: the CLI side of training and review, over the same core. The
 * command table (commands.ts) has checked their options, and main.ts has opened the project.
 */
import { LoupeError } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import type { BackendReport, IssuePage, IssueRow, LabelSort, RunSummary, TrainEstimate } from '../../shared/train';
import type { JobInfo } from '../../shared/types';
import type { RegressionRunMetrics, RegressionSplitMetrics } from '../../shared/regression';
import type { Core } from '../core';
import type { cliIssueKinds, Options } from './commands';

/** Options the two commands read. */
export type TrainCliOptions = Pick<
  Options,
  'json' | 'mode' | 'backbone' | 'folds' | 'kind' | 'limit' | 'offset' | 'sort' | 'arch' | 'epochs' | 'lr' | 'batch-size' | 'schedule' | 'preset' | 'seed' | 'resume' | 'backend'
>;

type Print = (json: unknown, text: string) => void;

/** "webgpu on SwiftShader (software) via WebGPU": the backend and the device it ran on (runs recorded before devices were: the name). */
function backendLine(report: BackendReport | null | undefined): string {
  if (!report) return 'an unknown backend';
  return report.device ? `${report.name} on ${report.device.label}` : report.name;
}

/**
 * `loupe train --project P [--mode quick|full] [--backbone NAME|FILE] [--folds K] [--arch small-cnn|resnet-small]
 * [--epochs N] [--lr X] [--batch-size N] [--schedule constant|one-cycle|cosine] [--preset none|light|standard|strong] [--seed N] [--resume RUN]
 * [--backend auto|webgpu|wasm|tensorflow|tensorflow-gpu|cpu] --json`.
 * The core checks the config (VALIDATION names the field); here only numbers are read. A full run
 * prints its estimated time first (stderr; `estimate` in --json).
 */
export async function trainCommand(core: Core, options: TrainCliOptions, print: Print): Promise<number> {
  const config: Record<string, unknown> = { mode: options.mode ?? (options.resume ? 'full' : 'quick') };
  if (options.backbone) config.backbone = options.backbone;
  // Quick runs take 2..20 folds, full runs 0..10 (0 or 1: off); the core checks which.
  if (options.folds) config.folds = integer(options.folds, '--folds', 0);
  if (options.arch) config.arch = options.arch;
  if (options.epochs) config.epochs = integer(options.epochs, '--epochs');
  if (options.lr) config.learningRate = positive(options.lr, '--lr');
  if (options['batch-size']) config.batchSize = integer(options['batch-size'], '--batch-size');
  if (options.schedule) config.schedule = options.schedule;
  if (options.preset) config.augment = options.preset;
  if (options.seed) config.seed = integer(options.seed, '--seed', 0);
  if (options.backend) {
    if (config.mode !== 'full') throw new LoupeError('VALIDATION', '--backend: only a full run (--mode full) trains a network; a quick run embeds with the backbone\'s own runtime.', { field: 'backend' });
    config.backend = options.backend;
  }
  const resume = options.resume ? integer(options.resume, '--resume') : undefined;
  // A full run's time on this machine, before it starts (from earlier full runs' measured rate).
  const estimate = config.mode === 'full' && resume === undefined ? await core.call('train:estimate', { config }) : null;
  if (estimate && !options.json) process.stderr.write(`${estimateLine(estimate)}\n`);
  const { jobId, runId } = await core.call('train:start', { config, resume });
  const unsubscribe = options.json
    ? () => {}
    : core.subscribe((event, payload) => {
        if (event === 'jobs:log' && (payload as { id: string }).id === jobId) process.stderr.write(`  ${(payload as { line: string }).line}\n`);
        if (event === 'jobs:update') report(payload as JobInfo);
      });
  const stop = () => core.jobs.cancel(jobId);
  process.once('SIGINT', stop);
  const job = await core.jobs.finished(jobId);
  process.off('SIGINT', stop);
  unsubscribe();
  if (job.state === 'failed') throw job.error ?? new LoupeError('INTERNAL', 'training failed');
  const run = await core.call('runs:get', { id: runId, trust: false });
  const seconds = run.timings?.totalSeconds ?? (Date.now() - run.startedAt) / 1000;
  const summary = {
    runId,
    state: job.state,
    backend: run.backend?.name ?? null,
    device: run.backend?.device ?? null,
    host: run.backend?.host ?? null,
    backendTried: run.backend?.tried ?? [],
    backbone: run.backbone,
    model: run.model,
    resumable: run.resumable,
    seconds,
    estimate,
    timings: run.timings,
    task: run.task,
    metrics: run.metrics,
    valueMetrics: run.valueMetrics,
  };
  print(summary, job.state === 'cancelled' ? `Run ${runId} cancelled${run.resumable ? ` (resume it: loupe train --resume ${runId})` : ''}` : finishedText(run, seconds));
  return job.state === 'cancelled' ? 130 : 0;
}

/** What a finished run reached, in words: a classifier's accuracies, or a regression run's errors beside its baseline. */
function finishedText(run: RunSummary, seconds: number): string {
  const pct = (v: number | undefined) => (v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);
  // What trained: the network of a full run, the backbone of a quick one.
  const head = run.model
    ? `Run ${run.id}: ${seconds.toFixed(1)} s on ${backendLine(run.backend)}, ${run.model.arch} (${run.model.parameters.toLocaleString('en')} parameters, best epoch ${run.model.bestEpoch ?? '—'})`
    : `Run ${run.id}: ${seconds.toFixed(1)} s on ${backendLine(run.backend)} with ${run.backbone?.name}${run.backbone?.note ? ` (${run.backbone.note})` : ''}`;
  switch (run.task) {
    case 'classification':
      return run.model
        ? `${head}\naccuracy: ${run.metrics?.train ? `train (out-of-sample) ${pct(run.metrics.train.accuracy)}, ` : ''}train (in-sample) ${pct(run.metrics?.trainInSample?.accuracy)}, valid ${pct(run.metrics?.valid?.accuracy)}, test ${pct(run.metrics?.test?.accuracy)}`
        : `${head}\naccuracy: train (out-of-sample) ${pct(run.metrics?.train?.accuracy)}, valid ${pct(run.metrics?.valid?.accuracy)}, test ${pct(run.metrics?.test?.accuracy)}`;
    case 'regression':
      return `${head}\n${regressionLines(run.valueMetrics)}`;
    default:
      return assertNever(run.task, 'task');
  }
}

/**
 * A regression run's metrics, a line per split: MAE, RMSE, R² and median absolute error, each with
 * the baseline's (predict the train mean) after a slash.
 */
export function regressionLines(metrics: RegressionRunMetrics | null): string {
  if (!metrics) return 'no regression metrics';
  const splits: Array<[string, RegressionSplitMetrics | null | undefined]> = [
    ['train (out-of-sample)', metrics.train],
    ['valid', metrics.valid],
    ['test', metrics.test],
  ];
  const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3));
  // R² to three places, without a "-0.000" for a baseline a hair below zero.
  const r2 = (v: number) => (Math.abs(v) < 5e-4 ? 0 : v).toFixed(3);
  const lines = splits
    .filter((entry): entry is [string, RegressionSplitMetrics] => entry[1] !== null && entry[1] !== undefined)
    .map(([name, m]) => `${name} (${m.count}): MAE ${num(m.mae)} / ${num(m.baseline.mae)}, RMSE ${num(m.rmse)} / ${num(m.baseline.rmse)}, R² ${r2(m.r2)} / ${r2(m.baseline.r2)}, median AE ${num(m.medianAe)} / ${num(m.baseline.medianAe)}`);
  return [`model / baseline (predict the train mean, ${num(metrics.trainMean)}):`, ...lines].join('\n');
}

/**
 * `loupe issues --project P --kind loss|label|confused [--sort SIGNAL] [--limit N] [--offset K] --json`:
 * the queue of the run that feeds Review (the best by out-of-sample quality, or the one chosen),
 * worst first, rows K..K+N, each with its signals, why it is flagged and its nearest images; label
 * errors come with how many to expect. No cap on N: the queue is read in pages of reviewPageSize.
 */
export async function issuesCommand(core: Core, options: TrainCliOptions, print: Print): Promise<number> {
  // Required, and one of cliIssueKinds: the table has checked.
  const kind = options.kind as (typeof cliIssueKinds)[number];
  const limit = options.limit ? integer(options.limit, '--limit') : 20;
  const offset = options.offset ? integer(options.offset, '--offset', 0) : 0;
  // One of labelSorts when given: the table has checked.
  const sort = (options.sort ?? 'fused') as LabelSort;
  let query: { kind: 'loss' | 'label' | 'confused'; given?: string; predicted?: string; sort?: LabelSort } | null;
  switch (kind) {
    case 'confused': {
      // The most-confused pair's images, both ways.
      const [pair] = await core.call('review:pairs', { limit: 1 });
      query = pair ? { kind, given: pair.a, predicted: pair.b } : null;
      break;
    }
    case 'loss':
      query = { kind };
      break;
    case 'label':
      query = { kind, sort };
      break;
    default:
      return assertNever(kind, '--kind');
  }
  let page: IssuePage = { runId: null, total: 0, rows: [], estimate: null };
  if (query) {
    const rows: IssueRow[] = [];
    for (;;) {
      const want = Math.min(reviewPageSize, limit - rows.length);
      const next = await core.call('review:queue', { ...query, offset: offset + rows.length, limit: want });
      rows.push(...next.rows);
      page = { ...next, rows };
      if (next.rows.length < want || rows.length >= limit) break;
    }
  }
  const rows = page.rows.map((r) => ({
    path: r.path,
    given: r.given,
    predicted: r.predicted,
    probability: r.probability,
    loss: r.loss,
    split: r.split,
    reason: r.reason,
    signals: r.signals ?? null,
    why: r.why ?? null,
    neighbours: (r.neighbours ?? []).map((n) => ({ path: n.path, given: n.given, similarity: n.similarity })),
  }));
  const estimate = page.estimate
    ? `About ${page.estimate.labels} of ${page.estimate.of} labels (${(page.estimate.noiseRate * 100).toFixed(1)}%) are likely wrong; the next ${page.estimate.next.count} are about ${Math.round(page.estimate.next.precision * 100)}% likely to be wrong.`
    : null;
  print(
    { runId: page.runId, total: page.total, rows, sort: page.sort ?? null, estimate: page.estimate, calibration: page.calibration ?? null, source: page.source ?? null },
    page.runId === null
      ? 'No finished run: run `loupe train` first.'
      : [...(estimate ? [estimate] : []), `${page.total} images (run ${page.runId}); worst first:`, ...rows.map((r) => `${r.path}  ${r.given} → ${r.predicted} (p ${r.probability.toFixed(2)}, loss ${r.loss.toFixed(2)})`)].join('\n'),
  );
  return 0;
}

/** The estimate in words: about how long, and from what. */
export function estimateLine(estimate: TrainEstimate): string {
  return estimate.seconds === null ? `Estimate: ${estimate.basis}` : `Estimate: about ${formatSeconds(estimate.seconds)} (${estimate.basis})`;
}

function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function positive(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new LoupeError('VALIDATION', `${what} must be a positive number.`);
  return n;
}

/** The most rows one review:queue call returns. */
const reviewPageSize = 2000;

function integer(text: string, what: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new LoupeError('VALIDATION', `${what} must be ${min === 0 ? 'a whole number, 0 or more' : 'a positive integer'}.`);
  return n;
}

let lastReport = 0;
function report(job: JobInfo): void {
  const p = job.progress;
  if (!p || job.state !== 'running' || Date.now() - lastReport < 1000) return;
  lastReport = Date.now();
  process.stderr.write(`  ${p.step} ${p.current}/${p.total}\n`);
}
