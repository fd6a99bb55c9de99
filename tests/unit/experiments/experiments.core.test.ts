/** The experiments area through the core on a real project: baselines with runs, diagnosis, ensembles, re-scoring, reports and a search. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Core } from '../../../src/main/core';
import { tempDir } from '../../helpers/fixtures';
import { importPlantedProject } from '../train/plantedDataset';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

const quick = { views: 0, folds: 2, epochs: 8, learningRate: 0.01, batchSize: 32 };

async function train(c: Core, config: Record<string, unknown>) {
  const { jobId, runId } = await c.call('train:start', { config });
  const job = await c.jobs.finished(jobId);
  expect(job.error).toBeNull();
  return runId;
}

describe('experiments through the core', () => {
  it('stores baselines and in-sample train metrics with a run, diagnoses it, ensembles, re-scores, compares and reports', async () => {
    process.env.LOUPE_OFFLINE = '1';
    const dir = tempDir();
    ({ core } = await importPlantedProject(dir, 16, { errors: 3 }));
    const c = core!;
    const a = await train(c, { ...quick, seed: 1 });
    const b = await train(c, { ...quick, seed: 2, head: 'mlp', hidden: 32 });
    const run = await c.call('runs:get', { id: a });
    expect(run.metrics!.trainInSample!.count).toBe(run.metrics!.train!.count);

    // Baselines came with the run; the majority baseline is recomputable by hand from its predictions.
    const info = (await c.call('experiments:runs', {})).find((r) => r.runId === a)!;
    expect(info.role).toBe('run');
    const baselines = info.baselines!;
    expect(baselines).toEqual(await c.call('experiments:baselines', { runId: a }));
    const trainCounts = new Map<string, number>();
    const ids = (await c.call('images:ids', { filter: { split: 'train' } })).ids;
    for (const id of ids) {
      const d = await c.call('images:get', { id });
      if (d.label) trainCounts.set(d.label, (trainCounts.get(d.label) ?? 0) + 1);
    }
    const most = Math.max(...trainCounts.values());
    expect(trainCounts.get(baselines.majority.className)).toBe(most);
    expect(baselines.linear!.valid!.count).toBe(run.metrics!.valid!.count);
    expect(baselines.lift.linear.valid).toBeCloseTo(run.metrics!.valid!.accuracy - baselines.linear!.valid!.accuracy);
    // Colour classes are easy from 8x8 grey pixels too, and far above the majority class.
    expect(baselines.linear!.valid!.accuracy).toBeGreaterThan(baselines.majority.valid!.accuracy);

    // Goal and diagnosis.
    expect(await c.call('experiments:goal', {})).toBeNull();
    const goal = await c.call('experiments:setGoal', { metric: 'accuracy', target: 0.99, human: 0.995 });
    expect(goal!.targetError).toBeCloseTo(0.01);
    const diagnosis = await c.call('experiments:diagnose', { runId: a });
    expect(diagnosis.errors.goal).toBeCloseTo(0.01);
    expect(diagnosis.errors.train).toBeCloseTo(1 - run.metrics!.trainInSample!.accuracy);
    expect(diagnosis.errors.trainKFold).toBeCloseTo(1 - run.metrics!.train!.accuracy);

    // Ensemble of the two runs: a run with members, predictions in the table, queues working on it.
    const ens = await c.call('experiments:ensemble', { source: { kind: 'runs', runs: [a, b] } });
    expect((await c.jobs.finished(ens.jobId)).state).toBe('done');
    const ensemble = await c.call('runs:get', { id: ens.runId });
    expect(ensemble.status).toBe('done');
    const einfo = (await c.call('experiments:runs', {})).find((r) => r.runId === ens.runId)!;
    expect(einfo.role).toBe('ensemble');
    expect(einfo.members.map((m) => m.runId)).toEqual([a, b]);
    const worse = Math.min(...einfo.members.map((m) => m.accuracy.valid!));
    expect(ensemble.metrics!.valid!.accuracy).toBeGreaterThanOrEqual(worse);
    const queue = await c.call('review:queue', { runId: ens.runId, kind: 'loss', limit: 5 });
    expect(queue.rows.length).toBe(5);
    await expect(c.call('experiments:ensemble', { source: { kind: 'runs', runs: [a, a] } })).rejects.toMatchObject({ code: 'VALIDATION' });

    // Relabel a test image: re-scoring flags the drift, the comparison warns and counts fixed/broken.
    const testIds = (await c.call('images:ids', { filter: { split: 'test' } })).ids;
    const first = await c.call('images:get', { id: testIds[0]! });
    const other = ['red', 'green', 'blue'].find((n) => n !== first.label)!;
    await c.call('images:relabel', { ids: [testIds[0]!], className: other });
    const rescored = await c.call('experiments:rescore', { runId: a });
    expect(rescored.drift).toMatchObject({ changed: true, relabelled: 1, added: 0, removed: 0 });
    expect(rescored.stored.test!.count).toBe(rescored.today.test!.count);
    const later = await train(c, { ...quick, seed: 3 });
    const compared = await c.call('experiments:compare', { a, b: later });
    expect(compared.mismatch).toBe(true);
    expect(compared.warning).toMatch(/different valid\/test labels/);
    expect(compared.rescored.b.drift.changed).toBe(false);
    expect(compared.counts.fixed + compared.counts.broken + compared.counts.other).toBe(compared.total);
    for (let i = 1; i < compared.rows.length; i++) expect(Math.abs(compared.rows[i]!.confidenceChange)).toBeLessThanOrEqual(Math.abs(compared.rows[i - 1]!.confidenceChange));
    const broken = await c.call('experiments:compare', { a, b: later, filter: 'broken' });
    expect(broken.rows.every((r) => r.change === 'broken')).toBe(true);

    // The report: self-contained, the run's metrics, inline thumbnails, no external URL.
    const out = path.join(dir, 'report.html');
    const report = await c.call('experiments:report', { runId: a, compareTo: later, out });
    const html = fs.readFileSync(out, 'utf8');
    expect(report.bytes).toBe(Buffer.byteLength(html));
    expect(html).toContain(`Loupe run ${a}`);
    expect(html).toContain(`${(run.metrics!.valid!.accuracy * 100).toFixed(1)}%`);
    expect(html).toContain('data:image/webp;base64,');
    expect(html).toContain('<svg');
    expect(html).toContain('Diagnosis');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link|src="(?!data:)/);
    // Never over a file that is not a report (an image beside the dataset, say).
    const photo = path.join(dir, 'photo.jpg');
    fs.writeFileSync(photo, 'not a report');
    await expect(c.call('experiments:report', { runId: a, out: photo })).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/not an \.html file/) });
    expect(fs.readFileSync(photo, 'utf8')).toBe('not a report');
  }, 240_000);

  it('runs an ASHA search whose trials are child runs, holds the training slot, and applies the best', async () => {
    process.env.LOUPE_OFFLINE = '1';
    ({ core } = await importPlantedProject(tempDir(), 12));
    const c = core!;
    await expect(c.call('experiments:searchStart', { base: { mode: 'quick' }, space: { arch: ['small-cnn'] } })).rejects.toMatchObject({ code: 'VALIDATION' });
    const { jobId, searchId } = await c.call('experiments:searchStart', {
      base: { ...quick },
      space: { learningRate: { min: 1e-3, max: 3e-2 }, head: ['softmax', 'mlp'], hidden: [16, 32] },
      asha: { minBudget: 1, maxBudget: 3, eta: 3 },
      trials: 3,
      seed: 5,
    });
    await expect(c.call('train:start', { config: quick })).rejects.toMatchObject({ code: 'CONFLICT' });
    // The checks wait for the search too: one training job at a time.
    await expect(c.call('train:lrFind', { config: { mode: 'full', arch: 'small-cnn' } })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/search is training/) });
    const job = await c.jobs.finished(jobId);
    expect(job.error).toBeNull();
    const search = await c.call('experiments:search', { id: searchId });
    expect(search.status).toBe('done');
    expect(search.rungs).toEqual([1, 3]);
    // 3 trials at 1 epoch, the best one promoted to 3; the other two stopped at the first rung.
    expect(search.trials.map((t) => t.rungs.length).sort()).toEqual([1, 1, 2]);
    expect(search.trials.filter((t) => t.status === 'stopped').map((t) => t.stoppedAt)).toEqual([1, 1]);
    const promoted = search.trials.find((t) => t.rungs.length === 2)!;
    const firstRung = search.trials.map((t) => t.rungs[0]!.validLoss!);
    expect(promoted.rungs[0]!.validLoss).toBe(Math.min(...firstRung));
    expect(search.best).toMatchObject({ trial: promoted.index, budget: 3 });
    const runs = (await c.call('experiments:runs', {})).filter((r) => r.searchId === searchId);
    expect(runs).toHaveLength(4);
    expect(runs.every((r) => r.role === 'trial')).toBe(true);
    const best = await c.call('experiments:applyBest', { id: searchId });
    expect(best.config).toMatchObject({ mode: 'quick', epochs: 3, folds: 2, ...promoted.params });
    expect((await c.call('experiments:searches', {}))[0]).toMatchObject({ id: searchId, trialsStarted: 3, trialsFinished: 3 });
  }, 240_000);
});
