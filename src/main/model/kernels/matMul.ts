/**
 * BatchMatMul without the slow transposed paths: the stock wasm kernel runs XNNPACK only when
 * neither operand is transposed (about 2 GFLOP/s with `transposeA` or `transposeB` here, against
 * 16-27 without), and every dense layer's gradients ask for A^T x dy and dy x B^T. Transposing the
 * operand first with the backend's Transpose is one copy; the product then takes the fast path.
 */
import type * as Tf from '@tensorflow/tfjs';
import { reshaped, wasmBackend, type KernelArgs, type SingleKernel, type StockKernels } from './wasmMemory';

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
    if (!attrs.transposeA && attrs.transposeB) {
      const swapped = viaSwappedProduct(stock, backend, inputs.a!, inputs.b!);
      if (swapped) return swapped;
    }
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

/**
 * a x b^T as (b x a^T)^T, when that moves fewer floats: XNNPACK repacks the right operand on every
 * call (a few ns a float), so b^T as the right operand costs a transpose and a repack of all of b.
 * A dense layer's input gradient dy [64, 128] x W^T (W [3136, 128]) is the case: a^T and the
 * product's transpose are small next to W. Rank 2 (or a batch of 1) only; null where it does not pay.
 */
function viaSwappedProduct(stock: StockKernels, backend: unknown, a: Tf.TensorInfo, b: Tf.TensorInfo): Tf.TensorInfo | null {
  const rank = a.shape.length;
  if (b.shape.length !== rank || a.shape.slice(0, -2).some((d) => d !== 1) || b.shape.slice(0, -2).some((d) => d !== 1)) return null;
  const m = a.shape[rank - 2]!;
  const k = a.shape[rank - 1]!;
  const n = b.shape[rank - 2]!;
  // Floats moved: a^T, its repack and the output's transpose, against b's transpose and repack.
  if (2 * m * k + m * n >= 2 * n * k) return null;
  const wasm = wasmBackend(backend);
  const aT = transposeLast2(stock, backend, reshaped(a, [1, m, k]));
  const outT = stock.batchMatMul({ inputs: { a: reshaped(b, [1, n, k]), b: aT }, backend, attrs: { transposeA: false, transposeB: false } });
  wasm.disposeData(aT.dataId);
  const out = transposeLast2(stock, backend, outT);
  wasm.disposeData(outT.dataId);
  return reshaped(out, [...a.shape.slice(0, -1), n]);
}
