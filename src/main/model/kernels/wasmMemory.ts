/**
 * What Loupe's wasm kernels need from the tfjs wasm backend: its tensor table, its heap, and the stock
 * kernels they build on. Typed structurally so nothing here imports the backend package at runtime.
 *
 * A heap view dies when the wasm memory grows (any allocation may grow it), so kernels take views
 * only after their last allocation of a phase, and take them again after calling another kernel.
 */
import type * as Tf from '@tensorflow/tfjs';

/** The part of the wasm backend (`BackendWasm`) the kernels use. */
export interface WasmBackend {
  dataIdMap: { get(dataId: Tf.DataId): { id: number; memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: Tf.DataType): Tf.TensorInfo;
  typedArrayFromHeap(info: Tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: Tf.DataId, force?: boolean): boolean;
}

/** A kernel's arguments, as the engine passes them. */
export interface KernelArgs {
  inputs: Tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: Tf.NamedAttrMap;
}

/** A kernel function that returns one tensor (all the ones wrapped here do). */
export type SingleKernel = (args: KernelArgs) => Tf.TensorInfo;

/** The stock wasm kernels Loupe's kernels call: captured before any of them is replaced. */
export interface StockKernels {
  /** The backend's BatchMatMul (XNNPACK only when neither operand is transposed). */
  batchMatMul: SingleKernel;
  transpose: SingleKernel;
  /** The backend's Conv2D (XNNPACK), NHWC, explicit paddings allowed. */
  conv2d: SingleKernel;
}

/** The backend, typed for the kernels. */
export function wasmBackend(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** A float32 view of a tensor's memory on the wasm heap (valid until the next allocation). */
export function heapF32(backend: WasmBackend, info: Tf.TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`Loupe wasm kernels take float32 tensors, got ${info.dtype}`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** The same memory under another shape (no copy, no new reference: never dispose the view). */
export function reshaped(info: Tf.TensorInfo, shape: number[]): Tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** A plain [1, rows, inner] x [1, inner, cols] product with the stock matMul (its fast XNNPACK path). */
export function matMul2d(stock: StockKernels, backend: unknown, a: Tf.TensorInfo, b: Tf.TensorInfo): Tf.TensorInfo {
  return stock.batchMatMul({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
}

/** Copies rows [start, end) of a row-major float32 tensor with `rowLength` columns into a new [1, rows, rowLength] tensor. */
export function copyRows(
  backend: WasmBackend,
  info: Tf.TensorInfo,
  start: number,
  end: number,
  rowLength: number,
): Tf.TensorInfo {
  const out = backend.makeOutput([1, end - start, rowLength], 'float32');
  heapF32(backend, out).set(heapF32(backend, info).subarray(start * rowLength, end * rowLength));
  return out;
}
