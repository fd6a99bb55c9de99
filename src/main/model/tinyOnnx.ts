/**
 * A tiny ONNX model for a small CNN feature extractor, written with the exporter's encoder (onnxProto.ts)
 * (Conv 3x3 stride 2, padded like TF.js 'same' → Relu → Conv 3x3 stride 2 → Relu → GlobalAveragePool → Flatten).
 * Tests and the bench use it to exercise the ONNX path without downloading weights; the same
 * weights build the TF.js twin (see tinyTfjs in the tests and bench).
 */
import { attribute, encodeModel, node, tensorProto, valueInfo } from './onnxProto';

/** Weights of the tiny CNN: conv kernels in OIHW order. */
export interface TinyCnn {
  inputSize: number;
  channels: [number, number];
  conv1: { weight: Float32Array; bias: Float32Array };
  conv2: { weight: Float32Array; bias: Float32Array };
}

/** Seeded weights for a tiny CNN with `c1` and `c2` filters. */
export function tinyCnn(inputSize: number, c1: number, c2: number, seed = 1): TinyCnn {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const fill = (n: number, scale: number) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
  return {
    inputSize,
    channels: [c1, c2],
    conv1: { weight: fill(c1 * 3 * 9, Math.sqrt(6 / 27)), bias: fill(c1, 0.1) },
    conv2: { weight: fill(c2 * c1 * 9, Math.sqrt(6 / (c1 * 9))), bias: fill(c2, 0.1) },
  };
}

/** The tiny CNN as an ONNX model (IR 7, opset 13): input `pixels` [N,3,S,S], output `features` [N,c2]. */
export function tinyCnnOnnx(model: TinyCnn): Uint8Array {
  const [c1, c2] = model.channels;
  const s = model.inputSize;
  const conv = (w: string, b: string, input: string, output: string) =>
    node('Conv', [input, w, b], [output], `Conv_${output}`, [attribute.ints('kernel_shape', [3, 3]), attribute.ints('strides', [2, 2]), attribute.ints('pads', [0, 0, 1, 1])]);
  return encodeModel({
    producer: 'loupe',
    graphName: 'tiny_cnn',
    nodes: [
      conv('w1', 'b1', 'pixels', 'c1'),
      node('Relu', ['c1'], ['r1'], 'Relu_r1'),
      conv('w2', 'b2', 'r1', 'c2'),
      node('Relu', ['c2'], ['r2'], 'Relu_r2'),
      node('GlobalAveragePool', ['r2'], ['pooled'], 'GlobalAveragePool_pooled'),
      node('Flatten', ['pooled'], ['features'], 'Flatten_features'),
    ],
    initializers: [
      tensorProto('w1', [c1, 3, 3, 3], model.conv1.weight),
      tensorProto('b1', [c1], model.conv1.bias),
      tensorProto('w2', [c2, c1, 3, 3], model.conv2.weight),
      tensorProto('b2', [c2], model.conv2.bias),
    ],
    inputs: [valueInfo('pixels', ['N', 3, s, s])],
    outputs: [valueInfo('features', ['N', c2])],
  });
}
