/**
 * Numeric values in the store, on real project files: the value histogram per split
 * (dataset:values), editing values through the change log (images:setValue, undo, history), and
 * the gallery's value and residual filters, sorts and predicted values against a fabricated
 * finished regression run (residual = predicted - the value now).
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { datasetVersion } from '../../../src/main/store/changes';
import type { Db } from '../../../src/main/store/db';
import { createRun, saveValuePredictions, updateRun } from '../../../src/main/train/runs';
import { LoupeError } from '../../../src/shared/errors';
import { trainConfigSchema } from '../../../src/shared/train';
import type { ImageId, SplitName } from '../../../src/shared/types';
import { splitNames } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addValueImages, distinctValues } from '../dataset/binningData';

let core: Core;
let db: Db;
beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'values.loupe'), create: true });
  db = core.requireProject().db;
});
afterEach(async () => {
  await core.shutdown();
});

const splitOf = (i: number): SplitName => (['train', 'train', 'train', 'valid', 'test'] as const)[i % 5]!;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** A finished regression run that predicted `predicted` for these images (actual: their value at the time). */
function regressionRun(rows: { id: ImageId; actual: number | null; predicted: number }[]): number {
  const runId = createRun(db, trainConfigSchema.parse({ mode: 'quick', backbone: 'baseline' }), datasetVersion(db), 'regression');
  saveValuePredictions(
    db,
    runId,
    rows.map((r) => ({ imageId: r.id, split: 'train', fold: 0, actual: r.actual, predicted: r.predicted })),
  );
  updateRun(db, runId, { status: 'done', finishedAt: Date.now() });
  return runId;
}

async function pageIds(filter: Record<string, unknown>, sort: 'id' | 'value' | 'residual' = 'id'): Promise<ImageId[]> {
  return (await core.call('images:page', { filter, sort, limit: 2000 })).rows.map((r) => r.id);
}

describe('the value histogram', () => {
  it('counts active values per bin and split, with min, max, mean and median overall and per split', async () => {
    const values = distinctValues(100);
    const ids = addValueImages(db, values, splitOf);
    // Left out: an image without a value, a removed image, and one with no split (counted under none).
    addValueImages(db, [null], () => 'train', 'blank');
    const [removed] = addValueImages(db, [1000], () => 'train', 'gone');
    await core.call('images:remove', { ids: [removed!] });
    addValueImages(db, [50.5], () => null, 'loose');

    const h = await core.call('dataset:values', { bins: 10 });
    const all = [...values, 50.5];
    expect(h.count).toBe(101);
    expect([h.min, h.max]).toEqual([0, 99]);
    expect(h.mean).toBeCloseTo(all.reduce((s, v) => s + v, 0) / all.length, 9);
    expect(h.median).toBe(median(all));
    expect(h.edges.length).toBe(11);
    expect(h.edges[0]).toBe(0);
    expect(h.edges[10]).toBe(99);
    const width = 99 / 10;
    for (const split of splitNames) {
      const mine = values.filter((_, i) => splitOf(i) === split);
      const expected = new Array<number>(10).fill(0);
      for (const v of mine) expected[Math.min(9, Math.floor(v / width))]!++;
      expect(h.counts[split], split).toEqual(expected);
      expect(h.splits[split].count).toBe(mine.length);
      expect(h.splits[split].median).toBe(median(mine));
      expect(h.splits[split].mean).toBeCloseTo(mine.reduce((s, v) => s + v, 0) / mine.length, 9);
    }
    expect(h.counts.none).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(ids.length).toBe(100);
  });

  it('is empty without values, and puts a single distinct value in the middle of a unit range', async () => {
    const empty = await core.call('dataset:values', {});
    expect(empty).toMatchObject({ count: 0, edges: [], min: null, median: null });
    addValueImages(db, [3, 3, 3]);
    const one = await core.call('dataset:values', { bins: 4 });
    expect(one.edges).toEqual([2.5, 2.75, 3, 3.25, 3.5]);
    expect(one.counts.train).toEqual([0, 0, 3, 0]);
    expect(one.median).toBe(3);
  });
});

