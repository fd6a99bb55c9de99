/**
 * Exporting a finetune run: a small network pre-trained here is imported as a backbone and
 * fine-tuned through the core for two epochs; runs:exportModel writes model.json, weights.bin and
 * loupe-model.json (no ONNX), and plain tf.loadLayersModel, reading the files from disk, gives the
 * run's stored probabilities for its valid and test images (prepared as predict.ts prepares them).
 * runs:predict classifies with the fine-tuned network too, and a BGR backbone's reversal is exported inside the model.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { buildNet, smallCnnSpec } from '../../../src/main/model/archSpec';
import { importBackbone, resolveBackbone } from '../../../src/main/model/backbones';
import { exportTfjs } from '../../../src/main/model/exportTfjs';
import { fileHandler } from '../../../src/main/model/extractors';
import { loadFinetuneNet } from '../../../src/main/model/finetuneNet';
import { evaluationConfig, preprocessImages } from '../../../src/main/model/predict';
import { seededRandom } from '../../../src/main/train/folds';
import { composeFinetuneModel } from '../../../src/main/train/kinds/exportFinetune';
import { tempDir } from '../../helpers/fixtures';

const size = 16;

/** One 16x16 RGB image: stripes (class 0), a checker (1) or a blob (2), in random colours, with noise. */
function image(kind: number, random: () => number): Uint8Array {
  const fg = [0, 1, 2].map(() => 40 + random() * 180);
  const bg = fg.map((v) => (v + 100) % 255);
  const phase = Math.floor(random() * 4);
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = kind === 0 ? ((y + phase) >> 1) % 2 === 0 : kind === 1 ? (((x + phase) >> 1) + ((y + phase) >> 1)) % 2 === 0 : (x - 8) ** 2 + (y - 8) ** 2 <= 16;
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, (on ? fg[c]! : bg[c]!) + (random() - 0.5) * 30));
    }
  }
  return out;
}

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
  delete process.env.LOUPE_CACHE_DIR;
});

describe('exporting a finetune run', () => {
  it('writes a TF.js layers-model that plain tf.loadLayersModel loads and that gives the run stored probabilities', async () => {
    await tf.setBackend('cpu');
    const dir = tempDir();
    // A "pretrained" backbone: small-cnn with random weights, written as TF.js and imported by name.
    const net = buildNet(tf, smallCnnSpec([size, size, 3], 4), 1);
    const weights = await net.readWeights();
    net.dispose();
    const backboneDir = path.join(dir, 'backbone');
    fs.mkdirSync(backboneDir);
    for (const file of exportTfjs(smallCnnSpec([size, size, 3], 4), weights)) fs.writeFileSync(path.join(backboneDir, file.name), file.data);
    process.env.LOUPE_CACHE_DIR = path.join(dir, 'cache');
    await importBackbone(path.join(backboneDir, 'model.json'), 'tiny', { preprocessing: { scaling: 'unit', inputSize: size } });

    const root = path.join(dir, 'data');
    const random = seededRandom(4);
    for (const [split, count] of [['train', 4], ['valid', 3], ['test', 3]] as const) {
      for (const [k, name] of ['lines', 'grid', 'blob'].entries()) {
        for (let i = 0; i < count; i++) {
          const file = path.join(root, split, name, `${name}_${i}.png`);
          fs.mkdirSync(path.dirname(file), { recursive: true });
          await sharp(Buffer.from(image(k, random)), { raw: { width: size, height: size, channels: 3 } }).png().toFile(file);
        }
      }
    }
    core = new Core();
    await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
    const imported = await core.call('dataset:import', { source: root });
    expect((await core.jobs.finished(imported.jobId)).state).toBe('done');
    const config = { mode: 'full', arch: 'finetune', backbone: 'tiny', frozenEpochs: 1, epochs: 2, batchSize: 6, learningRate: 1e-2, patience: 10, augment: 'none', seed: 3 };
    const started = await core.call('train:start', { config });
    expect((await core.jobs.finished(started.jobId)).error).toBeNull();
    const run = await core.call('runs:get', { id: started.runId });
    expect(run.model).toMatchObject({ arch: 'finetune' });

    const out = path.join(dir, 'export');
    const exported = await core.call('runs:exportModel', { id: started.runId, out });
    expect(exported.onnxMaxDifference).toBeNull();
    expect([...exported.files].sort()).toEqual(['loupe-model.json', 'model.json', 'weights.bin']);
    expect(fs.readdirSync(out).sort()).toEqual(['loupe-model.json', 'model.json', 'weights.bin']);
    const info = JSON.parse(fs.readFileSync(path.join(out, 'loupe-model.json'), 'utf8'));
    expect(info).toMatchObject({ classes: run.classes, inputSize: size, channels: 3, arch: 'finetune', backbone: 'tiny', normalize: run.model!.normalize });
    expect(info.note).toMatch(/ONNX is written for the built-in networks/);

    // The run's stored probabilities for its valid and test images, by the final network.
    const rows = core
      .requireProject()
      .db.prepare(
        `SELECT i.path AS file, p.probabilities AS probabilities FROM predictions p JOIN images i ON i.id = p.image_id
         WHERE p.run_id = ? AND p.fold = -1 AND p.split IN ('valid', 'test') ORDER BY p.image_id LIMIT 6`,
      )
      .all(started.runId) as Array<{ file: string; probabilities: Buffer }>;
    expect(rows.length).toBe(6);
    const files = rows.map((r) => path.resolve(root, r.file));
    const prepared = await preprocessImages(
      files.map((file) => ({ name: file, input: file })),
      evaluationConfig(run.model!),
      { channels: 3 },
    );
    const x = new Float32Array(rows.length * size * size * 3);
    prepared.forEach((p, k) => x.set(p.x!, k * size * size * 3));
    const model = await tf.loadLayersModel(fileHandler(path.join(out, 'model.json')));
    const got = (await (model.predict(tf.tensor4d(x, [rows.length, size, size, 3])) as tf.Tensor).data()) as Float32Array;
    model.dispose();
    let worst = 0;
    rows.forEach((r, k) => {
      const stored = new Float32Array(r.probabilities.buffer.slice(r.probabilities.byteOffset, r.probabilities.byteOffset + r.probabilities.byteLength));
      stored.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - got[k * stored.length + j]!))));
    });
    expect(worst).toBeLessThan(1e-5);

    // runs:predict classifies with the fine-tuned network.
    const predicted = await core.call('runs:predict', { id: started.runId, files: files.slice(0, 2), images: [] });
    predicted.forEach((p, k) => {
      expect(p.error).toBeNull();
      expect(p.probability).toBeCloseTo(Math.max(...got.slice(k * 3, (k + 1) * 3)), 5);
    });

    // A BGR backbone: the channel reversal the net does inside becomes a fixed 1x1 convolution in the model.
    const { spec } = await resolveBackbone('tiny');
    const bgr = await loadFinetuneNet(tf, { ...spec, colour: 'bgr' }, 3, 5);
    const composed = composeFinetuneModel(tf, bgr);
    const sample = tf.randomNormal([4, size, size, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const want = (await tf.softmax(bgr.apply(sample, false)).data()) as Float32Array;
    const plain = (await (composed.model.predict(sample) as tf.Tensor).data()) as Float32Array;
    expect(Math.max(...want.map((v, i) => Math.abs(v - plain[i]!)))).toBeLessThan(1e-5);
    expect(composed.model.layers.map((l) => l.name)).toContain('rgb_to_bgr');
    for (const layer of composed.added) layer.dispose();
    bgr.dispose();
  }, 60_000);
});
