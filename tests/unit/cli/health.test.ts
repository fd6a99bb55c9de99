/**
 * `loupe health` and `loupe fix-leakage` on a real project: a generated dataset with planted
 * duplicates across splits, a label conflict, a near duplicate and bad images, imported by
 * `loupe import`, checked through the commands' JSON and their text, as a person would run them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeakagePlan } from '../../../src/shared/health';
import type { ChangeResult, DatasetStats } from '../../../src/shared/types';
import { expectOneErrorLine, loupe } from './run';
import { planted, writeHealthDataset } from './healthDataset';

interface HealthJson {
  version: number;
  images: number;
  duplicates: { exactGroups: number; nearGroups: number; crossSplitGroups: number; labelConflicts: number; crossSplitBySplitPair: { a: string; b: string; groups: number }[] };
  quality: Record<string, number>;
  qualityChecks: { check: string; count: number; rule: string }[];
  balance: { imbalanceRatio: number | null; classes: { name: string }[]; mix: { sentence: string }[] };
  thresholds: { name: string; value: number; description: string }[];
}

let dir: string;
let project: string;
let images: number;

async function json<T>(...args: string[]): Promise<T> {
  const run = await loupe([...args, '--project', project, '--json']);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as T;
}
const health = () => json<HealthJson>('health');

// Long timeouts: import, features and the checks on a 2-core machine shared with others.
beforeAll(async () => {
  // One project for the file (tempDir() folders go after each test): the steps build on each other.
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-health-cli-'));
  const source = path.join(dir, 'data');
  images = await writeHealthDataset(source);
  project = path.join(dir, 'h.loupe');
  const run = await loupe(['import', source, '--project', project, '--json']);
  expect(run.code, run.stderr).toBe(0);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('loupe health', () => {
  it('counts the planted duplicates, leakage, label conflicts and bad images', async () => {
    const report = await health();
    expect(report.images).toBe(images);
    expect(report.duplicates).toMatchObject({
      exactGroups: planted.exactGroups,
      nearGroups: planted.nearGroups,
      crossSplitGroups: planted.crossSplitGroups,
      labelConflicts: planted.labelConflicts,
    });
    const pairs = Object.fromEntries(report.duplicates.crossSplitBySplitPair.map((p) => [`${p.a}/${p.b}`, p.groups]));
    expect(pairs).toEqual(planted.bySplitPair);
    // Every check is counted, and each planted bad image is in its check.
    expect(Object.keys(report.quality).sort()).toEqual(['blurry', 'bright', 'dark', 'grayscale', 'lowInfo', 'oddAspect', 'oddSize', 'tiny', 'unreadable']);
    expect(report.quality.dark).toBe(planted.dark.length);
    expect(report.quality.tiny).toBe(planted.tiny.length);
    expect(report.quality.oddAspect).toBe(planted.oddAspect.length);
    expect(report.qualityChecks.find((c) => c.check === 'dark')!.rule).toMatch(/brightness under \d+/);
    expect(report.balance.classes.map((c) => c.name).sort()).toEqual(['cat', 'dog', 'fox']);
    expect(report.thresholds.length).toBeGreaterThan(0);
    for (const t of report.thresholds) expect(t.description.length).toBeGreaterThan(10);
  }, 120_000);

  it('prints the same counts for a person, with the fix named', async () => {
    const run = await loupe(['health', '--project', project]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`exact groups\\s+${planted.exactGroups}\\b`));
    expect(run.stdout).toMatch(new RegExp(`across splits\\s+${planted.crossSplitGroups}\\b.*loupe fix-leakage`));
    expect(run.stdout).toMatch(/train\/test\s+2 groups/);
    expect(run.stdout).toMatch(new RegExp(`label conflicts\\s+${planted.labelConflicts}\\b`));
    expect(run.stdout).toMatch(/dark\s+1\s+\S/);
    expect(run.stdout).toMatch(/Thresholds/);
  }, 60_000);

  it('refuses a bad --min-per-split with one line', async () => {
    expectOneErrorLine(await loupe(['health', '--project', project, '--min-per-split', 'x']), /--min-per-split must be a whole number/, 2);
  });
});

describe('loupe fix-leakage', () => {
  it('previews, fixes in one undoable change, and undo brings the leakage back', async () => {
    const before = await json<DatasetStats>('stats');
    const plan = await json<LeakagePlan>('fix-leakage', '--dry-run');
    expect(plan.mode).toBe('move');
    expect(plan.groups).toBe(planted.crossSplitGroups);
    // A moves one copy, B two: every group ends in one split.
    expect(plan.moves.map((m) => m.path).sort()).toEqual([...planted.leakingCopies].sort());
    for (const move of plan.moves) expect(move.to).toBe('train');
    // A dry run changes nothing.
    expect((await json<DatasetStats>('stats')).version).toBe(before.version);
    expect((await health()).duplicates.crossSplitGroups).toBe(planted.crossSplitGroups);

    const text = await loupe(['fix-leakage', '--dry-run', '--project', project]);
    expect(text.stdout).toMatch(/Would move 3 images of 2 leaking groups/);
    for (const move of plan.moves) expect(text.stdout).toContain(move.path);

    const fixed = await json<{ plan: LeakagePlan; result: ChangeResult }>('fix-leakage');
    expect(fixed.result.changed).toBe(3);
    expect(fixed.result.version).toBeGreaterThan(before.version);
    expect(fixed.plan.moves.map((m) => m.imageId).sort()).toEqual(plan.moves.map((m) => m.imageId).sort());
    const after = await health();
    expect(after.duplicates.crossSplitGroups).toBe(0);
    expect(after.duplicates.crossSplitBySplitPair.every((p) => p.groups === 0)).toBe(true);
    // Moved, not removed: the groups are all still there.
    expect(after.duplicates.exactGroups).toBe(planted.exactGroups);
    expect((await json<DatasetStats>('stats')).images).toBe(before.images);
    const nothing = await loupe(['fix-leakage', '--project', project]);
    expect(nothing.stdout).toMatch(/nothing to fix/);

    await json<ChangeResult>('undo');
    expect((await health()).duplicates.crossSplitGroups).toBe(planted.crossSplitGroups);
  }, 180_000);

  it('removes the extra copies with --mode remove, keeping a locked split as it is', async () => {
    const before = await json<DatasetStats>('stats');
    const plan = await json<LeakagePlan>('fix-leakage', '--mode', 'remove', '--lock', 'test', '--dry-run');
    expect(plan.mode).toBe('remove');
    expect(plan.moves.every((m) => m.to === null && m.from !== 'test')).toBe(true);
    const fixed = await json<{ result: ChangeResult }>('fix-leakage', '--mode', 'remove', '--lock', 'test');
    expect(fixed.result.changed).toBe(plan.moves.length);
    expect((await json<DatasetStats>('stats')).images).toBe(before.images - plan.moves.length);
    expect((await health()).duplicates.crossSplitGroups).toBe(0);
    await json<ChangeResult>('undo');
    expect((await json<DatasetStats>('stats')).images).toBe(before.images);
  }, 180_000);

  it('refuses a bad --mode or --lock with one line that names the choices', async () => {
    expectOneErrorLine(await loupe(['fix-leakage', '--project', project, '--mode', 'delete']), /--mode must be one of move, remove/, 2);
    expectOneErrorLine(await loupe(['fix-leakage', '--project', project, '--lock', 'holdout']), /--lock takes train, valid or test/, 2);
  });
});
