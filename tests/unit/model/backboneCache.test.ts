import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { backboneKey, defaultPreprocessing } from '../../../src/main/model/backbones';
import { tinyCnn } from '../../../src/main/model/tinyOnnx';
import { writeTinyCnnTfjs } from '../../../src/main/model/tinyTfjs';
import { tempDir } from '../../helpers/fixtures';
import { writePlantedDataset } from '../train/plantedDataset';

let core: Core | null = null;
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterEach(async () => {
  await core?.shutdown();
  core = null;
  delete process.env.LOUPE_CACHE_DIR;
  delete process.env.LOUPE_BACKEND;
});

describe('embedding cache key', () => {
  it('hashes the preprocessing into the key', () => {
    expect(backboneKey('m', 'abc', defaultPreprocessing)).not.toBe(backboneKey('m', 'abc', { ...defaultPreprocessing, resize: 'lanczos3' }));
    expect(backboneKey('m', 'abc', defaultPreprocessing)).not.toBe(backboneKey('m', 'abd', defaultPreprocessing));
  });

  it('recomputes embeddings when only the weights change, reuses them otherwise, and records the rate', async () => {
    const dir = tempDir();
    process.env.LOUPE_CACHE_DIR = path.join(dir, 'cache');
    process.env.LOUPE_BACKEND = 'cpu';
    core = new Core();
    const root = path.join(dir, 'data');
    await writePlantedDataset(root, 8, 0);
    await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
    expect((await core.jobs.finished((await core.call('dataset:import', { source: root })).jobId)).state).toBe('done');
    const images = (await core.call('dataset:stats', {})).images;

    const modelDir = path.join(dir, 'model');
    const file = await writeTinyCnnTfjs(tf, tinyCnn(32, 4, 8, 1), modelDir);
    const topology = fs.readFileSync(file, 'utf8');
    const config = { views: 0, folds: 2, epochs: 3, backbone: 'tiny' };
    const train = async () => {
      const { jobId, runId } = await core!.call('train:start', { config });
      const job = await core!.jobs.finished(jobId);
      expect(job.error).toBeNull();
      return (await core!.call('runs:get', { id: runId })).timings!;
    };

    await core.call('train:importBackbone', { file, name: 'tiny', preprocessing: { scaling: 'unit' } });
    expect((await train()).embedded).toBe(images);
    const listed = (await core.call('train:backbones', {})).backbones.find((b) => b.name === 'tiny')!;
    expect(listed.cachedVectors).toBe(images);
    expect(listed.rate!.imagesPerSecond).toBeGreaterThan(0);
    expect(listed.rate!.engine).toBe('tfjs-cpu');
    expect(listed.preprocessing!.scaling).toBe('unit');

    // Same import again: every vector from the cache.
    await core.call('train:importBackbone', { file, name: 'tiny', preprocessing: { scaling: 'unit' } });
    expect((await train()).embedded).toBe(0);

    // Same topology (model.json byte for byte), other weights: every vector recomputed.
    const other = await writeTinyCnnTfjs(tf, tinyCnn(32, 4, 8, 2), path.join(dir, 'other'));
    fs.copyFileSync(path.join(path.dirname(other), 'weights.bin'), path.join(modelDir, 'weights.bin'));
    expect(fs.readFileSync(file, 'utf8')).toBe(topology);
    await core.call('train:importBackbone', { file, name: 'tiny', preprocessing: { scaling: 'unit' } });
    expect((await core.call('train:backbones', {})).backbones.find((b) => b.name === 'tiny')!.cachedVectors).toBe(0);
    expect((await train()).embedded).toBe(images);

    // Same weights, other preprocessing: recomputed too.
    await core.call('train:importBackbone', { file, name: 'tiny', preprocessing: { scaling: 'symmetric' } });
    expect((await train()).embedded).toBe(images);
  }, 120_000);
});
