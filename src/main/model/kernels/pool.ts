/**
 * MaxPoolGrad for the wasm backend. The stock kernel (C++) takes about 20 ms per pooling layer of
 * the small CNN at batch 64; here one pass over the windows in JS finds the argmax of each window
 * in the forward input and adds dy there, a few ms. Ties go to the first maximum in the window's
 * row-major order, as the cpu backend does (strictly greater wins), which matters after a ReLU:
 * windows of zeros are common. 2x2 windows at stride 2 with no padding (the usual pooling) take a
 * fast path: the windows do not overlap, so one write per window into a zeroed dx. What is left is
 * the data-dependent branching of the argmax (about 4 ns an input element here).
 */
import type * as Tf from '@tensorflow/tfjs';
import { heapF32, wasmBackend, type KernelArgs, type SingleKernel } from './wasmMemory';

/** The window geometry MaxPoolGrad needs, from tfjs's Conv2DInfo. */
interface PoolGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** dx for 2x2 windows at stride 2 without padding: the windows do not overlap, so one write per window. */
function maxPoolGrad2x2(xs: Float32Array, dys: Float32Array, dxs: Float32Array, g: PoolGeometry): void {
  const { inHeight, inWidth, channels: c, outHeight, outWidth } = g;
  dxs.fill(0);
  const rowStride = inWidth * c;
  let d = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const top = (b * inHeight + 2 * oh) * rowStride;
      for (let ow = 0; ow < outWidth; ow++) {
        const i00 = top + 2 * ow * c;
        const i10 = i00 + rowStride;
        for (let ch = 0; ch < c; ch++) {
          // The cpu backend's rule: row-major order, strictly greater replaces, so the first maximum wins
          // (a NaN is passed over, as from its -Infinity start; all-NaN windows differ, no matter).
          let at = i00 + ch;
          let best = xs[at]!;
          const v01 = xs[at + c]!;
          const v10 = xs[i10 + ch]!;
          const v11 = xs[i10 + c + ch]!;
          if (v01 > best || best !== best) {
            best = v01;
            at = i00 + c + ch;
          }
          if (v10 > best || best !== best) {
            best = v10;
            at = i10 + ch;
          }
          if (v11 > best || best !== best) at = i10 + c + ch;
          dxs[at] = dys[d + ch]!;
        }
        d += c;
      }
    }
  }
}

/** dx for any window, stride and padding: the argmax of each window (per channel), then dx[argmax] += dy. */
function maxPoolGradGeneral(xs: Float32Array, dys: Float32Array, dxs: Float32Array, g: PoolGeometry): void {
  const { inHeight, inWidth, channels: c, outHeight, outWidth } = g;
  dxs.fill(0);
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  let d = 0;
  for (let b = 0; b < g.batch; b++) {
    const image = b * inHeight * inWidth * c;
    for (let oh = 0; oh < outHeight; oh++) {
      const ih0 = oh * g.strideHeight - g.padTop;
      const khLo = Math.max(0, -ih0);
      const khHi = Math.min(g.filterHeight, inHeight - ih0);
      for (let ow = 0; ow < outWidth; ow++) {
        const iw0 = ow * g.strideWidth - g.padLeft;
        const kwLo = Math.max(0, -iw0);
        const kwHi = Math.min(g.filterWidth, inWidth - iw0);
        best.fill(Number.NEGATIVE_INFINITY);
        at.fill(-1);
        // Taps in row-major order, so the first maximum of the window wins as on cpu.
        for (let kh = khLo; kh < khHi; kh++) {
          const row = image + (ih0 + kh) * inWidth * c;
          for (let kw = kwLo; kw < kwHi; kw++) {
            const tap = row + (iw0 + kw) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = xs[tap + ch]!;
              if (v > best[ch]!) {
                best[ch] = v;
                at[ch] = tap + ch;
              }
            }
          }
        }
        for (let ch = 0; ch < c; ch++) {
          const i = at[ch]!;
          if (i >= 0) dxs[i]! += dys[d + ch]!;
        }
        d += c;
      }
    }
  }
}

/** MaxPoolGrad: inputs {dy, input, output}, attrs {filterSize, strides, pad, dimRoundingMode}; `stock` for what it does not take. */
export function maxPoolGradKernel(tf: typeof Tf, stock: SingleKernel): SingleKernel {
  return (args: KernelArgs) => {
    const { inputs, backend: rawBackend, attrs = {} } = args;
    const x = inputs.input!;
    const dy = inputs.dy!;
    if (x.dtype !== 'float32' || dy.dtype !== 'float32') return stock(args);
    const info = tf.backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterSize as [number, number] | number,
      attrs.strides as [number, number] | number,
      1,
      attrs.pad as 'same' | 'valid' | number,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
    const g: PoolGeometry = {
      batch: info.batchSize,
      inHeight: info.inHeight,
      inWidth: info.inWidth,
      channels: info.inChannels,
      outHeight: info.outHeight,
      outWidth: info.outWidth,
      filterHeight: info.effectiveFilterHeight,
      filterWidth: info.effectiveFilterWidth,
      strideHeight: info.strideHeight,
      strideWidth: info.strideWidth,
      padTop: info.padInfo.top,
      padLeft: info.padInfo.left,
    };
    const backend = wasmBackend(rawBackend);
    const dx = backend.makeOutput(x.shape, 'float32');
    const xs = heapF32(backend, x);
    const dys = heapF32(backend, dy);
    const dxs = heapF32(backend, dx);
    // 2x2 windows at stride 2, each inside the input (no padding used).
    const simple =
      g.filterHeight === 2 && g.filterWidth === 2 && g.strideHeight === 2 && g.strideWidth === 2 &&
      g.padTop === 0 && g.padLeft === 0 && 2 * g.outHeight <= g.inHeight && 2 * g.outWidth <= g.inWidth;
    if (simple) maxPoolGrad2x2(xs, dys, dxs, g);
    else maxPoolGradGeneral(xs, dys, dxs, g);
    return dx;
  };
}
