/**
 * GPU inference for ONNX backbones: onnxruntime-node's execution providers, chosen per platform
 * (DirectML on Windows, CoreML on macOS, CUDA on Linux x64, WebGPU where the build has it), each
 * tried in order by creating the session with it, CPU last. The report says which one runs and why
 * each one before it did not (not in this build, a library that did not load, no WebGPU adapter, a
 * software adapter slower than the CPU provider), like the training backend's.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { ExecutionProviderReport } from '../../shared/train';
import { findAdapter, WebGpuUnavailable } from './webgpu';

/** The providers to try on a platform, best first; 'cpu' always last. */
export function providerOrder(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string[] {
  const gpu = platform === 'win32' ? ['dml'] : platform === 'darwin' ? ['coreml'] : platform === 'linux' && arch === 'x64' ? ['cuda'] : [];
  return [...gpu, 'webgpu', 'cpu'];
}

const labels: Record<string, string> = { cuda: 'CUDA', dml: 'DirectML', coreml: 'CoreML', webgpu: 'WebGPU', cpu: 'CPU' };

/** What WebGPU adapter the machine has, as dawn.node sees it: decides whether the WebGPU provider is worth trying. */
export type AdapterProbe = () => Promise<{ kind: 'hardware' | 'software'; label: string } | { kind: 'none' | 'unknown'; reason: string }>;

/**
 * dawn.node's view, without the software opt-in, probed once per process; 'unknown' where dawn.node
 * cannot run (inside Electron, not installed): then the WebGPU provider is not tried, since it
 * might land on a software adapter (lavapipe, WARP) slower than the CPU provider without saying so.
 */
export const dawnAdapterProbe: AdapterProbe = () => (probed ??= probeDawn());
let probed: ReturnType<AdapterProbe> | null = null;

const probeDawn: AdapterProbe = async () => {
  try {
    const { device } = await findAdapter();
    return { kind: device.software ? 'software' : 'hardware', label: device.label };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return error instanceof WebGpuUnavailable && error.missing === 'no-adapter' ? { kind: 'none', reason } : { kind: 'unknown', reason };
  }
};

/** Options of createSession. */
export interface ProviderOptions {
  /** The providers to try, in order (default: providerOrder()). CPU is added last when missing, so a session is always made. */
  providers?: string[];
  /** How to see the WebGPU adapter (tests swap it). */
  probeAdapter?: AdapterProbe;
}

/**
 * Creates the session with the first provider that works, and the report. `sessionOptions` are
 * applied to every attempt; only the provider list differs.
 */
export async function createSession(
  ort: typeof Ort,
  model: string | Uint8Array,
  sessionOptions: Ort.InferenceSession.SessionOptions,
  options: ProviderOptions = {},
): Promise<{ session: Ort.InferenceSession; report: ExecutionProviderReport }> {
  const wanted = options.providers ?? providerOrder();
  const order = wanted.includes('cpu') ? wanted : [...wanted, 'cpu'];
  const supported = ort.listSupportedBackends();
  const inBuild = new Set(supported.map((b) => b.name));
  const notBundled = new Set(supported.filter((b) => !b.bundled).map((b) => b.name));
  const probe = options.probeAdapter ?? dawnAdapterProbe;
  const tried: ExecutionProviderReport['tried'] = [];
  for (const name of order) {
    const skip = !inBuild.has(name)
      ? `not in this onnxruntime-node build (it has ${[...inBuild].join(', ')})`
      : name === 'webgpu'
        ? await webgpuSkip(probe)
        : notBundled.has(name)
          ? missingProviderLibrary(name)
          : null;
    if (skip) {
      tried.push({ name, loaded: false, reason: skip });
      continue;
    }
    try {
      const session = await (typeof model === 'string'
        ? ort.InferenceSession.create(model, { ...sessionOptions, executionProviders: [name] })
        : ort.InferenceSession.create(model, { ...sessionOptions, executionProviders: [name] }));
      tried.push({ name, loaded: true, reason: null });
      return { session, report: { provider: name, label: `${labels[name] ?? name} via onnxruntime`, tried } };
    } catch (error) {
      tried.push({ name, loaded: false, reason: (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim() });
    }
  }
  throw new Error(`onnxruntime could not create a session with any provider: ${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')}`);
}

/**
 * A provider the npm package does not bundle (CUDA, TensorRT) is a separate library next to the
 * binding, installed only on request; without it the attempt fails and onnxruntime logs an error.
 */
function missingProviderLibrary(name: string): string | null {
  let dir: string;
  try {
    dir = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
  const file = process.platform === 'win32' ? `onnxruntime_providers_${name}.dll` : `libonnxruntime_providers_${name}.so`;
  if (fs.existsSync(path.join(dir, file))) return null;
  return `${file} is not installed (reinstall onnxruntime-node with --onnxruntime-node-install-cuda; it needs CUDA 12)`;
}

/** Why the WebGPU provider is not tried: no adapter, or only a software one (slower than the CPU provider); null to try it. */
async function webgpuSkip(probe: AdapterProbe): Promise<string | null> {
  const adapter = await probe();
  switch (adapter.kind) {
    case 'hardware':
      return null;
    case 'software':
      return `${adapter.label} is a software adapter, slower than the CPU provider`;
    case 'unknown':
      return `the adapter could not be checked (${adapter.reason}), and an unchecked one may be a software adapter slower than the CPU`;
    case 'none':
      return adapter.reason;
  }
}
