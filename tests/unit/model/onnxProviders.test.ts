import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { BackboneSpec } from '../../../src/main/model/backbones';
import { loadExtractor } from '../../../src/main/model/extractors';
import { createSession, providerOrder, type AdapterProbe } from '../../../src/main/model/onnxProviders';
import { tinyCnn, tinyCnnOnnx } from '../../../src/main/model/tinyOnnx';
import { tempDir } from '../../helpers/fixtures';

const model = tinyCnnOnnx(tinyCnn(16, 4, 8));
const noAdapter: AdapterProbe = async () => ({ kind: 'none', reason: 'no WebGPU adapter found by dawn.node' });

describe('onnxruntime execution providers', () => {
  it('tries each platform GPU provider first, WebGPU next, CPU last', () => {
    expect(providerOrder('win32', 'x64')).toEqual(['dml', 'webgpu', 'cpu']);
    expect(providerOrder('darwin', 'arm64')).toEqual(['coreml', 'webgpu', 'cpu']);
    expect(providerOrder('linux', 'x64')).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(providerOrder('linux', 'arm64')).toEqual(['webgpu', 'cpu']);
  });

  it('falls back to cpu when every provider asked for fails, with each reason, and the session runs', async () => {
    const { session, report } = await createSession(ort, model, {}, { providers: ['dml', 'coreml', 'cuda', 'webgpu'], probeAdapter: noAdapter });
    expect(report.provider).toBe('cpu');
    expect(report.label).toBe('CPU via onnxruntime');
    expect(report.tried.map((t) => t.name)).toEqual(['dml', 'coreml', 'cuda', 'webgpu', 'cpu']);
    expect(report.tried.at(-1)).toEqual({ name: 'cpu', loaded: true, reason: null });
    const supported = new Set(ort.listSupportedBackends().map((b) => b.name));
    for (const t of report.tried.slice(0, -1)) {
      expect(t.loaded).toBe(false);
      expect(t.reason).toMatch(/\S/);
      // A provider this build lacks is named as such, not tried.
      if (!supported.has(t.name)) expect(t.reason).toMatch(/not in this onnxruntime-node build/);
    }
    // CUDA's provider is a separate library the npm package installs only on request: named, not tried (no onnxruntime error log).
    const cuda = ort.listSupportedBackends().find((b) => b.name === 'cuda');
    if (cuda && !cuda.bundled && process.platform === 'linux') expect(report.tried.find((t) => t.name === 'cuda')!.reason).toMatch(/libonnxruntime_providers_cuda\.so is not installed/);
    // WebGPU without an adapter is not tried; the probe's reason is kept.
    if (supported.has('webgpu')) expect(report.tried.find((t) => t.name === 'webgpu')!.reason).toBe('no WebGPU adapter found by dawn.node');
    const input = new ort.Tensor('float32', new Float32Array(3 * 16 * 16).fill(0.5), [1, 3, 16, 16]);
    const out = await session.run({ [session.inputNames[0]!]: input });
    expect(out[session.outputNames[0]!]!.dims).toEqual([1, 8]);
    await session.release();
  });

  it('skips a software WebGPU adapter (slower than the CPU provider)', async () => {
    const software: AdapterProbe = async () => ({ kind: 'software', label: 'SwiftShader (software) via WebGPU' });
    const { report } = await createSession(ort, model, {}, { providers: ['webgpu'], probeAdapter: software });
    expect(report.provider).toBe('cpu');
    const supported = ort.listSupportedBackends().some((b) => b.name === 'webgpu');
    expect(report.tried[0]!.reason).toBe(supported ? 'SwiftShader (software) via WebGPU is a software adapter, slower than the CPU provider' : expect.stringMatching(/not in this/));
  });

  it('does not try WebGPU on an adapter it could not check (inside Electron it may be a software one)', async () => {
    const unknown: AdapterProbe = async () => ({ kind: 'unknown', reason: 'dawn.node cannot run inside Electron' });
    const { report } = await createSession(ort, model, {}, { providers: ['webgpu'], probeAdapter: unknown });
    expect(report.provider).toBe('cpu');
    const supported = ort.listSupportedBackends().some((b) => b.name === 'webgpu');
    expect(report.tried[0]!.reason).toEqual(supported ? expect.stringMatching(/could not be checked \(dawn.node cannot run inside Electron\)/) : expect.stringMatching(/not in this/));
  });

  it('an ONNX backbone reports its provider with its embeddings', async () => {
    const file = path.join(tempDir(), 'tiny.onnx');
    fs.writeFileSync(file, model);
    const spec: BackboneSpec = { name: 'tiny', key: 'tiny', kind: 'onnx', file, inputSize: 16, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    const extractor = await loadExtractor(spec, undefined, { providers: ['dml', 'cpu'], probeAdapter: noAdapter });
    expect(extractor.providers).toMatchObject({ provider: 'cpu', tried: [{ name: 'dml', loaded: false }, { name: 'cpu', loaded: true }] });
    expect(extractor.dim).toBe(8);
    await extractor.dispose();
  });
});
