/**
 * The full model's built-in networks as plain data: a small tree of layers (conv, batch norm, ReLU,
 * pooling, dense, residual blocks). One description serves everything that needs the network:
 * building it for training (`buildNet`, over the `tf` the host selected), counting its parameters,
 * naming its weights for checkpoints, and exporting it (TF.js and ONNX). NHWC throughout.
 */
import type * as Tf from '@tensorflow/tfjs';
import { batchNorm, type MovingStats } from './kernels/batchNorm';

/** One layer. Layers with weights carry a name, unique in the network, that keys their weights. */
export type LayerSpec =
  | { op: 'conv'; name: string; filters: number; kernel: number; stride: number; pad: 'same' | 'valid'; bias: boolean; relu: boolean }
  | { op: 'bn'; name: string; relu: boolean }
  | { op: 'maxpool'; size: number; stride: number }
  /** Global average pooling: [n, h, w, c] to [n, c]. */
  | { op: 'gap' }
  | { op: 'flatten' }
  | { op: 'dense'; name: string; units: number; relu: boolean }
  /** relu(body(x) + shortcut(x)); an empty shortcut is the identity. */
  | { op: 'residual'; name: string; body: LayerSpec[]; shortcut: LayerSpec[] };

/** The built-in architectures. */
export const architectureNames = ['small-cnn', 'resnet-small'] as const;
/** A built-in architecture. */
export type ArchitectureName = (typeof architectureNames)[number];

/** What every network has, built in or fine-tuned: its input and how many logits it ends with. */
export interface NetShape {
  /** [height, width, channels] */
  inputShape: [number, number, number];
  classes: number;
}

/** A built-in network: its input, its layers, and the logits it ends with. */
export interface NetSpec extends NetShape {
  arch: ArchitectureName;
  layers: LayerSpec[];
}

const conv = (name: string, filters: number, kernel: number, stride: number, relu: boolean, bias = true): LayerSpec => ({
  op: 'conv',
  name,
  filters,
  kernel,
  stride,
  pad: 'same',
  bias,
  relu,
});

/**
 * "Start simple": conv3x3(32)-ReLU-maxpool-conv3x3(64)-ReLU-maxpool-dense(128)-ReLU-dense(classes),
 * LeNet-like, no dropout or batch norm; under 1M parameters at 28x28.
 */
export function smallCnnSpec(inputShape: [number, number, number], classes: number): NetSpec {
  return {
    arch: 'small-cnn',
    inputShape,
    classes,
    layers: [
      conv('conv1', 32, 3, 1, true),
      { op: 'maxpool', size: 2, stride: 2 },
      conv('conv2', 64, 3, 1, true),
      { op: 'maxpool', size: 2, stride: 2 },
      { op: 'flatten' },
      { op: 'dense', name: 'dense1', units: 128, relu: true },
      { op: 'dense', name: 'logits', units: classes, relu: false },
    ],
  };
}

/** A stem conv3x3 + BN + ReLU and three residual blocks (16, 32 stride 2, 64 stride 2), global average pool, dense. */
export function resnetSmallSpec(inputShape: [number, number, number], classes: number, widths: [number, number, number] = [16, 32, 64]): NetSpec {
  const layers: LayerSpec[] = [conv('stem', widths[0], 3, 1, false, false), { op: 'bn', name: 'stem_bn', relu: true }];
  let inC = widths[0];
  widths.forEach((outC, i) => {
    const stride = i === 0 ? 1 : 2;
    const name = `block${i + 1}`;
    layers.push({
      op: 'residual',
      name,
      body: [
        conv(`${name}_conv1`, outC, 3, stride, false, false),
        { op: 'bn', name: `${name}_bn1`, relu: true },
        conv(`${name}_conv2`, outC, 3, 1, false, false),
        { op: 'bn', name: `${name}_bn2`, relu: false },
      ],
      shortcut: stride !== 1 || inC !== outC ? [conv(`${name}_proj`, outC, 1, stride, false, false), { op: 'bn', name: `${name}_proj_bn`, relu: false }] : [],
    });
    inC = outC;
  });
  layers.push({ op: 'gap' }, { op: 'dense', name: 'logits', units: classes, relu: false });
  return { arch: 'resnet-small', inputShape, classes, layers };
}

