/**
 * Augmentation throughput: the feeder (decode, standard preset, resize to 224x224, float32
 * normalisation, batches of 32) on 512x384 JPEGs, beside a bare sharp decode + resize loop on the
 * same files at the same concurrency: the limit on this machine. Then peak RSS while feeding 1,000
 * and 10,000 images (the 1,000 files reused cyclically), to show memory stays flat.
 */
import os from 'node:os';
import sharp from 'sharp';
import { presetConfig } from '../src/shared/augment';
import { feedBatches, type FeederItem } from '../src/main/augment/feeder';
import { mapOrdered } from '../src/main/util/pool';
import { jpegFolder, listFiles } from './fixtures';

const concurrency = Math.max(2, os.availableParallelism() * 2);
const config = presetConfig('standard', { inputSize: { width: 224, height: 224 } });
const batchSize = 32;

async function bareLoop(files: string[]): Promise<number> {
  const start = performance.now();
  for await (const _ of mapOrdered(files, concurrency, (file) => sharp(file).resize(224, 224, { fit: 'fill' }).raw().toBuffer())) {
    // consume
  }
  return files.length / ((performance.now() - start) / 1000);
}

/** Feeds every item once; returns images/s and the peak RSS seen after the first two batches. */
async function feed(items: FeederItem[], epoch: number): Promise<{ rate: number; peakRss: number }> {
  let peakRss = 0;
  let warm = false;
  const sampler = setInterval(() => {
    if (warm) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 25);
  const start = performance.now();
  let n = 0;
  let checksum = 0;
  for await (const batch of feedBatches({ items, config, batchSize, seed: 1, epoch, concurrency })) {
    n += batch.size;
    checksum += batch.x[0]!;
    if (batch.index >= 1) warm = true;
    if (warm) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  clearInterval(sampler);
  if (!Number.isFinite(checksum)) throw new Error('bad batch');
  return { rate: n / ((performance.now() - start) / 1000), peakRss };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** Prints augmented images/s, the bare loop's, the ratio, and peak RSS at 1,000 and 10,000 images. */
export async function augmentBench(args: string[]): Promise<void> {
  const count = Number(args[0] ?? 1000);
  const folder = await jpegFolder(count, 512, 384);
  const files = listFiles(folder);
  const itemsOf = (n: number): FeederItem[] =>
    Array.from({ length: n }, (_, i) => ({ id: i + 1, input: files[i % files.length]!, width: 512, height: 384, label: i % 10 }));
  console.log(`${files.length} JPEGs 512x384 -> 224x224, standard preset, batch ${batchSize}, concurrency ${concurrency}, ${os.availableParallelism()} cores`);
  // Warm the page cache and sharp once, then alternate the two so neither gets the warmer machine.
  await bareLoop(files.slice(0, 200));
  const bare: number[] = [];
  const augmented: number[] = [];
  for (let run = 0; run < 2; run++) {
    bare.push(await bareLoop(files));
    augmented.push((await feed(itemsOf(files.length), run)).rate);
  }
  const best = (xs: number[]) => Math.max(...xs);
  console.log(`bare sharp loop (decode + resize to 224x224 raw):      ${bare.map((x) => x.toFixed(0)).join(', ')} images/s`);
  console.log(`augmented feeder (standard preset, float32 batches):   ${augmented.map((x) => x.toFixed(0)).join(', ')} images/s`);
  console.log(`ratio augmented/bare (best of each): ${(best(augmented) / best(bare)).toFixed(2)}`);

  const small = await feed(itemsOf(1000), 10);
  const large = await feed(itemsOf(10_000), 11);
  console.log(`peak RSS feeding  1,000 images: ${mib(small.peakRss)} (${small.rate.toFixed(0)} images/s)`);
  console.log(`peak RSS feeding 10,000 images: ${mib(large.peakRss)} (${large.rate.toFixed(0)} images/s)`);
  console.log(`peak RSS ratio 10,000/1,000: ${(large.peakRss / small.peakRss).toFixed(2)}`);
}
