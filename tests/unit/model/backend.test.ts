import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendSelector, BackendSkipped, cpuDevice, cudaLibraries, missingCudaLibrary, selectBackend, type BackendLoader } from '../../../src/main/model/backend';
import { describeAdapter } from '../../../src/main/model/webgpu';
import { backendNames } from '../../../src/shared/train';
import { LoupeError } from '../../../src/shared/errors';

const fail = (message: string): BackendLoader => () => Promise.reject(new Error(message));

describe('selectBackend', () => {
  it('takes the first backend that loads, in order, and says why the better ones did not', async () => {
    // Whichever backend this machine has: the ones before it failed with a reason, it loaded, and it runs.
    const { tf, report } = await selectBackend();
    const names = report.tried.map((t) => t.name);
    expect(names).toEqual(backendNames.slice(0, names.length));
    expect(report.tried.at(-1)).toMatchObject({ name: report.name, loaded: true, reason: null });
    for (const earlier of report.tried.slice(0, -1)) {
      expect(earlier.loaded).toBe(false);
      expect(earlier.reason).toMatch(/\S/);
    }
    expect(report.requested).toBe('auto');
    expect(report.host).toBe('process');
    expect(report.device.label).toMatch(/\S/);
    expect(report.tried.at(-1)!.device).toEqual(report.device);
    expect(tf.getBackend()).toBe(report.name === 'tensorflow-gpu' ? 'tensorflow' : report.name);
    expect(Array.from(await tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).data())).toEqual([4, 6]);
  });

  it('names a missing native package in its reason and moves on to the next', async () => {
    const missing = (name: string) => async () => {
      const specifier = name;
      return (await import(specifier)) as never;
    };
    const { report } = await selectBackend({
      'tensorflow-gpu': missing('@tensorflow/loupe-test-missing-gpu'),
      webgpu: missing('loupe-test-missing-webgpu'),
      tensorflow: missing('@tensorflow/loupe-test-missing'),
    });
    expect(report.tried[0]!.reason).toMatch(/Cannot find (module|package) '@tensorflow\/loupe-test-missing-gpu'/);
    expect(report.tried[1]!.reason).toMatch(/Cannot find (module|package) 'loupe-test-missing-webgpu'/);
    expect(report.tried[2]!.reason).toMatch(/Cannot find (module|package) '@tensorflow\/loupe-test-missing'/);
    expect(report.tried[3]).toMatchObject({ name: 'wasm', loaded: true, reason: null });
    // The wasm device says how many threads it computes on.
    expect(report.device).toMatchObject({ kind: 'cpu', software: false });
    expect(report.device.label).toMatch(/^CPU \(wasm, \d+ threads?\)$/);
  });

  it('falls through to cpu when wasm fails, keeping every reason', async () => {
    const { report } = await selectBackend({
      'tensorflow-gpu': fail('no CUDA\nlong trace'),
      webgpu: fail('no WebGPU adapter found by dawn.node'),
      tensorflow: fail('libtensorflow.so: cannot open shared object file'),
      wasm: fail('wasm binary missing'),
    });
    expect(report.name).toBe('cpu');
    expect(report.device.label).toBe('CPU (JavaScript)');
    expect(report.tried.map(({ name, loaded, reason }) => ({ name, loaded, reason }))).toEqual([
      { name: 'tensorflow-gpu', loaded: false, reason: 'no CUDA' },
      { name: 'webgpu', loaded: false, reason: 'no WebGPU adapter found by dawn.node' },
      { name: 'tensorflow', loaded: false, reason: 'libtensorflow.so: cannot open shared object file' },
      { name: 'wasm', loaded: false, reason: 'wasm binary missing' },
      { name: 'cpu', loaded: true, reason: null },
    ]);
  });

  it('keeps the device of a candidate that was skipped (a software adapter) with its reason', async () => {
    const swiftshader = describeAdapter({ info: { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' }, limits: {} });
    const { report } = await selectBackend({
      'tensorflow-gpu': fail('no CUDA'),
      webgpu: async ({ forced }) => {
        expect(forced).toBe(false);
        throw new BackendSkipped(`${swiftshader.label} is a software adapter`, swiftshader);
      },
      tensorflow: fail('no libtensorflow'),
    });
    expect(report.name).toBe('wasm');
    expect(report.tried[1]).toEqual({ name: 'webgpu', loaded: false, reason: 'SwiftShader (software) via WebGPU is a software adapter', device: swiftshader });
  });

  it('a forced backend is the only one tried, and its failure is a BACKEND_UNAVAILABLE error with the reason', async () => {
    const { report } = await selectBackend({}, { choice: 'cpu' });
    expect(report).toMatchObject({ name: 'cpu', requested: 'cpu', tried: [{ name: 'cpu', loaded: true }] });

    const error = await selectBackend({ webgpu: fail('no WebGPU adapter found by dawn.node') }, { choice: 'webgpu' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoupeError);
    expect((error as LoupeError).code).toBe('BACKEND_UNAVAILABLE');
    expect((error as LoupeError).message).toMatch(/webgpu backend was asked for but cannot run here \(webgpu: no WebGPU adapter found by dawn.node\)/);
  });
});

describe('BackendSelector', () => {
  it('switches to a forced backend, lets requests without a preference join it, and waits for it to be free before switching back', async () => {
    const selector = new BackendSelector({ order: ['wasm', 'cpu'] });
    const auto = await selector.acquire('auto');
    expect(auto.selected.report).toMatchObject({ name: 'wasm', requested: 'auto' });
    auto.release();

    const forced = await selector.acquire('cpu');
    expect(forced.selected.report).toMatchObject({ name: 'cpu', requested: 'cpu' });
    const tf = forced.selected.tf;
    expect(tf.getBackend()).toBe('cpu');
    // An embedding during the forced run asks for nothing: it joins the backend in use.
    const joined = await selector.acquire(null);
    expect(joined.selected.report.name).toBe('cpu');
    joined.release();
    // A run that asks for auto waits until the forced run is over, then gets the automatic selection (selected once).
    let switched = false;
    const next = selector.acquire('auto').then((lease) => {
      switched = true;
      return lease;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(switched).toBe(false);
    expect(tf.getBackend()).toBe('cpu');
    forced.release();
    const again = await next;
    expect(again.selected).toBe(auto.selected);
    expect(tf.getBackend()).toBe('wasm');
    again.release();
    // Nothing in use: no preference means the automatic selection.
    const idle = await selector.acquire(null);
    expect(idle.selected.report.requested).toBe('auto');
    idle.release();
  });

  it('keeps requests without a preference off WebGPU (their synchronous reads cannot run in Node), while a full run may take it', async () => {
    const tf = await import('@tensorflow/tfjs');
    const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
    // A stand-in hardware adapter: a backend registered under the webgpu name, never the default.
    if (!tf.findBackendFactory('webgpu')) tf.registerBackend('webgpu', () => new MathBackendCPU(), -1);
    const device = { label: 'Test GPU via WebGPU', kind: 'gpu' as const, vendor: 'test', architecture: null, description: null, software: false, limits: {} };
    const selector = new BackendSelector({ order: ['webgpu', 'wasm', 'cpu'], loaders: { webgpu: async () => ({ tf, device }) } });
    const full = await selector.acquire('auto');
    expect(full.selected.report).toMatchObject({ name: 'webgpu', device: { label: 'Test GPU via WebGPU' } });
    // An embedding during the WebGPU run does not join it: it waits, then gets the order without WebGPU.
    let started = false;
    const embed = selector.acquire(null).then((lease) => {
      started = true;
      return lease;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toBe(false);
    full.release();
    const lease = await embed;
    expect(lease.selected.report.name).toBe('wasm');
    expect(lease.selected.report.tried.map((t) => t.name)).not.toContain('webgpu');
    lease.release();
  });

  it('refuses the second TensorFlow build in one process instead of silently keeping the first', async () => {
    const tf = await import('@tensorflow/tfjs');
    const { MathBackendCPU } = await import('@tensorflow/tfjs-backend-cpu');
    const named = (name: string) => async () => {
      if (!tf.findBackendFactory(name)) tf.registerBackend(name, () => new MathBackendCPU(), -1);
      return tf;
    };
    const selector = new BackendSelector({ loaders: { 'tensorflow-gpu': named('tensorflow'), tensorflow: named('tensorflow') } });
    const gpu = await selector.acquire('tensorflow-gpu');
    expect(gpu.selected.report.name).toBe('tensorflow-gpu');
    gpu.release();
    await expect(selector.acquire('tensorflow')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/already runs tensorflow-gpu.*Restart Loupe/) });
  });

  it('forgets a failed selection, so a later request tries again', async () => {
    let attempts = 0;
    const selector = new BackendSelector({
      loaders: {
        webgpu: async () => {
          attempts++;
          throw new Error('no WebGPU adapter found by dawn.node');
        },
      },
    });
    await expect(selector.acquire('webgpu')).rejects.toThrow(/no WebGPU adapter/);
    await expect(selector.acquire('webgpu')).rejects.toThrow(/no WebGPU adapter/);
    expect(attempts).toBe(2);
    // A failed acquire holds nothing: another backend is not kept waiting.
    const cpu = await selector.acquire('cpu');
    expect(cpu.selected.report.name).toBe('cpu');
    cpu.release();
  });
});

describe('CUDA probe for tfjs-node-gpu', () => {
  it('names the first CUDA library that is missing, and nothing when all are there', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-cuda-'));
    try {
      const libs = cudaLibraries.linux!;
      expect(missingCudaLibrary('linux', [dir])).toBe('libcuda.so.1');
      // A CUDA 12 machine: the driver and CUDA 12's runtime, not the 11.0 one libtensorflow 2.9.1 loads.
      fs.writeFileSync(path.join(dir, 'libcuda.so.1'), '');
      fs.writeFileSync(path.join(dir, 'libcudart.so.12'), '');
      expect(missingCudaLibrary('linux', [dir])).toBe('libcudart.so.11.0');
      for (const lib of libs.slice(0, -1)) fs.writeFileSync(path.join(dir, lib), '');
      expect(missingCudaLibrary('linux', [dir])).toBe('libcudnn.so.8');
      fs.writeFileSync(path.join(dir, 'libcudnn.so.8'), '');
      expect(missingCudaLibrary('linux', [dir])).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('describeAdapter', () => {
  it('labels hardware adapters by their description and flags software rasterisers', () => {
    const nvidia = describeAdapter({
      info: { vendor: 'nvidia', architecture: 'ada-lovelace', description: 'NVIDIA GeForce RTX 4070' },
      limits: { maxBufferSize: 2 ** 31, maxStorageBuffersPerShaderStage: 16, maxTextureDimension2D: 16384 },
    });
    expect(nvidia).toEqual({
      label: 'NVIDIA GeForce RTX 4070 via WebGPU',
      kind: 'gpu',
      vendor: 'nvidia',
      architecture: 'ada-lovelace',
      description: 'NVIDIA GeForce RTX 4070',
      software: false,
      limits: { maxBufferSize: 2 ** 31, maxStorageBuffersPerShaderStage: 16 },
    });
    expect(describeAdapter({ info: { vendor: 'apple', architecture: 'metal-3', description: 'Apple M2' }, limits: {} }).label).toBe('Apple M2 via WebGPU');
    const llvmpipe = describeAdapter({ info: { vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)' }, limits: {} });
    expect(llvmpipe).toMatchObject({ software: true, label: 'llvmpipe (software) via WebGPU' });
    expect(describeAdapter({ info: { vendor: 'intel', description: 'Some GPU', isFallbackAdapter: true }, limits: {} }).software).toBe(true);
    expect(cpuDevice('CPU (wasm, 1 thread)')).toMatchObject({ kind: 'cpu', software: false, label: 'CPU (wasm, 1 thread)' });
  });
});
