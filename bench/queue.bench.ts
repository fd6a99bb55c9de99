/**
 * The label-error queue on Fashion-MNIST (6,000 train / 1,000 test PNGs) with 5%, 10% and 20% of
 * train labels flipped by a seeded script (each to a different random class, through the change
 * log), one quick run on the image baseline each, in a fresh project per level. Prints P@k (k = the
 * number flipped, over train rows) of every single signal and of the fused queue (as
 * `review:queue` serves it), the rank-average baseline, confident learning as Loupe ranked it before
 * (train and test rows together), the estimated vs true noise rate, ECE before and after
 * calibration, the test split's estimated label-error rate (no test label is flipped) and the
 * expected vs actual precision of the queue's head.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Core } from '../src/main/core';
import { analyseRun } from '../src/main/analysis/issues';
import { searchInProcess } from '../src/main/analysis/runSignals';
import { trainingProcess } from '../src/main/handlers/train.handlers';
import { expectedCalibrationError } from '../src/main/analysis/calibrate';
import { findLabelIssues } from '../src/main/analysis/confident';
import { rankAverage } from '../src/main/analysis/fuse';
import { getRun } from '../src/main/train/runs';
import { benchDir } from './fixtures';
import { fashionMnistFolders, flipTrainLabels } from './fashionMnist';

/** Runs the bench. */
export async function queueBench(args: string[]): Promise<void> {
  process.env.LOUPE_OFFLINE = '1';
  const rateArg = args.indexOf('--rates');
  const rates = rateArg >= 0 ? args[rateArg + 1]!.split(',').map(Number) : [0.05, 0.1, 0.2];
  const { dir } = await fashionMnistFolders(6000, 1000);
  for (const rate of rates) await oneLevel(dir, rate);
}

