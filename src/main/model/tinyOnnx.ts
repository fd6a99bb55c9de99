/**
 * A tiny ONNX writer: protobuf encoded by hand for a small CNN feature extractor
 * (Conv 3x3 stride 2, padded like TF.js 'same' → Relu → Conv 3x3 stride 2 → Relu → GlobalAveragePool → Flatten).
 * Tests and the bench use it to exercise the ONNX path without downloading weights; the same
 * weights build the TF.js twin (see tinyTfjs in the tests and bench).
 */

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

// Protobuf wire format: varints, length-delimited fields, 32-bit floats.
function varint(value: number): number[] {
  const out: number[] = [];
  let v = BigInt(value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, value: number) => [...key(field, 0), ...varint(value)];
const bytes = (field: number, data: Uint8Array | number[]) => [...key(field, 2), ...varint(data.length), ...data];
const str = (field: number, text: string) => bytes(field, [...Buffer.from(text, 'utf8')]);
const msg = (field: number, parts: number[][]) => bytes(field, parts.flat());

function tensor(name: string, dims: number[], values: Float32Array): number[][] {
  return [...dims.map((d) => int(1, d)), int(2, 1), str(8, name), bytes(9, new Uint8Array(values.buffer, values.byteOffset, values.byteLength))];
}

function attrInts(name: string, values: number[]): number[][] {
  return [str(1, name), ...values.map((v) => int(8, v)), int(20, 7)];
}

function node(op: string, inputs: string[], outputs: string[], attributes: number[][][] = []): number[][] {
  return [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, `${op}_${outputs[0]}`), str(4, op), ...attributes.map((a) => msg(5, a))];
}

function valueInfo(name: string, dims: Array<number | string>): number[][] {
  const shape = dims.map((d) => msg(1, [typeof d === 'number' ? int(1, d) : str(2, d)]));
  return [str(1, name), msg(2, [msg(1, [int(1, 1), msg(2, shape)])])];
}

/** The tiny CNN as an ONNX model (IR 7, opset 13): input `pixels` [N,3,S,S], output `features` [N,c2]. */
export function tinyCnnOnnx(model: TinyCnn): Uint8Array {
  const [c1, c2] = model.channels;
  const s = model.inputSize;
  const conv = (w: string, b: string, input: string, output: string) =>
    node('Conv', [input, w, b], [output], [attrInts('kernel_shape', [3, 3]), attrInts('strides', [2, 2]), attrInts('pads', [0, 0, 1, 1])]);
  const graph = [
    msg(1, conv('w1', 'b1', 'pixels', 'c1')),
    msg(1, node('Relu', ['c1'], ['r1'])),
    msg(1, conv('w2', 'b2', 'r1', 'c2')),
    msg(1, node('Relu', ['c2'], ['r2'])),
    msg(1, node('GlobalAveragePool', ['r2'], ['pooled'])),
    msg(1, node('Flatten', ['pooled'], ['features'])),
    str(2, 'tiny_cnn'),
    msg(5, tensor('w1', [c1, 3, 3, 3], model.conv1.weight)),
    msg(5, tensor('b1', [c1], model.conv1.bias)),
    msg(5, tensor('w2', [c2, c1, 3, 3], model.conv2.weight)),
    msg(5, tensor('b2', [c2], model.conv2.bias)),
    msg(11, valueInfo('pixels', ['N', 3, s, s])),
    msg(12, valueInfo('features', ['N', c2])),
  ];
  return Uint8Array.from([...int(1, 7), ...str(2, 'loupe'), ...msg(7, graph), ...msg(8, [str(1, ''), int(2, 13)])]);
}
