/**
 * Hyperparameter search on Fashion-MNIST (6,000 train / 1,000 test PNGs, 10% of train labels
 * flipped by a seeded script, 15% of train carved out as valid with test locked): a 24-trial ASHA
 * search's best valid accuracy vs the default configuration, its wall time vs the same 24 trials
 * run to the full budget, and an ensemble (3 seeds of the best configuration) vs the single best
 * run: test accuracy and label-error precision@k (k = the number of flipped labels).
 *
 * Quick-model trials on the image baseline backbone (no pretrained backbone can be downloaded
 * here: LOUPE_OFFLINE=1), views 0, budgets in head epochs. Options: --trials N (default 24),
 * --min E --max E --eta K (default 2/18/3).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Core } from '../src/main/core';
import type { SearchDetail } from '../src/shared/experiments';
import { benchDir } from './fixtures';
import { fashionMnistFolders, flipTrainLabels } from './fashionMnist';

const option = (args: string[], name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);

/** Runs the bench. */
export async function searchBench(args: string[]): Promise<void> {
  const trials = option(args, '--trials', 24);
  const asha = { minBudget: option(args, '--min', 2), maxBudget: option(args, '--max', 18), eta: option(args, '--eta', 3) };
  process.env.LOUPE_OFFLINE = '1';
  const { dir } = await fashionMnistFolders(6000, 1000);
  const project = path.join(benchDir, 'fashion-search.loupe');
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(project + suffix, { force: true });
  const core = new Core();
  try {
    await core.call('project:open', { file: project, create: true });
    const imported = await core.jobs.finished((await core.call('dataset:import', { source: dir })).jobId);
    if (imported.state !== 'done') throw new Error(`import ${imported.state}`);
    const { flipped } = await flipTrainLabels(core, 0.1);
    await core.call('splits:apply', { ratios: { train: 85, valid: 15, test: 0 }, locked: ['test'], seed: 1 });
    const stats = await core.call('dataset:stats', {});
    console.log(`dataset: ${JSON.stringify(stats.splits)}; ${flipped.size} train labels flipped (seed 2024) before valid was carved out`);

    const base = { mode: 'quick', backbone: 'baseline', views: 0 };
    const space = { learningRate: { min: 3e-4, max: 3e-2 }, weightDecay: { min: 1e-6, max: 1e-2 }, head: ['softmax', 'mlp'] as Array<'softmax' | 'mlp'>, hidden: [128, 256, 512] };

    // The default configuration (views 0 like the trials; its own default folds and epochs).
    const t0 = performance.now();
    const def = await core.call('train:start', { config: base });
    await finished(core, def.jobId);
    const defaultRun = await core.call('runs:get', { id: def.runId });
    console.log(`default config (run ${def.runId}, ${((performance.now() - t0) / 1000).toFixed(1)} s incl. embedding): valid accuracy ${pct(defaultRun.metrics?.valid?.accuracy)}, test ${pct(defaultRun.metrics?.test?.accuracy)}`);

    const ashaSearch = await runSearch(core, { base, space, asha, trials, seed: 1 });
    const fullSearch = await runSearch(core, { base, space, asha: { minBudget: asha.maxBudget, maxBudget: asha.maxBudget, eta: asha.eta }, trials, seed: 1 });
    const summary = (s: { detail: SearchDetail; seconds: number }, label: string) => {
      const runs = s.detail.trials.reduce((n, t) => n + t.rungs.length, 0);
      const epochs = s.detail.trials.reduce((n, t) => n + t.rungs.reduce((e, r) => e + r.budget, 0), 0);
      console.log(`${label}: ${s.seconds.toFixed(1)} s, ${runs} runs, ${epochs} budget epochs; best trial ${s.detail.best ? s.detail.best.trial + 1 : '–'} valid accuracy ${pct(s.detail.best?.validAccuracy)} (loss ${s.detail.best?.validLoss.toFixed(4) ?? '–'}); stopped at the first rung: ${s.detail.trials.filter((t) => t.status === 'stopped' && t.stoppedAt === s.detail.rungs[0]).length}`);
    };
    summary(ashaSearch, `ASHA ${trials} trials, rungs ${ashaSearch.detail.rungs.join('/')}`);
    summary(fullSearch, `same ${trials} trials at ${asha.maxBudget} epochs each`);
    console.log(`ASHA wall time ${(ashaSearch.seconds / fullSearch.seconds).toFixed(2)}x the full-budget search; best valid accuracy ${pct(ashaSearch.detail.best?.validAccuracy)} vs default ${pct(defaultRun.metrics?.valid?.accuracy)} (lift ${(((ashaSearch.detail.best?.validAccuracy ?? 0) - (defaultRun.metrics?.valid?.accuracy ?? 0)) * 100).toFixed(1)} points); full-budget search's best ${pct(fullSearch.detail.best?.validAccuracy)}`);

    // The ensemble: 3 seeds of the best configuration, vs the single best run.
    const best = ashaSearch.detail.best!;
    const single = await core.call('train:start', { config: best.config });
    await finished(core, single.jobId);
    const ens = await core.call('experiments:ensemble', { source: { kind: 'seeds', runId: single.runId, k: 3 } });
    await finished(core, ens.jobId);
    const singleRun = await core.call('runs:get', { id: single.runId });
    const ensembleRun = await core.call('runs:get', { id: ens.runId });
    const k = flipped.size;
    const precisionAt = async (runId: number) => {
      const page = await core.call('review:queue', { runId, kind: 'label', limit: Math.min(2000, k) });
      return page.rows.filter((r) => flipped.has(r.imageId as number)).length / Math.max(1, page.rows.length);
    };
    const [ps, pe] = [await precisionAt(single.runId), await precisionAt(ens.runId)];
    const members = (await core.call('experiments:runs', {})).find((r) => r.runId === ens.runId)?.members ?? [];
    console.log(`best config at ${best.config.epochs} epochs (run ${single.runId}): test ${pct(singleRun.metrics?.test?.accuracy)}; label-error precision@${k} ${pct(ps)}`);
    console.log(`ensemble of 3 seeds (run ${ens.runId}; members' test ${members.map((m) => pct(m.accuracy.test)).join(', ')}): test ${pct(ensembleRun.metrics?.test?.accuracy)}; label-error precision@${k} ${pct(pe)}`);
    const baselines = await core.call('experiments:baselines', { runId: single.runId });
    console.log(`baselines: majority ${pct(baselines.majority.test?.accuracy)} test, linear on ${baselines.linear?.inputSize}x${baselines.linear?.inputSize} pixels ${pct(baselines.linear?.test?.accuracy)} test (${baselines.linear?.seconds.toFixed(1)} s); the best run's lift over it ${((baselines.lift.linear.test ?? 0) * 100).toFixed(1)} points`);
    const diagnosis = await core.call('experiments:diagnose', { runId: single.runId });
    console.log(`diagnosis of the best run: ${diagnosis.verdict}: ${diagnosis.summary}`);
  } finally {
    await core.shutdown();
  }
}

async function finished(core: Core, jobId: string) {
  const job = await core.jobs.finished(jobId as never);
  if (job.state !== 'done') throw new Error(`job ${job.kind} ${job.state}: ${job.error?.message}`);
  return job;
}

async function runSearch(core: Core, input: { base: Record<string, unknown>; space: Record<string, unknown>; asha: { minBudget: number; maxBudget: number; eta: number }; trials: number; seed: number }) {
  const started = performance.now();
  const { jobId, searchId } = await core.call('experiments:searchStart', input);
  await finished(core, jobId);
  return { detail: await core.call('experiments:search', { id: searchId }), seconds: (performance.now() - started) / 1000 };
}

