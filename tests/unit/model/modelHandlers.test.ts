import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fullConfigSchema, quickConfigSchema, type ModelUsed } from '../../../src/shared/train';
import { LoupeError } from '../../../src/shared/errors';
import { Core } from '../../../src/main/core';
import { buildNet, netSpec, type NamedWeights } from '../../../src/main/model/archSpec';
import { evaluationConfig, predictImages } from '../../../src/main/model/predict';
import { saveCheckpoint } from '../../../src/main/train/checkpoints';
import { createRun, updateRun } from '../../../src/main/train/runs';
import { predictCommand } from '../../../src/main/cli/predict';
import { tempDir, writeImage } from '../../helpers/fixtures';

beforeAll(() => tf.setBackend('cpu'));

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

const classes = ['cat', '=cmd', 'dog'];
const model: ModelUsed = {
  arch: 'resnet-small',
  parameters: 0,
  inputShape: [12, 12, 3],
  normalize: { kind: 'meanStd', mean: [0.5, 0.4, 0.3], std: [0.2, 0.3, 0.25] },
  seed: 1,
  bestEpoch: 2,
  lastCheckpointEpoch: 3,
};

/** A project with a finished full run whose best checkpoint holds these weights (batch-norm statistics moved off their defaults), and a quick run. */
async function projectWithRuns(dir: string) {
  core = new Core();
  await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  const db = core.requireProject().db;
  const net = buildNet(tf, netSpec('resnet-small', model.inputShape, classes.length), 5);
  const weights: NamedWeights = await net.readWeights();
  for (const [name, w] of weights) {
    if (/moving_(mean|variance)$/.test(name)) weights.set(name, { shape: w.shape, data: w.data.map((_, i) => 0.5 + ((i * 7) % 5) * 0.1) });
  }
  net.writeWeights(weights);
  const full = createRun(db, fullConfigSchema.parse({ mode: 'full', arch: 'resnet-small' }), 1, 'classification');
  updateRun(db, full, { status: 'done', classes, model });
  saveCheckpoint(db, full, 'best', { epoch: 2, step: 4, weights, optimizer: new Map(), state: { best: { epoch: 2, loss: 1 }, since: 0, optimizerScalars: {}, stopped: null } });
  const quick = createRun(db, quickConfigSchema.parse({ mode: 'quick' }), 1, 'classification');
  updateRun(db, quick, { status: 'done', classes });
  return { core, net, full, quick };
}

const maxDifference = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

async function errorOf(promise: Promise<unknown>): Promise<LoupeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LoupeError);
  return error as LoupeError;
}

