/**
 * The GPU page's check of each training step for device memory: WebGPU reports a failed allocation
 * in an 'out-of-memory' error scope rather than by throwing, so every step runs inside one, pushed
 * before the step and popped after it. A step that throws (a read-back of a buffer that could not
 * be made, say) skips the engine's afterBatch: the full run then hands its error to failedFit,
 * which pops the scope left open, so scopes never pile up, and answers DeviceOutOfMemory when the
 * device ran out of memory there (the run halves its batch) or the error as it was.
 */
import type { Callback } from '../main/train/engine';
import { DeviceOutOfMemory } from '../main/train/outOfMemory';

/** The parts of a GPUDevice the scopes use (lib.dom has no WebGPU types yet). */
export interface ScopedDevice {
  pushErrorScope(filter: 'out-of-memory'): void;
  popErrorScope(): Promise<{ message: string } | null>;
}

/** The step's scope as engine callbacks, and the full run's reading of a failed fit (FullHostSources.failedFit). */
export function errorScopes(device: ScopedDevice): { callbacks: Callback[]; failedFit(error: unknown): Promise<unknown> } {
  let open = false;
  const pop = async (): Promise<DeviceOutOfMemory | null> => {
    open = false;
    const error = await device.popErrorScope();
    return error ? new DeviceOutOfMemory(`WebGPU ran out of memory: ${error.message}`) : null;
  };
  return {
    callbacks: [
      {
        beforeBatch: () => {
          device.pushErrorScope('out-of-memory');
          open = true;
        },
        afterBatch: async () => {
          const outOfMemory = await pop();
          if (outOfMemory) throw outOfMemory;
        },
      },
    ],
    failedFit: async (error) => {
      if (!open) return error;
      return (await pop()) ?? error;
    },
  };
}