/** The spec of a built-in architecture. */
export function netSpec(arch: ArchitectureName, inputShape: [number, number, number], classes: number): NetSpec {
  switch (arch) {
    case 'small-cnn':
      return smallCnnSpec(inputShape, classes);
    case 'resnet-small':
      return resnetSmallSpec(inputShape, classes);
  }
}

/** One named weight: its shape and whether training changes it by gradient (moving statistics do not). */
export interface WeightSpec {
  name: string;
  shape: number[];
  trainable: boolean;
  /** How it starts: He-normal (ReLU layers and those feeding them), zeros or ones. */
  init: 'he' | 'zeros' | 'ones';
}

type Shape = number[];

/** Every weight of a network in a fixed order, and the output shape (without the batch). */
export function weightSpecs(spec: NetSpec): { weights: WeightSpec[]; output: Shape } {
  const weights: WeightSpec[] = [];
  const output = walkShapes(spec.layers, [...spec.inputShape], weights);
  return { weights, output };
}

function walkShapes(layers: LayerSpec[], input: Shape, out: WeightSpec[]): Shape {
  let shape = input;
  for (const layer of layers) shape = layerShape(layer, shape, out);
  return shape;
}

function layerShape(layer: LayerSpec, [h, w, c]: Shape, out: WeightSpec[]): Shape {
  switch (layer.op) {
    case 'conv': {
      out.push({ name: `${layer.name}/kernel`, shape: [layer.kernel, layer.kernel, c!, layer.filters], trainable: true, init: 'he' });
      if (layer.bias) out.push({ name: `${layer.name}/bias`, shape: [layer.filters], trainable: true, init: 'zeros' });
      const size = (n: number) => (layer.pad === 'same' ? Math.ceil(n / layer.stride) : Math.floor((n - layer.kernel) / layer.stride) + 1);
      return [size(h!), size(w!), layer.filters];
    }
    case 'bn':
      out.push(
        { name: `${layer.name}/gamma`, shape: [c!], trainable: true, init: 'ones' },
        { name: `${layer.name}/beta`, shape: [c!], trainable: true, init: 'zeros' },
        { name: `${layer.name}/moving_mean`, shape: [c!], trainable: false, init: 'zeros' },
        { name: `${layer.name}/moving_variance`, shape: [c!], trainable: false, init: 'ones' },
      );
      return [h!, w!, c!];
    case 'maxpool':
      return [Math.floor((h! - layer.size) / layer.stride) + 1, Math.floor((w! - layer.size) / layer.stride) + 1, c!];
    case 'gap':
      return [c!];
    case 'flatten':
      return [[h!, w!, c!].filter((n) => n !== undefined).reduce((a, b) => a * b, 1)];
    case 'dense': {
      const inputs = h!;
      out.push(
        { name: `${layer.name}/kernel`, shape: [inputs, layer.units], trainable: true, init: 'he' },
        { name: `${layer.name}/bias`, shape: [layer.units], trainable: true, init: 'zeros' },
      );
      return [layer.units];
    }
    case 'residual': {
      const body = walkShapes(layer.body, [h!, w!, c!], out);
      const shortcut = walkShapes(layer.shortcut, [h!, w!, c!], out);
      if (body.join('x') !== shortcut.join('x')) {
        throw new Error(`residual ${layer.name}: body gives ${body.join('x')}, shortcut ${shortcut.join('x')}`);
      }
      return body;
    }
  }
}

/** How many numbers the network learns (moving statistics not counted). */
export function parameterCount(spec: NetSpec): number {
  return weightSpecs(spec).weights.reduce((n, w) => (w.trainable ? n + w.shape.reduce((a, b) => a * b, 1) : n), 0);
}

/** A network's weights by name, as plain arrays: what checkpoints store and exports read. */
export type NamedWeights = Map<string, { shape: number[]; data: Float32Array }>;

