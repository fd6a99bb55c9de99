/**
 * The full model through the core: a network trained end to end in the training process on tiny
 * generated colour images, with curves, checkpoints, in-sample train predictions kept out of the
 * review queues, and a cancelled run that resumes to exactly the uninterrupted run's result.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { netSpec, parameterCount } from '../../../src/main/model/archSpec';
import { sql } from '../../../src/main/store/statements';
import { loadCheckpoint } from '../../../src/main/train/checkpoints';
import type { CurvePoint } from '../../../src/shared/train';
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

const config = { mode: 'full', arch: 'small-cnn', epochs: 5, batchSize: 4, learningRate: 3e-3, patience: 10, augment: 'light', seed: 7 };

function predictions(c: Core, runId: number) {
  const rows = sql(c.requireProject().db, 'SELECT image_id AS imageId, split, in_sample AS inSample, probabilities FROM predictions WHERE run_id = ? ORDER BY image_id').all(runId) as Array<{
    imageId: number;
    split: string | null;
    inSample: number;
    probabilities: Buffer;
  }>;
  return rows.map((r) => ({ ...r, probabilities: Array.from(new Float32Array(r.probabilities.buffer.slice(r.probabilities.byteOffset, r.probabilities.byteOffset + r.probabilities.byteLength))) }));
}

describe('the full model', () => {
  it('trains end to end: metrics, curves with learning rates, checkpoints, in-sample train predictions out of the review queues', async () => {
    const c = await importPlanted(tempDir(), 10);
    const streamed: CurvePoint[] = [];
    c.subscribe((event, payload) => {
      if (event === 'train:curve') streamed.push(...(payload as { points: CurvePoint[] }).points);
    });
    // A field the config does not take is refused by name.
    await expect(c.call('train:start', { config: { mode: 'full', epochs: 0 } })).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/config\.epochs/) });

    const { jobId, runId } = await c.call('train:start', { config: { ...config, epochs: 3, schedule: 'one-cycle' } });
    const job = await c.jobs.finished(jobId);
    expect(job.error).toBeNull();
    expect(job.state).toBe('done');
    const run = await c.call('runs:get', { id: runId });
    expect(run.status).toBe('done');
    expect(run.config).toMatchObject({ mode: 'full', arch: 'small-cnn', seed: 7 });
    // The input comes from the dataset (16x16 colour images).
    expect(run.model).toMatchObject({ arch: 'small-cnn', inputShape: [16, 16, 3], seed: 7, lastCheckpointEpoch: 3 });
    expect(run.model!.parameters).toBe(parameterCount(netSpec('small-cnn', [16, 16, 3], 3)));
    expect(run.model!.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(run.resumable).toBe(false);
    expect(run.metrics!.train).toBeNull();
    expect(run.metrics!.trainInSample!.count).toBeGreaterThan(0);
    expect(run.metrics!.valid!.count).toBeGreaterThan(0);
    expect(run.metrics!.test!.accuracy).toBeGreaterThan(0.5);

    const batches = run.curves.filter((p) => p.kind === 'batch');
    const epochs = run.curves.filter((p) => p.kind === 'epoch');
    expect(epochs.map((p) => p.step)).toEqual([1, 2, 3]);
    expect(epochs.every((p) => p.phase === 'train' && p.valLoss !== null && p.valAccuracy !== null)).toBe(true);
    expect(batches.length).toBe(streamed.filter((p) => p.kind === 'batch').length);
    // One-cycle: the rate rises, then falls.
    const rates = batches.map((p) => p.learningRate!);
    expect(rates.every((r) => r > 0)).toBe(true);
    const peak = rates.indexOf(Math.max(...rates));
    expect(peak).toBeGreaterThan(0);
    expect(rates.at(-1)!).toBeLessThan(rates[peak]!);

    const db = c.requireProject().db;
    const last = loadCheckpoint(db, runId, 'last')!;
    expect(last.epoch).toBe(3);
    expect(last.weights.get('conv1/kernel')!.shape).toEqual([3, 3, 3, 32]);
    expect(last.optimizer.size).toBeGreaterThan(1);
    expect(loadCheckpoint(db, runId, 'best')!.epoch).toBe(run.model!.bestEpoch);

    // Train images are in-sample; valid and test are not; none of the in-sample ones reach a queue.
    const rows = predictions(c, runId);
    expect(rows.length).toBe(30);
    for (const r of rows) expect(r.inSample).toBe(r.split === 'train' ? 1 : 0);
    const trainIds = new Set(rows.filter((r) => r.inSample === 1).map((r) => r.imageId));
    expect(trainIds.size).toBeGreaterThan(0);
    for (const kind of ['loss', 'label'] as const) {
      const queue = await c.call('review:queue', { kind, limit: 100 });
      expect(queue.rows.some((r) => trainIds.has(r.imageId))).toBe(false);
      if (kind === 'loss') expect(queue.total).toBe(rows.length - trainIds.size);
    }
  });

  it('resumes a cancelled run from its checkpoint to exactly the result of an uninterrupted run', async () => {
    const c = await importPlanted(tempDir(), 8);
    const whole = await c.call('train:start', { config });
    expect((await c.jobs.finished(whole.jobId)).state).toBe('done');

    // Cancel once the first epoch is checkpointed (its epoch point comes after the checkpoint).
    const { jobId, runId } = await c.call('train:start', { config });
    const off = c.subscribe((event, payload) => {
      const { runId: id, points } = payload as { runId: number; points: CurvePoint[] };
      if (event === 'train:curve' && id === runId && points.some((p) => p.kind === 'epoch')) {
        off();
        c.jobs.cancel(jobId);
      }
    });
    expect((await c.jobs.finished(jobId)).state).toBe('cancelled');
    const cancelled = await c.call('runs:get', { id: runId });
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.resumable).toBe(true);
    const at = loadCheckpoint(c.requireProject().db, runId, 'last')!.epoch;
    expect(at).toBeGreaterThanOrEqual(1);
    expect(at).toBeLessThan(config.epochs);

    const resumed = await c.call('train:start', { resume: runId });
    expect(resumed.runId).toBe(runId);
    const job = await c.jobs.finished(resumed.jobId);
    expect(job.error).toBeNull();
    expect(job.state).toBe('done');
    const a = await c.call('runs:get', { id: whole.runId });
    const b = await c.call('runs:get', { id: runId });
    expect(b.status).toBe('done');
    expect(b.model!.bestEpoch).toBe(a.model!.bestEpoch);
    // The same curve, point for point (the interrupted epoch's points were replaced).
    expect(b.curves.map((p) => [p.kind, p.step])).toEqual(a.curves.map((p) => [p.kind, p.step]));
    b.curves.forEach((p, i) => expect(p.loss).toBeCloseTo(a.curves[i]!.loss, 5));

    const pa = predictions(c, whole.runId);
    const pb = predictions(c, runId);
    expect(pb.map((r) => r.imageId)).toEqual(pa.map((r) => r.imageId));
    let largest = 0;
    pa.forEach((r, i) => r.probabilities.forEach((p, j) => (largest = Math.max(largest, Math.abs(p - pb[i]!.probabilities[j]!)))));
    expect(largest).toBeLessThan(1e-6);
    const wa = loadCheckpoint(c.requireProject().db, whole.runId, 'best')!.weights;
    const wb = loadCheckpoint(c.requireProject().db, runId, 'best')!.weights;
    for (const [name, w] of wa) expect(Array.from(wb.get(name)!.data), name).toEqual(Array.from(w.data));

    // A finished run does not resume.
    await expect(c.call('train:start', { resume: runId })).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
