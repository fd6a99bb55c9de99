/**
 * Binning numeric values into classes (src/main/dataset/binning.ts) on real project files: quantile
 * bins of equal counts (ties kept together), equal widths, typed edges with open ends, the class
 * names, the plan's counts per split, the refusals, and applying, undoing, redoing and unbinning as
 * single batches that move the project between regression and classification.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { edgeFormatter } from '../../../src/main/dataset/binning';
import type { Db } from '../../../src/main/store/db';
import { LoupeError } from '../../../src/shared/errors';
import type { BinPlan } from '../../../src/shared/regression';
import type { SplitName } from '../../../src/shared/types';
import { splitNames } from '../../../src/shared/types';
import { tempDir, writeRegressionDataset } from '../../helpers/fixtures';
import { addSyntheticImages } from '../../helpers/synthetic';
import { addValueImages, distinctValues, labelsOf } from './binningData';

let core: Core;
let db: Db;
beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'bin.loupe'), create: true });
  db = core.requireProject().db;
});
afterEach(async () => {
  await core.shutdown();
});

const task = async () => (await core.call('project:current', {}))!.task;

/** The error a call fails with. */
async function failure(promise: Promise<unknown>): Promise<LoupeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LoupeError);
  return error as LoupeError;
}

/** Images per class and split, from the labels as stored. */
function classCounts(): Map<string, Record<SplitName | 'none', number>> {
  const out = new Map<string, Record<SplitName | 'none', number>>();
  for (const { className, split } of labelsOf(db).values()) {
    if (className === null) continue;
    const row = out.get(className) ?? { train: 0, valid: 0, test: 0, none: 0 };
    row[split ?? 'none']++;
    out.set(className, row);
  }
  return out;
}

/** The plan's bins are ascending, contiguous or gapped but never overlapping, and every image's value lies in its class's range. */
function expectValuesInTheirBins(plan: BinPlan): void {
  const byName = new Map(plan.bins.map((b, i) => [b.name, { ...b, last: i === plan.bins.length - 1 }]));
  for (const { className, value } of labelsOf(db).values()) {
    if (value === null) continue;
    const bin = byName.get(className!)!;
    expect(bin, `a class for ${value}`).toBeDefined();
    expect(value).toBeGreaterThanOrEqual(bin.low);
    if (bin.last) expect(value).toBeLessThanOrEqual(bin.high);
    else expect(value).toBeLessThan(bin.high);
  }
  for (let i = 1; i < plan.bins.length; i++) expect(plan.bins[i]!.low).toBeGreaterThanOrEqual(plan.bins[i - 1]!.high);
}

