/**
 * What Loupe reads of a WebGPU adapter and asks of its device, in one place for both WebGPU hosts:
 * the training process's dawn.node (src/main/model/webgpu.ts) and the app's GPU training page
 * (src/trainer/main.ts). Pure: no Node, no DOM, so either side imports it and they cannot drift.
 */
import type { BackendDevice } from './train';

/** The parts of an adapter's description Loupe reads (GPUAdapterInfo, dawn.node's or the browser's). */
export interface WebGpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** An adapter as far as describing it goes. */
export interface DescribableAdapter {
  info?: WebGpuAdapterInfo;
  limits: Record<string, number>;
  /** Older implementations flag a fallback adapter here rather than in info. */
  isFallbackAdapter?: boolean;
}

/** The adapter limits a report keeps: the ones that decide whether a network fits. */
export const reportedLimits = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'] as const;

/**
 * Limits requested for the device, at the adapter's own values: tfjs-backend-webgpu's own, plus
 * storage buffers per stage (its AddN of many tensors, e.g. a ResNet's L2 term, binds more than the
 * default 8).
 */
export const requestedLimits = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
] as const;

/** The requiredLimits of a device request on an adapter with these limits: each requested limit the adapter has, at its value. */
export function requiredLimitsOf(limits: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of requestedLimits) {
    const value = limits[name];
    if (typeof value === 'number') out[name] = value;
  }
  return out;
}

/** Vendors/architectures/devices of software rasterisers. */
const softwareMarkers = ['swiftshader', 'llvmpipe', 'lavapipe', 'softpipe', 'microsoft basic render', 'warp'];

/** Describes an adapter for the run's report: "NVIDIA GeForce RTX 4070 via WebGPU", "SwiftShader (software) via WebGPU". */
export function describeAdapter(adapter: DescribableAdapter): BackendDevice {
  const info = adapter.info ?? {};
  const vendor = info.vendor || null;
  const architecture = info.architecture || null;
  const description = info.description || info.device || null;
  const text = [vendor, architecture, info.device, info.description].filter(Boolean).join(' ').toLowerCase();
  const software = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) || softwareMarkers.some((m) => text.includes(m));
  const limits: Record<string, number> = {};
  for (const name of reportedLimits) {
    const value = adapter.limits[name];
    if (typeof value === 'number') limits[name] = value;
  }
  const name = software ? `${softwareName(text)} (software)` : (description ?? [vendor, architecture].filter(Boolean).join(' ')) || 'unknown GPU';
  return { label: `${name} via WebGPU`, kind: 'gpu', vendor, architecture, description, software, limits };
}

function softwareName(text: string): string {
  if (text.includes('swiftshader')) return 'SwiftShader';
  if (text.includes('llvmpipe') || text.includes('lavapipe')) return 'llvmpipe';
  if (text.includes('warp') || text.includes('microsoft basic render')) return 'WARP';
  return 'Software adapter';
}
