/**
 * Reading model files without running them: which format a file is (ONNX, a TF.js layers model in
 * the flat layout `model.save` writes or the nested one the TF.js converter writes, a TF.js graph
 * model), what it says about its input, which files it is made of, and whether Loupe can use it.
 * Import calls this so that a file Loupe cannot use is refused there, with the reason, never at
 * training time. Pure Node: no TF.js, no onnxruntime.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import type { ModelFileFacts, ScalingPreset } from '../../shared/train';
import { resolveInside } from '../util/paths';

/** What inspecting a model file found. */
export interface InspectedModel extends ModelFileFacts {
  kind: 'onnx' | 'tfjs';
  /** Where channels sit in the input: nchw (ONNX's usual) or nhwc (TF.js, tf2onnx exports). */
  layout: 'nchw' | 'nhwc';
  /** The model file first, then its weight files (absolute paths). */
  files: string[];
  /** Scaling the file itself implies (a leading Rescaling layer), else null. */
  scalingHint: { scaling: ScalingPreset; mean: [number, number, number]; std: [number, number, number] } | null;
}

/** The TF.js model.json fields Loupe reads. */
interface TfjsModelJson {
  format?: string;
  modelTopology?: Record<string, unknown>;
  weightsManifest?: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[]; dtype: string; quantization?: { dtype: string } }> }>;
}

/**
 * Which TF.js format a model.json holds. Layers models carry a Keras config: `class_name` and
 * `config` at the top of modelTopology (`model.save`), or under `model_config` (the converter);
 * graph models carry a GraphDef (`node`). Null when it is neither.
 */
export function tfjsFormat(json: { format?: string; modelTopology?: unknown }): 'layers-model' | 'graph-model' | null {
  const topology = json.modelTopology;
  if (!topology || typeof topology !== 'object') return null;
  const t = topology as Record<string, unknown>;
  const isKeras = (v: unknown) => !!v && typeof v === 'object' && 'class_name' in v && 'config' in v;
  if (isKeras(t) || isKeras(t.model_config)) return 'layers-model';
  return Array.isArray(t.node) ? 'graph-model' : null;
}

/** Reads and checks a .onnx file or a TF.js model.json; throws VALIDATION naming what is wrong and what to do. */
export function inspectModelFile(file: string): InspectedModel {
  const name = path.basename(file);
  if (/\.onnx$/i.test(file)) return inspectOnnx(file, name);
  if (/\.json$/i.test(file)) return inspectTfjs(file, name);
  throw new LoupeError('VALIDATION', `${name} is not a model Loupe reads: give a .onnx file or a TF.js model.json.`, { file });
}

function refuse(name: string, why: string, file: string): never {
  throw new LoupeError('VALIDATION', `${name} cannot be used as a backbone: ${why}`, { file });
}

