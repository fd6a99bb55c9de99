import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { importBackbone, listBackbones, resolveBackbone, type BackboneSpec } from '../../../src/main/model/backbones';
import { loadExtractor } from '../../../src/main/model/extractors';
import { inspectModelFile, tfjsFormat } from '../../../src/main/model/modelFiles';
import { tinyCnn, tinyCnnOnnx } from '../../../src/main/model/tinyOnnx';
import { saveLayersModel, writeTinyCnnGraph, writeTinyCnnTfjs } from '../../../src/main/model/tinyTfjs';
import { tempDir, writeImage } from '../../helpers/fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterEach(() => {
  delete process.env.LOUPE_CACHE_DIR;
});

function useCache(): string {
  const dir = tempDir();
  process.env.LOUPE_CACHE_DIR = path.join(dir, 'cache');
  return dir;
}

async function solid(file: string, colour: string, size: number): Promise<void> {
  await sharp({ create: { width: size, height: size, channels: 3, background: colour } }).png().toFile(file);
}

async function images(dir: string, n: number): Promise<string[]> {
  const files = Array.from({ length: n }, (_, i) => path.join(dir, `img${i}.png`));
  for (const [i, f] of files.entries()) await writeImage(f, i, { width: 40 + i, height: 30 });
  return files;
}

describe('backbone model formats', () => {
  it('imports the converter nested layout, the model.save flat layout and a graph model, and all embed like the ONNX twin', async () => {
    const dir = useCache();
    const model = tinyCnn(32, 8, 16, 7);
    const onnxFile = path.join(dir, 'tiny.onnx');
    fs.writeFileSync(onnxFile, tinyCnnOnnx(model));
    const nested = await writeTinyCnnTfjs(tf, model, path.join(dir, 'nested'), { layout: 'converter', className: 'Sequential' });
    const flat = await writeTinyCnnTfjs(tf, model, path.join(dir, 'flat'));
    const graph = writeTinyCnnGraph(model, path.join(dir, 'graph'));
    const json = JSON.parse(fs.readFileSync(nested, 'utf8'));
    expect(json.modelTopology.model_config.class_name).toBe('Sequential');
    expect(json.convertedBy).toMatch(/TensorFlow.js Converter/);
    expect(tfjsFormat(json)).toBe('layers-model');
    expect(tfjsFormat(JSON.parse(fs.readFileSync(flat, 'utf8')))).toBe('layers-model');
    expect(tfjsFormat(JSON.parse(fs.readFileSync(graph, 'utf8')))).toBe('graph-model');

    const files = await images(dir, 4);
    const reference = await loadExtractor((await resolveBackbone(onnxFile)).spec);
    const expected = await reference.embed(files);
    await reference.dispose();
    for (const [name, file, format] of [['nested', nested, 'layers-model'], ['flat', flat, 'layers-model'], ['graph', graph, 'graph-model']] as const) {
      const info = await importBackbone(file, name);
      expect(info.fromFile).toMatchObject({ format, inputSize: 32, channels: 3 });
      expect(info.engine).toBe('tfjs');
      const extractor = await loadExtractor((await resolveBackbone(name)).spec, tf);
      expect(extractor.dim).toBe(16);
      const got = await extractor.embed(files);
      for (let i = 0; i < files.length; i++) for (let j = 0; j < 16; j++) expect(got[i]![j]).toBeCloseTo(expected[i]![j]!, 4);
      await extractor.dispose();
    }
    expect(listBackbones().map((b) => b.name)).toEqual(['default', 'baseline', 'nested', 'flat', 'graph']);
  });

  it('reads a Functional model in the converter layout', async () => {
    const dir = useCache();
    const input = tf.input({ shape: [16, 16, 3] });
    const output = tf.layers.globalAveragePooling2d({}).apply(tf.layers.conv2d({ filters: 4, kernelSize: 3 }).apply(input)) as tf.SymbolicTensor;
    const file = await saveLayersModel(tf.model({ inputs: input, outputs: output }), path.join(dir, 'f'), { layout: 'converter', className: 'Functional' });
    expect(inspectModelFile(file)).toMatchObject({ format: 'layers-model', inputSize: 16, channels: 3 });
    await importBackbone(file, 'functional');
    const extractor = await loadExtractor((await resolveBackbone('functional')).spec, tf);
    expect(extractor.dim).toBe(4);
    await extractor.dispose();
  });

  it('refuses at import, with the reason, a file Loupe cannot use', async () => {
    const dir = useCache();
    const write = (name: string, text: string) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    await expect(importBackbone(write('notjson.json', '{ nope'))).rejects.toMatchObject({ code: 'VALIDATION', message: /not JSON/ });
    await expect(importBackbone(write('other.json', JSON.stringify({ modelTopology: { something: 1 } })))).rejects.toMatchObject({
      code: 'VALIDATION',
      message: /no Keras model config .* and no graph/,
    });
    const model = tinyCnn(32, 4, 8);
    const flat = await writeTinyCnnTfjs(tf, model, path.join(dir, 'cut'));
    fs.truncateSync(path.join(dir, 'cut', 'weights.bin'), 10);
    await expect(importBackbone(flat)).rejects.toMatchObject({ code: 'VALIDATION', message: /weight files hold 10 bytes/ });
    fs.rmSync(path.join(dir, 'cut', 'weights.bin'));
    await expect(importBackbone(flat)).rejects.toMatchObject({ code: 'VALIDATION', message: /weight file weights.bin is missing/ });
    const dense = tf.sequential({ layers: [tf.layers.dense({ inputShape: [10], units: 2 })] });
    await expect(importBackbone(await saveLayersModel(dense, path.join(dir, 'dense')))).rejects.toMatchObject({ code: 'VALIDATION', message: /not an image batch/ });
    await expect(importBackbone(write('bad.onnx', 'not a protobuf at all'))).rejects.toMatchObject({ code: 'VALIDATION', message: /not an ONNX model/ });
    await expect(importBackbone(write('model.txt', 'x'))).rejects.toMatchObject({ code: 'VALIDATION' });
    // Nothing refused was registered.
    expect(listBackbones().map((b) => b.name)).toEqual(['default', 'baseline']);
  });
});

