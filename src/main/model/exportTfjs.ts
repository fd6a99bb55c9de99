/**
 * A built-in network (archSpec) as a standard TF.js "layers-model": model.json holds a functional
 * Keras Model config (InputLayer, Conv2D, BatchNormalization, Activation, MaxPooling2D,
 * GlobalAveragePooling2D, Flatten, Dense, Add, and a softmax at the end) and a weights manifest;
 * weights.bin holds the float32 weights in the manifest's order. Plain `tf.loadLayersModel` loads
 * it without Loupe. Keras layers carry the archSpec layer names, so their weights ('conv1/kernel',
 * 'stem_bn/moving_mean') are named exactly as the network's. Pure: no files, no TF.js.
 */
import type { LayerSpec, NamedWeights, NetSpec } from './archSpec';
import { weightSpecs } from './archSpec';

/** One file of an export: its name in the folder and its bytes. */
export interface ExportFile {
  name: string;
  data: Uint8Array;
}

/** What loupe-model.json says about a model: everything a program needs to feed it images. */
export interface LoupeModelInfo {
  /** Class names in the order of the model's outputs. */
  classes: string[];
  /** Side in pixels of the (square) input; inputShape says height and width apart. */
  inputSize: number;
  /** [height, width, channels], as model.json's input takes it after the batch. */
  inputShape: [number, number, number];
  channels: number;
  /** How 0..255 pixels became inputs: unit (x/255) or meanStd ((x/255 - mean) / std per channel). */
  normalize: { kind: 'unit' } | { kind: 'meanStd'; mean: number[]; std: number[] };
  /** How an image was brought to inputSize x inputSize (the training pipeline's resize). */
  resize: string;
  arch: string;
  /** For arch 'finetune': the backbone the run fine-tuned (its layers are in model.json). */
  backbone?: string;
  /** What the export holds and leaves out (a finetune run's has no ONNX file). */
  note?: string;
  run: number;
  datasetVersion: number;
}

/** The weights file model.json points at. */
export const tfjsWeightsFile = 'weights.bin';

type KerasNode = Array<[string, number, number, Record<string, never>]>;
interface KerasLayer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes: KerasNode[];
}

/** The Keras functional-model topology of a network (model.json's modelTopology). */
export function kerasTopology(spec: NetSpec): Record<string, unknown> {
  const layers: KerasLayer[] = [];
  const used = new Set<string>();
  const unique = (base: string) => {
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const add = (className: string, base: string, config: Record<string, unknown>, inputs: string[]): string => {
    const name = unique(base);
    layers.push({
      class_name: className,
      name,
      config: { name, trainable: true, dtype: 'float32', ...config },
      inbound_nodes: inputs.length === 0 ? [] : [inputs.map((i) => [i, 0, 0, {}] as [string, number, number, Record<string, never>])],
    });
    return name;
  };
  // Every weighted layer keeps its archSpec name: reserve them before naming the rest.
  const reserve = (list: LayerSpec[]) => {
    for (const layer of list) {
      if ('name' in layer) used.add(layer.name);
      if (layer.op === 'residual') {
        reserve(layer.body);
        reserve(layer.shortcut);
      }
    }
  };
  reserve(spec.layers);
  const own = (name: string) => {
    used.delete(name);
    return name;
  };

  const relu = (input: string, base: string) => add('Activation', `${base}_relu`, { activation: 'relu' }, [input]);
  const walk = (list: LayerSpec[], input: string): string => {
    let x = input;
    for (const layer of list) x = emit(layer, x);
    return x;
  };
  let pools = 0;
  const emit = (layer: LayerSpec, x: string): string => {
    switch (layer.op) {
      case 'conv':
        return add(
          'Conv2D',
          own(layer.name),
          {
            filters: layer.filters,
            kernel_size: [layer.kernel, layer.kernel],
            strides: [layer.stride, layer.stride],
            padding: layer.pad,
            data_format: 'channels_last',
            dilation_rate: [1, 1],
            activation: layer.relu ? 'relu' : 'linear',
            use_bias: layer.bias,
          },
          [x],
        );
      case 'bn': {
        const y = add('BatchNormalization', own(layer.name), { axis: -1, momentum: 0.99, epsilon: 1e-3, center: true, scale: true }, [x]);
        return layer.relu ? relu(y, layer.name) : y;
      }
      case 'maxpool':
        pools++;
        return add(
          'MaxPooling2D',
          `pool${pools}`,
          { pool_size: [layer.size, layer.size], strides: [layer.stride, layer.stride], padding: 'valid', data_format: 'channels_last' },
          [x],
        );
      case 'gap':
        return add('GlobalAveragePooling2D', 'gap', { data_format: 'channels_last' }, [x]);
      case 'flatten':
        return add('Flatten', 'flatten', {}, [x]);
      case 'dense':
        return add('Dense', own(layer.name), { units: layer.units, activation: layer.relu ? 'relu' : 'linear', use_bias: true }, [x]);
      case 'residual': {
        const body = walk(layer.body, x);
        const shortcut = layer.shortcut.length > 0 ? walk(layer.shortcut, x) : x;
        return relu(add('Add', `${layer.name}_add`, {}, [body, shortcut]), layer.name);
      }
    }
  };

  const input = add('InputLayer', 'input', { batch_input_shape: [null, ...spec.inputShape], sparse: false }, []);
  const logits = walk(spec.layers, input);
  const output = add('Activation', 'softmax', { activation: 'softmax' }, [logits]);
  return {
    class_name: 'Model',
    config: { name: spec.arch.replace(/-/g, '_'), layers, input_layers: [[input, 0, 0]], output_layers: [[output, 0, 0]] },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };
}

/** The weights in `weightSpecs` order, checked against the network; one float32 buffer. */
export function packWeights(spec: NetSpec, weights: NamedWeights): { manifest: Array<{ name: string; shape: number[]; dtype: 'float32' }>; data: Uint8Array } {
  const specs = weightSpecs(spec).weights;
  const total = specs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  const data = new Float32Array(total);
  let offset = 0;
  for (const w of specs) {
    const given = weights.get(w.name);
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (!given || given.shape.join('x') !== w.shape.join('x') || given.data.length !== size) {
      throw new Error(`weights do not fit ${spec.arch}: ${w.name} is ${given ? given.shape.join('x') : 'missing'}, needs ${w.shape.join('x')}`);
    }
    data.set(given.data, offset);
    offset += size;
  }
  return { manifest: specs.map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' as const })), data: new Uint8Array(data.buffer) };
}

/** model.json and weights.bin of a network with these weights. */
export function exportTfjs(spec: NetSpec, weights: NamedWeights): ExportFile[] {
  const { manifest, data } = packWeights(spec, weights);
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'Loupe',
    convertedBy: null,
    modelTopology: kerasTopology(spec),
    weightsManifest: [{ paths: [tfjsWeightsFile], weights: manifest }],
  };
  return [
    { name: 'model.json', data: Buffer.from(JSON.stringify(modelJson)) },
    { name: tfjsWeightsFile, data },
  ];
}

/** loupe-model.json: the classes and the input pipeline that go with the model files. */
export function loupeModelFile(info: LoupeModelInfo): ExportFile {
  return { name: 'loupe-model.json', data: Buffer.from(JSON.stringify(info, null, 2) + '\n') };
}