function inspectTfjs(file: string, name: string): InspectedModel {
  let json: TfjsModelJson;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as TfjsModelJson;
  } catch (error) {
    return refuse(name, `it is not JSON (${(error as Error).message}). Give the model.json the TF.js converter or model.save wrote.`, file);
  }
  const format = tfjsFormat(json);
  if (!format) {
    return refuse(name, 'it has no Keras model config (modelTopology.class_name or modelTopology.model_config) and no graph (modelTopology.node). Give the model.json the TF.js converter or model.save wrote.', file);
  }
  const notes: string[] = [];
  const files = [file];
  let expectedBytes = 0;
  let isSizeKnown = true;
  const dtypeBytes: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2, complex64: 8 };
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths) {
      const weightFile = resolveInside(path.dirname(file), p.split(path.sep).join('/'));
      if (!weightFile) refuse(name, `it names a weight file outside its folder (${p}).`, file);
      if (!fs.existsSync(weightFile)) refuse(name, `its weight file ${p} is missing: keep the .bin files beside model.json.`, file);
      files.push(weightFile);
    }
    for (const w of group.weights ?? []) {
      const bytes = dtypeBytes[w.quantization?.dtype ?? w.dtype];
      if (bytes === undefined) isSizeKnown = false;
      else expectedBytes += bytes * w.shape.reduce((a, b) => a * b, 1);
    }
  }
  const actualBytes = files.slice(1).reduce((sum, f) => sum + fs.statSync(f).size, 0);
  if (isSizeKnown && actualBytes !== expectedBytes) {
    refuse(name, `its weight files hold ${actualBytes} bytes but its manifest describes ${expectedBytes}: they belong to another model, or a download was cut short.`, file);
  }
  const shape = format === 'layers-model' ? layersInputShape(json.modelTopology!) : graphInputShape(json.modelTopology!);
  if (shape.length > 1 && shape.length !== 4) {
    refuse(name, `its input has shape [${shape.map((d) => d ?? '?').join(', ')}], not an image batch [N, height, width, channels].`, file);
  }
  const [, h, w, c] = shape;
  const channels = typeof c === 'number' && c > 0 ? c : null;
  if (channels !== null && channels !== 1 && channels !== 3) refuse(name, `its input has ${channels} channels; Loupe feeds 1 (grey) or 3 (colour).`, file);
  const inputSize = typeof h === 'number' && h > 0 ? h : null;
  if (inputSize !== null && typeof w === 'number' && w > 0 && w !== h) notes.push(`input is ${h}x${w}: images are resized to ${h}x${h}`);
  notes.push(
    format === 'layers-model'
      ? `TF.js layers model (${'model_config' in json.modelTopology! ? 'converter layout, topology under model_config' : 'model.save layout'})`
      : 'TF.js graph model',
  );
  notes.push(inputSize ? `input ${inputSize}x${inputSize}x${channels ?? '?'}` : 'input size not fixed in the file: 224 assumed');
  const scalingHint = format === 'layers-model' ? rescalingHint(json.modelTopology!) : null;
  notes.push(scalingHint ? 'a leading Rescaling layer scales inputs itself: raw 0..255 pixels are fed' : 'the file does not say how inputs are scaled: check the model\'s documentation');
  return { kind: 'tfjs', format, layout: 'nhwc', inputSize, channels, notes, files, scalingHint };
}

function kerasConfig(topology: Record<string, unknown>): { class_name: string; config: Record<string, unknown> } {
  return (('model_config' in topology ? topology.model_config : topology) ?? {}) as { class_name: string; config: Record<string, unknown> };
}

interface KerasLayer {
  class_name: string;
  config: Record<string, unknown>;
}

function kerasLayers(topology: Record<string, unknown>): KerasLayer[] {
  const model = kerasConfig(topology);
  const config = model.config as { layers?: KerasLayer[] } | KerasLayer[];
  // Old Sequential configs are the layer list itself.
  return (Array.isArray(config) ? config : (config.layers ?? [])) as KerasLayer[];
}

function layersInputShape(topology: Record<string, unknown>): Array<number | null> {
  for (const layer of kerasLayers(topology)) {
    const c = layer.config ?? {};
    const shape = (c.batch_input_shape ?? c.batch_shape ?? (Array.isArray(c.input_shape) ? [null, ...(c.input_shape as number[])] : undefined)) as Array<number | null> | undefined;
    if (shape) return shape;
  }
  return [];
}

function rescalingHint(topology: Record<string, unknown>): InspectedModel['scalingHint'] {
  const first = kerasLayers(topology).find((l) => l.class_name !== 'InputLayer');
  if (first?.class_name !== 'Rescaling') return null;
  // The network divides by 255 itself: feed raw pixels, (x/255 - 0) / (1/255) = x.
  const raw = 1 / 255;
  return { scaling: 'custom', mean: [0, 0, 0], std: [raw, raw, raw] };
}

function graphInputShape(topology: Record<string, unknown>): Array<number | null> {
  const nodes = topology.node as Array<{ op?: string; attr?: Record<string, { shape?: { dim?: Array<{ size?: string | number }>; unknownRank?: boolean } }> }>;
  const inputs = nodes.filter((n) => n.op === 'Placeholder');
  if (inputs.length === 0) return [];
  const dims = inputs[0]!.attr?.shape?.shape?.dim;
  if (!dims) return [];
  return dims.map((d) => {
    const size = Number(d.size ?? -1);
    return size > 0 ? size : null;
  });
}

// ONNX: a protobuf reader just deep enough for the graph's inputs (ModelProto.graph = 7,
// GraphProto.input = 11, .initializer = 5, ValueInfoProto.name = 1, .type = 2, TypeProto.tensor_type = 1,
// Tensor.shape = 2, TensorShapeProto.dim = 1, Dimension.dim_value = 1, .dim_param = 2, TensorProto.name = 8).
type Field = { field: number; wire: number; value: number | Buffer };