describe('runs:exportModel and runs:predict', () => {
  it("exports a full run's best weights as checked TF.js + ONNX files, and refuses what it cannot export", async () => {
    const dir = tempDir();
    const { core, net, full, quick } = await projectWithRuns(dir);
    const out = path.join(dir, 'exports', 'model');
    const result = await core.call('runs:exportModel', { id: full, out });
    expect(result.out).toBe(out);
    expect([...result.files].sort()).toEqual(['loupe-model.json', 'model.json', 'model.onnx', 'weights.bin']);
    expect(result.onnxMaxDifference).toBeLessThan(1e-4);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['model']);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'loupe-model.json'), 'utf8'))).toMatchObject({
      classes,
      inputSize: 12,
      channels: 3,
      normalize: model.normalize,
      arch: 'resnet-small',
      run: full,
      datasetVersion: 1,
    });

    // The files on disk are the run's network: TF.js loaded from memory, ONNX in onnxruntime-node.
    const x = tf.randomNormal([3, ...model.inputShape], 0, 1, 'float32', 3) as tf.Tensor4D;
    const want = (await tf.softmax(net.apply(x, false)).data()) as Float32Array;
    const json = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
    const bin = fs.readFileSync(path.join(out, 'weights.bin'));
    const layers = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }),
    );
    expect(maxDifference((await (layers.predict(x) as tf.Tensor).data()) as Float32Array, want)).toBeLessThan(1e-5);
    const session = await ort.InferenceSession.create(fs.readFileSync(path.join(out, 'model.onnx')));
    const onnx = await session.run({ input: new ort.Tensor('float32', (await x.data()) as Float32Array, [3, ...model.inputShape]) });
    expect(maxDifference(onnx.probabilities!.data as Float32Array, want)).toBeLessThan(1e-4);
    await session.release();

    expect((await errorOf(core.call('runs:exportModel', { id: full, out }))).code).toBe('CONFLICT');
    const quickError = await errorOf(core.call('runs:exportModel', { id: quick, out: path.join(dir, 'q') }));
    expect(quickError.code).toBe('VALIDATION');
    expect(quickError.message).toMatch(/quick run.*full runs/);
    expect(fs.existsSync(path.join(dir, 'q'))).toBe(false);
    expect((await errorOf(core.call('runs:exportModel', { id: 99, out: path.join(dir, 'r') }))).code).toBe('NOT_FOUND');
    net.dispose();
  }, 60_000);

  it('classifies files and sent images as the run validates (to 1e-5), unreadable ones with their error; loupe predict writes a safe CSV', async () => {
    const dir = tempDir();
    const { core, net, full, quick } = await projectWithRuns(dir);
    const images = path.join(dir, 'new');
    for (let i = 0; i < 3; i++) await writeImage(path.join(images, `n${i}.png`), 20 + i, { width: 20 + i * 9, height: 16 });
    fs.writeFileSync(path.join(images, 'broken.jpg'), 'nope');
    fs.writeFileSync(path.join(images, 'notes.txt'), 'not an image name');
    const files = ['broken.jpg', 'n0.png', 'n1.png', 'n2.png'].map((f) => path.join(images, f));
    const sent = fs.readFileSync(files[1]!).toString('base64');
    const answer = await core.call('runs:predict', { id: full, files, images: [{ name: 'dropped.png', base64: sent }] });
    expect(answer.map((p) => p.name)).toEqual([...files, 'dropped.png']);
    expect(answer[0]!.error).toMatch(/cannot read/);
    const reference = await predictImages(tf, net, classes, files.slice(1).map((f) => ({ name: f, input: f })), evaluationConfig(model));
    for (let i = 0; i < reference.length; i++) {
      const got = answer[i + 1]!;
      expect(got.error).toBeNull();
      expect(got.predicted).toBe(reference[i]!.predicted);
      expect(got.top.map((t) => t.name)).toEqual(reference[i]!.top.map((t) => t.name));
      expect(maxDifference(got.top.map((t) => t.probability), reference[i]!.top.map((t) => t.probability))).toBeLessThan(1e-5);
    }
    expect(answer[4]!.top).toEqual(answer[1]!.top);
    expect((await errorOf(core.call('runs:predict', { id: quick, files })))).toMatchObject({ code: 'VALIDATION' });
    expect((await errorOf(core.call('runs:predict', { id: full }))).code).toBe('VALIDATION');

    // The CLI: a folder stands for its image files; --out rows are spreadsheet-safe.
    const csv = path.join(dir, 'preds.csv');
    const printed: unknown[] = [];
    const code = await predictCommand(core, { run: String(full), out: csv, json: true }, [images], (json) => printed.push(json));
    expect(code).toBe(0);
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('path,predicted,probability,error');
    expect(rows.slice(1).map((r) => r.split(',')[0])).toEqual(files);
    expect(rows[1]).toMatch(/,,,cannot read/);
    for (const [i, row] of rows.slice(2).entries()) {
      const [, predicted, probability] = row.split(',');
      expect(predicted).toBe(answer[i + 1]!.predicted === '=cmd' ? "'=cmd" : answer[i + 1]!.predicted);
      expect(Number(probability)).toBeCloseTo(answer[i + 1]!.probability, 6);
    }
    expect(printed[0]).toMatchObject({ run: full, failed: 1 });
    expect((await errorOf(predictCommand(core, { run: 'x' }, [images], () => {}))).code).toBe('VALIDATION');
    net.dispose();
  }, 60_000);
});
