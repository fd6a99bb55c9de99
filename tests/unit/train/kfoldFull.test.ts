/**
 * A k-fold full run on tiny planted images (16x16, 3 classes, 2 epochs, k = 3): each fold network
 * trains on the other folds only (audited by the ids it was fed) and gives its held-out fold an
 * out-of-sample prediction; the final network is the plain run's, for valid and test; the review
 * queues then include train images. The estimate: none before a run, then the measured rate times
 * the networks. Resume covers the final phase; a run stopped in its fold phase is refused.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { trainCommand } from '../../../src/main/cli/train';
import { Core } from '../../../src/main/core';
import { parseTrainConfig, trainingProcess } from '../../../src/main/handlers/train.handlers';
import { datasetVersion } from '../../../src/main/store/changes';
import { sql } from '../../../src/main/store/statements';
import { runFullJob, type FoldAudit } from '../../../src/main/train/full.job';
import { createRun } from '../../../src/main/train/runs';
import type { CurvePoint, FullConfig } from '../../../src/shared/train';
import { tempDir } from '../../helpers/fixtures';
import { importPlantedProject } from './plantedDataset';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

async function importPlanted(dir: string, perClass: number) {
  core = (await importPlantedProject(dir, perClass, { size: 16 })).core;
  return core;
}

const config = { mode: 'full', arch: 'small-cnn', epochs: 2, batchSize: 4, learningRate: 3e-3, patience: 10, augment: 'light', seed: 7 };

interface Row {
  imageId: number;
  split: string | null;
  fold: number;
  inSample: number;
  probabilities: number[];
}

function predictions(c: Core, runId: number): Row[] {
  const rows = sql(c.requireProject().db, 'SELECT image_id AS imageId, split, fold, in_sample AS inSample, probabilities FROM predictions WHERE run_id = ? ORDER BY image_id').all(runId) as Array<
    Omit<Row, 'probabilities'> & { probabilities: Buffer }
  >;
  return rows.map((r) => ({ ...r, probabilities: Array.from(new Float32Array(r.probabilities.buffer.slice(r.probabilities.byteOffset, r.probabilities.byteOffset + r.probabilities.byteLength))) }));
}

/** Starts a full run as train:start does, with a hook on the fold audits. */
function startAudited(c: Core, input: Record<string, unknown>, audits: FoldAudit[]) {
  const project = c.requireProject();
  const parsed = parseTrainConfig(input) as FullConfig;
  const runId = createRun(project.db, parsed, datasetVersion(project.db), 'classification');
  const job = c.jobs.start('train', (ctx) =>
    runFullJob(project, trainingProcess(c), runId, parsed, { onCurve: () => {}, onStatus: () => {}, onFold: (_, audit) => audits.push(audit) }, ctx),
  );
  return { jobId: job.id, runId };
}

function largestDifference(a: Row[], b: Row[]): number {
  let largest = 0;
  a.forEach((r, i) => r.probabilities.forEach((p, j) => (largest = Math.max(largest, Math.abs(p - b[i]!.probabilities[j]!)))));
  return largest;
}

