import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { baselineSpec, importBackbone, listBackbones, resolveBackbone, type BackboneSpec } from '../../../src/main/model/backbones';
import { baselineDim } from '../../../src/main/model/baseline';
import { loadExtractor } from '../../../src/main/model/extractors';
import { tinyCnn, tinyCnnOnnx } from '../../../src/main/model/tinyOnnx';
import { writeTinyCnnTfjs } from '../../../src/main/model/tinyTfjs';
import { tempDir, writeImage } from '../../helpers/fixtures';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const spec = (kind: 'onnx' | 'tfjs', file: string): BackboneSpec => ({
  name: `tiny-${kind}`,
  key: `tiny-${kind}`,
  kind,
  file,
  inputSize: 32,
  mean: [0.5, 0.5, 0.5],
  std: [0.25, 0.25, 0.25],
});

async function images(dir: string, n: number): Promise<string[]> {
  const files = Array.from({ length: n }, (_, i) => path.join(dir, `img${i}.png`));
  for (const [i, f] of files.entries()) await writeImage(f, i, { width: 40 + i, height: 30 });
  return files;
}

describe('backbones', () => {
  it('runs a small ONNX model through onnxruntime-node and a TF.js layers model through tfjs, with the same embeddings', async () => {
    const dir = tempDir();
    const model = tinyCnn(32, 8, 16, 5);
    const onnxFile = path.join(dir, 'tiny.onnx');
    fs.writeFileSync(onnxFile, tinyCnnOnnx(model));
    const tfjsFile = await writeTinyCnnTfjs(tf, model, path.join(dir, 'tfjs'));
    const files = await images(dir, 5);

    const onnx = await loadExtractor(spec('onnx', onnxFile));
    const layers = await loadExtractor(spec('tfjs', tfjsFile), tf);
    expect(onnx.dim).toBe(16);
    expect(layers.dim).toBe(16);
    const a = await onnx.embed(files);
    const b = await layers.embed(files);
    expect(a).toHaveLength(5);
    expect(b).toHaveLength(5);
    for (let i = 0; i < 5; i++) {
      expect(a[i]).toHaveLength(16);
      for (let j = 0; j < 16; j++) expect(b[i]![j]).toBeCloseTo(a[i]![j]!, 4);
    }
    await onnx.dispose();
    await layers.dispose();
  });

  it('computes the documented image baseline without any model', async () => {
    const files = await images(tempDir(), 2);
    const baseline = await loadExtractor(baselineSpec);
    const [v] = await baseline.embed(files.slice(0, 1));
    expect(v).toHaveLength(baselineDim);
    expect(baselineDim).toBe(391);
  });

  it('imports a model file into the cache, lists it, and resolves it by name; offline, the default falls back to the baseline', async () => {
    const dir = tempDir();
    process.env.LOUPE_CACHE_DIR = path.join(dir, 'cache');
    const file = path.join(dir, 'mine.onnx');
    fs.writeFileSync(file, tinyCnnOnnx(tinyCnn(32, 4, 8)));
    const info = await importBackbone(file, 'mine');
    expect(info).toMatchObject({ name: 'mine', kind: 'onnx', isAvailable: true });
    expect(listBackbones().map((b) => b.name)).toEqual(['default', 'baseline', 'mine']);
    const resolved = await resolveBackbone('mine');
    expect(resolved.spec.kind).toBe('onnx');
    expect(resolved.spec.key).toMatch(/^mine@[0-9a-f]{16}$/);
    process.env.LOUPE_OFFLINE = '1';
    const fallback = await resolveBackbone('default');
    expect(fallback.spec.kind).toBe('baseline');
    expect(fallback.note).toMatch(/pretrained backbone would do better/);
    await expect(resolveBackbone('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    delete process.env.LOUPE_OFFLINE;
    delete process.env.LOUPE_CACHE_DIR;
  });
});
