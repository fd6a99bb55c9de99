/**
 * The two gradients of an NHWC depthwise conv2d (filter [fh, fw, inC, multiplier]) for the wasm
 * backend: per-channel sums, so plain loops over the heap in JS (no matMul to lean on). Strides,
 * paddings and dilations as tfjs's Conv2DInfo describes them.
 */
import type * as Tf from '@tensorflow/tfjs';
import { geometry, type ConvGeometry } from './im2col';
import { heapF32, wasmBackend, type KernelArgs, type SingleKernel } from './wasmMemory';

function depthwiseGeometry(tf: typeof Tf, inShape: number[], filterShape: number[], attrs: Tf.NamedAttrMap): ConvGeometry {
  return geometry(
    tf.backend_util.computeConv2DInfo(
      inShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs.strides as [number, number],
      (attrs.dilations ?? 1) as [number, number],
      attrs.pad as 'same' | 'valid',
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
      true,
    ),
  );
}

/** Calls `visit(xOffset, dyOffset, tapOffset)` for every (output position, filter tap) pair that lands inside the input. */
function forEachTap(g: ConvGeometry, multiplier: number, visit: (xAt: number, dyAt: number, tapAt: number) => void): void {
  const c = g.inChannels;
  const outC = c * multiplier;
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      const ih0 = oh * g.strideHeight - g.padTop;
      for (let ow = 0; ow < g.outWidth; ow++) {
        const iw0 = ow * g.strideWidth - g.padLeft;
        const dyAt = ((b * g.outHeight + oh) * g.outWidth + ow) * outC;
        for (let kh = 0; kh < g.filterHeight; kh++) {
          const ih = ih0 + kh * g.dilationHeight;
          if (ih < 0 || ih >= g.inHeight) continue;
          for (let kw = 0; kw < g.filterWidth; kw++) {
            const iw = iw0 + kw * g.dilationWidth;
            if (iw < 0 || iw >= g.inWidth) continue;
            visit(((b * g.inHeight + ih) * g.inWidth + iw) * c, dyAt, (kh * g.filterWidth + kw) * outC);
          }
        }
      }
    }
  }
}

/** DepthwiseConv2dNativeBackpropFilter: inputs {x, dy}, attrs {strides, pad, dilations, dimRoundingMode, filterShape}. */
export function depthwiseBackpropFilterKernel(tf: typeof Tf): SingleKernel {
  return ({ inputs, backend: rawBackend, attrs = {} }: KernelArgs) => {
    const backend = wasmBackend(rawBackend);
    const x = inputs.x!;
    const dy = inputs.dy!;
    const filterShape = attrs.filterShape as number[];
    const g = depthwiseGeometry(tf, x.shape, filterShape, attrs);
    const c = g.inChannels;
    const m = filterShape[3]!;
    const dw = backend.makeOutput(filterShape, 'float32');
    const xs = heapF32(backend, x);
    const dys = heapF32(backend, dy);
    // Sums in a JS buffer (float32, like the cpu backend), written once at the end.
    const acc = new Float32Array(filterShape.reduce((p, d) => p * d, 1));
    if (m === 1) {
      forEachTap(g, 1, (xAt, dyAt, tapAt) => {
        for (let i = 0; i < c; i++) acc[tapAt + i]! += xs[xAt + i]! * dys[dyAt + i]!;
      });
    } else {
      forEachTap(g, m, (xAt, dyAt, tapAt) => {
        for (let i = 0; i < c; i++) {
          const xv = xs[xAt + i]!;
          const at = i * m;
          for (let j = 0; j < m; j++) acc[tapAt + at + j]! += xv * dys[dyAt + at + j]!;
        }
      });
    }
    heapF32(backend, dw).set(acc);
    return dw;
  };
}

/** DepthwiseConv2dNativeBackpropInput: inputs {dy, filter}, attrs {strides, pad, dilations, dimRoundingMode, inputShape}. */
export function depthwiseBackpropInputKernel(tf: typeof Tf): SingleKernel {
  return ({ inputs, backend: rawBackend, attrs = {} }: KernelArgs) => {
    const backend = wasmBackend(rawBackend);
    const dy = inputs.dy!;
    const filter = inputs.filter!;
    const inputShape = attrs.inputShape as number[];
    const g = depthwiseGeometry(tf, inputShape, filter.shape, attrs);
    const c = g.inChannels;
    const m = filter.shape[3]!;
    const dx = backend.makeOutput(inputShape, 'float32');
    const dxs = heapF32(backend, dx);
    const dys = heapF32(backend, dy);
    const ws = heapF32(backend, filter);
    dxs.fill(0);
    if (m === 1) {
      forEachTap(g, 1, (xAt, dyAt, tapAt) => {
        for (let i = 0; i < c; i++) dxs[xAt + i]! += ws[tapAt + i]! * dys[dyAt + i]!;
      });
    } else {
      forEachTap(g, m, (xAt, dyAt, tapAt) => {
        for (let i = 0; i < c; i++) {
          const at = i * m;
          let sum = 0;
          for (let j = 0; j < m; j++) sum += ws[tapAt + at + j]! * dys[dyAt + at + j]!;
          dxs[xAt + i]! += sum;
        }
      });
    }
    return dx;
  };
}
