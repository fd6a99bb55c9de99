/**
 * Fine-tuning a pretrained TF.js layers model: a small network pre-trained here on task A (four
 * textures of 16x16 colour images), exported with exportTfjs and imported as a backbone, is
 * fine-tuned on task B (other classes made of the same textures, six train images each) through
 * the core, and beats the same network trained from scratch with the same epochs and seed. And the
 * schedule: frozen epochs train the head alone, unfrozen ones every weight.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { buildNet, smallCnnSpec, type NamedWeights } from '../../../src/main/model/archSpec';
import { importBackbone, resolveBackbone } from '../../../src/main/model/backbones';
import { exportTfjs } from '../../../src/main/model/exportTfjs';
import { loadFinetuneNet } from '../../../src/main/model/finetuneNet';
import { registerWasmKernels } from '../../../src/main/model/kernels/wasmKernels';
import { loadCheckpoint } from '../../../src/main/train/checkpoints';
import { fit } from '../../../src/main/train/engine';
import { freezeSchedule, groupedAdam, liveTrainable } from '../../../src/main/train/finetune';
import { seededRandom } from '../../../src/main/train/folds';
import { classifier, disposeBatch, type ImageBatch } from '../../../src/main/train/netBatch';
import { tempDir } from '../../helpers/fixtures';

const size = 16;
type Texture = 'hstripes' | 'vstripes' | 'checker' | 'blob';
const textures: Texture[] = ['hstripes', 'vstripes', 'checker', 'blob'];

/** One 16x16 RGB image of a texture in random colours, phase and position, with noise. */
function texture(kind: Texture, random: () => number): Uint8Array {
  const colour = () => [0, 1, 2].map(() => 40 + random() * 180);
  const fg = colour();
  const bg = fg.map((v) => (v + 80 + random() * 40) % 255);
  const phase = Math.floor(random() * 4);
  const cx = 4 + random() * 8;
  const cy = 4 + random() * 8;
  const r = 2.5 + random() * 2.5;
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on =
        kind === 'hstripes'
          ? ((y + phase) >> 1) % 2 === 0
          : kind === 'vstripes'
            ? ((x + phase) >> 1) % 2 === 0
            : kind === 'checker'
              ? (((x + phase) >> 1) + ((y + phase) >> 1)) % 2 === 0
              : (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
      for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, (on ? fg[c]! : bg[c]!) + (random() - 0.5) * 40));
    }
  }
  return out;
}

/** Pre-trains small-cnn on task A (the four textures) in this process; its weights. */
async function pretrainTaskA(): Promise<NamedWeights> {
  const random = seededRandom(5);
  const perClass = 64;
  const n = perClass * textures.length;
  const x = new Float32Array(n * size * size * 3);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % textures.length;
    x.set(Array.from(texture(textures[label]!, random), (v) => v / 255), i * size * size * 3);
    y[i] = label;
  }
  const net = buildNet(tf, smallCnnSpec([size, size, 3], textures.length), 1);
  const optimizer = tf.train.adam(3e-3);
  const batchSize = 32;
  const batches = (): ImageBatch[] =>
    Array.from({ length: n / batchSize }, (_, b) => ({
      x: tf.tensor4d(x.subarray(b * batchSize * size * size * 3, (b + 1) * batchSize * size * size * 3), [batchSize, size, size, 3]),
      labels: tf.tensor1d(y.subarray(b * batchSize, (b + 1) * batchSize), 'int32'),
    }));
  const fitted = await fit<ImageBatch>({ model: classifier(tf, net), batches, epochs: 12, optimizer, learningRate: 3e-3, release: disposeBatch });
  expect(fitted.state.epochLoss).toBeLessThan(0.05);
  const weights = await net.readWeights();
  net.dispose();
  optimizer.dispose();
  return weights;
}

