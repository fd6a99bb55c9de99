import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../src/main/model/backend';
import { compareParity, parityCases, runParity, type ParityResult } from '../../../src/main/train/parity';
import { testAdapter } from './webgpuAdapter';

// WebGPU on dawn.node (SwiftShader here and in CI) against the cpu backend: the same network, the
// same seeded weights and batches, three Adam steps at batch 4. Software WebGPU is slow: tiny inputs.
const adapter = await testAdapter();

describe('WebGPU gradient parity (dawn.node)', () => {
  if (adapter.skip !== null) {
    it.skip(`skipped: ${adapter.skip}`, () => {});
    return;
  }
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  const onBackend = async (backend: string, run: () => Promise<ParityResult>) => {
    await tf.setBackend(backend);
    return run();
  };

  it('forcing webgpu selects the adapter and reports it as software', async () => {
    const { report } = await selectBackend({}, { choice: 'webgpu', software: true });
    expect(report.name).toBe('webgpu');
    expect(report.requested).toBe('webgpu');
    expect(report.host).toBe('process');
    expect(report.device).toMatchObject({ kind: 'gpu', software: adapter.found.device.software });
    expect(report.device.label).toBe(adapter.found.device.label);
    if (report.device.software) expect(report.device.label).toMatch(/\(software\) via WebGPU$/);
    expect(report.device.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    expect(tf.getBackend()).toBe('webgpu');
  });

  it('automatic selection never picks a software adapter, and says why', async () => {
    if (!adapter.found.device.software) return; // a hardware adapter is picked; covered by the forced test
    const { report } = await selectBackend({ 'tensorflow-gpu': () => Promise.reject(new Error('no CUDA here')) }, { software: true });
    expect(report.name).not.toBe('webgpu');
    const webgpu = report.tried.find((t) => t.name === 'webgpu')!;
    expect(webgpu.loaded).toBe(false);
    expect(webgpu.reason).toMatch(/software adapter, slower than wasm/);
    expect(webgpu.device?.software).toBe(true);
  });

  for (const c of Object.values(parityCases)) {
    it(`${c.arch}: logits, gradients, losses and weights after ${c.steps} Adam steps match cpu; no tensor leaks`, async () => {
      const gpu = await onBackend('webgpu', () => runParity(tf, c));
      const cpu = await onBackend('cpu', () => runParity(tf, c));
      expect(gpu.backend).toBe('webgpu');
      expect(cpu.backend).toBe('cpu');
      const diffs = compareParity(gpu, cpu);
      // Every trainable weight has a gradient, every weight a value after the steps.
      expect(diffs.filter((d) => d.field.startsWith('gradients/')).length).toBe(Object.keys(cpu.gradients).length);
      const worst = (prefix: string) => diffs.find((d) => d.field.startsWith(prefix))!;
      // Float32 on different kernels, relative to each array's scale (measured here: about 2e-6 for
      // logits and gradients; Adam's normalised steps make the weights' difference about 2e-5).
      for (const prefix of ['logits', 'losses', 'gradients/']) expect(worst(prefix).relative, JSON.stringify(worst(prefix))).toBeLessThan(1e-5);
      for (const prefix of ['evalLogits', 'weights/']) expect(worst(prefix).relative, JSON.stringify(worst(prefix))).toBeLessThan(1e-4);
      // The weights moved: the comparison is of trained weights, not of the initial ones.
      expect(gpu.losses[0]).not.toBe(gpu.losses.at(-1));
      // After the first step (Adam's moments appear) the tensor count is flat.
      const steady = gpu.tensorsAfterStep.slice(1);
      expect(new Set(steady).size, `tensors after each step: ${gpu.tensorsAfterStep.join(', ')}`).toBe(1);
      expect(gpu.tensorsAfterStep).toEqual(cpu.tensorsAfterStep);
    }, 180_000);
  }
});
