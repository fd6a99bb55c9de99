/** Test-time augmentation: the mean of the softmax over ttaViews, each view drawn by the augmentation code; runs:predict { tta } and `loupe predict --tta`. */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fullConfigSchema, ttaViews, type ModelUsed, type TtaView } from '../../../src/shared/train';
import { Core } from '../../../src/main/core';
import { buildNet, netSpec, type Net } from '../../../src/main/model/archSpec';
import { evaluationConfig, predictImages, preprocessImages, ttaCropScale, ttaInputs } from '../../../src/main/model/predict';
import { predictKind, weightEntries } from '../../../src/main/train/kinds/predict';
import { saveCheckpoint } from '../../../src/main/train/checkpoints';
import { createRun, updateRun } from '../../../src/main/train/runs';
import { predictCommand } from '../../../src/main/cli/predict';
import { cpuDevice, reportOf } from '../../../src/main/model/backend';
import { tempDir, writeImage } from '../../helpers/fixtures';
import { loupe } from '../cli/run';

beforeAll(() => tf.setBackend('cpu'));

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

/** One view computed here with sharp alone (squish resize as the validation pipeline does): crop region, resize, optional mirror; x/255 or mean/std; grey as rounded luma. */
async function referenceView(file: string, view: TtaView, [h, w, c]: [number, number, number], normalize: { mean: number[]; std: number[] } | null): Promise<Float32Array> {
  const meta = await sharp(file).metadata();
  const [W, H] = [meta.width!, meta.height!];
  const [cw, ch] = [Math.round(W * ttaCropScale), Math.round(H * ttaCropScale)];
  const regions: Record<TtaView, { left: number; top: number; width: number; height: number } | null> = {
    original: null,
    hflip: null,
    'crop-top-left': { left: 0, top: 0, width: cw, height: ch },
    'crop-top-right': { left: W - cw, top: 0, width: cw, height: ch },
    'crop-bottom-left': { left: 0, top: H - ch, width: cw, height: ch },
    'crop-bottom-right': { left: W - cw, top: H - ch, width: cw, height: ch },
    'crop-centre': { left: Math.floor((W - cw) / 2), top: Math.floor((H - ch) / 2), width: cw, height: ch },
  };
  let image = sharp(file).flatten({ background: { r: 0, g: 0, b: 0 } });
  const region = regions[view];
  if (region) image = image.extract(region);
  image = image.resize(w, h, { fit: 'fill' }).flop(view === 'hflip');
  const { data } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(h * w * c);
  const scale = (v: number, k: number) => (normalize ? (v / 255 - normalize.mean[k]!) / normalize.std[k]! : v / 255);
  for (let p = 0; p < h * w; p++) {
    if (c === 1) out[p] = scale(Math.round(0.299 * data[p * 3]! + 0.587 * data[p * 3 + 1]! + 0.114 * data[p * 3 + 2]!), 0);
    else out.set([0, 1, 2].map((k) => scale(data[p * 3 + k]!, k)), p * 3);
  }
  return out;
}

async function softmaxOf(net: Net, x: Float32Array): Promise<Float32Array> {
  const t = tf.tensor4d(x, [1, ...net.spec.inputShape]);
  const probs = tf.tidy(() => tf.softmax(net.apply(t, false)));
  const data = (await probs.data()) as Float32Array;
  t.dispose();
  probs.dispose();
  return data;
}

const maxDifference = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** A w x h RGB PNG whose columns mirror (pixel x equals pixel w-1-x), with structure in both directions. */
async function writeSymmetric(file: string, w: number, h: number): Promise<void> {
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = Math.min(x, w - 1 - x);
      data.set([(d * 37 + y * 11) % 256, (d * d * 5 + 40) % 256, (y * 23 + 7) % 256], (y * w + x) * 3);
    }
  }
  await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
}

