/**
 * Splits respect duplicates: import places each group in one split, a leak across train and test
 * is reported, fixed by one call and brought back by one undo, and a rebalance with test locked
 * never changes the test split's membership.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import type { SplitName } from '../../../src/shared/types';
import { tempDir, writeImage } from '../../helpers/fixtures';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

async function open(dir: string, kind?: 'folders' | 'split-folders'): Promise<Core> {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'l.loupe'), create: true });
  const { jobId } = await core.call('dataset:import', { source: dir, ...(kind ? { kind } : {}) });
  expect((await core.jobs.finished(jobId)).state).toBe('done');
  return core;
}

async function splitsByPath(c: Core): Promise<Map<string, SplitName | null>> {
  const page = await c.call('images:page', { filter: {}, limit: 2000 });
  return new Map(page.rows.map((r) => [path.basename(r.path), r.split]));
}

describe('leakage', () => {
  it('finds a leak across train and test, fixes it in one call, and one undo brings it back', async () => {
    const dir = tempDir();
    for (let i = 0; i < 12; i++) {
      await writeImage(path.join(dir, 'train', 'cat', `c${i}.png`), i, { width: 64, height: 48 });
      await writeImage(path.join(dir, 'test', 'cat', `t${i}.png`), 100 + i, { width: 64, height: 48 });
    }
    // A byte copy of a train image and a JPEG copy of another sit in test.
    fs.copyFileSync(path.join(dir, 'train', 'cat', 'c0.png'), path.join(dir, 'test', 'cat', 'copy0.png'));
    await sharp(path.join(dir, 'train', 'cat', 'c1.png')).jpeg({ quality: 70 }).toFile(path.join(dir, 'test', 'cat', 'copy1.jpg'));
    const c = await open(dir, 'split-folders');

    const report = await c.call('health:report', {});
    expect(report.duplicates.crossSplitGroups).toBe(2);
    expect(report.duplicates.crossSplitBySplitPair.find((p) => p.a === 'train' && p.b === 'test')).toMatchObject({ groups: 2, images: 4 });
    const splitWarnings = (await c.call('splits:report', {})).warnings.filter((w) => w.kind === 'leakage');
    expect(splitWarnings).toHaveLength(1);
    expect(splitWarnings[0]!.message).toMatch(/2 duplicate groups lie in both train and test/);

    // With test locked the copies in train move into test, never the other way.
    const plan = await c.call('health:leakagePlan', { mode: 'move', locked: ['test'] });
    expect(plan.moves.map((m) => [path.basename(m.path), m.from, m.to]).sort()).toEqual([
      ['c0.png', 'train', 'test'],
      ['c1.png', 'train', 'test'],
    ]);
    const fixed = await c.call('health:fixLeakage', { mode: 'move', locked: ['test'] });
    expect(fixed.changed).toBe(2);
    expect((await c.call('health:report', {})).duplicates.crossSplitGroups).toBe(0);
    expect((await splitsByPath(c)).get('c0.png')).toBe('test');

    await c.call('changes:undo', {});
    expect((await c.call('health:report', {})).duplicates.crossSplitGroups).toBe(2);
    expect((await splitsByPath(c)).get('c0.png')).toBe('train');

    // Remove mode excludes the extra copies outside the larger part's split (here: tie, train wins).
    const removal = await c.call('health:leakagePlan', { mode: 'remove' });
    expect(removal.moves.every((m) => m.to === null && m.from === 'test')).toBe(true);
    await c.call('health:fixLeakage', { mode: 'remove' });
    expect((await c.call('health:report', {})).duplicates.crossSplitGroups).toBe(0);
    expect((await c.call('dataset:stats', {})).removed).toBe(2);
  }, 60_000);

  it('import puts every planted duplicate group in one split', async () => {
    const dir = tempDir();
    for (let i = 0; i < 40; i++) await writeImage(path.join(dir, i % 2 ? 'a' : 'b', `i${i}.png`), i, { width: 64, height: 48 });
    // 10 exact pairs and 5 re-encoded copies.
    for (let i = 0; i < 10; i++) fs.copyFileSync(path.join(dir, i % 2 ? 'a' : 'b', `i${i}.png`), path.join(dir, i % 2 ? 'a' : 'b', `dup${i}.png`));
    for (let i = 10; i < 15; i++) await sharp(path.join(dir, i % 2 ? 'a' : 'b', `i${i}.png`)).jpeg({ quality: 70 }).toFile(path.join(dir, i % 2 ? 'a' : 'b', `jpg${i}.jpg`));
    const c = await open(dir);
    const splits = await splitsByPath(c);
    for (let i = 0; i < 10; i++) expect(splits.get(`dup${i}.png`), `pair ${i}`).toBe(splits.get(`i${i}.png`));
    for (let i = 10; i < 15; i++) expect(splits.get(`jpg${i}.jpg`), `copy ${i}`).toBe(splits.get(`i${i}.png`));
    const report = await c.call('health:report', {});
    expect(report.duplicates.exactGroups).toBe(10);
    expect(report.duplicates.nearGroups).toBe(5);
    expect(report.duplicates.crossSplitGroups).toBe(0);
    // Every split got images: grouping did not starve the deal.
    expect(new Set(splits.values())).toEqual(new Set(['train', 'valid', 'test']));
  }, 60_000);

  it('a rebalance with test locked never changes the test split, and reports the leak instead', async () => {
    const dir = tempDir();
    for (let i = 0; i < 30; i++) {
      const split = i < 20 ? 'train' : 'test';
      await writeImage(path.join(dir, split, i % 2 ? 'a' : 'b', `i${i}.png`), i, { width: 64, height: 48 });
    }
    // A copy of a test image sits in train.
    fs.copyFileSync(path.join(dir, 'test', 'a', 'i21.png'), path.join(dir, 'train', 'a', 'copy21.png'));
    const c = await open(dir, 'split-folders');
    const testBefore = [...(await splitsByPath(c)).entries()].filter(([, s]) => s === 'test').map(([p]) => p).sort();
    const plan = await c.call('splits:plan', { ratios: { train: 50, valid: 25, test: 25 }, locked: ['test'] });
    expect(plan.leakingLocked).toBe(1);
    await c.call('splits:apply', { ratios: { train: 50, valid: 25, test: 25 }, locked: ['test'] });
    const after = await splitsByPath(c);
    const testAfter = [...after.entries()].filter(([, s]) => s === 'test').map(([p]) => p).sort();
    expect(testAfter).toEqual(testBefore);
    expect(after.get('copy21.png')).not.toBe('test');
    expect((await c.call('health:report', {})).duplicates.crossSplitGroups).toBe(1);
  }, 60_000);
});
