import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imagenetNormalize, presetConfig } from '../../../src/shared/augment';
import { LoupeError } from '../../../src/shared/errors';
import { augmentImage } from '../../../src/main/augment/apply';
import { batchCount, feedBatches, normalizeTable, type Batch, type FeederItem } from '../../../src/main/augment/feeder';
import { tempDir, writeImage } from '../../helpers/fixtures';

async function items(n: number): Promise<FeederItem[]> {
  const dir = tempDir();
  const out: FeederItem[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `img_${i}.png`);
    await writeImage(file, i, { width: 40, height: 30 });
    out.push({ id: i + 1, input: file, width: 40, height: 30, label: i % 3 });
  }
  return out;
}

async function collect(iterator: AsyncGenerator<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const batch of iterator) out.push(batch);
  return out;
}

describe('the batch feeder', () => {
  it('yields float32 HWC batches at the input size, normalised, with labels and ids', async () => {
    const list = await items(10);
    const config = { ...presetConfig('standard'), inputSize: { width: 16, height: 12 } };
    const batches = await collect(feedBatches({ items: list, config, batchSize: 4, seed: 1, epoch: 0 }));
    expect(batches.map((b) => b.size)).toEqual([4, 4, 2]);
    expect(batchCount({ items: list, batchSize: 4 })).toBe(3);
    expect(batchCount({ items: list, batchSize: 4, dropLast: true })).toBe(2);
    const ids = batches.flatMap((b) => b.ids);
    expect([...ids].sort((a, b) => a - b)).toEqual(list.map((i) => i.id));
    expect(ids).not.toEqual(list.map((i) => i.id)); // shuffled
    for (const batch of batches) {
      expect(batch.x).toBeInstanceOf(Float32Array);
      expect(batch.x.length).toBe(batch.size * 12 * 16 * 3);
      expect(Math.min(...batch.x)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...batch.x)).toBeLessThanOrEqual(1);
      for (const [k, id] of batch.ids.entries()) expect(batch.y[k]).toBe(list.find((i) => i.id === id)!.label);
    }
    // The tensor holds exactly the augmented pixels of that (seed, epoch, image), divided by 255.
    const first = batches[0]!;
    const item = list.find((i) => i.id === first.ids[0])!;
    const image = await augmentImage(item, config, 1, 0, item.id);
    for (let i = 0; i < 50; i++) expect(first.x[i]).toBeCloseTo(image.data[i]! / 255, 6);
  });

  it('is deterministic whatever the concurrency and prefetch, and differs between epochs', async () => {
    const list = await items(9);
    const config = { ...presetConfig('strong'), inputSize: { width: 16, height: 16 } };
    const a = await collect(feedBatches({ items: list, config, batchSize: 3, seed: 7, epoch: 2, concurrency: 1, prefetch: 1 }));
    const b = await collect(feedBatches({ items: list, config, batchSize: 3, seed: 7, epoch: 2, concurrency: 4, prefetch: 3 }));
    expect(a.map((x) => x.ids)).toEqual(b.map((x) => x.ids));
    for (const [i, batch] of a.entries()) expect(Buffer.from(batch.x.buffer).equals(Buffer.from(b[i]!.x.buffer))).toBe(true);
    const c = await collect(feedBatches({ items: list, config, batchSize: 3, seed: 7, epoch: 3 }));
    expect(c.map((x) => x.ids)).not.toEqual(a.map((x) => x.ids));
  });

  it('normalises with mean and std per channel', () => {
    const lut = normalizeTable(imagenetNormalize);
    expect(lut[0]).toBeCloseTo((0 - 0.485) / 0.229, 5);
    expect(lut[256 + 255]).toBeCloseTo((1 - 0.456) / 0.224, 5);
    expect(lut[512 + 128]).toBeCloseTo((128 / 255 - 0.406) / 0.225, 5);
  });

  it('builds at most `prefetch` batches ahead of a slow reader', async () => {
    const list = await items(12);
    const config = { ...presetConfig('none'), inputSize: { width: 8, height: 8 } };
    // Count batches begun: the feeder slices its (unshuffled) item list once per batch it starts.
    let begun = 0;
    const counted = new Proxy(list, {
      get(target, key, receiver) {
        if (key === 'slice') begun++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const iterator = feedBatches({ items: counted, config, batchSize: 2, seed: 1, epoch: 0, prefetch: 2, shuffle: false });
    await iterator.next();
    // The batch handed out plus two prefetched, and nothing more while the reader holds it.
    expect(begun).toBe(3);
    await iterator.next();
    expect(begun).toBe(4);
    await iterator.return(undefined);
  });

  it('stops with CANCELLED when its signal aborts', async () => {
    const list = await items(8);
    const controller = new AbortController();
    const config = { ...presetConfig('none'), inputSize: { width: 8, height: 8 } };
    const iterator = feedBatches({ items: list, config, batchSize: 2, seed: 1, epoch: 0, signal: controller.signal });
    await iterator.next();
    controller.abort();
    await expect(collect(iterator)).rejects.toSatisfy((error) => error instanceof LoupeError && error.code === 'CANCELLED');
  });

  it('names the file when an image cannot be read', async () => {
    const config = { ...presetConfig('none'), inputSize: { width: 8, height: 8 } };
    const missing: FeederItem[] = [{ id: 1, input: path.join(tempDir(), 'gone.png'), width: 10, height: 10, label: 0 }];
    await expect(collect(feedBatches({ items: missing, config, batchSize: 1, seed: 1, epoch: 0 }))).rejects.toThrow(/gone\.png/);
  });
});
