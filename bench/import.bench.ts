/**
 * Import throughput: Loupe's whole import (scan, read, hashes, thumbnail, SQLite writes, splits) on
 * 2,000 generated 512x384 JPEGs, beside a bare sharp loop doing only read + SHA-256 + decode +
 * WebP thumbnail on the same files at the same concurrency. The ratio is Loupe / bare.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Core } from '../src/main/core';
import { thumbnailSize } from '../src/main/dataset/imageInfo';
import { mapOrdered } from '../src/main/util/pool';
import { benchDir, jpegFolder, listFiles } from './fixtures';

const concurrency = Math.max(2, os.availableParallelism() * 2);

async function bareLoop(files: string[]): Promise<number> {
  const start = performance.now();
  for await (const _ of mapOrdered(files, concurrency, async (file) => {
    const bytes = await fs.promises.readFile(file);
    createHash('sha256').update(bytes).digest('hex');
    return sharp(bytes).resize(thumbnailSize, thumbnailSize, { fit: 'inside' }).webp({ quality: 75, effort: 2 }).toBuffer();
  })) {
    // consume
  }
  return files.length / ((performance.now() - start) / 1000);
}

async function loupeImport(folder: string, run: number): Promise<number> {
  const file = path.join(benchDir, `import-bench-${run}.loupe`);
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  const core = new Core();
  await core.call('project:open', { file, create: true });
  const start = performance.now();
  const { jobId } = await core.call('dataset:import', { source: folder });
  const job = await core.jobs.finished(jobId);
  const seconds = (performance.now() - start) / 1000;
  if (job.state !== 'done') throw new Error(`import ${job.state}: ${job.error?.message}`);
  const stats = await core.call('dataset:stats', {});
  await core.shutdown();
  return stats.images / seconds;
}

/** Prints Loupe's import images/s, the bare loop's, and the ratio. */
export async function importBench(args: string[]): Promise<void> {
  const count = Number(args[0] ?? 2000);
  const folder = await jpegFolder(count, 512, 384);
  const files = listFiles(folder);
  console.log(`${files.length} JPEGs 512x384, concurrency ${concurrency}, ${os.availableParallelism()} cores`);
  // Warm the page cache and sharp once, then alternate the two so neither gets the warmer machine.
  await bareLoop(files.slice(0, 200));
  const bare: number[] = [];
  const loupe: number[] = [];
  for (let run = 0; run < 2; run++) {
    bare.push(await bareLoop(files));
    loupe.push(await loupeImport(folder, run));
  }
  const best = (xs: number[]) => Math.max(...xs);
  console.log(`bare sharp loop (read + sha256 + decode + webp thumbnail): ${bare.map((x) => x.toFixed(0)).join(', ')} images/s`);
  console.log(`loupe import (everything, into SQLite):                 ${loupe.map((x) => x.toFixed(0)).join(', ')} images/s`);
  console.log(`ratio loupe/bare (best of each): ${(best(loupe) / best(bare)).toFixed(2)}`);
}
