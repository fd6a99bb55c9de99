/**
 * BatchMatMul without the slow transposed paths: the stock wasm kernel runs XNNPACK only when
 * neither operand is transposed (about 2 GFLOP/s with `transposeA` or `transposeB` here, against
 * 16-27 without), and every dense layer's gradients ask for A^T x dy and dy x B^T. Transposing the
 * operand first with the backend's Transpose is one copy; the product then takes the fast path.
 */
import type * as Tf from '@tensorflow/tfjs';
import { wasmBackend, type KernelArgs, type SingleKernel, type StockKernels } from './wasmMemory';

/** `x` with its last two axes swapped, as a new tensor (the caller disposes it). */
export function transposeLast2(stock: StockKernels, backend: unknown, x: Tf.TensorInfo): Tf.TensorInfo {
  const rank = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return stock.transpose({ inputs: { x }, backend, attrs: { perm } });
}

/** BatchMatMul: inputs {a, b}, attrs {transposeA, transposeB}. */
export function batchMatMulKernel(stock: StockKernels): SingleKernel {
  return (args: KernelArgs) => {
    const { inputs, backend, attrs = {} } = args;
    if (!attrs.transposeA && !attrs.transposeB) return stock.batchMatMul(args);
    const a = attrs.transposeA ? transposeLast2(stock, backend, inputs.a!) : inputs.a!;
    const b = attrs.transposeB ? transposeLast2(stock, backend, inputs.b!) : inputs.b!;
    try {
      return stock.batchMatMul({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
    } finally {
      if (a !== inputs.a) wasmBackend(backend).disposeData(a.dataId);
      if (b !== inputs.b) wasmBackend(backend).disposeData(b.dataId);
    }
  };
}