/** A built network. */
export interface Net {
  spec: NetShape;
  /** The weights gradients update, in `weightSpecs` order. */
  trainable: Tf.Variable[];
  /** Every weight by name (moving statistics included). */
  variables: Map<string, Tf.Variable>;
  /** Logits [batch, classes]; `training` normalises with batch statistics and updates the moving ones. */
  apply(x: Tf.Tensor4D, training: boolean): Tf.Tensor2D;
  /** A copy of every weight. */
  readWeights(): Promise<NamedWeights>;
  /** Sets every weight (a checkpoint's); refuses names or shapes that do not match. */
  writeWeights(weights: NamedWeights): void;
  dispose(): void;
}

/**
 * Builds a network with its weights initialised from `seed`: He-normal for kernels (the ReLU
 * default), zeros for biases and betas, ones for gammas.
 */
export function buildNet(tf: typeof Tf, spec: NetSpec, seed: number): Net {
  const { weights } = weightSpecs(spec);
  const variables = new Map<string, Tf.Variable>();
  const trainable: Tf.Variable[] = [];
  weights.forEach((w, i) => {
    const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const initial =
      w.init === 'he' ? tf.randomNormal(w.shape, 0, Math.sqrt(2 / fanIn), 'float32', seed * 1009 + i) : w.init === 'ones' ? tf.ones(w.shape) : tf.zeros(w.shape);
    const v = tf.variable(initial, w.trainable, `${w.name}_${seed}_${Math.random().toString(36).slice(2)}`);
    initial.dispose();
    variables.set(w.name, v);
    if (w.trainable) trainable.push(v);
  });
  const get = (name: string) => variables.get(name)!;
  const moving = (name: string): MovingStats => ({ mean: get(`${name}/moving_mean`), variance: get(`${name}/moving_variance`), momentum: 0.99 });

  const run = (layers: LayerSpec[], x: Tf.Tensor, training: boolean): Tf.Tensor => {
    let y = x;
    for (const layer of layers) y = runLayer(layer, y, training);
    return y;
  };
  const runLayer = (layer: LayerSpec, x: Tf.Tensor, training: boolean): Tf.Tensor => {
    switch (layer.op) {
      case 'conv':
        return tf.fused.conv2d({
          x: x as Tf.Tensor4D,
          filter: get(`${layer.name}/kernel`) as Tf.Tensor as Tf.Tensor4D,
          bias: layer.bias ? get(`${layer.name}/bias`) : undefined,
          strides: layer.stride,
          pad: layer.pad,
          activation: layer.relu ? 'relu' : 'linear',
        });
      case 'bn': {
        const y = batchNorm(x, get(`${layer.name}/gamma`), get(`${layer.name}/beta`), { training, moving: moving(layer.name) });
        return layer.relu ? tf.relu(y) : y;
      }
      case 'maxpool':
        return tf.maxPool(x as Tf.Tensor4D, layer.size, layer.stride, 'valid');
      case 'gap':
        return tf.mean(x, [1, 2]);
      case 'flatten':
        return x.reshape([x.shape[0]!, -1]);
      case 'dense':
        return tf.fused.matMul({
          a: x as Tf.Tensor2D,
          b: get(`${layer.name}/kernel`) as Tf.Tensor as Tf.Tensor2D,
          bias: get(`${layer.name}/bias`),
          activation: layer.relu ? 'relu' : 'linear',
        });
      case 'residual': {
        const body = run(layer.body, x, training);
        const shortcut = layer.shortcut.length > 0 ? run(layer.shortcut, x, training) : x;
        return tf.relu(tf.add(body, shortcut));
      }
    }
  };

  return {
    spec,
    trainable,
    variables,
    apply: (x, training) => run(spec.layers, x, training) as Tf.Tensor2D,
    async readWeights() {
      const out: NamedWeights = new Map();
      for (const [name, v] of variables) out.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
      return out;
    },
    writeWeights(weights) {
      for (const [name, v] of variables) {
        const w = weights.get(name);
        if (!w || w.shape.join('x') !== v.shape.join('x')) {
          throw new Error(`weights do not fit ${spec.arch}: ${name} is ${w ? w.shape.join('x') : 'missing'}, needs ${v.shape.join('x')}`);
        }
        tf.tidy(() => v.assign(tf.tensor(w.data, w.shape)));
      }
    },
    dispose: () => variables.forEach((v) => v.dispose()),
  };
}