describe('backbone preprocessing', () => {
  // A model that returns its input flattened: its embedding is exactly the tensor fed.
  async function identityModel(dir: string, size: number, channels = 3): Promise<string> {
    const net = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [size, size, channels] })] });
    return saveLayersModel(net, dir);
  }

  async function fed(spec: BackboneSpec, files: string[]): Promise<Float32Array[]> {
    const extractor = await loadExtractor(spec, tf);
    const out = await extractor.embed(files);
    await extractor.dispose();
    return out;
  }

  const range = (vs: Float32Array[]): [number, number] => [Math.min(...vs.flatMap((v) => [...v])), Math.max(...vs.flatMap((v) => [...v]))];

  it('feeds a backbone declared 0..1 values in [0, 1], -1..1 in [-1, 1], ImageNet beyond, in the declared colour order', async () => {
    const dir = useCache();
    const file = await identityModel(path.join(dir, 'id'), 8);
    const black = path.join(dir, 'black.png');
    const red = path.join(dir, 'red.png');
    await solid(black, '#000000', 8);
    await solid(red, '#ff0000', 8);

    await importBackbone(file, 'unit', { preprocessing: { scaling: 'unit' } });
    const unit = await fed((await resolveBackbone('unit')).spec, [black, red]);
    expect(range(unit)).toEqual([0, 1]);
    expect([...unit[1]!.slice(0, 3)]).toEqual([1, 0, 0]);

    await importBackbone(file, 'sym', { preprocessing: { scaling: 'symmetric', colour: 'bgr' } });
    const sym = await fed((await resolveBackbone('sym')).spec, [black, red]);
    expect(range(sym)).toEqual([-1, 1]);
    expect([...sym[1]!.slice(0, 3)]).toEqual([-1, -1, 1]);

    await importBackbone(file, 'imagenet');
    const imagenet = await fed((await resolveBackbone('imagenet')).spec, [black, red]);
    expect(range(imagenet)[0]).toBeLessThan(-2);

    await importBackbone(file, 'custom', { preprocessing: { scaling: 'custom', mean: [0.5, 0, 0], std: [0.5, 1, 1] } });
    expect([...(await fed((await resolveBackbone('custom')).spec, [red]))[0]!.slice(0, 3)]).toEqual([1, 0, 0]);
    await expect(importBackbone(file, 'half', { preprocessing: { scaling: 'custom', mean: [0, 0, 0] } })).rejects.toMatchObject({ code: 'VALIDATION', message: /both mean and std/ });
    await expect(importBackbone(file, 'clash', { preprocessing: { scaling: 'unit', std: [1, 1, 1] } })).rejects.toMatchObject({ code: 'VALIDATION', message: /choose scaling "custom"/ });
    await expect(importBackbone(file, 'size', { preprocessing: { inputSize: 16 } })).rejects.toMatchObject({ code: 'VALIDATION', message: /fixes its input at 8 px/ });
    await expect(importBackbone(file, 'grey', { preprocessing: { colour: 'grey' } })).rejects.toMatchObject({ code: 'VALIDATION', message: /3 colour channels/ });

    const info = listBackbones().find((b) => b.name === 'sym')!;
    expect(info.preprocessing).toEqual({ scaling: 'symmetric', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], inputSize: 8, colour: 'bgr', resize: 'bilinear' });
  });

  it('reads grey input and the size from the file, answers a dry run without registering, and resizes with the declared kernel', async () => {
    const dir = useCache();
    const greyFile = await identityModel(path.join(dir, 'grey'), 4, 1);
    const dry = await importBackbone(greyFile, 'g', { dryRun: true });
    expect(dry.preprocessing).toMatchObject({ colour: 'grey', inputSize: 4, scaling: 'imagenet' });
    expect(dry.fromFile!.notes.join(' ')).toMatch(/input 4x4x1/);
    expect(listBackbones().map((b) => b.name)).toEqual(['default', 'baseline']);
    await importBackbone(greyFile, 'g', { preprocessing: { scaling: 'unit' } });
    const white = path.join(dir, 'white.png');
    await solid(white, '#ffffff', 4);
    expect([...(await fed((await resolveBackbone('g')).spec, [white]))[0]!]).toEqual(new Array(16).fill(1));

    // Resize kernel: a property of the backbone, changing what is fed and the cache key.
    const file = await identityModel(path.join(dir, 'id'), 8);
    const busy = path.join(dir, 'busy.png');
    await writeImage(busy, 3, { width: 61, height: 47 });
    await importBackbone(file, 'nearest', { preprocessing: { scaling: 'unit', resize: 'nearest' } });
    await importBackbone(file, 'lanczos', { preprocessing: { scaling: 'unit', resize: 'lanczos3' } });
    const a = (await resolveBackbone('nearest')).spec;
    const b = (await resolveBackbone('lanczos')).spec;
    expect(a.resize).toBe('nearest');
    const [va] = await fed(a, [busy]);
    const [vb] = await fed(b, [busy]);
    expect([...va!]).not.toEqual([...vb!]);
  });
});
