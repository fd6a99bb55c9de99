/**
 * `loupe lr-find` and `loupe sanity`: the LR finder and "overfit one batch" over the same core. The
 * command table (commands.ts) has checked their options, and main.ts has opened the project.
 */
import { LoupeError } from '../../shared/errors';
import type { LrFindResult, OverfitResult } from '../../shared/train';
import type { JobId, JobInfo } from '../../shared/types';
import type { EventPayloads } from '../../shared/contract';
import type { Core } from '../core';
import type { Options } from './commands';

/** Options the two commands read. */
export type TrainToolCliOptions = Pick<Options, 'json' | 'arch' | 'lr' | 'batch-size' | 'seed' | 'backend'>;

type Print = (json: unknown, text: string) => void;

function configOf(options: TrainToolCliOptions): Record<string, unknown> {
  const config: Record<string, unknown> = { mode: 'full' };
  if (options.arch) config.arch = options.arch;
  if (options.lr) {
    const lr = Number(options.lr);
    if (!Number.isFinite(lr) || lr <= 0) throw new LoupeError('VALIDATION', '--lr must be a positive number.');
    config.learningRate = lr;
  }
  if (options['batch-size']) config.batchSize = whole(options['batch-size'], '--batch-size', 1);
  if (options.seed) config.seed = whole(options.seed, '--seed', 0);
  if (options.backend) config.backend = options.backend;
  return config;
}

function whole(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new LoupeError('VALIDATION', `${what} must be a whole number, ${min} or more.`);
  return n;
}

/** Waits for a job, printing its log and progress to stderr unless --json; Ctrl-C cancels it. */
async function follow(core: Core, jobId: JobId, quiet: boolean): Promise<JobInfo> {
  let last = 0;
  const unsubscribe = quiet
    ? () => {}
    : core.subscribe((event, payload) => {
        if (event === 'jobs:log') {
          const log = payload as EventPayloads['jobs:log'];
          if (log.id === jobId) process.stderr.write(`  ${log.line}\n`);
        } else if (event === 'jobs:update') {
          const job = payload as EventPayloads['jobs:update'];
          if (job.id !== jobId || !job.progress || job.state !== 'running' || Date.now() - last < 1000) return;
          last = Date.now();
          process.stderr.write(`  ${job.progress.step} ${job.progress.current}/${job.progress.total}\n`);
        }
      });
  const stop = () => core.jobs.cancel(jobId);
  process.once('SIGINT', stop);
  try {
    const job = await core.jobs.finished(jobId);
    if (job.state === 'failed') throw new LoupeError(job.error?.code ?? 'INTERNAL', job.error?.message ?? 'the check failed', job.error?.details);
    return job;
  } finally {
    process.off('SIGINT', stop);
    unsubscribe();
  }
}

/** `loupe lr-find --project P [--arch ARCH] [--batch-size N] [--seed N] [--json]`: the suggested rate (and every point with --json). */
export async function lrFindCommand(core: Core, options: TrainToolCliOptions, print: Print): Promise<number> {
  const { jobId } = await core.call('train:lrFind', { config: configOf(options) });
  const job = await follow(core, jobId, options.json === true);
  if (job.state === 'cancelled') {
    print({ state: 'cancelled' }, 'LR finder cancelled');
    return 130;
  }
  const result = job.result as LrFindResult;
  const s = result.suggestion;
  print(
    result,
    s
      ? `Suggested learning rate: ${s.steepest.toExponential(1)} (steepest fall of the loss); ${s.minimumOver10.toExponential(1)} (its minimum / 10).\n` +
          `${result.points.length} rates tried, from ${result.points[0]!.learningRate.toExponential(0)}; stopped because ${result.stopped}.\n` +
          `Train with it: loupe train --mode full --lr ${Number(s.steepest.toPrecision(2))}`
      : `No suggestion: the loss never fell over ${result.points.length} rates (stopped because ${result.stopped}). Check the data with loupe sanity.`,
  );
  return 0;
}

/** `loupe sanity --project P [--arch ARCH] [--lr X] [--seed N] [--json]`: overfit 1 then 8 images; exit 1 when it fails. */
export async function sanityCommand(core: Core, options: TrainToolCliOptions, print: Print): Promise<number> {
  const { jobId } = await core.call('train:sanity', { config: configOf(options) });
  const job = await follow(core, jobId, options.json === true);
  if (job.state === 'cancelled') {
    print({ state: 'cancelled' }, 'Sanity check cancelled');
    return 130;
  }
  const result = job.result as OverfitResult;
  const lines = result.attempts.map(
    (a) => `${a.passed ? 'pass' : 'FAIL'}: ${a.images} image${a.images === 1 ? '' : 's'}, loss ${a.losses[0]?.toFixed(3) ?? '—'} → ${Number.isFinite(a.finalLoss) ? a.finalLoss.toFixed(4) : 'NaN'} in ${a.steps} steps`,
  );
  print(
    result,
    [result.passed ? 'Sanity check passed: the network can overfit one batch.' : 'Sanity check FAILED: the network cannot overfit one batch.', ...lines, ...result.causes.map((c) => `- ${c}`)].join('\n'),
  );
  return result.passed ? 0 : 1;
}
