/**
 * The tiny CNN of tinyOnnx.ts as TF.js models on disk, same weights: a layers model in the layout
 * `model.save` writes (flat) or the one the TF.js converter writes (topology nested under
 * `model_config`), and a graph model (a hand-written GraphDef). Tests and the bench use them to
 * exercise every TF.js path without downloading weights.
 */
import type * as Tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import type { TinyCnn } from './tinyOnnx';

/** OIHW → HWIO. */
function toHwio(weight: Float32Array, out: number, inp: number): Float32Array {
  const result = new Float32Array(weight.length);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inp; i++)
      for (let h = 0; h < 3; h++) for (let w = 0; w < 3; w++) result[((h * 3 + w) * inp + i) * out + o] = weight[((o * inp + i) * 3 + h) * 3 + w]!;
  return result;
}

/** How writeTinyCnnTfjs lays out model.json. */
export interface TfjsLayoutOptions {
  /** flat: `model.save`'s layout; converter: tfjs-converter's, topology under modelTopology.model_config. */
  layout?: 'flat' | 'converter';
  /** The Keras class name written (the converter writes 'Functional' for functional Keras models). */
  className?: 'Sequential' | 'Functional' | 'Model';
}

/** Saves any layers model to `dir` as model.json + weights.bin, in the chosen layout; returns the model.json path. */
export async function saveLayersModel(net: Tf.LayersModel, dir: string, options: TfjsLayoutOptions = {}): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.json');
  await net.save({
    save: async (artifacts) => {
      const weights = Buffer.from(artifacts.weightData as ArrayBuffer);
      fs.writeFileSync(path.join(dir, 'weights.bin'), weights);
      const config = { ...(artifacts.modelTopology as Record<string, unknown>) };
      if (options.className) config.class_name = options.className;
      const weightsManifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }];
      const json =
        options.layout === 'converter'
          ? {
              format: 'layers-model',
              generatedBy: 'keras v2.15.0',
              convertedBy: 'TensorFlow.js Converter v4.22.0',
              modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: { class_name: config.class_name, config: config.config } },
              weightsManifest,
            }
          : { modelTopology: config, format: 'layers-model', weightsManifest };
      fs.writeFileSync(file, JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  return file;
}

/** Builds the TF.js layers twin of `model` and writes it to `dir`; returns the model.json path. */
export async function writeTinyCnnTfjs(tf: typeof Tf, model: TinyCnn, dir: string, options: TfjsLayoutOptions = {}): Promise<string> {
  const [c1, c2] = model.channels;
  const s = model.inputSize;
  const net = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [s, s, 3], filters: c1, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.conv2d({ filters: c2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.globalAveragePooling2d({}),
    ],
  });
  net.setWeights([
    tf.tensor4d(toHwio(model.conv1.weight, c1, 3), [3, 3, 3, c1]),
    tf.tensor1d(model.conv1.bias),
    tf.tensor4d(toHwio(model.conv2.weight, c2, c1), [3, 3, c1, c2]),
    tf.tensor1d(model.conv2.bias),
  ]);
  const file = await saveLayersModel(net, dir, options);
  net.dispose();
  return file;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const floatT = { type: 'DT_FLOAT' };
const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });

/**
 * The tiny CNN as a TF.js graph model (what the converter writes for a SavedModel): a GraphDef of
 * Placeholder → Conv2D → BiasAdd → Relu → Conv2D → BiasAdd → Relu → Mean over height and width,
 * weights in weights.bin. Returns the model.json path.
 */
export function writeTinyCnnGraph(model: TinyCnn, dir: string): string {
  const [c1, c2] = model.channels;
  const s = model.inputSize;
  const consts: Array<{ name: string; shape: number[]; dtype: 'float32' | 'int32'; data: Float32Array | Int32Array }> = [
    { name: 'w1', shape: [3, 3, 3, c1], dtype: 'float32', data: toHwio(model.conv1.weight, c1, 3) },
    { name: 'b1', shape: [c1], dtype: 'float32', data: model.conv1.bias },
    { name: 'w2', shape: [3, 3, c1, c2], dtype: 'float32', data: toHwio(model.conv2.weight, c2, c1) },
    { name: 'b2', shape: [c2], dtype: 'float32', data: model.conv2.bias },
    { name: 'axes', shape: [2], dtype: 'int32', data: Int32Array.from([1, 2]) },
  ];
  const constNode = (c: (typeof consts)[number]) => ({
    name: c.name,
    op: 'Const',
    attr: {
      dtype: { type: c.dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32' },
      value: { tensor: { dtype: c.dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32', tensorShape: dims(c.shape) } },
    },
  });
  const conv = (name: string, input: string, w: string) => ({
    name,
    op: 'Conv2D',
    input: [input, w],
    attr: {
      T: floatT,
      strides: { list: { i: ['1', '2', '2', '1'] } },
      dilations: { list: { i: ['1', '1', '1', '1'] } },
      padding: { s: b64('SAME') },
      data_format: { s: b64('NHWC') },
      use_cudnn_on_gpu: { b: true },
      explicit_paddings: { list: {} },
    },
  });
  const node = [
    { name: 'pixels', op: 'Placeholder', attr: { dtype: floatT, shape: { shape: dims([-1, s, s, 3]) } } },
    ...consts.map(constNode),
    conv('conv1', 'pixels', 'w1'),
    { name: 'bias1', op: 'BiasAdd', input: ['conv1', 'b1'], attr: { T: floatT, data_format: { s: b64('NHWC') } } },
    { name: 'relu1', op: 'Relu', input: ['bias1'], attr: { T: floatT } },
    conv('conv2', 'relu1', 'w2'),
    { name: 'bias2', op: 'BiasAdd', input: ['conv2', 'b2'], attr: { T: floatT, data_format: { s: b64('NHWC') } } },
    { name: 'relu2', op: 'Relu', input: ['bias2'], attr: { T: floatT } },
    { name: 'features', op: 'Mean', input: ['relu2', 'axes'], attr: { T: floatT, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
  ];
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(consts.map((c) => Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength))));
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      format: 'graph-model',
      generatedBy: '2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: { node, library: {}, versions: { producer: 1286 } },
      weightsManifest: [{ paths: ['weights.bin'], weights: consts.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
    }),
  );
  return file;
}
