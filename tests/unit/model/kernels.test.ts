import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNorm } from '../../../src/main/model/kernels/batchNorm';
import { registerWasmKernels, wasmKernelNames } from '../../../src/main/model/kernels/wasmKernels';

// Each kernel against the cpu backend: the same inputs as plain arrays, the same function, tf.grads on
// both, compared by max |difference| / max |reference|.
const tolerance = 1e-4;

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

interface Input {
  shape: number[];
  values: Float32Array;
}

function input(shape: number[], seed: number): Input {
  const next = random(seed);
  return { shape, values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, next) };
}

/** The gradients of sum(f(...inputs) * dy) on one backend, as arrays, with the output too. */
async function gradsOn(
  backend: 'cpu' | 'wasm',
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: Input[],
  seed = 99,
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const xs = inputs.map((i) => tf.tensor(i.values, i.shape));
  const y = f(...xs);
  const dy = tf.tensor(input(y.shape, seed).values, y.shape);
  const grads = tf.grads((...args: tf.Tensor[]) => f(...args))(xs, dy);
  const out = await Promise.all([y, ...grads].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([...xs, y, dy, ...grads]);
  return out;
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

async function expectSameGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: Input[]): Promise<void> {
  const expected = await gradsOn('cpu', f, inputs);
  const actual = await gradsOn('wasm', f, inputs);
  expected.forEach((e, i) => expect(relativeError(actual[i]!, e), `output/gradient ${i}`).toBeLessThan(tolerance));
}

beforeAll(async () => {
  registerWasmKernels(tf);
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('Loupe wasm kernels', () => {
  it('registers every kernel for wasm, once, keeping the stock matMul callable', () => {
    expect(registerWasmKernels(tf)).toEqual(wasmKernelNames);
    for (const name of wasmKernelNames) expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
  });

  type Pad = 'same' | 'valid' | number;
  const convCases: [batch: number, h: number, w: number, inC: number, k: number, outC: number, stride: number, pad: Pad][] = [
    [1, 9, 7, 3, 3, 4, 1, 'same'],
    [1, 9, 7, 3, 3, 4, 2, 'same'],
    [1, 8, 8, 2, 3, 5, 1, 'valid'],
    [1, 9, 9, 2, 3, 5, 2, 'valid'],
    [64, 6, 6, 1, 3, 8, 1, 'same'],
    [64, 7, 7, 4, 3, 6, 2, 'same'],
    [64, 6, 5, 3, 3, 4, 2, 'valid'],
    [64, 5, 5, 8, 1, 16, 1, 'same'],
    [2, 6, 6, 8, 1, 4, 2, 'valid'],
    [3, 10, 8, 2, 5, 3, 2, 'same'],
    [2, 8, 8, 3, 3, 4, 1, 1],
    [1, 12, 12, 40, 3, 24, 1, 'same'],
    // Stride 1 at full width (the shifted-block im2colT): wider, even and oversized filters.
    [2, 9, 8, 3, 5, 4, 1, 'same'],
    [3, 7, 6, 2, 4, 3, 1, 'same'],
    [1, 4, 4, 2, 7, 3, 1, 'same'],
    [64, 14, 14, 8, 3, 16, 1, 'same'],
  ];
  it.each(convCases)(
    'conv2d gradients match cpu: batch %i, %ix%ix%i, filter %i to %i, stride %i, pad %s',
    async (batch, h, w, inC, k, outC, stride, pad) => {
      await expectSameGrads(
        (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad),
        [input([batch, h, w, inC], batch * 31 + h), input([k, k, inC, outC], k * 7 + outC)],
      );
    },
  );

  it('conv2d gradients match cpu when the batch is cut into chunks', async () => {
    // 2,000 images of 3x3 patches on 12x12 exceed the 8M-float patch limit, so filter and input run in chunks.
    await expectSameGrads(
      (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'),
      [input([2000, 12, 12, 3], 5), input([3, 3, 3, 2], 6)],
    );
  });

  const depthwiseCases: [batch: number, h: number, w: number, c: number, k: number, mult: number, stride: number, pad: 'same' | 'valid'][] = [
    [1, 9, 7, 3, 3, 1, 1, 'same'],
    [1, 9, 7, 3, 3, 2, 2, 'same'],
    [1, 8, 8, 4, 3, 1, 2, 'valid'],
    [64, 6, 6, 8, 3, 1, 1, 'same'],
    [64, 7, 7, 4, 3, 2, 2, 'same'],
    [64, 6, 5, 2, 3, 3, 1, 'valid'],
  ];
  it.each(depthwiseCases)(
    'depthwise conv2d gradients match cpu: batch %i, %ix%ix%i, filter %i x%i, stride %i, pad %s',
    async (batch, h, w, c, k, mult, stride, pad) => {
      await expectSameGrads(
        (x, f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad),
        [input([batch, h, w, c], batch + h + c), input([k, k, c, mult], k + mult)],
      );
    },
  );

  it.each([
    [1, 'same'],
    [2, 'valid'],
  ] as const)('depthwise backprop kernels with dilation 2 match cpu on the zero-filled filter, multiplier %i, pad %s', async (mult, pad) => {
    // The cpu backprop kernels ignore dilations, so the reference is the undilated gradient of the
    // same filter with zeros between its taps (5x5 for a 3x3 filter at dilation 2).
    const x = input([2, 9, 8, 3], 11);
    const filter = input([3, 3, 3, mult], 12);
    const wide = new Float32Array(5 * 5 * 3 * mult);
    const tap = 3 * mult;
    for (let kh = 0; kh < 3; kh++)
      for (let kw = 0; kw < 3; kw++)
        wide.set(filter.values.subarray((kh * 3 + kw) * tap, (kh * 3 + kw + 1) * tap), (kh * 2 * 5 + kw * 2) * tap);
    const [y, dxRef, dwWideRef] = await gradsOn(
      'cpu',
      (t, f) => tf.depthwiseConv2d(t as tf.Tensor4D, f as tf.Tensor4D, 1, pad),
      [x, { shape: [5, 5, 3, mult], values: wide }],
    );
    await tf.setBackend('wasm');
    const yShape = tf.backend_util.computeConv2DInfo([2, 9, 8, 3], [3, 3, 3, mult], 1, 2, pad, undefined, true).outShape;
    expect(yShape.reduce((a, b) => a * b, 1)).toBe(y!.length);
    const dy = input(yShape, 99);
    const common = { strides: [1, 1], pad, dilations: [2, 2] };
    const run = (name: string, inputs: Record<string, Input>, attrs: tf.NamedAttrMap): Float32Array => {
      const tensors = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape)]));
      const out = tf.engine().runKernel(name, tensors, attrs) as tf.Tensor;
      const values = out.dataSync() as Float32Array;
      tf.dispose([out, ...Object.values(tensors)]);
      return values;
    };
    const dw = run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, filterShape: filter.shape });
    const dwRef = new Float32Array(dw.length);
    for (let kh = 0; kh < 3; kh++)
      for (let kw = 0; kw < 3; kw++)
        dwRef.set(dwWideRef!.subarray((kh * 2 * 5 + kw * 2) * tap, (kh * 2 * 5 + kw * 2 + 1) * tap), (kh * 3 + kw) * tap);
    expect(relativeError(dw, dwRef)).toBeLessThan(tolerance);
    const dx = run('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...common, inputShape: x.shape });
    expect(relativeError(dx, dxRef!)).toBeLessThan(tolerance);
  });

  const poolCases: [batch: number, h: number, w: number, c: number, size: number, stride: number, pad: 'same' | 'valid'][] = [
    [64, 28, 28, 8, 2, 2, 'valid'],
    [64, 7, 7, 5, 2, 2, 'valid'],
    [1, 9, 8, 3, 2, 2, 'same'],
    [1, 8, 8, 4, 2, 1, 'valid'],
    [64, 7, 6, 3, 3, 2, 'same'],
    [1, 9, 9, 2, 3, 1, 'same'],
    [2, 10, 7, 3, 3, 2, 'valid'],
    [64, 5, 5, 6, 2, 1, 'same'],
  ];
  it.each(poolCases)(
    'maxPool gradient matches cpu: batch %i, %ix%ix%i, window %i, stride %i, pad %s',
    async (batch, h, w, c, size, stride, pad) => {
      const x = input([batch, h, w, c], batch * 13 + h + c);
      await expectSameGrads((t) => tf.maxPool(t as tf.Tensor4D, size, stride, pad), [x]);
      // Ties (a window of equal values, as after a ReLU): the first maximum takes the gradient on both backends.
      const tied = { shape: x.shape, values: x.values.map((v) => Math.max(0, Math.round(v * 4))) };
      await expectSameGrads((t) => tf.maxPool(t as tf.Tensor4D, size, stride, pad), [tied]);
    },
  );

  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('matMul and its gradients match cpu with transposeA %s, transposeB %s', async (ta, tb) => {
    const [m, k, n] = [37, 64, 19];
    await expectSameGrads(
      (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb),
      [input(ta ? [k, m] : [m, k], 1), input(tb ? [n, k] : [k, n], 2)],
    );
    // Batched, as attention-like code would call it.
    await expectSameGrads(
      (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, ta, tb),
      [input(ta ? [3, k, m] : [3, m, k], 3), input(tb ? [3, n, k] : [3, k, n], 4)],
    );
  });

  it('matMul a x b^T with a small a (a dense layer\'s input gradient) matches cpu, with its gradients', async () => {
    // m x k small against n x k: computed as (b x a^T)^T.
    await expectSameGrads((a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, false, true), [input([8, 16], 5), input([200, 16], 6)]);
    await expectSameGrads((a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, false, true), [input([1, 8, 16], 7), input([1, 200, 16], 8)]);
    await expectSameGrads(
      (x, w) => tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D).relu(),
      [input([64, 300], 9), input([300, 128], 10)],
    );
  });

  it.each([
    [[8, 5, 5, 6], [0, 1, 2], false],
    [[8, 5, 5, 6], [2, 0, 1], true],
    [[40, 7], 0, false],
    [[40, 7], -2, true],
    [[4, 3, 5], [0, 1], false],
    [[4, 3, 5], [1, 2], false],
    [[4, 3, 5], [0, 2], true],
    [[4, 3, 5], [0, 1, 2], false],
  ] as [number[], number | number[], boolean][])('sum and mean of shape %j over axes %j (keepDims %s) match cpu', async (shape, axis, keepDims) => {
    const x = input(shape, 31);
    for (const op of ['sum', 'mean'] as const) {
      const results: tf.Tensor[] = [];
      for (const backend of ['cpu', 'wasm'] as const) {
        await tf.setBackend(backend);
        results.push(tf.tidy(() => tf[op](tf.tensor(x.values, x.shape), axis, keepDims)));
      }
      expect(results[1]!.shape).toEqual(results[0]!.shape);
      expect(relativeError(results[1]!.dataSync() as Float32Array, results[0]!.dataSync() as Float32Array), op).toBeLessThan(tolerance);
      tf.dispose(results);
    }
  });

  it('batchNorm matches tf.batchNorm on cpu and its gradient matches across backends', async () => {
    const x = input([8, 5, 5, 6], 21);
    const gamma = input([6], 22);
    const beta = input([6], 23);
    await tf.setBackend('cpu');
    const ours = tf.tidy(() => batchNorm(tf.tensor(x.values, x.shape), tf.tensor(gamma.values), tf.tensor(beta.values)).dataSync());
    const reference = tf.tidy(() => {
      const t = tf.tensor4d(x.values, x.shape as [number, number, number, number]);
      const { mean, variance } = tf.moments(t, [0, 1, 2]);
      return tf.batchNorm(t, mean, variance, tf.tensor1d(beta.values), tf.tensor1d(gamma.values), 1e-3).dataSync();
    });
    expect(relativeError(ours as Float32Array, reference as Float32Array)).toBeLessThan(tolerance);
    await expectSameGrads((t, g, b) => batchNorm(t, g, b), [x, gamma, beta]);
  });

  it('batchNorm updates its moving statistics while training and uses them for inference', async () => {
    await tf.setBackend('wasm');
    const moving = { mean: tf.variable(tf.zeros([2])), variance: tf.variable(tf.ones([2])), momentum: 0.5 };
    const x = tf.tensor4d([1, 10, 3, 20], [1, 1, 2, 2]);
    tf.tidy(() => {
      batchNorm(x, tf.ones([2]), tf.zeros([2]), { moving });
    });
    expect(Array.from(moving.mean.dataSync())).toEqual([1, 7.5]);
    expect(Array.from(moving.variance.dataSync())).toEqual([1, 13]);
    const y = tf.tidy(() => batchNorm(x, tf.ones([2]), tf.zeros([2]), { training: false, moving, epsilon: 0 }));
    expect(y.dataSync()[0]).toBeCloseTo(0, 5);
    tf.dispose([moving.mean, moving.variance, x, y]);
  });

  it('trains a small CNN on wasm: 30 Adam steps lower the loss on a fixed batch', async () => {
    await tf.setBackend('wasm');
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu', padding: 'same' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu', strides: 2 }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(1e-2), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor4d(input([32, 28, 28, 1], 7).values, [32, 28, 28, 1]);
    const ys = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 10), 'int32'), 10);
    const losses: number[] = [];
    let dataIds = 0;
    for (let step = 0; step < 30; step++) {
      losses.push(Number(await model.trainOnBatch(xs, ys)));
      // Every intermediate the kernels make is freed: after the optimizer's first steps, nothing grows.
      if (step === 2) dataIds = tf.engine().backend.numDataIds();
    }
    expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!, losses.join(' ')).toBeLessThan(losses[0]! * 0.7);
    tf.dispose([xs, ys]);
    model.dispose();
  });
});
