/**
 * Feature extractors: turn image files into vectors with an ONNX model (onnxruntime-node), a TF.js
 * layers model (either layout) or graph model, or the image baseline, each fed the backbone's own
 * preprocessing (scaling, size, colour order, resize kernel). Loaded only in the training process.
 */
import type * as Tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { LoupeError } from '../../shared/errors';
import { baselineDim, baselineFeatures, sharpOf, type ImageInput } from './baseline';
import type { BackboneSpec } from './backbones';
import { assertNever } from '../../shared/assertNever';
import { tfjsFormat } from './modelFiles';
import type { ExecutionProviderReport } from '../../shared/train';
import { createSession, type ProviderOptions } from './onnxProviders';

/** Turns a batch of images into one vector each. */
export interface Extractor {
  readonly spec: BackboneSpec;
  /** Vector length, known after loading. */
  readonly dim: number;
  /** How many images to feed at once. */
  readonly batchSize: number;
  embed(images: ImageInput[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
  /** ONNX models: the execution provider that runs them and why better ones did not; null for the others. */
  readonly providers: ExecutionProviderReport | null;
}

/**
 * Loads the extractor a spec names. `tf` is needed for TF.js models only; `providers` chooses
 * onnxruntime's execution providers for ONNX models (default: the platform's GPU providers, then CPU).
 */
export async function loadExtractor(spec: BackboneSpec, tf?: typeof Tf, providers?: ProviderOptions): Promise<Extractor> {
  switch (spec.kind) {
    case 'baseline':
      return {
        spec,
        dim: baselineDim,
        batchSize: 64,
        embed: (images) => Promise.all(images.map((image) => baselineFeatures(image))),
        dispose: async () => {},
        providers: null,
      };
    case 'onnx':
      return loadOnnx(spec, providers);
    case 'tfjs':
      if (!tf) throw new LoupeError('BACKEND_UNAVAILABLE', 'A TF.js backbone needs a TF.js backend.');
      return loadTfjs(spec, tf);
    default:
      return assertNever(spec.kind, 'backbone kind');
  }
}

/** The preprocessing fields writePixels reads. */
export type PixelSpec = Pick<BackboneSpec, 'mean' | 'std' | 'colour' | 'resize'>;

const sharpKernel = { bilinear: 'linear', bicubic: 'cubic', lanczos3: 'lanczos3', nearest: 'nearest' } as const;

/** Channels fed for a colour mode: one for grey, three otherwise. */
export function channelsOf(spec: Pick<BackboneSpec, 'colour'>): number {
  return spec.colour === 'grey' ? 1 : 3;
}

/**
 * Decodes an image to size x size with the backbone's resize kernel, in its colour order, scaled
 * (x/255 - mean) / std, in NCHW or NHWC order, written into `out` at `offset`.
 */
export async function writePixels(input: ImageInput, spec: PixelSpec, size: number, layout: 'nchw' | 'nhwc', out: Float32Array, offset: number): Promise<void> {
  const channels = channelsOf(spec);
  // No shrink-on-load: JPEG's DCT shortcut would bypass the kernel the backbone expects.
  let image = sharpOf(input).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill', kernel: sharpKernel[spec.resize ?? 'bilinear'], fastShrinkOnLoad: false });
  if (channels === 1) image = image.toColourspace('b-w');
  const { data: pixels, info } = await image.raw().toBuffer({ resolveWithObject: true });
  const stride = info.channels;
  const order = spec.colour === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const plane = size * size;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < channels; c++) {
      const v = (pixels[i * stride + order[c]!]! / 255 - spec.mean[c]!) / spec.std[c]!;
      out[offset + (layout === 'nchw' ? c * plane + i : i * channels + c)] = v;
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

async function loadOnnx(spec: BackboneSpec, providers: ProviderOptions = {}): Promise<Extractor> {
  const ort = await import('onnxruntime-node');
  if (!spec.file) throw new LoupeError('NOT_FOUND', `Backbone ${spec.name} has no file.`);
  // LOUPE_ORT_PROVIDERS=cpu (or a list) pins the providers, as LOUPE_BACKEND pins the TF.js backend.
  const pinned = process.env.LOUPE_ORT_PROVIDERS?.split(',').filter(Boolean);
  const { session, report } = await createSession(ort, spec.file, { intraOpNumThreads: 0, graphOptimizationLevel: 'all' }, { providers: pinned, ...providers });
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const meta = session.inputMetadata?.[0];
  const shape = meta && 'shape' in meta ? meta.shape : [];
  const channels = channelsOf(spec);
  // tf2onnx exports keep TF's NHWC: channels last when dim 1 is not a channel count and dim 3 is.
  const layout: 'nchw' | 'nhwc' = shape[1] !== channels && shape[3] === channels ? 'nhwc' : 'nchw';
  const sizeDim = layout === 'nchw' ? shape[2] : shape[1];
  const size = typeof sizeDim === 'number' && sizeDim > 0 ? sizeDim : spec.inputSize;
  const isBatchOne = shape[0] === 1;
  const per = channels * size * size;
  const run = async (images: ImageInput[]): Promise<Float32Array[]> => {
    const data = new Float32Array(images.length * per);
    await Promise.all(images.map((image, i) => writePixels(image, spec, size, layout, data, i * per)));
    const dims = layout === 'nchw' ? [images.length, channels, size, size] : [images.length, size, size, channels];
    const result = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) });
    const output = result[outputName]!;
    const vectors = toVectors(output.data as Float32Array, output.dims, layout);
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
    providers: report,
  };
}

async function loadTfjs(spec: BackboneSpec, tf: typeof Tf): Promise<Extractor> {
  if (!spec.file) throw new LoupeError('NOT_FOUND', `Backbone ${spec.name} has no file.`);
  const handler = fileHandler(spec.file);
  const json = JSON.parse(fs.readFileSync(spec.file, 'utf8')) as { format?: string; modelTopology?: unknown };
  const format = tfjsFormat(json);
  if (!format) throw new LoupeError('VALIDATION', `${spec.file} is neither a TF.js layers model nor a graph model: import the model.json the TF.js converter or model.save wrote.`);
  const model = format === 'graph-model' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  const inputShape = (format === 'graph-model' ? (model as Tf.GraphModel).inputs[0]?.shape : (model as Tf.LayersModel).inputs[0]?.shape) ?? [];
  const size = typeof inputShape[1] === 'number' && inputShape[1] > 0 ? inputShape[1] : spec.inputSize;
  const channels = channelsOf(spec);
  const per = size * size * channels;
  const embed = async (images: ImageInput[]): Promise<Float32Array[]> => {
    const data = new Float32Array(images.length * per);
    await Promise.all(images.map((image, i) => writePixels(image, spec, size, 'nhwc', data, i * per)));
    const input = tf.tensor4d(data, [images.length, size, size, channels]);
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
    providers: null,
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