describe('editing values', () => {
  it('sets a value as one undoable batch, shown in the image history, on a project with classes too', async () => {
    const ids = addValueImages(db, [1, 2, 3]);
    await core.call('images:relabel', { ids: [ids[2]!], className: 'cat' });
    const result = await core.call('images:setValue', { ids: [ids[0]!, ids[2]!], value: 42.5 });
    expect(result).toMatchObject({ changed: 2, description: 'Set the value of 2 images to 42.5' });
    expect((await core.call('images:get', { id: ids[0]! })).value).toBe(42.5);
    const image = await core.call('images:get', { id: ids[2]! });
    expect([image.value, image.label]).toEqual([42.5, 'cat']);
    const history = await core.call('images:history', { id: ids[0]! });
    expect(history.at(-1)).toMatchObject({ field: 'value', from: '1', to: '42.5', isCurrent: true });
    // Setting the value an image already has changes nothing.
    expect((await core.call('images:setValue', { ids: [ids[0]!], value: 42.5 })).changed).toBe(0);

    const undone = await core.call('changes:undo', {});
    expect(undone.description).toBe('Undid: Set the value of 2 images to 42.5');
    expect((await core.call('images:get', { id: ids[0]! })).value).toBe(1);
    expect((await core.call('images:get', { id: ids[2]! })).value).toBe(3);
    // An image without a value gets one; unknown ids are refused and nothing is written.
    const [blank] = addValueImages(db, [null], () => 'train', 'blank');
    await core.call('images:setValue', { ids: [blank!], value: -7 });
    expect((await core.call('images:get', { id: blank! })).value).toBe(-7);
    const error = await core.call('images:setValue', { ids: [ids[1]!, 99999 as ImageId], value: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoupeError);
    expect((error as LoupeError).code).toBe('NOT_FOUND');
    expect((await core.call('images:get', { id: ids[1]! })).value).toBe(2);
  });
});

describe('gallery value filters and sorts', () => {
  it('filters by a value range and sorts by value ascending, images without a value last', async () => {
    const values = [5, null, 12, 3, 12, null, 40, 0.5];
    const ids = addValueImages(db, values);
    const within = ids.filter((_, i) => values[i] !== null && values[i]! >= 3 && values[i]! <= 12);
    expect(await pageIds({ valueMin: 3, valueMax: 12 })).toEqual(within);
    expect(await pageIds({ valueMin: 12 })).toEqual(ids.filter((_, i) => values[i] !== null && values[i]! >= 12));
    const byValue = ids
      .map((id, i) => ({ id, v: values[i]! }))
      .sort((a, b) => (a.v === null ? 1 : 0) - (b.v === null ? 1 : 0) || (a.v ?? 0) - (b.v ?? 0) || a.id - b.id)
      .map((r) => r.id);
    expect(await pageIds({}, 'value')).toEqual(byValue);
    // A value range inside one class (binning keeps the values beside the classes).
    await core.call('images:relabel', { ids: [ids[0]!, ids[6]!], className: 'hot' });
    expect(await pageIds({ className: 'hot', valueMin: 10 })).toEqual([ids[6]]);
    expect((await core.call('images:ids', { filter: { valueMax: 4 } })).ids).toEqual([ids[3], ids[7]]);
    // A page deep into the value order continues it.
    expect((await core.call('images:page', { filter: {}, sort: 'value', offset: 2, limit: 3 })).rows.map((r) => r.id)).toEqual(byValue.slice(2, 5));
  });

  it('shows, filters and sorts by the residual of the latest regression run against the value now', async () => {
    const values = [10, 20, 30, 40, null, 60];
    const ids = addValueImages(db, values);
    // An older regression run, superseded below.
    regressionRun(ids.map((id) => ({ id, actual: null, predicted: 0 })));
    // Predicted: off by +1, -8, +3, none, 5 (no value), -20.
    const predicted = new Map<ImageId, number>([
      [ids[0]!, 11],
      [ids[1]!, 12],
      [ids[2]!, 33],
      [ids[4]!, 5],
      [ids[5]!, 40],
    ]);
    regressionRun([...predicted].map(([id, p]) => ({ id, actual: values[ids.indexOf(id)]!, predicted: p })));

    const page = await core.call('images:page', { filter: {}, limit: 100 });
    const byId = new Map(page.rows.map((r) => [r.id, r]));
    expect(byId.get(ids[1]!)!.valuePrediction).toEqual({ value: 12, residual: -8 });
    expect(byId.get(ids[3]!)!.valuePrediction).toBeNull();
    expect(byId.get(ids[4]!)!.valuePrediction).toEqual({ value: 5, residual: null });
    expect(byId.get(ids[0]!)!.prediction).toBeNull();
    expect((await core.call('images:get', { id: ids[5]! })).valuePrediction).toEqual({ value: 40, residual: -20 });

    // |residual| desc: 20 (ids[5]), 8, 3, 1, then the image without a value and the unpredicted one by id.
    expect(await pageIds({}, 'residual')).toEqual([ids[5], ids[1], ids[2], ids[0], ids[3], ids[4]]);
    expect(await pageIds({ residualMin: 3 })).toEqual([ids[1], ids[2], ids[5]]);

    // Editing a value moves its residual at once: 11 predicted for 10 -> 30 is now 19 off.
    await core.call('images:setValue', { ids: [ids[0]!], value: 30 });
    expect(await pageIds({ residualMin: 10 })).toEqual([ids[0], ids[5]]);
    expect(await pageIds({}, 'residual')).toEqual([ids[5], ids[0], ids[1], ids[2], ids[3], ids[4]]);
    expect((await core.call('images:get', { id: ids[0]! })).valuePrediction).toEqual({ value: 11, residual: -19 });
  });

  it('refuses residual filters and sorts before any finished regression run, naming the fix', async () => {
    addValueImages(db, [1, 2]);
    for (const request of [{ filter: { residualMin: 1 } }, { filter: {}, sort: 'residual' as const }]) {
      const error = await core.call('images:page', request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LoupeError);
      expect((error as LoupeError).code).toBe('CONFLICT');
      expect((error as LoupeError).message).toMatch(/Train a regression model first/);
    }
  });
});
