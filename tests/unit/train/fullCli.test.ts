/** `loupe train --mode full` in a child process, as a person runs it. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { tempDir } from '../../helpers/fixtures';
import { expectOneErrorLine, loupe } from '../cli/run';
import { writePlantedDataset } from './plantedDataset';

describe('loupe train --mode full', () => {
  it('trains the network, prints the run as JSON, and documents its options', async () => {
    const dir = tempDir();
    const project = path.join(dir, 'p.loupe');
    const root = path.join(dir, 'data');
    await writePlantedDataset(root, 8, 0, 16);
    const core = new Core();
    await core.call('project:open', { file: project, create: true });
    const { jobId } = await core.call('dataset:import', { source: root });
    expect((await core.jobs.finished(jobId)).state).toBe('done');
    await core.shutdown();

    const run = await loupe(['train', '--project', project, '--mode', 'full', '--arch', 'small-cnn', '--epochs', '2', '--batch-size', '8', '--lr', '0.003', '--schedule', 'cosine', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { runId: number; state: string; model: { arch: string; inputShape: number[] }; metrics: { train: unknown; trainInSample: { count: number }; valid: { count: number } } };
    expect(out.state).toBe('done');
    expect(out.model).toMatchObject({ arch: 'small-cnn', inputShape: [16, 16, 3] });
    expect(out.metrics.train).toBeNull();
    expect(out.metrics.trainInSample.count).toBeGreaterThan(0);
    expect(out.metrics.valid.count).toBeGreaterThan(0);

    // A finished run does not resume; the message says what to do.
    expectOneErrorLine(await loupe(['train', '--project', project, '--resume', String(out.runId), '--json']), /Start a new run/);
    expectOneErrorLine(await loupe(['train', '--project', project, '--mode', 'full', '--schedule', 'steps']), /schedule/);

    const help = await loupe(['train', '--help']);
    expect(help.code).toBe(0);
    for (const option of ['--arch', '--epochs', '--lr', '--batch-size', '--schedule', '--resume']) expect(help.stdout).toContain(option);
  });
});
