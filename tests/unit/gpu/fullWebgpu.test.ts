/** `loupe train --mode full --backend webgpu` in a child process: a full run on dawn.node's WebGPU (SwiftShader here), recorded with its device. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import type { BackendDevice, BackendProbe } from '../../../src/shared/train';
import { tempDir } from '../../helpers/fixtures';
import { expectOneErrorLine, loupe } from '../cli/run';
import { writePlantedDataset } from '../train/plantedDataset';
import { testAdapter } from './webgpuAdapter';

const adapter = await testAdapter();

describe('loupe train --mode full --backend webgpu', () => {
  if (adapter.skip !== null) {
    it.skip(`skipped: ${adapter.skip}`, () => {});
    return;
  }

  it('trains one epoch on WebGPU, records the device and the host, and refuses --backend on a quick run', async () => {
    const dir = tempDir();
    const project = path.join(dir, 'p.loupe');
    const root = path.join(dir, 'data');
    await writePlantedDataset(root, 6, 0, 12);
    const core = new Core();
    await core.call('project:open', { file: project, create: true });
    const { jobId } = await core.call('dataset:import', { source: root });
    expect((await core.jobs.finished(jobId)).state).toBe('done');
    await core.shutdown();

    // The software adapter only when asked: the training process inherits the opt-in.
    process.env.LOUPE_WEBGPU_SOFTWARE = '1';
    try {
      const run = await loupe(['train', '--project', project, '--mode', 'full', '--backend', 'webgpu', '--arch', 'small-cnn', '--epochs', '1', '--batch-size', '8', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const out = JSON.parse(run.stdout) as { state: string; backend: string; device: BackendDevice; host: string; backendTried: BackendProbe[]; model: { arch: string } };
      expect(out.state).toBe('done');
      expect(out.backend).toBe('webgpu');
      expect(out.host).toBe('process');
      expect(out.device).toMatchObject({ kind: 'gpu', label: adapter.found.device.label, software: adapter.found.device.software });
      expect(out.backendTried).toEqual([expect.objectContaining({ name: 'webgpu', loaded: true, reason: null })]);
      expect(out.model.arch).toBe('small-cnn');
    } finally {
      delete process.env.LOUPE_WEBGPU_SOFTWARE;
    }

    expectOneErrorLine(await loupe(['train', '--project', project, '--backend', 'webgpu']), /--backend: only a full run/);
    expectOneErrorLine(await loupe(['train', '--project', project, '--mode', 'full', '--backend', 'metal']), /backend/);
  }, 300_000);
});
