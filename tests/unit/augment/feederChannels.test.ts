/** The feeder's one-channel batches: the luma of the RGB pixels, normalised like the first channel. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../../src/shared/augment';
import { feedBatches, type Batch } from '../../../src/main/augment/feeder';
import { tempDir, writeImage } from '../../helpers/fixtures';

async function first(iterator: AsyncGenerator<Batch>): Promise<Batch> {
  for await (const batch of iterator) return batch;
  throw new Error('no batch');
}

describe('the batch feeder with channels: 1', () => {
  it('yields N x H x W x 1 batches of 0.299 R + 0.587 G + 0.114 B', async () => {
    const dir = tempDir();
    const items = [];
    for (let i = 0; i < 3; i++) {
      const file = path.join(dir, `img_${i}.png`);
      await writeImage(file, i, { width: 20, height: 20 });
      items.push({ id: i + 1, input: file, width: 20, height: 20, label: i });
    }
    const config = { ...presetConfig('none'), inputSize: { width: 8, height: 8 } };
    const options = { items, config, batchSize: 3, seed: 1, epoch: 0, shuffle: false, augment: false } as const;
    const rgb = await first(feedBatches(options));
    const grey = await first(feedBatches({ ...options, channels: 1 }));
    expect(grey.x.length).toBe(3 * 8 * 8);
    for (let p = 0; p < 3 * 8 * 8; p++) {
      const luma = Math.round(255 * (0.299 * rgb.x[p * 3]! + 0.587 * rgb.x[p * 3 + 1]! + 0.114 * rgb.x[p * 3 + 2]!)) / 255;
      expect(grey.x[p]).toBeCloseTo(luma, 5);
    }
  });
});