// The pre-trained model's files (model.json, weights.bin), written once for both tests.
let pretrained = '';
let pretrainedDir = '';
afterAll(() => fs.rmSync(pretrainedDir, { recursive: true, force: true }));
beforeAll(async () => {
  // The training process's backend: wasm with Loupe's gradient kernels.
  registerWasmKernels(tf);
  expect(await tf.setBackend('wasm')).toBe(true);
  const weights = await pretrainTaskA();
  pretrainedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-pretrained-'));
  const folder = pretrainedDir;
  fs.mkdirSync(folder, { recursive: true });
  for (const file of exportTfjs(smallCnnSpec([size, size, 3], textures.length), weights)) fs.writeFileSync(path.join(folder, file.name), file.data);
  pretrained = path.join(folder, 'model.json');
}, 30_000);

/** Imports the pre-trained model as backbone 'textures' into a cache folder of `dir`. */
async function importPretrained(dir: string): Promise<void> {
  process.env.LOUPE_CACHE_DIR = path.join(dir, 'cache');
  await importBackbone(pretrained, 'textures', { preprocessing: { scaling: 'unit', inputSize: size } });
}

/** Task B: 'lines' (either stripes), 'grid' (checker), 'blob'; few train images, split into folders. */
async function writeTaskB(root: string, counts: { train: number; valid: number; test: number }): Promise<void> {
  const random = seededRandom(11);
  const classes: Record<string, Texture[]> = { lines: ['hstripes', 'vstripes'], grid: ['checker'], blob: ['blob'] };
  for (const [split, count] of Object.entries(counts)) {
    for (const [name, kinds] of Object.entries(classes)) {
      for (let i = 0; i < count; i++) {
        const file = path.join(root, split, name, `${name}_${i}.png`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        await sharp(Buffer.from(texture(kinds[i % kinds.length]!, random)), { raw: { width: size, height: size, channels: 3 } }).png().toFile(file);
      }
    }
  }
}

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
  delete process.env.LOUPE_CACHE_DIR;
});

