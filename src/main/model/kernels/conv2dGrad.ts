/**
 * The two gradients of an NHWC conv2d for the wasm backend, as im2col/col2im in JS around the
 * backend's own matMul (XNNPACK):
 *   filter: dW [K, outC] = cols^T [K, N] x dy [N, outC]     (cols^T built from x^T, the backend's Transpose)
 *   input:  cols [N, K] = dy [N, outC] x W^T [outC, K]      (W^T by the backend's Transpose), then col2im;
 *           at stride 1, the backend's own Conv2D of dy with the turned filter instead
 * with N = batch x outHeight x outWidth and K = filterHeight x filterWidth x inChannels. Large batches
 * are cut into chunks so a patch matrix stays under `maxPatchFloats`. Every product is a plain one:
 * the stock matMul is about 10x slower with either operand transposed.
 */
import type * as Tf from '@tensorflow/tfjs';
import { transposeLast2 } from './matMul';
import { col2im, geometry, im2colT, imagesPerChunk, isPointwise, type ConvGeometry } from './im2col';
import {
  copyRows,
  heapF32,
  matMul2d,
  reshaped,
  wasmBackend,
  type KernelArgs,
  type SingleKernel,
  type StockKernels,
  type WasmBackend,
} from './wasmMemory';

/** 32 MB of patches at most per matMul. */
export const maxPatchFloats = 8 * 1024 * 1024;

type Conv2dInfoFn = typeof Tf.backend_util.computeConv2DInfo;

function convInfo(
  tf: typeof Tf,
  inShape: number[],
  filterShape: number[],
  attrs: Tf.NamedAttrMap,
): Tf.backend_util.Conv2DInfo {
  const dataFormat = attrs.dataFormat as 'NHWC' | 'NCHW' | undefined;
  if (dataFormat === 'NCHW') throw new Error('Loupe wasm conv2d gradients support NHWC only');
  const compute: Conv2dInfoFn = tf.backend_util.computeConv2DInfo;
  return compute(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number],
    1,
    attrs.pad as 'same' | 'valid',
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
}

/** Conv2DBackpropFilter: inputs {x, dy}, attrs {strides, pad, dataFormat, dimRoundingMode, filterShape}. */
export function conv2dBackpropFilterKernel(tf: typeof Tf, stock: StockKernels): SingleKernel {
  return ({ inputs, backend: rawBackend, attrs = {} }: KernelArgs) => {
    const backend = wasmBackend(rawBackend);
    const x = inputs.x!;
    const dy = inputs.dy!;
    const filterShape = attrs.filterShape as number[];
    const g = geometry(convInfo(tf, x.shape, filterShape, attrs));
    const outC = filterShape[3]!;
    const k = g.filterHeight * g.filterWidth * g.inChannels;
    const perImage = g.outHeight * g.outWidth;
    const chunk = imagesPerChunk(g, k + outC, maxPatchFloats);
    // The patch matrix goes in as the product's left operand: the right one is repacked by XNNPACK on
    // every call (a few ns a float), which for a patch matrix costs more than the product itself
    // (measured also for a first layer's 9-float patch rows, against dy^T x cols).
    const xT = transposeLast2(stock, rawBackend, reshaped(x, [1, g.batch * g.inHeight * g.inWidth, g.inChannels]));
    let dw: Tf.TensorInfo | null = null;
    let acc: Float32Array | null = null;
    for (let b0 = 0; b0 < g.batch; b0 += chunk) {
      const b1 = Math.min(g.batch, b0 + chunk);
      const n = (b1 - b0) * perImage;
      const whole = b0 === 0 && b1 === g.batch;
      const ownCols = !(isPointwise(g) && whole);
      const colsT = ownCols ? backend.makeOutput([1, k, n], 'float32') : xT;
      const dyPart = whole ? reshaped(dy, [1, n, outC]) : copyRows(backend, dy, b0 * perImage, b1 * perImage, outC);
      if (ownCols) im2colT(heapF32(backend, xT), g, b0, b1, heapF32(backend, colsT));
      const part = matMul2d(stock, rawBackend, colsT, dyPart);
      if (ownCols) backend.disposeData(colsT.dataId);
      if (!whole) backend.disposeData(dyPart.dataId);
      if (whole) {
        dw = reshaped(part, filterShape);
      } else {
        acc ??= new Float32Array(k * outC);
        const partView = heapF32(backend, part);
        for (let i = 0; i < acc.length; i++) acc[i]! += partView[i]!;
        backend.disposeData(part.dataId);
      }
    }
    backend.disposeData(xT.dataId);
    return dw ?? fromSums(backend, acc!, filterShape);
  };
}

