/**
 * A built-in network (archSpec) as an ONNX model (IR 7, opset 13), protobuf written by hand (see
 * onnxProto.ts). The graph takes NHWC input `input` [N, H, W, C], like the TF.js model, and
 * transposes it to NCHW inside; it ends in `probabilities` [N, classes] (a softmax). TF.js's
 * 'same' padding (the extra row and column at the bottom and right) becomes explicit pads; batch
 * norm is ONNX's inference form with epsilon 1e-3, as in kernels/batchNorm.ts; a Flatten before a
 * dense layer transposes back to NHWC first, so the dense weights see TF.js's order.
 */
import type { LayerSpec, NamedWeights, NetSpec } from './archSpec';
import { attribute, encodeModel, node, tensorProto, valueInfo, type Bytes } from './onnxProto';

/** The ONNX graph's input and output names. */
export const onnxNames = { input: 'input', output: 'probabilities' } as const;

/** TF 'same' padding of one axis: [before, after], the odd one after. */
export function samePads(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + kernel - size);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** HWIO (TF.js) to OIHW (ONNX). */
function hwioToOihw(data: Float32Array, [kh, kw, ci, co]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let h = 0; h < kh!; h++) {
    for (let w = 0; w < kw!; w++) {
      for (let i = 0; i < ci!; i++) {
        for (let o = 0; o < co!; o++) out[((o * ci! + i) * kh! + h) * kw! + w] = data[((h * kw! + w) * ci! + i) * co! + o]!;
      }
    }
  }
  return out;
}

/** The network with these weights as ONNX bytes. */
export function exportOnnx(spec: NetSpec, weights: NamedWeights, producer = 'Loupe'): Uint8Array {
  const nodes: Bytes[] = [];
  const initializers: Bytes[] = [];
  let counter = 0;
  const fresh = (base: string) => `${base}_${counter++}`;
  const weight = (name: string, shape: number[], transform?: (data: Float32Array, shape: number[]) => { data: Float32Array; shape: number[] }) => {
    const given = weights.get(name);
    if (!given || given.shape.join('x') !== shape.join('x')) {
      throw new Error(`weights do not fit ${spec.arch}: ${name} is ${given ? given.shape.join('x') : 'missing'}, needs ${shape.join('x')}`);
    }
    const { data, shape: dims } = transform ? transform(given.data, given.shape) : { data: given.data, shape: given.shape };
    initializers.push(tensorProto(name, dims, data));
    return name;
  };
  const op = (type: string, inputs: string[], attributes: Bytes[] = [], base = type.toLowerCase()) => {
    const output = fresh(base);
    nodes.push(node(type, inputs, [output], output, attributes));
    return output;
  };

  // Shapes as the walk goes: [c, h, w] for NCHW tensors, [features] after pooling or flattening.
  type Shape = { c: number; h: number; w: number } | { features: number };
  const walk = (list: LayerSpec[], x: string, shape: Shape): { x: string; shape: Shape } => {
    let state = { x, shape };
    for (const layer of list) state = emit(layer, state.x, state.shape);
    return state;
  };
  const spatial = (shape: Shape, what: string) => {
    if (!('c' in shape)) throw new Error(`${spec.arch}: ${what} needs an image-shaped input`);
    return shape;
  };
  const emit = (layer: LayerSpec, x: string, shape: Shape): { x: string; shape: Shape } => {
    switch (layer.op) {
      case 'conv': {
        const { c, h, w } = spatial(shape, layer.name);
        const k = layer.kernel;
        const [top, bottom] = layer.pad === 'same' ? samePads(h, k, layer.stride) : [0, 0];
        const [left, right] = layer.pad === 'same' ? samePads(w, k, layer.stride) : [0, 0];
        const inputs = [x, weight(`${layer.name}/kernel`, [k, k, c, layer.filters], (data, s) => ({ data: hwioToOihw(data, s), shape: [s[3]!, s[2]!, s[0]!, s[1]!] }))];
        if (layer.bias) inputs.push(weight(`${layer.name}/bias`, [layer.filters]));
        const y = op(
          'Conv',
          inputs,
          [
            attribute.ints('kernel_shape', [k, k]),
            attribute.ints('strides', [layer.stride, layer.stride]),
            attribute.ints('pads', [top, left, bottom, right]),
            attribute.ints('dilations', [1, 1]),
          ],
          layer.name,
        );
        const size = (n: number) => (layer.pad === 'same' ? Math.ceil(n / layer.stride) : Math.floor((n - k) / layer.stride) + 1);
        return { x: layer.relu ? op('Relu', [y]) : y, shape: { c: layer.filters, h: size(h), w: size(w) } };
      }
      case 'bn': {
        const c = 'c' in shape ? shape.c : shape.features;
        const p = (what: string) => weight(`${layer.name}/${what}`, [c]);
        const y = op('BatchNormalization', [x, p('gamma'), p('beta'), p('moving_mean'), p('moving_variance')], [attribute.float('epsilon', 1e-3), attribute.float('momentum', 0.99)], layer.name);
        return { x: layer.relu ? op('Relu', [y]) : y, shape };
      }
      case 'maxpool': {
        const { c, h, w } = spatial(shape, 'maxpool');
        const size = (n: number) => Math.floor((n - layer.size) / layer.stride) + 1;
        const y = op('MaxPool', [x], [attribute.ints('kernel_shape', [layer.size, layer.size]), attribute.ints('strides', [layer.stride, layer.stride]), attribute.ints('pads', [0, 0, 0, 0])]);
        return { x: y, shape: { c, h: size(h), w: size(w) } };
      }
      case 'gap': {
        const { c } = spatial(shape, 'global average pooling');
        return { x: op('Flatten', [op('GlobalAveragePool', [x])], [attribute.int('axis', 1)]), shape: { features: c } };
      }
      case 'flatten': {
        if (!('c' in shape)) return { x, shape };
        // Back to NHWC: TF.js flattens (and its dense kernel was trained on) h, w, c order.
        const nhwc = op('Transpose', [x], [attribute.ints('perm', [0, 2, 3, 1])]);
        return { x: op('Flatten', [nhwc], [attribute.int('axis', 1)]), shape: { features: shape.c * shape.h * shape.w } };
      }
      case 'dense': {
        if ('c' in shape) throw new Error(`${spec.arch}: dense layer ${layer.name} needs a flatten or pooling before it`);
        const y = op('Gemm', [x, weight(`${layer.name}/kernel`, [shape.features, layer.units]), weight(`${layer.name}/bias`, [layer.units])], [], layer.name);
        return { x: layer.relu ? op('Relu', [y]) : y, shape: { features: layer.units } };
      }
      case 'residual': {
        const body = walk(layer.body, x, shape);
        const shortcut = layer.shortcut.length > 0 ? walk(layer.shortcut, x, shape) : { x, shape };
        return { x: op('Relu', [op('Add', [body.x, shortcut.x], [], `${layer.name}_add`)]), shape: body.shape };
      }
    }
  };

  const [h, w, c] = spec.inputShape;
  const nchw = op('Transpose', [onnxNames.input], [attribute.ints('perm', [0, 3, 1, 2])]);
  const logits = walk(spec.layers, nchw, { c, h, w });
  nodes.push(node('Softmax', [logits.x], [onnxNames.output], 'softmax', [attribute.int('axis', 1)]));
  return encodeModel({
    producer,
    graphName: spec.arch,
    nodes,
    initializers,
    inputs: [valueInfo(onnxNames.input, ['N', h, w, c])],
    outputs: [valueInfo(onnxNames.output, ['N', spec.classes])],
  });
}