describe('binning values into classes', () => {
  it('by quantiles gives equal-count classes named by their ranges, with the counts per split the labels then have', async () => {
    const values = distinctValues(200);
    addValueImages(db, values);
    const plan = await core.call('dataset:binPlan', { bins: { method: 'quantile', k: 4 }, prefix: 'value' });
    expect(plan.bins.map((b) => b.total)).toEqual([50, 50, 50, 50]);
    // 0..199: the quantiles are the values at ranks 50, 100 and 150.
    expect(plan.bins.map((b) => b.name)).toEqual(['value 0–50', 'value 50–100', 'value 100–150', 'value 150–199']);
    expect(plan).toMatchObject({ labelled: 200, withoutValue: 0, relabelled: 0 });
    expect(plan.histogram.count).toBe(200);
    // Nothing changes before dataset:bin.
    expect(await task()).toBe('regression');
    expect(classCounts().size).toBe(0);

    const result = await core.call('dataset:bin', { bins: { method: 'quantile', k: 4 }, prefix: 'value' });
    expect(result.changed).toBe(200);
    expect(result.description).toMatch(/^Turned the values of 200 images into 4 classes \(value 0–50 … value 150–199\)$/);
    expect(await task()).toBe('classification');
    const counts = classCounts();
    for (const bin of plan.bins) expect(counts.get(bin.name), bin.name).toEqual(bin.counts);
    expectValuesInTheirBins(plan);
    expect((await core.call('classes:list', {})).map((c) => c.name).sort()).toEqual(plan.bins.map((b) => b.name).sort());
  });

  it('keeps equal values in one class: quantiles that coincide leave fewer classes', async () => {
    // 40 images at 5, then 80 distinct values 10..89: the first quartile edge is 5 itself.
    const values = [...Array.from({ length: 40 }, () => 5), ...distinctValues(80).map((v) => v + 10)];
    addValueImages(db, values);
    const plan = await core.call('dataset:binPlan', { bins: { method: 'quantile', k: 4 }, prefix: 'v' });
    expect(plan.bins.length).toBe(3);
    expect(plan.bins.reduce((n, b) => n + b.total, 0)).toBe(120);
    await core.call('dataset:bin', { bins: { method: 'quantile', k: 4 }, prefix: 'v' });
    const fives = new Set([...labelsOf(db).values()].filter((l) => l.value === 5).map((l) => l.className));
    expect(fives.size).toBe(1);
    expectValuesInTheirBins(plan);
  });

  it('by equal widths cuts the range into equal steps, every name with the same decimals', async () => {
    addValueImages(db, distinctValues(100));
    const plan = await core.call('dataset:binPlan', { bins: { method: 'width', k: 5 }, prefix: 'value' });
    const step = 99 / 5;
    expect(plan.bins.length).toBe(5);
    plan.bins.forEach((b, i) => {
      expect(b.low).toBeCloseTo(i * step, 9);
      expect(b.high).toBeCloseTo((i + 1) * step, 9);
    });
    // 99 has 3 significant digits with one decimal: every number in every name has one decimal.
    const numbers = plan.bins.flatMap((b) => b.name.replace(/^value /, '').split('–'));
    for (const n of numbers) expect(n, plan.bins.map((b) => b.name).join(', ')).toMatch(/^\d+\.\d$/);
    expect(plan.bins[0]!.name).toBe('value 0.0–19.8');
    await core.call('dataset:bin', { bins: { method: 'width', k: 5 }, prefix: 'value' });
    expectValuesInTheirBins(plan);
  });

  it('at typed edges names the open ends "< a" and "≥ b", drops bins that hold no value, and takes a prefix', async () => {
    // Values 5..80: nothing below 0.
    addValueImages(db, distinctValues(76).map((v) => v + 5));
    const plan = await core.call('dataset:binPlan', { bins: { method: 'edges', edges: [0, 12, 35, 55] }, prefix: 'pm25' });
    expect(plan.bins.map((b) => b.name)).toEqual(['pm25 0–12', 'pm25 12–35', 'pm25 35–55', 'pm25 ≥ 55']);
    expect(plan.bins.map((b) => b.total)).toEqual([12 - 5, 35 - 12, 55 - 35, 80 - 55 + 1]);
    const open = await core.call('dataset:binPlan', { bins: { method: 'edges', edges: [12, 35, 55] }, prefix: 'pm25' });
    expect(open.bins.map((b) => b.name)).toEqual(['pm25 < 12', 'pm25 12–35', 'pm25 35–55', 'pm25 ≥ 55']);
    // Above every value: that bin is dropped, and the last kept one is a closed range.
    const high = await core.call('dataset:binPlan', { bins: { method: 'edges', edges: [40, 100] }, prefix: 'pm25' });
    expect(high.bins.map((b) => b.name)).toEqual(['pm25 < 40', 'pm25 40–100']);
  });

  it('refuses a project without values (CONFLICT naming the fix) and a plan of fewer than 2 classes (VALIDATION)', async () => {
    addSyntheticImages(db, [{ name: 'cat', count: 5 }]);
    const none = await failure(core.call('dataset:binPlan', { bins: { method: 'quantile', k: 3 }, prefix: 'value' }));
    expect(none.code).toBe('CONFLICT');
    expect(none.message).toMatch(/import a path,value CSV .*or set values/);
    expect((await failure(core.call('dataset:unbin', {}))).code).toBe('CONFLICT');

    addValueImages(db, [7, 7, 7, 7]);
    const same = await failure(core.call('dataset:bin', { bins: { method: 'width', k: 4 }, prefix: 'value' }));
    expect(same.code).toBe('VALIDATION');
    const outside = await failure(core.call('dataset:binPlan', { bins: { method: 'edges', edges: [100, 200] }, prefix: 'value' }));
    expect(outside.code).toBe('VALIDATION');
    expect(outside.message).toMatch(/1 class/);
    // A refused bin wrote nothing: no class was created, hidden or not.
    expect(db.prepare('SELECT count(*) FROM classes').pluck().get()).toBe(1);
  });

  it('applies as one batch; undo restores the regression task with the values unchanged, redo brings the classes back', async () => {
    addValueImages(db, [...distinctValues(60, 0.5), null, null]);
    const before = labelsOf(db);
    const batches = (await core.call('versions:list', {})).rows.length;
    const result = await core.call('dataset:bin', { bins: { method: 'quantile', k: 3 }, prefix: 'value' });
    const list = (await core.call('versions:list', {})).rows;
    expect(list.length).toBe(batches + 1);
    // One batch: three classes shown, sixty images labelled; the images without a value keep none.
    expect(list[0]!).toMatchObject({ kind: 'edit', action: 'bin', changes: 3 + 60, version: result.version });
    expect([...labelsOf(db).values()].filter((l) => l.className === null).length).toBe(2);
    expect(await task()).toBe('classification');

    await core.call('changes:undo', {});
    expect(await task()).toBe('regression');
    expect(labelsOf(db)).toEqual(before);
    expect(await core.call('classes:list', {})).toEqual([]);

    await core.call('changes:redo', {});
    expect(await task()).toBe('classification');
    expect((await core.call('classes:list', {})).length).toBe(3);
  });

  it('replaces the classes images already have (counted in the plan), and unbin then undo moves between the tasks', async () => {
    const ids = addValueImages(db, distinctValues(30));
    await core.call('images:relabel', { ids: ids.slice(0, 4), className: 'old' });
    const plan = await core.call('dataset:binPlan', { bins: { method: 'quantile', k: 2 }, prefix: 'value' });
    expect(plan.relabelled).toBe(4);
    await core.call('dataset:bin', { bins: { method: 'quantile', k: 2 }, prefix: 'value' });
    // "old" labels nothing now but stays: unbin hides only the classes it leaves empty.
    const binned = labelsOf(db);

    const unbinned = await core.call('dataset:unbin', {});
    expect(unbinned.changed).toBe(30);
    expect(unbinned.description).toMatch(/^Turned 30 images back into values \(cleared their classes; hid 2 empty classes\)$/);
    expect(await task()).toBe('regression');
    expect((await core.call('classes:list', {})).map((c) => c.name)).toEqual(['old']);
    expect([...labelsOf(db).values()].map((l) => l.value).sort((a, b) => a! - b!)).toEqual([...binned.values()].map((l) => l.value).sort((a, b) => a! - b!));

    await core.call('changes:undo', {});
    expect(await task()).toBe('classification');
    expect(labelsOf(db)).toEqual(binned);
  });

  it('keeps a class that still labels a removed image when unbinning', async () => {
    const ids = addValueImages(db, distinctValues(10));
    await core.call('dataset:bin', { bins: { method: 'quantile', k: 2 }, prefix: 'value' });
    await core.call('images:remove', { ids: [ids[0]!] });
    const kept = labelsOf(db).size;
    expect(kept).toBe(9);
    await core.call('dataset:unbin', {});
    // The removed image's class still labels it, so that class stays visible.
    const removedClass = db.prepare('SELECT c.name FROM labels l JOIN classes c ON c.id = l.class_id WHERE l.image_id = ?').pluck().get(ids[0]) as string;
    expect((await core.call('classes:list', {})).map((c) => c.name)).toEqual([removedClass]);
    expect(await task()).toBe('regression');
  });

  it('on an imported path,value CSV: the task is regression, and the plan counts per split match the labels binning gives', async () => {
    const data = await writeRegressionDataset(path.join(tempDir(), 'data'), { count: 40 });
    const { jobId } = await core.call('dataset:import', { source: data.csv });
    expect((await core.jobs.finished(jobId)).state).toBe('done');
    expect(await task()).toBe('regression');
    const plan = await core.call('dataset:binPlan', { bins: { method: 'quantile', k: 4 }, prefix: 'y' });
    expect(plan.labelled).toBe(40);
    // The fixture's values (one decimal) have no ties at the quartiles: equal counts exactly.
    const values = [...data.truth.values()];
    for (const b of plan.bins.slice(1)) expect(values.filter((v) => v === b.low).length).toBe(1);
    expect(plan.bins.map((b) => b.total)).toEqual([10, 10, 10, 10]);
    await core.call('dataset:bin', { bins: { method: 'quantile', k: 4 }, prefix: 'y' });
    const counts = classCounts();
    for (const bin of plan.bins) expect(counts.get(bin.name)).toEqual(bin.counts);
    const perSplit = Object.fromEntries(splitNames.map((s) => [s, plan.bins.reduce((n, b) => n + b.counts[s], 0)]));
    const stats = await core.call('dataset:stats', {});
    expect(perSplit).toEqual(stats.splits);
  });
});

describe('class-name numbers', () => {
  it('use the same decimals across a plan: 3 significant digits of the largest, more only where edges would read alike', () => {
    const whole = edgeFormatter([0, 12, 35, 55]);
    expect([0, 12, 35, 55].map(whole)).toEqual(['0', '12', '35', '55']);
    const tenths = edgeFormatter([1.25, 19.8, 99]);
    expect([1.25, 19.8, 99].map(tenths)).toEqual(['1.3', '19.8', '99.0']);
    const close = edgeFormatter([0.001, 0.002, 50]);
    const shown = [0.001, 0.002, 50].map(close);
    expect(new Set(shown).size).toBe(3);
    expect(new Set(shown.map((s) => s.split('.')[1]?.length ?? 0)).size).toBe(1);
    expect(edgeFormatter([-0.01, 10])(-0.01)).toBe('0.0');
  });
});
