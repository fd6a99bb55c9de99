/**
 * Store latency at 100,000 images (a synthetic project: rows, no pixels): gallery pages under
 * filters and sorts at random offsets, select-all, and relabelling 1,000 selected images (each
 * relabel undone again so every round starts alike). Prints p50/p95 per operation in milliseconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Core } from '../src/main/core';
import type { ImageId, SplitName } from '../src/shared/types';
import { addSyntheticImages } from '../tests/helpers/synthetic';
import { benchDir } from './fixtures';

const classCount = 20;
const perClass = 5000;

/** The 100,000-image synthetic project (rows only), made once under .bench/; returns its file. */
export async function storeFixture(): Promise<string> {
  const file = path.join(benchDir, 'store-100k.loupe');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(benchDir, { recursive: true });
  const core = new Core();
  await core.call('project:open', { file, create: true });
  const splits: SplitName[] = ['train', 'train', 'train', 'train', 'train', 'train', 'train', 'train', 'valid', 'test'];
  addSyntheticImages(
    core.requireProject().db,
    Array.from({ length: classCount }, (_, c) => ({ name: `class_${c}`, count: perClass, split: (i: number) => splits[i % 10]! })),
  );
  await core.shutdown();
  return file;
}

async function fixture(): Promise<Core> {
  const core = new Core();
  await core.call('project:open', { file: await storeFixture() });
  return core;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function measure(name: string, rounds: number, run: (round: number) => Promise<unknown>): Promise<void> {
  await run(0);
  const times: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const start = performance.now();
    await run(round);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(48)} p50 ${percentile(times, 0.5).toFixed(1).padStart(6)} ms   p95 ${percentile(times, 0.95).toFixed(1).padStart(6)} ms`);
}

/** Prints p50/p95 of the store's hot operations at 100,000 images. */
export async function storeBench(): Promise<void> {
  const core = await fixture();
  const stats = await core.call('dataset:stats', {});
  console.log(`${stats.images} images, ${stats.classes.length} classes`);
  const offset = (round: number, total: number) => (round * 7919) % Math.max(1, total - 200);
  const rounds = 40;
  await measure('page: no filter, id order, random offset', rounds, (r) => core.call('images:page', { offset: offset(r, 100_000), limit: 200 }));
  await measure('page: class + split filter, random offset', rounds, (r) =>
    core.call('images:page', { filter: { className: `class_${r % classCount}`, split: 'train' }, offset: offset(r, 4000), limit: 200 }),
  );
  await measure('page: path search "img_0012"', rounds, () => core.call('images:page', { filter: { search: 'img_0012' }, limit: 200 }));
  await measure('page: sort by name, random offset', rounds, (r) => core.call('images:page', { sort: 'name', offset: offset(r, 100_000), limit: 200 }));
  await measure('page: sort by size, random offset', rounds, (r) => core.call('images:page', { sort: 'size', offset: offset(r, 100_000), limit: 200 }));
  await measure('page: seeded shuffle, random offset', rounds, (r) =>
    core.call('images:page', { sort: 'random', seed: r, offset: offset(r, 100_000), limit: 200 }),
  );
  await measure('select all in a class (images:ids)', rounds, (r) => core.call('images:ids', { filter: { className: `class_${r % classCount}` } }));
  await measure('dataset stats (class x split table)', rounds, () => core.call('dataset:stats', {}));
  const ids = (await core.call('images:ids', { filter: {} })).ids;
  await measure('relabel 1,000 selected images (one batch)', rounds, async (r) => {
    const start = (r * 1000) % (ids.length - 1000);
    await core.call('images:relabel', { ids: ids.slice(start, start + 1000) as ImageId[], className: 'class_0' });
  });
  await measure('undo a 1,000-image relabel', rounds, () => core.call('changes:undo', {}));
  await core.shutdown();
}
