import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNet, netSpec, type ArchitectureName, type NamedWeights, type NetSpec } from '../../../src/main/model/archSpec';
import { exportTfjs } from '../../../src/main/model/exportTfjs';
import { exportOnnx, onnxNames, samePads } from '../../../src/main/model/exportOnnx';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'loupe-export-'));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

/** A net whose batch-norm statistics, gammas and betas are random, so that inference differs from training. */
async function randomisedNet(spec: NetSpec, seed: number) {
  const net = buildNet(tf, spec, seed);
  const weights = await net.readWeights();
  let k = 0;
  for (const [name, w] of weights) {
    const stats = /\/(moving_mean|moving_variance|gamma|beta|bias)$/.exec(name);
    if (!stats) continue;
    const random = tf.randomUniform(w.shape, 0, 1, 'float32', seed * 31 + k++);
    const values = (await random.data()) as Float32Array;
    random.dispose();
    const scaled = values.map((v) => (stats[1] === 'moving_variance' || stats[1] === 'gamma' ? 0.5 + v : v - 0.5));
    weights.set(name, { shape: w.shape, data: scaled });
  }
  net.writeWeights(weights);
  return { net, weights };
}

async function expected(spec: NetSpec, weights: NamedWeights, x: tf.Tensor4D): Promise<Float32Array> {
  const net = buildNet(tf, spec, 0);
  net.writeWeights(weights);
  const probs = tf.tidy(() => tf.softmax(net.apply(x, false)));
  const data = (await probs.data()) as Float32Array;
  probs.dispose();
  net.dispose();
  return data;
}

const maxDifference = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** Reads an exported model.json and its weights from disk, as a program without Loupe would. */
function diskHandler(folder: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(await fs.readFile(path.join(folder, 'model.json'), 'utf8'));
      const manifest = json.weightsManifest as Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
      const buffers = await Promise.all(manifest.flatMap((group) => group.paths.map((p) => fs.readFile(path.join(folder, p)))));
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs: manifest.flatMap((group) => group.weights),
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

const cases: Array<[ArchitectureName, [number, number, number], number]> = [
  ['small-cnn', [14, 10, 3], 4],
  ['resnet-small', [16, 12, 1], 3],
];

describe('model export', () => {
  it("pads like TF's 'same': the odd row or column goes after", () => {
    expect(samePads(16, 3, 2)).toEqual([0, 1]);
    expect(samePads(15, 3, 2)).toEqual([1, 1]);
    expect(samePads(10, 3, 1)).toEqual([1, 1]);
    expect(samePads(8, 1, 2)).toEqual([0, 0]);
  });

  for (const [arch, shape, classes] of cases) {
    it(`${arch}: plain tf.loadLayersModel loads the TF.js export and matches the network to 1e-5`, async () => {
      const spec = netSpec(arch, shape, classes);
      const { net, weights } = await randomisedNet(spec, 3);
      const folder = path.join(dir, `tfjs-${arch}`);
      await fs.mkdir(folder);
      for (const file of exportTfjs(spec, weights)) await fs.writeFile(path.join(folder, file.name), file.data);
      const model = await tf.loadLayersModel(diskHandler(folder));
      expect(model.inputs[0]!.shape).toEqual([null, ...shape]);
      const x = tf.randomNormal([5, ...shape], 0, 1, 'float32', 11) as tf.Tensor4D;
      const got = (await (model.predict(x) as tf.Tensor).data()) as Float32Array;
      const want = await expected(spec, weights, x);
      expect(maxDifference(got, want)).toBeLessThan(1e-5);
      // The moving statistics really are used (inference form), not batch statistics.
      const training = (await tf.softmax(net.apply(x, true)).data()) as Float32Array;
      if (arch === 'resnet-small') expect(maxDifference(training, want)).toBeGreaterThan(1e-3);
      model.dispose();
      net.dispose();
    });

    it(`${arch}: the ONNX export run by onnxruntime-node matches the TF.js network to 1e-4`, async () => {
      const spec = netSpec(arch, shape, classes);
      const { net, weights } = await randomisedNet(spec, 5);
      const session = await ort.InferenceSession.create(exportOnnx(spec, weights));
      expect(session.inputNames).toEqual([onnxNames.input]);
      for (const batch of [1, 4]) {
        const x = tf.randomNormal([batch, ...shape], 0, 1, 'float32', 17 + batch) as tf.Tensor4D;
        const input = new ort.Tensor('float32', (await x.data()) as Float32Array, [batch, ...shape]);
        const out = await session.run({ [onnxNames.input]: input });
        const got = out[onnxNames.output]!;
        expect(got.dims).toEqual([batch, classes]);
        expect(maxDifference(got.data as Float32Array, await expected(spec, weights, x))).toBeLessThan(1e-4);
      }
      await session.release();
      net.dispose();
    });
  }

  it('refuses weights that do not fit the network, naming the weight', async () => {
    const spec = netSpec('small-cnn', [8, 8, 1], 2);
    const net = buildNet(tf, spec, 1);
    const weights = await net.readWeights();
    weights.delete('dense1/bias');
    expect(() => exportTfjs(spec, weights)).toThrow(/dense1\/bias is missing/);
    expect(() => exportOnnx(spec, weights)).toThrow(/dense1\/bias is missing/);
    net.dispose();
  });
});