describe('a k-fold full run', () => {
  it('predicts every train image out-of-sample from a fold network that did not train on it; the estimate follows the measured rate', async () => {
    const c = await importPlanted(tempDir(), 10);
    const kfold = { ...config, folds: 3 };
    await expect(c.call('train:start', { config: { ...config, folds: 11 } })).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/config\.folds/) });

    // No full run yet: no rate, no estimate.
    const before = await c.call('train:estimate', { config: kfold });
    expect(before.seconds).toBeNull();
    expect(before.basis).toMatch(/cannot estimate yet/i);

    // A plain run measures the rate; k folds on (k-1)/k of the images plus the final network: k x its training time.
    const plain = await c.call('train:start', { config });
    expect((await c.jobs.finished(plain.jobId)).state).toBe('done');
    const measured = await c.call('runs:get', { id: plain.runId });
    expect(measured.timings!.imagesPerSecond).toBeGreaterThan(0);
    const single = await c.call('train:estimate', { config });
    expect(single.seconds!).toBeCloseTo(measured.timings!.trainSeconds, 3);
    const estimate = await c.call('train:estimate', { config: kfold });
    expect(estimate.seconds! / (3 * measured.timings!.trainSeconds)).toBeCloseTo(1, 3);
    expect(estimate.basis).toMatch(/4 networks/);
    // A different network has no rate yet.
    expect((await c.call('train:estimate', { config: { ...kfold, arch: 'resnet-small' } })).seconds).toBeNull();

    const audits: FoldAudit[] = [];
    const { jobId, runId } = startAudited(c, kfold, audits);
    const job = await c.jobs.finished(jobId);
    expect(job.error).toBeNull();
    expect(job.state).toBe('done');
    const run = await c.call('runs:get', { id: runId });
    expect(run.status).toBe('done');

    const rows = predictions(c, runId);
    const base = predictions(c, plain.runId);
    expect(rows.map((r) => r.imageId)).toEqual(base.map((r) => r.imageId));
    const train = rows.filter((r) => r.split === 'train');
    const trainIds = train.map((r) => r.imageId).sort((a, b) => a - b);
    expect(train.length).toBeGreaterThan(10);

    // The audit: each fold network was fed exactly the train images outside its fold.
    expect(audits.map((a) => [a.fold, a.folds])).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    const heldOutBy = new Map<number, number>();
    for (const audit of audits) {
      const trained = new Set(audit.trained);
      for (const id of audit.heldOut) {
        expect(trained.has(id)).toBe(false);
        expect(heldOutBy.has(id)).toBe(false);
        heldOutBy.set(id, audit.fold);
      }
      expect([...audit.trained, ...audit.heldOut].sort((a, b) => a - b)).toEqual(trainIds);
    }
    expect(heldOutBy.size).toBe(train.length);
    // Every train image: exactly one prediction, out-of-sample, from the fold that held it out.
    for (const r of train) {
      expect(r.inSample).toBe(0);
      expect(r.fold).toBe(heldOutBy.get(r.imageId));
    }

    // Valid and test come from the final network: the plain run's own (same seed, same images).
    const finalRows = rows.filter((r) => r.split !== 'train');
    expect(finalRows.length).toBeGreaterThan(0);
    expect(finalRows.every((r) => r.fold === -1 && r.inSample === 0)).toBe(true);
    expect(largestDifference(finalRows, base.filter((r) => r.split !== 'train'))).toBeLessThan(1e-5);
    expect(run.metrics!.valid!.logLoss).toBeCloseTo(measured.metrics!.valid!.logLoss, 4);
    expect(run.metrics!.test!.count).toBe(measured.metrics!.test!.count);

    // metrics.train: out-of-sample, from the fold networks; the in-sample figure stays beside it.
    expect(measured.metrics!.train).toBeNull();
    expect(run.metrics!.train!.count).toBe(train.length);
    expect(run.metrics!.trainInSample!.count).toBe(train.length);
    expect(run.metrics!.trainInSample!.logLoss).toBeCloseTo(measured.metrics!.trainInSample!.logLoss, 4);
    expect(run.metrics!.train!.logLoss).not.toBeCloseTo(run.metrics!.trainInSample!.logLoss, 6);

    // Curves: each fold network's phase, then the final one's.
    const epochs = run.curves.filter((p) => p.kind === 'epoch');
    expect(epochs.map((p) => `${p.phase}:${p.step}`)).toEqual(['fold 1/3:1', 'fold 1/3:2', 'fold 2/3:1', 'fold 2/3:2', 'fold 3/3:1', 'fold 3/3:2', 'train:1', 'train:2']);
    expect(epochs.every((p) => p.valLoss !== null)).toBe(true);
    // Checkpoints are the final network's only.
    expect(run.model!.lastCheckpointEpoch).toBe(2);

    // The review queue of worst losses now includes the train images.
    const queue = await c.call('review:queue', { kind: 'loss', limit: 100 });
    expect(queue.runId).toBe(runId);
    expect(queue.total).toBe(rows.length);
    expect(queue.rows.filter((r) => r.split === 'train').length).toBe(train.length);

    // The k-fold run recorded its own rate (every network together); the estimate now uses it.
    expect(run.timings!.imagesPerSecond).toBeGreaterThan(0);
    const after = await c.call('train:estimate', { config: kfold });
    expect(after.basis).toMatch(new RegExp(`run ${runId}\\b`));
  });

  it('loupe train --mode full --folds K prints the estimate first, then the out-of-sample train accuracy', async () => {
    const c = await importPlanted(tempDir(), 6);
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    const printed: Array<{ json: unknown; text: string }> = [];
    try {
      const code = await trainCommand(c, { mode: 'full', folds: '3', epochs: '1', 'batch-size': '4', seed: '7' }, (json, text) => printed.push({ json, text }));
      expect(code).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(written[0]).toMatch(/^Estimate: Cannot estimate yet/);
    expect(printed).toHaveLength(1);
    expect(printed[0]!.text).toMatch(/train \(out-of-sample\) \d/);
    const summary = printed[0]!.json as { estimate: { seconds: number | null }; metrics: { train: { count: number } | null } };
    expect(summary.estimate.seconds).toBeNull();
    expect(summary.metrics.train!.count).toBeGreaterThan(0);
  });

  it('resumes a k-fold run in its final phase, and refuses one stopped among its folds', async () => {
    const c = await importPlanted(tempDir(), 6);
    // Three epochs: the cancel after the final network's first lands before it ends.
    const kfold = { ...config, epochs: 3, folds: 3 };
    const whole = await c.call('train:start', { config: kfold });
    expect((await c.jobs.finished(whole.jobId)).state).toBe('done');

    // Cancelled in fold 1: no checkpoint, so no resume.
    const early = await c.call('train:start', { config: kfold });
    const offEarly = c.subscribe((event, payload) => {
      const { runId: id, points } = payload as { runId: number; points: CurvePoint[] };
      if (event === 'train:curve' && id === early.runId && points.some((p) => p.kind === 'epoch')) {
        offEarly();
        c.jobs.cancel(early.jobId);
      }
    });
    expect((await c.jobs.finished(early.jobId)).state).toBe('cancelled');
    expect((await c.call('runs:get', { id: early.runId })).resumable).toBe(false);
    await expect(c.call('train:start', { resume: early.runId })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/final phase/) });

    // Cancelled after the final network's first epoch: it resumes to the uninterrupted run's result.
    const late = await c.call('train:start', { config: kfold });
    const offLate = c.subscribe((event, payload) => {
      const { runId: id, points } = payload as { runId: number; points: CurvePoint[] };
      if (event === 'train:curve' && id === late.runId && points.some((p) => p.kind === 'epoch' && p.phase === 'train')) {
        offLate();
        c.jobs.cancel(late.jobId);
      }
    });
    expect((await c.jobs.finished(late.jobId)).state).toBe('cancelled');
    expect((await c.call('runs:get', { id: late.runId })).resumable).toBe(true);
    const resumed = await c.call('train:start', { resume: late.runId });
    const job = await c.jobs.finished(resumed.jobId);
    expect(job.error).toBeNull();
    expect(job.state).toBe('done');
    const a = await c.call('runs:get', { id: whole.runId });
    const b = await c.call('runs:get', { id: late.runId });
    expect(b.curves.map((p) => [p.phase, p.kind, p.step])).toEqual(a.curves.map((p) => [p.phase, p.kind, p.step]));
    const pa = predictions(c, whole.runId);
    const pb = predictions(c, late.runId);
    expect(pb.map((r) => [r.imageId, r.fold, r.inSample])).toEqual(pa.map((r) => [r.imageId, r.fold, r.inSample]));
    expect(largestDifference(pa, pb)).toBeLessThan(1e-5);
    expect(b.metrics!.train!.count).toBe(a.metrics!.train!.count);
    expect(b.metrics!.train!.logLoss).toBeCloseTo(a.metrics!.train!.logLoss, 4);
  });
});
