/**
 * Out of device memory, as training sees it: which errors mean "this batch does not fit", and the
 * halving rule (batch 64 did not fit; try 32), so every host shrinks its batches the same way.
 */

/**
 * Thrown by a host that detects device memory exhaustion itself: the GPU window wraps each step in
 * a WebGPU 'out-of-memory' error scope, since WebGPU reports allocation failures there, not by throwing.
 */
export class DeviceOutOfMemory extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceOutOfMemory';
  }
}

/**
 * Whether an error from a training step means the device ran out of memory. Typed where the
 * backend gives a type: DeviceOutOfMemory (WebGPU, via error scopes). The rest are known only by
 * their text, so they are read here and nowhere else: tfjs-node reports TensorFlow's
 * RESOURCE_EXHAUSTED status as "OOM when allocating tensor ..."; see allocationFailed for the cpu
 * and wasm backends.
 */
export function isOutOfMemory(error: unknown): boolean {
  if (error instanceof DeviceOutOfMemory) return true;
  if (error instanceof RangeError) return allocationFailed(error);
  return error instanceof Error && /OOM when allocating|ResourceExhausted/.test(error.message);
}

/**
 * A RangeError that is a failed allocation (the cpu and wasm backends): V8's "Array buffer
 * allocation failed" for an ArrayBuffer, or a WebAssembly.Memory that cannot be made or grown
 * (V8's messages for those cases). Other RangeErrors are bugs, not a full device ("Maximum call stack size exceeded", "Invalid typed
 * array length"): halving the batch would not help, so they are not retried.
 */
function allocationFailed(error: RangeError): boolean {
  return /^Array buffer allocation failed|^WebAssembly\.Memory(\.grow)?\(\): (could not allocate memory|Unable to grow instance memory|Maximum memory size exceeded)/.test(error.message);
}

/** The next batch size to try after `size` did not fit, or null when even one image does not. */
export function halvedBatch(size: number): number | null {
  return size > 1 ? Math.floor(size / 2) : null;
}
