/**
 * Quality checks fit to the dataset, each flag with its reason; gallery filters by check; balance;
 * group decisions (keep dismisses and is reversible, removeOthers is one undoable batch).
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import type { HealthFilter } from '../../../src/shared/health';
import type { ImageId } from '../../../src/shared/types';
import { tempDir, writeImage } from '../../helpers/fixtures';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

/** A textured colour image: `level` scales brightness, `blur` softens it. */
async function photo(file: string, seed: number, options: { level?: number; blur?: number; grey?: boolean; width?: number; height?: number } = {}) {
  const width = options.width ?? 96;
  const height = options.height ?? 72;
  const pixels = Buffer.alloc(width * height * 3);
  let state = seed * 7919 + 13;
  const random = () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < width * height; i++) {
    const base = 60 + random() * 120;
    pixels[3 * i] = Math.min(255, base * (options.level ?? 1) + (options.grey ? 0 : 40));
    pixels[3 * i + 1] = Math.min(255, base * (options.level ?? 1));
    pixels[3 * i + 2] = Math.min(255, base * (options.level ?? 1) * (options.grey ? 1 : 0.6));
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let image = sharp(pixels, { raw: { width, height, channels: 3 } });
  if (options.blur) image = image.blur(options.blur);
  await image.png().toFile(file);
}

async function open(dir: string): Promise<Core> {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'q.loupe'), create: true });
  const { jobId } = await core.call('dataset:import', { source: dir });
  expect((await core.jobs.finished(jobId)).state).toBe('done');
  return core;
}

const names = async (c: Core, health: HealthFilter, status?: 'unreadable') =>
  (await c.call('images:page', { filter: { health, ...(status ? { status } : {}) }, limit: 500 })).rows.map((r) => path.basename(r.path)).sort();

describe('quality checks', () => {
  it('flags outliers of this dataset with reasons, and the gallery filters by each check', async () => {
    const dir = tempDir();
    for (let i = 0; i < 40; i++) await photo(path.join(dir, i % 2 ? 'a' : 'b', `n${i}.png`), i);
    await photo(path.join(dir, 'a', 'dark.png'), 100, { level: 0.15 });
    await photo(path.join(dir, 'a', 'blur.png'), 101, { blur: 1.2 });
    await photo(path.join(dir, 'a', 'grey.png'), 102, { grey: true });
    await photo(path.join(dir, 'b', 'tiny.png'), 103, { width: 20, height: 16 });
    await photo(path.join(dir, 'b', 'wide.png'), 104, { width: 300, height: 60 });
    fs.writeFileSync(path.join(dir, 'b', 'broken.png'), Buffer.from('not a png'));
    const c = await open(dir);
    const report = await c.call('health:report', {});
    expect(report.quality.colourDataset).toBe(true);
    expect(await names(c, 'dark')).toEqual(['dark.png']);
    expect(await names(c, 'blurry')).toContain('blur.png');
    expect(await names(c, 'grayscale')).toEqual(['grey.png']);
    expect(await names(c, 'tiny')).toEqual(['tiny.png']);
    expect(await names(c, 'oddAspect')).toEqual(['wide.png']);
    expect(await names(c, 'unreadable', 'unreadable')).toEqual(['broken.png']);
    expect(report.quality.counts.dark).toBe(1);
    const dark = (await c.call('images:page', { filter: { health: 'dark' } })).rows[0]!;
    const health = await c.call('health:image', { id: dark.id });
    expect(health.flags.find((f) => f.check === 'dark')!.reason).toMatch(/darker than \d+(\.\d)?% of this dataset/);
    expect(health.scores!.brightness).toBeLessThan(60);
    // Thresholds are named and visible.
    expect(report.thresholds.map((t) => t.name)).toEqual(expect.arrayContaining(['nearRmsMax', 'nearHammingMax', 'robustZ']));
  }, 60_000);

  it('fits the dataset: a set of dark photos is not all dark', async () => {
    const dir = tempDir();
    for (let i = 0; i < 30; i++) await photo(path.join(dir, 'night', `n${i}.png`), i, { level: 0.2 + (i % 5) * 0.01 });
    const c = await open(dir);
    expect((await c.call('health:report', {})).quality.counts.dark).toBe(0);
  }, 60_000);

  it('reports balance, and decides groups: keep dismisses reversibly, removeOthers undoes in one step', async () => {
    const dir = tempDir();
    for (let i = 0; i < 30; i++) await writeImage(path.join(dir, 'big', `b${i}.png`), i, { width: 64, height: 48 });
    for (let i = 0; i < 3; i++) await writeImage(path.join(dir, 'small', `s${i}.png`), 50 + i, { width: 64, height: 48 });
    fs.copyFileSync(path.join(dir, 'big', 'b0.png'), path.join(dir, 'small', 'copy.png'));
    const c = await open(dir);
    const report = await c.call('health:report', {});
    expect(report.balance.imbalanceRatio).toBeCloseTo(30 / 4);
    expect(report.balance.smallest[0]).toEqual({ name: 'small', total: 4 });
    expect(report.duplicates.labelConflicts).toBe(1);
    const conflict = (await c.call('health:groups', { view: 'labelConflict' })).rows[0]!;
    expect(conflict.members.map((m) => m.className).sort()).toEqual(['big', 'small']);

    await c.call('health:resolveGroup', { group: conflict.key, action: 'keep' });
    expect((await c.call('health:report', {})).duplicates).toMatchObject({ exactGroups: 0, dismissed: 1 });
    await c.call('health:resolveGroup', { group: conflict.key, action: 'undismiss' });
    expect((await c.call('health:report', {})).duplicates.exactGroups).toBe(1);

    const keep = conflict.members[0]!.imageId as ImageId;
    const removed = await c.call('health:resolveGroup', { group: conflict.key, action: 'removeOthers', keep });
    expect(removed.changed).toBe(1);
    expect((await c.call('health:report', {})).duplicates.exactGroups).toBe(0);
    await c.call('changes:undo', {});
    expect((await c.call('health:report', {})).duplicates.exactGroups).toBe(1);
  }, 60_000);
});
