/** The checks through the core (jobs with progress, results and cancel), and `loupe lr-find` / `loupe sanity` in a child process, on a tiny dataset. */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LrFindResult, OverfitResult } from '../../../src/shared/train';
import { Core } from '../../../src/main/core';
import { tempDir } from '../../helpers/fixtures';
import { expectOneErrorLine, loupe } from '../cli/run';
import { writePlantedDataset } from './plantedDataset';

async function tinyProject(): Promise<string> {
  const dir = tempDir();
  const project = path.join(dir, 'p.loupe');
  const root = path.join(dir, 'data');
  await writePlantedDataset(root, 8, 0, 16);
  const core = new Core();
  await core.call('project:open', { file: project, create: true });
  const { jobId } = await core.call('dataset:import', { source: root });
  expect((await core.jobs.finished(jobId)).state).toBe('done');
  await core.shutdown();
  return project;
}

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

describe('train:lrFind and train:sanity through the core', () => {
  it('are jobs with progress whose results are an LrFindResult and an OverfitResult, and cancel through the job', async () => {
    const project = await tinyProject();
    core = new Core();
    await core.call('project:open', { file: project, create: false });
    const steps = new Set<string>();
    core.subscribe((event, payload) => {
      if (event === 'jobs:update') steps.add((payload as { progress: { step: string } | null }).progress?.step ?? '');
    });
    const sanity = await core.call('train:sanity', { config: { learningRate: 0.001 } });
    // One check of a kind at a time, and no run beside it.
    await expect(core.call('train:sanity', { config: {} })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(core.call('train:start', { config: { mode: 'full', epochs: 1 } })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('sanity check is running'),
    });
    const done = await core.jobs.finished(sanity.jobId);
    expect(done.state).toBe('done');
    const overfit = done.result as OverfitResult;
    expect(overfit.passed).toBe(true);
    expect(overfit.attempts.map((a) => a.losses.length)).toEqual([100, 100]);
    expect(steps).toContain('overfitting one batch');

    const sweep = await core.call('train:lrFind', { config: { batchSize: 8 } });
    const cancelAt = new Promise<void>((resolve) => {
      core!.subscribe((event, payload) => {
        const job = payload as { id: string; progress: { step: string; current: number } | null };
        if (event === 'jobs:update' && job.id === sweep.jobId && job.progress?.step === 'finding the learning rate' && job.progress.current >= 3) resolve();
      });
    });
    await cancelAt;
    core.jobs.cancel(sweep.jobId);
    expect((await core.jobs.finished(sweep.jobId)).state).toBe('cancelled');
    // The process is free again: the next check runs.
    const again = await core.call('train:lrFind', { config: { batchSize: 8 } });
    const result = (await core.jobs.finished(again.jobId)).result as LrFindResult;
    expect(result.suggestion).not.toBeNull();
    await expect(core.call('train:lrFind', { config: { arch: 'finetune' } })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});

describe('loupe lr-find and loupe sanity', () => {
  it('lr-find prints a suggestion, and every point with --json', async () => {
    const project = await tinyProject();
    const text = await loupe(['lr-find', '--project', project, '--batch-size', '8']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/Suggested learning rate: \d\.\de-\d+ \(steepest/);
    expect(text.stdout).toMatch(/loupe train --mode full --lr /);

    const json = await loupe(['lr-find', '--project', project, '--batch-size', '8', '--seed', '3', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout) as LrFindResult;
    expect(result.points.length).toBeGreaterThan(20);
    expect(result.points.length).toBeLessThanOrEqual(100);
    expect(result.points[0]!.learningRate).toBeCloseTo(1e-7, 12);
    expect(result.points.every((p, i) => i === 0 || p.learningRate > result.points[i - 1]!.learningRate)).toBe(true);
    expect(result.suggestion!.steepest).toBeGreaterThan(1e-7);
    expect(result.suggestion!.steepest).toBeLessThan(10);
    expect(typeof result.stopped).toBe('string');

    expectOneErrorLine(await loupe(['lr-find', '--project', project, '--arch', 'vgg']), /arch/);
  });

  it('sanity passes at a sound rate, and at lr 10 exits 1 naming the rate as far too high', async () => {
    const project = await tinyProject();
    const ok = await loupe(['sanity', '--project', project, '--lr', '0.001']);
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/passed/);
    expect(ok.stdout).toMatch(/pass: 1 image/);
    expect(ok.stdout).toMatch(/pass: 8 images/);

    const bad = await loupe(['sanity', '--project', project, '--lr', '10', '--json']);
    expect(bad.code, bad.stderr).toBe(1);
    const result = JSON.parse(bad.stdout) as OverfitResult;
    expect(result.passed).toBe(false);
    expect(result.attempts.map((a) => a.images)).toEqual([1, 8]);
    expect(result.causes.join(' ')).toMatch(/far too high/);

    const help = await loupe(['sanity', '--help']);
    expect(help.code).toBe(0);
    for (const option of ['--arch', '--lr', '--seed']) expect(help.stdout).toContain(option);
  });
});
