import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BackendReport } from '../../../src/shared/train';
import { cpuDevice, reportOf } from '../../../src/main/model/backend';
import { buildNet, netSpec, type NamedWeights } from '../../../src/main/model/archSpec';
import { exportOnnx } from '../../../src/main/model/exportOnnx';
import { exportTfjs } from '../../../src/main/model/exportTfjs';
import { evaluationConfig, predictImages, topClasses } from '../../../src/main/model/predict';
import { exportCheckKind } from '../../../src/main/train/kinds/exportCheck';
import { predictKind, weightEntries } from '../../../src/main/train/kinds/predict';
import type { KindContext } from '../../../src/main/train/kinds/types';
import { tempDir, writeImage } from '../../helpers/fixtures';

beforeAll(() => tf.setBackend('cpu'));

const report: BackendReport = reportOf('cpu', cpuDevice('CPU (JavaScript)'));
function context(): KindContext & { steps: string[] } {
  const steps: string[] = [];
  return {
    steps,
    tf: async () => ({ tf, report }),
    signal: new AbortController().signal,
    progress: (step) => steps.push(step),
    log: () => {},
    curve: () => {},
    emit: () => {},
  };
}

/** What the run's validation pipeline gives, computed here with sharp alone: squished to size, x/255 (or mean/std), grey as rounded luma with the first channel's mean and std. */
async function referenceInput(file: string | Buffer, [h, w, c]: [number, number, number], normalize: { readonly kind?: string; readonly mean: readonly number[]; readonly std: readonly number[] } | null): Promise<Float32Array> {
  const { data } = await sharp(file).flatten({ background: { r: 0, g: 0, b: 0 } }).resize(w, h, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(h * w * c);
  for (let p = 0; p < h * w; p++) {
    const scale = (value: number, k: number) => (normalize ? (value / 255 - normalize.mean[k]!) / normalize.std[k]! : value / 255);
    if (c === 1) out[p] = scale(Math.round(0.299 * data[p * 3]! + 0.587 * data[p * 3 + 1]! + 0.114 * data[p * 3 + 2]!), 0);
    else out.set([0, 1, 2].map((k) => scale(data[p * 3 + k]!, k)), p * 3);
  }
  return out;
}

async function softmaxOf(net: ReturnType<typeof buildNet>, x: Float32Array, shape: [number, number, number]): Promise<Float32Array> {
  const t = tf.tensor4d(x, [1, ...shape]);
  const probs = tf.tidy(() => tf.softmax(net.apply(t, false)));
  const data = (await probs.data()) as Float32Array;
  t.dispose();
  probs.dispose();
  return data;
}

describe('predict', () => {
  it('classifies files and bytes exactly as softmax(apply) on the validation-preprocessed pixels, unreadable images with their error', async () => {
    const dir = tempDir();
    const files = [0, 1, 2].map((i) => path.join(dir, `img${i}.${i === 1 ? 'jpeg' : 'png'}`));
    await Promise.all(files.map((f, i) => writeImage(f, i + 3, { width: 30 + i * 7, height: 20 + i * 5, format: i === 1 ? 'jpeg' : 'png' })));
    const broken = path.join(dir, 'broken.png');
    fs.writeFileSync(broken, Buffer.from('not an image at all'));
    const classes = ['cat', 'dog', '=cmd', 'eel'];
    for (const [arch, shape, normalize] of [
      ['small-cnn', [12, 16, 3], { kind: 'unit' }],
      ['resnet-small', [16, 16, 1], { kind: 'meanStd', mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] }],
    ] as const) {
      const net = buildNet(tf, netSpec(arch, [...shape], classes.length), 9);
      const bytes = fs.readFileSync(files[2]!);
      const predictions = await predictImages(
        tf,
        net,
        classes,
        [...files.map((f) => ({ name: f, input: f })), { name: 'sent.png', input: bytes }, { name: broken, input: broken }],
        evaluationConfig({ inputShape: [...shape], normalize: normalize.kind === 'unit' ? normalize : { ...normalize, mean: [...normalize.mean], std: [...normalize.std] } }),
      );
      expect(predictions.map((p) => p.name)).toEqual([...files, 'sent.png', broken]);
      const inputs = [...files, bytes];
      for (let i = 0; i < inputs.length; i++) {
        const want = await softmaxOf(net, await referenceInput(inputs[i]!, [...shape], normalize.kind === 'unit' ? null : normalize), [...shape]);
        const p = predictions[i]!;
        expect(p.error).toBeNull();
        const best = want.indexOf(Math.max(...want));
        expect(p.predicted).toBe(classes[best]);
        expect(Math.abs(p.probability - want[best]!)).toBeLessThan(1e-5);
        expect(p.top).toHaveLength(3);
        for (const t of p.top) expect(Math.abs(t.probability - want[classes.indexOf(t.name)]!)).toBeLessThan(1e-5);
        expect(p.top[0]!.probability).toBeGreaterThanOrEqual(p.top[1]!.probability);
      }
      // The bytes of a file predict as the file does.
      expect(predictions[3]!.top).toEqual(predictions[2]!.top);
      expect(predictions[4]).toMatchObject({ predicted: '', probability: 0, top: [] });
      expect(predictions[4]!.error).toMatch(/cannot read this image/);
      net.dispose();
    }
  });

  it('topClasses orders best first and keeps k', () => {
    expect(topClasses([0.1, 0.6, 0.3], ['a', 'b', 'c'], 2)).toEqual([
      { name: 'b', probability: 0.6 },
      { name: 'c', probability: 0.3 },
    ]);
  });

  it("kind 'predict' loads the run's weights into a fresh net and answers per image", async () => {
    const dir = tempDir();
    const file = path.join(dir, 'a.png');
    await writeImage(file, 1);
    const spec = netSpec('small-cnn', [8, 8, 3], 2);
    const trained = buildNet(tf, spec, 4);
    const weights = await trained.readWeights();
    const ctx = context();
    const input = predictKind.input.parse({
      arch: 'small-cnn',
      inputShape: [8, 8, 3],
      classes: ['no', 'yes'],
      normalize: { kind: 'unit' },
      weights: weightEntries(weights),
      images: [
        { name: 'a.png', file },
        { name: 'dropped.png', bytes: new Uint8Array(fs.readFileSync(file)) },
        { name: 'junk', bytes: new Uint8Array([1, 2, 3]) },
      ],
    });
    const answer = await predictKind.run(input, ctx);
    const want = await softmaxOf(trained, await referenceInput(file, [8, 8, 3], null), [8, 8, 3]);
    expect(answer[0]!.top).toHaveLength(2);
    for (const t of answer[0]!.top) expect(Math.abs(t.probability - want[['no', 'yes'].indexOf(t.name)]!)).toBeLessThan(1e-5);
    expect(answer[1]!.top).toEqual(answer[0]!.top);
    expect(answer[2]!.error).toMatch(/cannot read/);
    expect(ctx.steps).toContain('predict');
    // Weights of another network are refused by name.
    const other = await buildNet(tf, netSpec('small-cnn', [8, 8, 3], 3), 1).readWeights();
    await expect(predictKind.run({ ...input, weights: weightEntries(other) }, ctx)).rejects.toThrow(/logits\/kernel is 128x3, needs 128x2/);
    trained.dispose();
  });

  it("kind 'exportCheck' finds the exports equal to the net, and a wrong ONNX file far from it", async () => {
    const spec = netSpec('resnet-small', [12, 12, 3], 3);
    const net = buildNet(tf, spec, 2);
    const weights: NamedWeights = await net.readWeights();
    for (const [name, w] of weights) if (name.endsWith('/moving_mean')) weights.set(name, { shape: w.shape, data: w.data.map((_, i) => (i % 5) * 0.1) });
    const [modelJson, bin] = exportTfjs(spec, weights);
    const base = { arch: 'resnet-small', inputShape: [12, 12, 3], classes: ['a', 'b', 'c'], normalize: { kind: 'unit' }, weights: weightEntries(weights) };
    const good = await exportCheckKind.run(
      exportCheckKind.input.parse({ ...base, onnx: exportOnnx(spec, weights), tfjs: { modelJson: Buffer.from(modelJson!.data).toString('utf8'), weights: bin!.data } }),
      context(),
    );
    expect(good.onnxMaxDifference).toBeLessThan(1e-4);
    expect(good.tfjsMaxDifference).toBeLessThan(1e-5);
    const shifted: NamedWeights = new Map(weights);
    const logits = weights.get('logits/bias')!;
    shifted.set('logits/bias', { shape: logits.shape, data: logits.data.map((v, i) => v + i) });
    const bad = await exportCheckKind.run(exportCheckKind.input.parse({ ...base, onnx: exportOnnx(spec, shifted), tfjs: null }), context());
    expect(bad.onnxMaxDifference).toBeGreaterThan(0.01);
    expect(bad.tfjsMaxDifference).toBeNull();
    net.dispose();
  });
});
