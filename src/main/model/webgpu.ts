/**
 * TF.js on WebGPU in plain Node, through dawn.node (the optional npm package `webgpu`): finds an
 * adapter, describes it (vendor, architecture, limits, software or not), and registers TF.js's
 * 'webgpu' backend on that adapter. Used by the training process (CLI, serve mode, tests) on any
 * OS; never inside Electron, where dawn.node cannot load (the app trains on WebGPU in a hidden
 * window instead).
 *
 * Software adapters (SwiftShader, llvmpipe, WARP) compute correctly but slower than wasm: they are
 * flagged in the device, and the caller decides (automatic selection skips them). On Linux with
 * no adapter from the system's Vulkan drivers, the SwiftShader driver that Chromium or Electron
 * ships is tried only when asked (`software: true`, from LOUPE_WEBGPU_SOFTWARE=1).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';
import type { BackendDevice } from '../../shared/train';
import { describeAdapter, requiredLimitsOf, type WebGpuAdapterInfo } from '../../shared/webgpuDevice';

// The adapter's description and the device's limits are shared with the app's GPU training page.
export { describeAdapter } from '../../shared/webgpuDevice';

/** The parts of a WebGPU adapter Loupe reads (dawn.node's objects; no DOM types in the main build). */
interface GpuAdapter {
  info: WebGpuAdapterInfo;
  limits: Record<string, number>;
  features: { has(name: string): boolean };
  isFallbackAdapter?: boolean;
  requestDevice(descriptor: { requiredFeatures: string[]; requiredLimits: Record<string, number> }): Promise<unknown>;
}
interface Gpu {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapter | null>;
}
interface DawnModule {
  create(flags: string[]): Gpu;
  globals: Record<string, unknown>;
}

/** Why WebGPU is not available: dawn.node cannot run here (inside Electron, not installed) or it found no adapter. */
export type WebGpuMissing = 'no-dawn' | 'no-adapter';

/** Why WebGPU is not available, as a person reads it (and as a kind, for code); thrown by the loader. */
export class WebGpuUnavailable extends Error {
  constructor(
    message: string,
    readonly missing: WebGpuMissing,
  ) {
    super(message);
    this.name = 'WebGpuUnavailable';
  }
}

/** Where Chromium and Electron keep their SwiftShader Vulkan driver (Linux). */
export function swiftShaderIcds(): string[] {
  const candidates = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json', '/opt/google/chrome/vk_swiftshader_icd.json'];
  try {
    const require = createRequire(import.meta.url);
    candidates.push(path.join(path.dirname(require.resolve('electron/package.json')), 'dist', 'vk_swiftshader_icd.json'));
  } catch {
    // Electron is a dev dependency: absent in a packaged CLI.
  }
  return candidates.filter((file) => fs.existsSync(file));
}

async function loadDawn(): Promise<DawnModule> {
  // A variable specifier keeps bundlers from resolving an optional package at build time.
  const name = 'webgpu';
  try {
    return (await import(name)) as DawnModule;
  } catch (error) {
    throw new WebGpuUnavailable(`the optional package "webgpu" (dawn.node) did not load: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, 'no-dawn');
  }
}

/** What `findAdapter` found: the adapter and its description. */
export interface FoundAdapter {
  /** The dawn.node instance: held for as long as the adapter is used (dropping it ends the adapter, and the process). */
  gpu: Gpu;
  adapter: GpuAdapter;
  device: BackendDevice;
}

/**
 * Finds a WebGPU adapter with dawn.node. With `software` on Linux and no adapter from the system's
 * drivers, points the Vulkan loader at a SwiftShader driver and tries again. Throws
 * WebGpuUnavailable with the reason.
 */
export async function findAdapter(options: { software?: boolean } = {}): Promise<FoundAdapter> {
  if (process.versions.electron) {
    throw new WebGpuUnavailable('dawn.node cannot run inside Electron; the app trains on WebGPU in a hidden window instead', 'no-dawn');
  }
  const dawn = await loadDawn();
  Object.assign(globalThis, dawn.globals);
  let gpu = dawn.create([]);
  const request = () => gpu.requestAdapter({ powerPreference: 'high-performance' });
  let adapter = await request();
  if (!adapter && options.software && process.platform === 'linux' && !process.env.VK_ICD_FILENAMES) {
    const icd = swiftShaderIcds()[0];
    if (icd) {
      process.env.VK_ICD_FILENAMES = icd;
      gpu = dawn.create([]);
      adapter = await request();
    }
  }
  if (!adapter) {
    const hint = options.software
      ? process.platform === 'linux'
        ? ' (no SwiftShader driver found either: install chromium)'
        : ''
      : process.platform === 'linux'
        ? ' (install your GPU\'s Vulkan driver; LOUPE_WEBGPU_SOFTWARE=1 tries the SwiftShader software adapter, slow)'
        : '';
    throw new WebGpuUnavailable(`no WebGPU adapter found by dawn.node${hint}`, 'no-adapter');
  }
  return { gpu, adapter, device: describeAdapter(adapter) };
}

let registered: FoundAdapter | null = null;

/**
 * Registers TF.js's 'webgpu' backend on `found`'s adapter (once per process: TF.js keeps one
 * backend per name) and returns the tfjs module. The device is requested with the adapter's own
 * limits, as tfjs-backend-webgpu does, plus more storage buffers per shader stage.
 */
export async function registerWebGpu(found: FoundAdapter): Promise<typeof Tf> {
  const tf = await import('@tensorflow/tfjs');
  // navigator.gpu stays unset while the package loads, so it does not register its own factory.
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  if (registered) return tf;
  registered = found;
  const { adapter } = found;
  // The backend checks for navigator.gpu when it is constructed (Node 21+ has a navigator, 20 has none).
  const host = globalThis as { navigator?: object };
  if (host.navigator) Object.defineProperty(host.navigator, 'gpu', { value: found.gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu: found.gpu }, configurable: true, writable: true });
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const requiredLimits = requiredLimitsOf(adapter.limits);
      const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
      const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
      return new WebGPUBackend(device as ConstructorParameters<typeof WebGPUBackend>[0], adapter.info as ConstructorParameters<typeof WebGPUBackend>[1]);
    },
    1,
  );
  return tf;
}

/** The adapter the process registered 'webgpu' on, if it did. */
export function registeredAdapter(): FoundAdapter | null {
  return registered;
}
