/** "Show a batch": exactly what the network is fed, turned back into pixels. */
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { presetConfig, type Normalize } from '../../../src/shared/augment';
import { fullConfigSchema } from '../../../src/shared/train';
import { feedBatches, type Batch } from '../../../src/main/augment/feeder';
import { Core } from '../../../src/main/core';
import { showBatchKind } from '../../../src/main/train/kinds/showBatch';
import type { KindContext } from '../../../src/main/train/kinds/types';
import type { ToolInput } from '../../../src/main/train/toolsInput';
import { tempDir } from '../../helpers/fixtures';
import { plantedClasses, writePlantedDataset } from './plantedDataset';

const ctx: KindContext = {
  tf: () => Promise.reject(new Error('showBatch needs no TF.js')),
  signal: new AbortController().signal,
  progress: () => {},
  log: () => {},
  curve: () => {},
  emit: () => {},
};

/** The planted dataset's files as a tool input at 16x16, with `normalize` and `channels`. */
async function input(dir: string, normalize: Normalize, channels: 1 | 3): Promise<ToolInput> {
  const root = path.join(dir, 'data');
  await writePlantedDataset(root, 4, 0, 20);
  const items = plantedClasses.flatMap((name, label) => Array.from({ length: 4 }, (_, i) => ({ id: label * 10 + i + 1, file: path.join(root, name, `${name}_${i}.png`), width: 20, height: 20, label })));
  return {
    classes: plantedClasses,
    items,
    config: fullConfigSchema.parse({ mode: 'full', augment: 'standard', seed: 5 }),
    arch: 'small-cnn',
    inputSize: 16,
    channels,
    augment: presetConfig('standard', { inputSize: { width: 16, height: 16 }, normalize }),
  };
}

/** The feeder's own first batch of epoch 1 for that input (what a full run would train on). */
async function fedBatch(tool: ToolInput, count: number): Promise<Batch> {
  const items = tool.items.map((i) => ({ id: i.id, input: i.file, width: i.width, height: i.height, label: i.label }));
  for await (const batch of feedBatches({ items, config: tool.augment, batchSize: count, seed: tool.config.seed, epoch: 1, channels: tool.channels })) return batch;
  throw new Error('no batch');
}

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

describe('show a batch', () => {
  for (const [normalize, channels] of [
    [{ kind: 'meanStd', mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.3] }, 3],
    [{ kind: 'unit' }, 1],
  ] as Array<[Normalize, 1 | 3]>) {
    it(`renders the fed batch back to pixels (${normalize.kind}, ${channels} channel${channels === 1 ? '' : 's'}) within 1/255, with the labels of its images`, async () => {
      const tool = await input(tempDir(), normalize, channels);
      const answer = await showBatchKind.run({ ...tool, count: 6, seed: 0 }, ctx);
      const fed = await fedBatch(tool, 6);
      expect(answer.ids).toEqual(fed.ids);
      expect(answer.labels).toEqual(Array.from(fed.y));
      // The labels are the images' own: item id → its class.
      const labelOf = new Map(tool.items.map((i) => [i.id, i.label]));
      expect(answer.labels).toEqual(answer.ids.map((id) => labelOf.get(id)));
      expect(answer.pngs).toHaveLength(6);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of fed.x) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(answer.valueRange).toEqual([lo, hi]);
      const pixels = 16 * 16 * channels;
      for (const [n, png] of answer.pngs.entries()) {
        const meta = await sharp(png).metadata();
        expect([meta.width, meta.height, meta.channels]).toEqual([16, 16, channels]);
        const decoded = sharp(png);
        const { data } = await (channels === 1 ? decoded.toColourspace('b-w') : decoded).raw().toBuffer({ resolveWithObject: true });
        expect(data.length).toBe(pixels);
        for (let i = 0; i < pixels; i++) {
          const v = fed.x[n * pixels + i]!;
          const c = i % channels;
          const unit = normalize.kind === 'unit' ? v : v * normalize.std[c]! + normalize.mean[c]!;
          expect(Math.abs(data[i]! / 255 - unit)).toBeLessThanOrEqual(1 / 255 + 1e-6);
        }
      }
      // Another seed shows another epoch's batch.
      const later = await showBatchKind.run({ ...tool, count: 6, seed: 3 }, ctx);
      expect(later.pngs.map((p) => Buffer.from(p).toString('base64'))).not.toEqual(answer.pngs.map((p) => Buffer.from(p).toString('base64')));
    });
  }

  it('train:showBatch stores the PNGs for the preview routes, each with its image, path and label', async () => {
    const dir = tempDir();
    const root = path.join(dir, 'data');
    await writePlantedDataset(root, 10, 0, 16);
    core = new Core();
    await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
    const { jobId } = await core.call('dataset:import', { source: root });
    expect((await core.jobs.finished(jobId)).state).toBe('done');
    const shown = await core.call('train:showBatch', { config: { augment: 'none' }, count: 5 });
    expect(shown.inputShape).toEqual([16, 16, 3]);
    expect(shown.items).toHaveLength(5);
    expect(shown.valueRange[0]).toBeGreaterThanOrEqual(0);
    expect(shown.valueRange[1]).toBeLessThanOrEqual(1);
    for (const item of shown.items) {
      // The planted images are red, green or blue: the label is the image's folder, and the PNG's strongest channel its colour.
      expect(item.path.split('/')[0]).toBe(item.label);
      const { data } = await sharp(core.previewImage(shown.previewId, item.index)).raw().toBuffer({ resolveWithObject: true });
      const mean = [0, 1, 2].map((c) => data.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0));
      expect(plantedClasses[mean.indexOf(Math.max(...mean))]).toBe(item.label);
    }
    await expect(core.call('train:showBatch', { config: { mode: 'quick' } })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