function fromSums(backend: WasmBackend, sums: Float32Array, shape: number[]): Tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  heapF32(backend, out).set(sums);
  return out;
}

/** Conv2DBackpropInput: inputs {dy, filter}, attrs {strides, pad, dataFormat, dimRoundingMode, inputShape}. */
export function conv2dBackpropInputKernel(tf: typeof Tf, stock: StockKernels): SingleKernel {
  return ({ inputs, backend: rawBackend, attrs = {} }: KernelArgs) => {
    const backend = wasmBackend(rawBackend);
    const dy = inputs.dy!;
    const filter = inputs.filter!;
    const inputShape = attrs.inputShape as number[];
    const g = geometry(convInfo(tf, inputShape, filter.shape, attrs));
    const outC = filter.shape[3]!;
    const k = g.filterHeight * g.filterWidth * g.inChannels;
    const perImage = g.outHeight * g.outWidth;
    if (g.strideHeight === 1 && g.strideWidth === 1 && !isPointwise(g)) {
      const byConv = backpropInputByConv(stock, rawBackend, dy, filter, g, outC);
      if (byConv) return byConv;
    }
    const wT = transposeLast2(stock, rawBackend, reshaped(filter, [1, k, outC]));
    if (isPointwise(g)) {
      // The patch matrix is dx itself.
      const out = matMul2d(stock, rawBackend, reshaped(dy, [1, g.batch * perImage, outC]), wT);
      backend.disposeData(wT.dataId);
      return reshaped(out, inputShape);
    }
    const dx = backend.makeOutput(inputShape, 'float32');
    heapF32(backend, dx).fill(0);
    const chunk = imagesPerChunk(g, k, maxPatchFloats);
    for (let b0 = 0; b0 < g.batch; b0 += chunk) {
      const b1 = Math.min(g.batch, b0 + chunk);
      const n = (b1 - b0) * perImage;
      const whole = b0 === 0 && b1 === g.batch;
      const dyPart = whole ? reshaped(dy, [1, n, outC]) : copyRows(backend, dy, b0 * perImage, b1 * perImage, outC);
      const cols = matMul2d(stock, rawBackend, dyPart, wT);
      col2im(heapF32(backend, cols), g, b0, b1, heapF32(backend, dx));
      backend.disposeData(cols.dataId);
      if (!whole) backend.disposeData(dyPart.dataId);
    }
    backend.disposeData(wT.dataId);
    return dx;
  };
}

/**
 * At stride 1 the input gradient is itself a convolution: dy, padded by (filter - 1 - pad) on each
 * side, against the filter turned 180 degrees with its channel axes swapped. The backend's Conv2D
 * (XNNPACK) does that without a patch matrix. Null where a padding would be negative.
 */
function backpropInputByConv(
  stock: StockKernels,
  rawBackend: unknown,
  dy: Tf.TensorInfo,
  filter: Tf.TensorInfo,
  g: ConvGeometry,
  outC: number,
): Tf.TensorInfo | null {
  const { filterHeight: fh, filterWidth: fw, inChannels: inC } = g;
  const top = fh - 1 - g.padTop;
  const left = fw - 1 - g.padLeft;
  const bottom = g.inHeight - g.outHeight - top + fh - 1;
  const right = g.inWidth - g.outWidth - left + fw - 1;
  if (Math.min(top, left, bottom, right) < 0) return null;
  const backend = wasmBackend(rawBackend);
  const turned = backend.makeOutput([fh, fw, outC, inC], 'float32');
  const w = heapF32(backend, filter);
  const t = heapF32(backend, turned);
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      const src = ((fh - 1 - kh) * fw + (fw - 1 - kw)) * inC * outC;
      const dst = (kh * fw + kw) * outC * inC;
      for (let ci = 0; ci < inC; ci++) {
        for (let co = 0; co < outC; co++) t[dst + co * inC + ci] = w[src + ci * outC + co]!;
      }
    }
  }
  try {
    return stock.conv2d({
      inputs: { x: dy, filter: turned },
      backend: rawBackend,
      attrs: { strides: [1, 1], dilations: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC' },
    });
  } finally {
    backend.disposeData(turned.dataId);
  }
}