describe('test-time augmentation', () => {
  it('averages the softmax over the original, its flip and five 90% crops, each equal to the view computed separately', async () => {
    const dir = tempDir();
    const files = [0, 1].map((i) => path.join(dir, `img${i}.png`));
    await writeImage(files[0]!, 3, { width: 41, height: 29 });
    await writeImage(files[1]!, 8, { width: 24, height: 36 });
    const broken = path.join(dir, 'broken.png');
    fs.writeFileSync(broken, 'not an image');
    const classes = ['a', 'b', 'c', 'd'];
    for (const [arch, shape, normalize] of [
      ['small-cnn', [12, 16, 3], null],
      ['resnet-small', [16, 16, 1], { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] }],
    ] as const) {
      const net = buildNet(tf, netSpec(arch, [...shape], classes.length), 11);
      const norm = normalize ? { mean: [...normalize.mean], std: [...normalize.std] } : null;
      const config = evaluationConfig({ inputShape: [...shape], normalize: norm ? { kind: 'meanStd', ...norm } : { kind: 'unit' } });
      const items = [...files.map((f) => ({ name: f, input: f })), { name: broken, input: broken }];
      const tta = await predictImages(tf, net, classes, items, config, { tta: true, top: classes.length });
      const plain = await predictImages(tf, net, classes, items, config, { top: classes.length });
      const channels = shape[2];
      const views = await ttaInputs(items, config, { channels });
      const plainInputs = await preprocessImages(items, config, { channels });
      for (const [i, file] of files.entries()) {
        const perView: Float32Array[] = [];
        expect(views[i]!.views!.map((v) => v.view)).toEqual([...ttaViews]);
        for (const { view, x } of views[i]!.views!) {
          // Each view is the augmentation code's pixels, equal to sharp's own crop + resize + mirror.
          expect(maxDifference(x, await referenceView(file, view, [...shape], norm))).toBeLessThan(1e-6);
          perView.push(await softmaxOf(net, x));
        }
        // The original view is exactly the plain (validation) input.
        expect(views[i]!.views![0]!.x).toEqual(plainInputs[i]!.x);
        const mean = classes.map((_, c) => perView.reduce((s, p) => s + p[c]!, 0) / perView.length);
        const got = tta[i]!;
        expect(got.error).toBeNull();
        expect(got.views).toEqual([...ttaViews]);
        for (const t of got.top) expect(Math.abs(t.probability - mean[classes.indexOf(t.name)]!)).toBeLessThan(1e-6);
        expect(got.predicted).toBe(classes[mean.indexOf(Math.max(...mean))]);
        // The views differ, so TTA is not the plain prediction.
        expect(maxDifference(perView[0]!, perView[2]!)).toBeGreaterThan(1e-4);
        expect(plain[i]!.views).toBeUndefined();
        const plainProbs = classes.map((c) => plain[i]!.top.find((t) => t.name === c)!.probability);
        expect(maxDifference(plainProbs, perView[0]!)).toBeLessThan(1e-6);
      }
      expect(tta[2]).toMatchObject({ predicted: '', top: [], error: expect.stringMatching(/cannot read this image/) });
      net.dispose();
    }
  });

  it('on a left-right mirror image the flip view is the original, and the mirrored corner crops agree', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'mirror.png');
    await writeSymmetric(file, 30, 20);
    const config = evaluationConfig({ inputShape: [10, 15, 3], normalize: { kind: 'unit' } });
    const [prepared] = await ttaInputs([{ name: 'mirror', input: file }], config);
    const x = new Map(prepared!.views!.map((v) => [v.view, v.x]));
    expect(x.get('hflip')).toEqual(x.get('original'));
    const mirror = (v: Float32Array) => {
      const out = new Float32Array(v.length);
      for (let y = 0; y < 10; y++) for (let c = 0; c < 15; c++) out.set(v.subarray((y * 15 + c) * 3, (y * 15 + c) * 3 + 3), (y * 15 + 14 - c) * 3);
      return out;
    };
    expect(maxDifference(mirror(x.get('crop-top-left')!), x.get('crop-top-right')!)).toBeLessThan(1e-6);
    const net = buildNet(tf, netSpec('small-cnn', [10, 15, 3], 3), 2);
    expect(await softmaxOf(net, x.get('hflip')!)).toEqual(await softmaxOf(net, x.get('original')!));
    net.dispose();
  });

  it("kind 'predict', runs:predict { tta } and `loupe predict --tta` answer the views' mean", async () => {
    const dir = tempDir();
    const classes = ['cat', 'dog', 'eel'];
    const model: ModelUsed = { arch: 'small-cnn', parameters: 0, inputShape: [12, 12, 3], normalize: { kind: 'unit' }, seed: 1, bestEpoch: 1, lastCheckpointEpoch: 1 };
    const net = buildNet(tf, netSpec('small-cnn', model.inputShape, classes.length), 5);
    const weights = await net.readWeights();
    const images = path.join(dir, 'new');
    for (let i = 0; i < 2; i++) await writeImage(path.join(images, `n${i}.png`), 30 + i, { width: 26 + i * 5, height: 18 });
    const files = ['n0.png', 'n1.png'].map((f) => path.join(images, f));
    const reference = await predictImages(tf, net, classes, files.map((f) => ({ name: f, input: f })), evaluationConfig(model), { tta: true });

    const report = reportOf('cpu', cpuDevice('CPU (JavaScript)'));
    const ctx = { tf: async () => ({ tf, report }), signal: new AbortController().signal, progress: () => {}, log: () => {}, curve: () => {}, emit: () => {} };
    const input = predictKind.input.parse({ ...model, classes, weights: weightEntries(weights), images: files.map((file) => ({ name: file, file })), tta: true });
    const kind = await predictKind.run(input, ctx);
    expect(kind.map((p) => p.views)).toEqual([[...ttaViews], [...ttaViews]]);
    expect(maxDifference(kind.flatMap((p) => p.top.map((t) => t.probability)), reference.flatMap((p) => p.top.map((t) => t.probability)))).toBeLessThan(1e-6);

    const project = path.join(dir, 'p.loupe');
    core = new Core();
    await core.call('project:open', { file: project, create: true });
    const db = core.requireProject().db;
    const full = createRun(db, fullConfigSchema.parse({ mode: 'full', arch: 'small-cnn' }), 1, 'classification');
    updateRun(db, full, { status: 'done', classes, model });
    saveCheckpoint(db, full, 'best', { epoch: 1, step: 1, weights, optimizer: new Map(), state: { best: { epoch: 1, loss: 1 }, since: 0, optimizerScalars: {}, stopped: null } });
    const answer = await core.call('runs:predict', { id: full, files, tta: true });
    const plain = await core.call('runs:predict', { id: full, files });
    for (const [i, p] of answer.entries()) {
      expect(p.views).toEqual([...ttaViews]);
      expect(p.top.map((t) => t.name)).toEqual(reference[i]!.top.map((t) => t.name));
      expect(maxDifference(p.top.map((t) => t.probability), reference[i]!.top.map((t) => t.probability))).toBeLessThan(1e-5);
      expect(plain[i]!.views).toBeUndefined();
    }
    const printed: Array<{ tta: string[] | null; predictions: Array<{ views?: string[] }> }> = [];
    expect(await predictCommand(core, { run: String(full), json: true, tta: true }, [images], (json) => printed.push(json as (typeof printed)[number]))).toBe(0);
    expect(printed[0]!.tta).toEqual([...ttaViews]);
    expect(printed[0]!.predictions.map((p) => p.views)).toEqual([[...ttaViews], [...ttaViews]]);
    await core.shutdown();
    core = null;

    // As a person runs it: --tta is a flag of `loupe predict`, and the text says which views were averaged.
    const cli = await loupe(['predict', '--project', project, '--run', String(full), '--tta', '--json', ...files]);
    expect(cli.code, cli.stderr).toBe(0);
    const json = JSON.parse(cli.stdout) as { tta: string[]; predictions: Array<{ predicted: string; probability: number; views: string[] }> };
    expect(json.tta).toEqual([...ttaViews]);
    expect(json.predictions.map((p) => p.predicted)).toEqual(reference.map((p) => p.predicted));
    expect(maxDifference(json.predictions.map((p) => p.probability), reference.map((p) => p.probability))).toBeLessThan(1e-5);
    const text = await loupe(['predict', '--project', project, '--run', String(full), '--tta', files[0]!]);
    expect(text.stdout).toMatch(/test-time augmentation: mean over original, hflip, crop-top-left/);
    expect((await loupe(['predict', '--help'])).stdout).toContain('--tta');
    net.dispose();
  }, 120_000);
});
