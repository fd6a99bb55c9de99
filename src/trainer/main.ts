/**
 * The GPU training page (loaded in a hidden window by src/main/electron/gpuHost.ts, and by the
 * Playwright test as the window would load it): TF.js on its WebGPU backend, no Node. It waits for
 * its MessagePort (posted to the window by the preload, with the port transferred), starts WebGPU,
 * says which adapter it got (or why none), then serves training requests on the port (serve.ts).
 * Every step runs inside a WebGPU 'out-of-memory' error scope (errorScopes.ts), since WebGPU
 * reports a failed allocation there rather than by throwing; a lost GPU device is reported to the
 * host, which fails the run and closes the window. The adapter's description and the device's
 * limits are the training process's own (src/shared/webgpuDevice.ts). A start that fails is told
 * to the host as a ready without WebGPU, with the reason.
 */
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { trainerPortMessage, type FromWindow, type GpuAdapterReport, type ToWindow } from '../main/train/windowProtocol';
import type { BackendDevice, BackendReport } from '../shared/train';
import { describeAdapter, requiredLimitsOf, type WebGpuAdapterInfo } from '../shared/webgpuDevice';
import { errorScopes } from './errorScopes';
import { serveTraining } from './serve';

// The parts of WebGPU the page uses (lib.dom has no WebGPU types yet).
interface GpuError {
  message: string;
}
interface GpuDevice {
  lost: Promise<{ reason: string; message: string }>;
  pushErrorScope(filter: 'out-of-memory'): void;
  popErrorScope(): Promise<GpuError | null>;
  addEventListener(type: 'uncapturederror', listener: (event: { error: GpuError }) => void): void;
}
interface GpuAdapter {
  info?: WebGpuAdapterInfo;
  isFallbackAdapter?: boolean;
  limits: Record<string, number>;
  features: { has(name: string): boolean };
  requestDevice(descriptor: { requiredFeatures: string[]; requiredLimits: Record<string, number> }): Promise<GpuDevice>;
}
interface Gpu {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapter | null>;
}

// The one adapter the page uses, kept referenced for the page's life (TF.js's device comes from it).
let gpuAdapter: GpuAdapter | null = null;

/** The adapter as the host hears of it, and as the run's report describes it. */
interface FoundAdapter {
  report: GpuAdapterReport;
  device: BackendDevice;
}

/** Finds the adapter (high performance, as TF.js asks) and describes it; or says why there is none. */
async function findAdapter(): Promise<FoundAdapter | string> {
  const gpu = (navigator as unknown as { gpu?: Gpu }).gpu;
  if (!gpu) return 'this page has no WebGPU (navigator.gpu is missing; on Linux the app needs Vulkan enabled)';
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return 'WebGPU found no adapter (no usable GPU driver)';
  gpuAdapter = adapter;
  const info = adapter.info ?? {};
  const described = describeAdapter(adapter);
  return {
    report: { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '', isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) },
    device: { ...described, label: `${described.label} in the app window` },
  };
}

/**
 * TF.js's 'webgpu' backend on that adapter: the features TF.js itself would request
 * (tfjs-backend-webgpu's base.ts) and the limits the training process requests, so the page holds
 * one adapter and one device.
 */
function registerWebGpu(on: GpuAdapter): void {
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) => on.features.has(f));
    const requiredLimits = requiredLimitsOf(on.limits);
    const device = await on.requestDevice({ requiredFeatures, requiredLimits });
    return new WebGPUBackend(device as never, on.info as never);
  });
}

/** The backend report of the window host: WebGPU on this adapter (the window is used when a run asks for WebGPU). */
function windowReport(device: BackendDevice): BackendReport {
  return { name: 'webgpu', requested: 'webgpu', host: 'window', device, tried: [{ name: 'webgpu', loaded: true, reason: null, device }] };
}

/**
 * The engine yields between batches with Node's setImmediate, which a page lacks: the same through a
 * MessageChannel (a hidden window throttles setTimeout, not messages).
 */
function installSetImmediate(): void {
  if (typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function') return;
  const channel = new MessageChannel();
  const queue: Array<() => void> = [];
  channel.port1.onmessage = () => queue.shift()?.();
  (globalThis as unknown as { setImmediate: (fn: () => void) => void }).setImmediate = (fn) => {
    queue.push(fn);
    channel.port2.postMessage(null);
  };
}

async function start(post: (message: FromWindow) => void, port: MessagePort): Promise<void> {
  installSetImmediate();
  const found = await findAdapter().catch((error: unknown) => `WebGPU failed: ${error instanceof Error ? error.message : String(error)}`);
  if (typeof found === 'string') {
    post({ type: 'ready', adapter: null, reason: found });
    return;
  }
  registerWebGpu(gpuAdapter!);
  const ok = await tf.setBackend('webgpu').catch(() => false);
  if (!ok) {
    post({ type: 'ready', adapter: found.report, reason: 'TF.js could not start its WebGPU backend on this adapter' });
    return;
  }
  await tf.ready();
  const device = (tf.backend() as unknown as { device: GpuDevice }).device;
  void device.lost.then((info) => post({ type: 'deviceLost', reason: info.reason, message: info.message }));
  const scopes = errorScopes(device);
  const handle = serveTraining(post, { tf, report: windowReport(found.device), callbacks: scopes.callbacks, failedFit: scopes.failedFit });
  device.addEventListener('uncapturederror', (event) => console.error(`WebGPU error: ${event.error.message}`));
  port.onmessage = (event: MessageEvent<ToWindow>) => handle(event.data);
  document.body.dataset.adapter = `${found.report.vendor} ${found.report.architecture}`.trim();
  post({ type: 'ready', adapter: found.report, reason: null });
}

let started = false;
window.addEventListener('message', (event) => {
  // Only the port this window's own preload (or test) posts, and only once.
  if (started || event.source !== window || event.data !== trainerPortMessage || !event.ports[0]) return;
  started = true;
  const port = event.ports[0];
  const post = (message: FromWindow) => port.postMessage(message);
  // Every step before 'ready' can fail (TF.js's setup, the device request): the host hears why, rather than wait.
  start(post, port).catch((error: unknown) => {
    port.onmessage = null;
    post({ type: 'ready', adapter: null, reason: `the GPU training page failed to start: ${error instanceof Error ? error.message : String(error)}` });
  });
});
document.body.dataset.waiting = 'port';
