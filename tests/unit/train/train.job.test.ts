import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { tempDir } from '../../helpers/fixtures';
import { importPlantedProject } from './plantedDataset';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

async function importPlanted(dir: string, perClass: number, errors: number) {
  const imported = await importPlantedProject(dir, perClass, { errors });
  core = imported.core;
  return imported;
}

describe('quick training through the core', () => {
  it('trains in the training process, stores the run, finds planted label errors, and retrains from the cache', async () => {
    process.env.LOUPE_OFFLINE = '1';
    const { core, planted } = await importPlanted(tempDir(), 30, 6);
    const curves: number[] = [];
    core.subscribe((event, payload) => {
      if (event === 'train:curve') curves.push((payload as { points: unknown[] }).points.length);
    });
    const { jobId, runId } = await core.call('train:start', { config: { views: 1, folds: 3, epochs: 30, learningRate: 0.01, batchSize: 32 } });
    const job = await core.jobs.finished(jobId);
    expect(job.error).toBeNull();
    expect(job.state).toBe('done');
    const run = await core.call('runs:get', { id: runId });
    expect(run.status).toBe('done');
    expect(run.backbone).toMatchObject({ name: 'baseline', kind: 'baseline' });
    expect(run.backbone!.note).toMatch(/pretrained backbone would do better/);
    // Whichever backend loads on this machine is recorded, with the reasons of the ones before it.
    expect(run.backend!.tried.at(-1)).toMatchObject({ name: run.backend!.name, loaded: true, reason: null });
    expect(run.backend!.device.label).toBeTruthy();
    expect(run.backend!.tried.slice(0, -1).every((t) => !t.loaded && t.reason)).toBe(true);
    expect(run.views.used).toBe(1);
    expect(run.timings!.embedded).toBeGreaterThan(96);
    expect(run.metrics!.test!.accuracy).toBeGreaterThan(0.66);
    expect(run.curves.some((c) => c.kind === 'epoch' && c.phase === 'final')).toBe(true);
    expect(curves.length).toBeGreaterThan(0);

    const queue = await core.call('review:queue', { kind: 'label', limit: 20 });
    const flagged = queue.rows.map((r) => r.path);
    const found = planted.filter((p) => flagged.slice(0, planted.length + 2).includes(p));
    expect(found.length).toBeGreaterThanOrEqual(planted.length - 2);
    const first = queue.rows.find((r) => planted.includes(r.path))!;
    expect(first.predicted).toBe(first.path.match(/really_(\w+)\.png/)![1]);

    // Accept the suggestion: the image leaves the queue at once; undo brings it back.
    await core.call('images:relabel', { ids: [first.imageId], className: first.predicted });
    const after = await core.call('review:queue', { kind: 'label', limit: 50 });
    expect(after.rows.map((r) => r.imageId)).not.toContain(first.imageId);
    await core.call('changes:undo', {});
    expect((await core.call('review:queue', { kind: 'label', limit: 50 })).rows.map((r) => r.imageId)).toContain(first.imageId);

    const loss = await core.call('review:queue', { kind: 'loss', limit: 5 });
    for (let i = 1; i < loss.rows.length; i++) expect(loss.rows[i]!.loss).toBeLessThanOrEqual(loss.rows[i - 1]!.loss);
    const pairs = await core.call('review:pairs', {});
    expect(pairs[0]!.total).toBeGreaterThan(0);

    // Retrain: same config, every vector from the cache.
    const again = await core.call('train:retrain', {});
    expect((await core.jobs.finished(again.jobId)).state).toBe('done');
    const rerun = await core.call('runs:get', { id: again.runId });
    expect(rerun.config).toEqual(run.config);
    expect(rerun.timings!.embedded).toBe(0);
    const compare = await core.call('runs:compare', { a: runId, b: again.runId });
    expect(compare.deltas.length).toBeGreaterThan(0);
    expect((await core.call('runs:list', {})).map((r) => r.id)).toEqual([again.runId, runId]);
  });

  it('cancels a run between batches and records it as cancelled', async () => {
    process.env.LOUPE_OFFLINE = '1';
    const { core } = await importPlanted(tempDir(), 20, 0);
    const { jobId, runId } = await core.call('train:start', { config: { views: 0, epochs: 500, patience: 100, batchSize: 8 } });
    await new Promise<void>((resolve) => {
      const off = core.subscribe((event) => {
        if (event === 'train:curve') {
          off();
          resolve();
        }
      });
    });
    core.jobs.cancel(jobId);
    expect((await core.jobs.finished(jobId)).state).toBe('cancelled');
    expect((await core.call('runs:get', { id: runId })).status).toBe('cancelled');
  });
});