describe('fine-tuning a pretrained TF.js layers model', () => {
  it('beats the same network trained from scratch on few images, through the core', async () => {
    const dir = tempDir();
    await importPretrained(dir);
    core = new Core();
    const root = path.join(dir, 'taskB');
    await writeTaskB(root, { train: 6, valid: 6, test: 10 });
    await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
    const imported = await core.call('dataset:import', { source: root });
    expect((await core.jobs.finished(imported.jobId)).state).toBe('done');

    const common = { mode: 'full', epochs: 6, batchSize: 6, learningRate: 1e-2, patience: 10, augment: 'none', seed: 3 };
    const tuned = await core.call('train:start', { config: { ...common, arch: 'finetune', backbone: 'textures', frozenEpochs: 3 } });
    const tunedJob = await core.jobs.finished(tuned.jobId);
    expect(tunedJob.error).toBeNull();
    const scratch = await core.call('train:start', { config: { ...common, arch: 'small-cnn' } });
    expect((await core.jobs.finished(scratch.jobId)).error).toBeNull();

    const a = await core.call('runs:get', { id: tuned.runId });
    const b = await core.call('runs:get', { id: scratch.runId });
    expect(a.status).toBe('done');
    // The backbone's preprocessing sets the input and the normalisation; the parameters are the backbone's up to its features and the head's.
    const features = 4 * 4 * 64;
    expect(a.model).toMatchObject({ arch: 'finetune', inputShape: [16, 16, 3], normalize: { kind: 'meanStd', mean: [0, 0, 0], std: [1, 1, 1] }, lastCheckpointEpoch: common.epochs });
    expect(a.model!.parameters).toBe(3 * 3 * 3 * 32 + 32 + 3 * 3 * 32 * 64 + 64 + features * 128 + 128 + 128 * 3 + 3);
    const last = loadCheckpoint(core.requireProject().db, tuned.runId, 'last')!;
    expect(last.weights.get('conv1/kernel')!.shape).toEqual([3, 3, 3, 32]);
    expect(last.weights.get('finetune_head/kernel')!.shape).toEqual([128, 3]);
    expect(last.weights.has('logits/kernel')).toBe(false);

    const bestValid = (run: typeof a) => Math.min(...run.curves.filter((p) => p.kind === 'epoch').map((p) => p.valLoss!));
    expect(bestValid(a)).toBeLessThan(bestValid(b));
    expect(a.metrics!.test!.accuracy).toBeGreaterThan(b.metrics!.test!.accuracy);
    expect(a.metrics!.test!.accuracy).toBeGreaterThanOrEqual(0.8);

    // Backbones that cannot be fine-tuned are refused by name, with the fix.
    for (const backbone of ['default', 'baseline']) {
      const refused = await core.call('train:start', { config: { ...common, arch: 'finetune', backbone } });
      const job = await core.jobs.finished(refused.jobId);
      expect(job.state).toBe('failed');
      expect(job.error).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/config\.backbone: fine-tuning needs a TF\.js layers model.*import a TF\.js layers model\.json/) });
    }
  }, 60_000);

  it('trains the head alone while frozen, then every weight, each group at its own rate', async () => {
    const dir = tempDir();
    await importPretrained(dir);
    const { spec } = await resolveBackbone('textures');
    const net = await loadFinetuneNet(tf, spec, 3, 9);
    expect(net.featureLayer).toBe('dense1');
    expect(net.groups.map((g) => g.rate)).toEqual([0.01, 0.1, 1]);
    const random = seededRandom(2);
    const x = new Float32Array(8 * size * size * 3);
    for (let i = 0; i < 8; i++) x.set(Array.from(texture(textures[i % 3]!, random), (v) => v / 255), i * size * size * 3);
    const batch = () => [{ x: tf.tensor4d(x, [8, size, size, 3]), labels: tf.tensor1d(Int32Array.from({ length: 8 }, (_, i) => i % 3), 'int32') }];
    const optimizer = groupedAdam(tf, net.groups, 1e-3);
    const seen: NamedWeights[] = [await net.readWeights()];
    await fit<ImageBatch>({
      model: liveTrainable(classifier(tf, net), net),
      batches: batch,
      epochs: 3,
      optimizer,
      learningRate: 1e-3,
      release: disposeBatch,
      callbacks: [freezeSchedule(net, 2), { afterEpoch: async () => void seen.push(await net.readWeights()) }],
    });
    const changed = (from: NamedWeights, to: NamedWeights, names: string[]) => names.filter((n) => from.get(n)!.data.some((v, i) => v !== to.get(n)!.data[i]));
    const trainableBackbone = net.backboneWeights.filter((n) => /kernel|bias/.test(n));
    for (const epoch of [1, 2]) {
      expect(changed(seen[epoch - 1]!, seen[epoch]!, net.backboneWeights), `epoch ${epoch}`).toEqual([]);
      expect(changed(seen[epoch - 1]!, seen[epoch]!, net.headWeights), `epoch ${epoch}`).toEqual(net.headWeights);
    }
    expect(changed(seen[2]!, seen[3]!, trainableBackbone)).toEqual(trainableBackbone);
    expect(changed(seen[2]!, seen[3]!, net.headWeights)).toEqual(net.headWeights);
    // Checkpointed weights go back in, and the optimizer's per-group moments round-trip.
    net.writeWeights(seen[1]!);
    expect(changed(seen[1]!, await net.readWeights(), [...net.backboneWeights, ...net.headWeights])).toEqual([]);
    const moments = await optimizer.getWeights();
    expect(moments.some((w) => w.name.startsWith('group0:'))).toBe(true);
    const again = groupedAdam(tf, net.groups, 1e-3);
    await again.setWeights(moments);
    expect((await again.getWeights()).map((w) => w.name)).toEqual(moments.map((w) => w.name));
    again.dispose();
    optimizer.dispose();
    net.dispose();
  }, 30_000);
});