function* fields(buf: Buffer): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const byte = buf[pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield { field, wire, value: varint() };
    else if (wire === 2) {
      const length = varint();
      if (pos + length > buf.length) throw new Error('truncated field');
      yield { field, wire, value: buf.subarray(pos, pos + length) };
      pos += length;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

const sub = (buf: Buffer, n: number): Buffer[] => [...fields(buf)].filter((f) => f.field === n && f.wire === 2).map((f) => f.value as Buffer);

function inspectOnnx(file: string, name: string): InspectedModel {
  const buf = fs.readFileSync(file);
  let inputs: Array<{ name: string; dims: Array<number | null> }>;
  try {
    const graph = sub(buf, 7)[0];
    if (!graph) throw new Error('no graph');
    const initializers = new Set(sub(graph, 5).map((t) => sub(t, 8)[0]?.toString('utf8') ?? ''));
    inputs = sub(graph, 11)
      .map((info) => {
        const dimsOf = (sub(sub(sub(info, 2)[0] ?? Buffer.alloc(0), 1)[0] ?? Buffer.alloc(0), 2)[0] ?? Buffer.alloc(0));
        const dims = sub(dimsOf, 1).map((d) => {
          const v = [...fields(d)].find((f) => f.field === 1 && f.wire === 0);
          return v && (v.value as number) > 0 ? (v.value as number) : null;
        });
        return { name: sub(info, 1)[0]?.toString('utf8') ?? '', dims };
      })
      .filter((i) => !initializers.has(i.name));
  } catch (error) {
    return refuse(name, `it is not an ONNX model (${(error as Error).message}). Export the network to ONNX (torch.onnx.export, tf2onnx) and import the .onnx file.`, file);
  }
  if (inputs.length !== 1) refuse(name, `it takes ${inputs.length} inputs; a backbone takes one image batch.`, file);
  const dims = inputs[0]!.dims;
  if (dims.length !== 4) refuse(name, `its input has shape [${dims.map((d) => d ?? '?').join(', ')}], not an image batch [N, channels, height, width].`, file);
  const isNhwc = (dims[1] === null || dims[1]! > 4) && (dims[3] === 1 || dims[3] === 3);
  const channels = (isNhwc ? dims[3] : dims[1]) ?? null;
  if (channels !== null && channels !== 1 && channels !== 3) refuse(name, `its input has ${channels} channels; Loupe feeds 1 (grey) or 3 (colour).`, file);
  const inputSize = (isNhwc ? dims[1] : dims[2]) ?? null;
  const notes = [
    `ONNX model, input ${inputs[0]!.name} [${dims.map((d) => d ?? 'N').join(', ')}] (${isNhwc ? 'NHWC' : 'NCHW'})`,
    inputSize ? `input ${inputSize}x${inputSize}x${channels ?? '?'}` : 'input size not fixed in the file: 224 assumed',
    'the file does not say how inputs are scaled: check the model\'s documentation',
  ];
  return { kind: 'onnx', format: 'onnx', layout: isNhwc ? 'nhwc' : 'nchw', inputSize, channels, notes, files: [file], scalingHint: null };
}

const hashMemo = new Map<string, { stamp: string; sha256: string }>();

/** sha256 of one file, remembered while its size and mtime stay the same. */
export function fileSha256(file: string): string {
  const stat = fs.statSync(file);
  const stamp = `${stat.size}:${stat.mtimeMs}`;
  const memo = hashMemo.get(file);
  if (memo?.stamp === stamp) return memo.sha256;
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  const sha256 = hash.digest('hex');
  hashMemo.set(file, { stamp, sha256 });
  return sha256;
}

/** One hash over every file of a model (names relative to the first, and contents), so a change to any weight file changes it. */
export function modelSha256(files: readonly string[]): string {
  const base = path.dirname(files[0]!);
  const hash = crypto.createHash('sha256');
  for (const f of files) hash.update(`${path.relative(base, f).split(path.sep).join('/')}\0${fileSha256(f)}\n`);
  return hash.digest('hex');
}

/** The files of a model: the model file, and for a TF.js model.json its weight files. */
export function modelFiles(file: string): string[] {
  if (!/\.json$/i.test(file)) return [file];
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as TfjsModelJson;
    const files = [file];
    for (const group of json.weightsManifest ?? []) {
      for (const p of group.paths) {
        const f = resolveInside(path.dirname(file), p.split(path.sep).join('/'));
        if (f) files.push(f);
      }
    }
    return files.filter((f) => fs.existsSync(f));
  } catch {
    return [file];
  }
}