async function oneLevel(dir: string, rate: number): Promise<void> {
  const project = path.join(benchDir, `fashion-queue-${rate}.loupe`);
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(project + suffix, { force: true });
  const core = new Core();
  try {
    await core.call('project:open', { file: project, create: true });
    const imported = await core.jobs.finished((await core.call('dataset:import', { source: dir })).jobId);
    if (imported.state !== 'done') throw new Error(`import ${imported.state}`);
    const { db } = core.requireProject();
    const { flipped, train } = await flipTrainLabels(core, rate);
    const { jobId, runId } = await core.call('train:start', { config: { backbone: 'baseline' } });
    const job = await core.jobs.finished(jobId);
    if (job.state !== 'done') throw new Error(`training ${job.state}: ${job.error?.message}`);

    const started = performance.now();
    const a = await analyseRun(db, getRun(db, runId), searchInProcess(trainingProcess(core)));
    const analyseSeconds = (performance.now() - started) / 1000;
    const s = a.signals.signals;
    const ids = a.signals.labelled.map((i) => a.rows[i]!.imageId as number);
    const splitOf = a.signals.labelled.map((i) => a.rows[i]!.split);
    const trainRows = ids.map((_, r) => r).filter((r) => splitOf[r] !== 'test');
    const k = flipped.size;
    // P@k of a score over the train rows: the k highest (ties by image id), share flipped.
    const atK = (score: ArrayLike<number>) => {
      const top = [...trainRows].sort((x, y) => score[y]! - score[x]! || ids[x]! - ids[y]!).slice(0, k);
      return top.filter((r) => flipped.has(ids[r]!)).length / k;
    };
    const ofOrder = (order: number[]) => order.slice(0, k).filter((id) => flipped.has(id)).length / k;
    // Loupe's queue before: confident learning over train and test rows together, by its own score.
    const mixed = findLabelIssues(
      a.signals.labelled.map((i) => a.rows[i]!.given!),
      a.signals.labelled.map((i) => a.probabilities[i]!),
      a.run.classes.length,
    );
    const mixedOrder = mixed.issues.map((issue) => ids[issue.index]!).filter((id) => splitOf[ids.indexOf(id)] !== 'test');
    const cl = Float64Array.from(ids, (_, r) => (s.confident[r] ? 1 + s.margin[r]! : s.margin[r]!));
    const queue = await core.call('review:queue', { runId, kind: 'label', split: 'train', limit: Math.min(2000, k), window: Math.min(2000, k) });
    const head = await core.call('review:queue', { runId, kind: 'label', split: 'train', limit: 50, window: 50 });
    const rankAvg = rankAverage([s.selfConfidence, s.margin, ...(s.knn ? [s.knn] : [])]);
    const trainGroup = s.groups.trainValid;
    const testGroup = s.groups.test;
    const trust = (await core.call('runs:get', { id: runId })).trust;
    const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
    const run = getRun(db, runId);
    console.log(`\n### ${pct(rate)} noise: ${k} of ${train.length} train labels flipped (seed 2024); run ${runId}, test accuracy ${pct(run.metrics!.test!.accuracy)}; signals computed in ${analyseSeconds.toFixed(1)} s`);
    console.log(`P@${k} (train rows):`);
    console.log(`  Loupe's queue before (confident learning, train+test rows together): ${ofOrder(mixedOrder).toFixed(3)}`);
    console.log(`  confident learning, per split (members first, by margin):            ${atK(cl).toFixed(3)}`);
    console.log(`  self-confidence (1 - p(given), calibrated):                          ${atK(s.selfConfidence).toFixed(3)}`);
    console.log(`  normalised margin:                                                   ${atK(s.margin).toFixed(3)}`);
    console.log(`  kNN label disagreement (cosine, k = 10):                             ${s.knn ? atK(s.knn).toFixed(3) : 'n/a (no embeddings)'}`);
    console.log(`  ensemble disagreement:                                               ${s.ensemble ? atK(s.ensemble).toFixed(3) : 'n/a (no earlier run)'}`);
    console.log(`  rank average (self-confidence, margin, kNN):                         ${atK(rankAvg).toFixed(3)}`);
    console.log(`  fused queue (review:queue kind label; model × neighbours posterior):  ${ofOrder(queue.rows.map((r) => r.imageId as number)).toFixed(3)}  (queue holds ${queue.total} train rows)`);
    console.log(
      `noise rate, train: estimated ${pct(trainGroup.noiseRate)} (${Math.round(trainGroup.noiseRate * trainGroup.rows)} labels) vs true ${pct(k / train.length)}; ` +
        `error ${(((trainGroup.noiseRate - k / train.length) / (k / train.length)) * 100).toFixed(0)}%; confident learning's estimate ${pct(trainGroup.confidentLearningRate)}`,
    );
    const headActual = head.rows.filter((r) => flipped.has(r.imageId as number)).length / Math.max(head.rows.length, 1);
    const atKExpected = queue.estimate!.next.precision;
    console.log(`expected precision: first 50 ${pct(head.estimate!.next.precision)} (actual ${pct(headActual)}); first ${k} ${pct(atKExpected)} (actual ${pct(ofOrder(queue.rows.map((r) => r.imageId as number)))})`);
    console.log(`calibration: temperature ${s.calibration.temperature.toFixed(3)}, ECE ${s.calibration.eceBefore.toFixed(4)} before, ${s.calibration.eceAfter.toFixed(4)} after (train rows against their given labels: what the app can measure)`);
    // The bench knows the truth: ECE against the true labels, train rows and the (unflipped) test rows.
    const truthOf = new Map(train.map((t) => [t.id as number, a.run.classes.indexOf(t.label)]));
    const eceAgainstTruth = (rows: number[]) => {
      const truth = rows.map((r) => truthOf.get(ids[r]!) ?? a.rows[a.signals.labelled[r]!]!.given!);
      return `${expectedCalibrationError(rows.map((r) => a.probabilities[a.signals.labelled[r]!]!), truth).toFixed(4)} before, ${expectedCalibrationError(rows.map((r) => s.calibrated[r]!), truth).toFixed(4)} after`;
    };
    const testRows = ids.map((_, r) => r).filter((r) => splitOf[r] === 'test');
    console.log(`ECE against the true labels: train ${eceAgainstTruth(trainRows)}; test ${eceAgainstTruth(testRows)}`);
    console.log(
      `test trust: estimated label errors ${pct(testGroup.noiseRate)} [${trust ? `${pct(trust.interval[0])}, ${pct(trust.interval[1])}` : '—'}] (no test label flipped); ` +
        `accuracy ${trust ? pct(trust.accuracy) : '—'}, corrected ${trust ? `${pct(trust.correctedAccuracy)} [${pct(trust.correctedInterval[0])}, ${pct(trust.correctedInterval[1])}]` : '—'}`,
    );
  } finally {
    await core.shutdown();
  }
}
