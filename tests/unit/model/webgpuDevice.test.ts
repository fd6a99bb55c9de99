/**
 * The one description of a WebGPU adapter and device request that both WebGPU hosts use (the
 * training process's dawn.node and the app's GPU training page): software rasterisers are flagged
 * whatever their name, and the device asks for the limits the networks need.
 */
import { describe, expect, it } from 'vitest';
import { describeAdapter as processDescribe } from '../../../src/main/model/webgpu';
import { describeAdapter, requestedLimits, requiredLimitsOf } from '../../../src/shared/webgpuDevice';

describe('WebGPU adapter and device, shared by both hosts', () => {
  it('flags every software rasteriser: SwiftShader, llvmpipe, lavapipe, WARP (Microsoft Basic Render)', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver' }, 'SwiftShader (software) via WebGPU'],
      [{ vendor: 'mesa', device: 'llvmpipe (LLVM 15.0.6, 256 bits)' }, 'llvmpipe (software) via WebGPU'],
      [{ vendor: 'mesa', description: 'lavapipe' }, 'llvmpipe (software) via WebGPU'],
      [{ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' }, 'WARP (software) via WebGPU'],
    ];
    for (const [info, label] of cases) expect(describeAdapter({ info, limits: {} })).toMatchObject({ software: true, label });
    const nvidia = describeAdapter({ info: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }, limits: { maxBufferSize: 2 ** 32, maxTextureDimension2D: 16384 } });
    expect(nvidia).toMatchObject({ software: false, label: 'NVIDIA H200 via WebGPU', limits: { maxBufferSize: 2 ** 32 } });
    expect(nvidia.limits).not.toHaveProperty('maxTextureDimension2D');
    // A browser adapter without info still gets a description.
    expect(describeAdapter({ limits: {}, isFallbackAdapter: true }).software).toBe(true);
    // The training process's describeAdapter is this one.
    expect(processDescribe).toBe(describeAdapter);
  });

  it('requests the adapter\'s own limits, storage buffers per shader stage included', () => {
    const adapter = { maxStorageBuffersPerShaderStage: 10, maxBufferSize: 2 ** 30, maxComputeWorkgroupSizeX: 256, maxTextureDimension2D: 8192 };
    expect(requiredLimitsOf(adapter)).toEqual({ maxStorageBuffersPerShaderStage: 10, maxBufferSize: 2 ** 30, maxComputeWorkgroupSizeX: 256 });
    expect(requestedLimits).toContain('maxStorageBuffersPerShaderStage');
  });
});
