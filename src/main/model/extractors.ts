/**
 * Feature extractors: turn image files into vectors with an ONNX model (onnxruntime-node), a TF.js
 * layers or graph model, or the image baseline. Loaded only in the training process.
 */
import type * as Tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { LoupeError } from '../../shared/errors';
import { baselineDim, baselineFeatures, sharpOf, type ImageInput } from './baseline';
import type { BackboneSpec } from './backbones';
import { assertNever } from '../../shared/assertNever';

/** Turns a batch of images into one vector each. */
export interface Extractor {
  readonly spec: BackboneSpec;
  /** Vector length, known after loading. */
  readonly dim: number;
  /** How many images to feed at once. */
  readonly batchSize: number;
  embed(images: ImageInput[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

/** Loads the extractor a spec names. `tf` is needed for TF.js models only. */
export async function loadExtractor(spec: BackboneSpec, tf?: typeof Tf): Promise<Extractor> {
  switch (spec.kind) {
    case 'baseline':
      return {
        spec,
        dim: baselineDim,
        batchSize: 64,
        embed: (images) => Promise.all(images.map((image) => baselineFeatures(image))),
        dispose: async () => {},
      };
    case 'onnx':
      return loadOnnx(spec);
    case 'tfjs':
      if (!tf) throw new LoupeError('BACKEND_UNAVAILABLE', 'A TF.js backbone needs a TF.js backend.');
      return loadTfjs(spec, tf);
    default:
      return assertNever(spec.kind, 'backbone kind');
  }
}

/** Decodes an image to size x size RGB, normalised, in NCHW or NHWC order, written into `out` at `offset`. */
export async function writePixels(
  input: ImageInput,
  spec: Pick<BackboneSpec, 'mean' | 'std'>,
  size: number,
  layout: 'nchw' | 'nhwc',
  out: Float32Array,
  offset: number,
): Promise<void> {
  const rgb = await sharpOf(input).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer();
  const plane = size * size;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = (rgb[i * 3 + c]! / 255 - spec.mean[c]!) / spec.std[c]!;
      out[offset + (layout === 'nchw' ? c * plane + i : i * 3 + c)] = v;
    }
  }
}

/** Splits a [n, ...] output into n vectors, averaging spatial positions of a 4-d feature map. */
export function toVectors(data: Float32Array, dims: readonly number[], layout: 'nchw' | 'nhwc'): Float32Array[] {
  const n = dims[0]!;
  const per = data.length / n;
  const out: Float32Array[] = [];
  if (dims.length === 4) {
    const channels = layout === 'nchw' ? dims[1]! : dims[3]!;
    const positions = per / channels;
    for (let k = 0; k < n; k++) {
      const v = new Float32Array(channels);
      const base = k * per;
      for (let p = 0; p < positions; p++) {
        for (let c = 0; c < channels; c++) {
          v[c]! += data[base + (layout === 'nchw' ? c * positions + p : p * channels + c)]! / positions;
        }
      }
      out.push(v);
    }
    return out;
  }
  for (let k = 0; k < n; k++) out.push(data.slice(k * per, (k + 1) * per));
  return out;
}

async function loadOnnx(spec: BackboneSpec): Promise<Extractor> {
  const ort = await import('onnxruntime-node');
  if (!spec.file) throw new LoupeError('NOT_FOUND', `Backbone ${spec.name} has no file.`);
  const session = await ort.InferenceSession.create(spec.file, { intraOpNumThreads: 0, graphOptimizationLevel: 'all' });
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const meta = session.inputMetadata?.[0];
  const shape = meta && 'shape' in meta ? meta.shape : [];
  const fixedSize = typeof shape[2] === 'number' && shape[2] > 0 ? shape[2] : spec.inputSize;
  const isBatchOne = shape[0] === 1;
  const size = fixedSize;
  const run = async (images: ImageInput[]): Promise<Float32Array[]> => {
    const data = new Float32Array(images.length * 3 * size * size);
    await Promise.all(images.map((image, i) => writePixels(image, spec, size, 'nchw', data, i * 3 * size * size)));
    const result = await session.run({ [inputName]: new ort.Tensor('float32', data, [images.length, 3, size, size]) });
    const output = result[outputName]!;
    const vectors = toVectors(output.data as Float32Array, output.dims, 'nchw');
    output.dispose?.();
    return vectors;
  };
  const embed = async (images: ImageInput[]) => {
    if (!isBatchOne) return run(images);
    const out: Float32Array[] = [];
    for (const image of images) out.push(...(await run([image])));
    return out;
  };
  const probe = await embed([await blankPng(size)]);
  return {
    spec: { ...spec, inputSize: size },
    dim: probe[0]!.length,
    batchSize: 32,
    embed,
    dispose: () => session.release(),
  };
}

async function loadTfjs(spec: BackboneSpec, tf: typeof Tf): Promise<Extractor> {
  if (!spec.file) throw new LoupeError('NOT_FOUND', `Backbone ${spec.name} has no file.`);
  const handler = fileHandler(spec.file);
  const json = JSON.parse(fs.readFileSync(spec.file, 'utf8')) as { format?: string; modelTopology?: { class_name?: string } };
  const isGraph = json.format === 'graph-model' || (json.modelTopology !== undefined && !('class_name' in json.modelTopology) && !('config' in json.modelTopology));
  const model = isGraph ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  const inputShape = (isGraph ? (model as Tf.GraphModel).inputs[0]?.shape : (model as Tf.LayersModel).inputs[0]?.shape) ?? [];
  const size = typeof inputShape[1] === 'number' && inputShape[1] > 0 ? inputShape[1] : spec.inputSize;
  const embed = async (images: ImageInput[]): Promise<Float32Array[]> => {
    const data = new Float32Array(images.length * size * size * 3);
    await Promise.all(images.map((image, i) => writePixels(image, spec, size, 'nhwc', data, i * size * size * 3)));
    const input = tf.tensor4d(data, [images.length, size, size, 3]);
    const output = model.predict(input) as Tf.Tensor;
    const values = (await output.data()) as Float32Array;
    const vectors = toVectors(values, output.shape, 'nhwc');
    tf.dispose([input, output]);
    return vectors;
  };
  const probe = await embed([await blankPng(size)]);
  return {
    spec: { ...spec, inputSize: size },
    dim: probe[0]!.length,
    batchSize: 32,
    embed,
    dispose: async () => {
      model.dispose();
    },
  };
}

/** A TF.js IOHandler that reads model.json and its weight files from disk (no tfjs-node needed). */
export function fileHandler(modelJson: string): Tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as Tf.io.ModelJSON;
      const specs: Tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(modelJson), p)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      } as Tf.io.ModelArtifacts;
    },
  };
}

async function blankPng(size: number): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: '#808080' } }).png().toBuffer();
}

