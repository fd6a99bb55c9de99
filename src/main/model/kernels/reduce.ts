/**
 * Sum and Mean over leading axes (per channel of an NHWC tensor: batch norm's statistics and every
 * broadcast gradient of a per-channel bias or scale). The stock wasm kernels first transpose the
 * reduced axes to the end, a full copy; summing rows into one accumulator per channel in JS reads the
 * tensor once. Any other reduction goes to the stock kernel.
 */
import type * as Tf from '@tensorflow/tfjs';
import { heapF32, wasmBackend, type KernelArgs, type SingleKernel } from './wasmMemory';

/** How many leading axes of `shape` the reduction covers, when `axis` is exactly those (and not all axes), else null. */
function leadingAxes(tf: typeof Tf, shape: number[], axis: unknown): number | null {
  const axes = [...new Set(tf.util.parseAxisParam(axis as number | number[], shape))].sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= shape.length || axes.some((a, i) => a !== i)) return null;
  return axes.length;
}

/** Sum (`mean` false) or Mean (`mean` true) with the stock kernel as the fallback. */
export function leadingReduceKernel(tf: typeof Tf, stock: SingleKernel, mean: boolean): SingleKernel {
  return (args: KernelArgs) => {
    const { inputs, backend: rawBackend, attrs = {} } = args;
    const x = inputs.x!;
    const lead = x.dtype === 'float32' ? leadingAxes(tf, x.shape, attrs.axis) : null;
    const rows = lead === null ? 0 : x.shape.slice(0, lead).reduce((p, d) => p * d, 1);
    if (lead === null || rows === 0) return stock(args);
    const backend = wasmBackend(rawBackend);
    const kept = x.shape.slice(lead);
    const width = kept.reduce((p, d) => p * d, 1);
    const outShape = attrs.keepDims ? [...x.shape.slice(0, lead).map(() => 1), ...kept] : kept;
    const out = backend.makeOutput(outShape, 'float32');
    const xs = heapF32(backend, x);
    const acc = new Float64Array(width);
    // Eight rows per pass: the accumulator is read and written once per eight additions (about 3x faster).
    const w = width;
    let r = 0;
    for (; r + 8 <= rows; r += 8) {
      const base = r * w;
      for (let c = 0; c < w; c++) {
        const i = base + c;
        acc[c]! += xs[i]! + xs[i + w]! + xs[i + 2 * w]! + xs[i + 3 * w]! + xs[i + 4 * w]! + xs[i + 5 * w]! + xs[i + 6 * w]! + xs[i + 7 * w]!;
      }
    }
    for (; r < rows; r++) {
      const base = r * w;
      for (let c = 0; c < w; c++) acc[c]! += xs[base + c]!;
    }
    const scale = mean ? 1 / rows : 1;
    const os = heapF32(backend, out);
    for (let c = 0; c < width; c++) os[c] = acc[c]! * scale;
    return out;
  };
}
