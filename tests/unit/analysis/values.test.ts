/**
 * The regression review queues on a real project file: a finished regression run's out-of-sample
 * predicted values with planted wrong values and a region where the model is poor (valuesData.ts);
 * review:values ordering, paging, the split filter, reviewed and edited images, the robust
 * 'target' score against similar images (and without embeddings), the queues' source, and the
 * classification paths that must not read a regression run (review:queue, runs:get's trust,
 * runs:sessions, the label queues' source).
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { nearestNeighbours } from '../../../src/main/analysis/knn';
import type { NeighbourSearch } from '../../../src/main/analysis/runSignals';
import { queueSource, valueQueueSource } from '../../../src/main/analysis/source';
import { targetEvidence, valueIssuePage } from '../../../src/main/analysis/values';
import { recordBatch } from '../../../src/main/store/changes';
import type { Db } from '../../../src/main/store/db';
import { loadNeighbours } from '../../../src/main/store/signals';
import { median } from '../../../src/main/train/regressionMetrics';
import type { RequestParams } from '../../../src/shared/contract';
import type { ValueIssueRow } from '../../../src/shared/regression';
import type { ImageId } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { cleanHard, writeValueProject } from './valuesData';

let core: Core;
let db: Db;
let searches: number;
const search: NeighbourSearch = async (query) => {
  searches++;
  return nearestNeighbours(query);
};

beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'values.loupe'), create: true });
  db = core.requireProject().db;
  searches = 0;
});
afterEach(async () => {
  await core.shutdown();
});

const page = (params: Partial<RequestParams<'review:values'>> & Pick<RequestParams<'review:values'>, 'kind'>) =>
  valueIssuePage(db, { includeReviewed: false, offset: 0, limit: 2000, ...params }, search);

/** The whole queue, read `size` rows at a time. */
async function whole(kind: 'residual' | 'target', size: number): Promise<ValueIssueRow[]> {
  const out: ValueIssueRow[] = [];
  for (let offset = 0; ; offset += size) {
    const next = await page({ kind, offset, limit: size });
    out.push(...next.rows);
    if (next.rows.length < size) return out;
  }
}

describe('review:values residual', () => {
  it('lists the out-of-sample rows by absolute residual, worst first, with their values, in pages', async () => {
    const p = writeValueProject(db);
    const first = await page({ kind: 'residual' });
    expect(first.runId).toBe(p.runId);
    expect(first.total).toBe(p.images.size);
    const ids = first.rows.map((r) => r.imageId);
    // The in-sample row (largest residual of all) and the row without a value never enter.
    expect(ids).not.toContain(p.inSample);
    expect(ids).not.toContain(p.noValue);
    const abs = first.rows.map((r) => Math.abs(r.residual));
    expect(abs).toEqual([...abs].sort((a, b) => b - a));
    for (const r of first.rows) {
      const im = p.images.get(r.imageId)!;
      expect(r.actual).toBe(im.value);
      expect(r.value).toBe(im.value);
      expect(r.predicted).toBeCloseTo(im.predicted, 9);
      expect(r.residual).toBeCloseTo(im.predicted - im.value, 9);
      expect(r.score).toBe(Math.abs(r.residual));
      expect(r.path).toMatch(/^v7\/img_/);
      expect(r.split).toBe(im.split);
    }
    expect(first.rows[0]!.reason).toMatch(/^predicted .*, labelled .*: off by .* times the typical error/);
    expect(first.typicalError).toBeCloseTo(median(abs), 9);
    expect(first.method).toMatch(/absolute out-of-sample residual/);
    // Pages of 7 read the same queue.
    expect((await whole('residual', 7)).map((r) => r.imageId)).toEqual(ids);
    expect((await page({ kind: 'residual', offset: 10, limit: 5 })).rows.map((r) => r.imageId)).toEqual(ids.slice(10, 15));
    // Neighbours by the embeddings, with their values at the run.
    const n = first.rows[0]!.neighbours!;
    expect(n).toHaveLength(10);
    for (const ref of n) {
      expect(Number(ref.given)).toBe(p.images.get(ref.imageId)!.value);
      expect(p.images.get(ref.imageId)!.split === 'test').toBe(first.rows[0]!.split === 'test');
    }
  });

  it('filters by split, and by the split at the run', async () => {
    const p = writeValueProject(db);
    for (const split of ['train', 'valid', 'test'] as const) {
      const got = await page({ kind: 'residual', split });
      expect(got.total).toBe([...p.images.values()].filter((im) => im.split === split).length);
      expect(got.rows.every((r) => r.split === split)).toBe(true);
      expect(got.typicalError).toBeCloseTo(median(got.rows.map((r) => Math.abs(r.residual))), 9);
    }
  });
});

describe('review:values target', () => {
  it('puts the planted wrong values at the top, above clean images the model predicts poorly', async () => {
    const p = writeValueProject(db);
    const target = await page({ kind: 'target' });
    expect(target.method).toMatch(/most similar images/);
    const top = target.rows.slice(0, p.planted.length).map((r) => r.imageId);
    expect(new Set(top)).toEqual(new Set(p.planted));
    // The scenario is hard: by residual alone, clean images of the poor region outrank planted ones.
    const hard = new Set(cleanHard(p));
    const residual = (await page({ kind: 'residual' })).rows.map((r) => r.imageId);
    const lastPlanted = Math.max(...p.planted.map((id) => residual.indexOf(id)));
    expect(residual.slice(0, lastPlanted).filter((id) => hard.has(id)).length).toBeGreaterThan(0);
    // Scores descend, every one at least 3, and a planted row says why.
    const scores = target.rows.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(Math.min(...scores)).toBeGreaterThanOrEqual(3);
    const row = target.rows[0]!;
    expect(row.neighbourMedian).not.toBeNull();
    expect(Math.abs(row.neighbourMedian! - p.images.get(row.imageId)!.truth)).toBeLessThan(Math.abs(row.actual - p.images.get(row.imageId)!.truth));
    expect(row.reason).toMatch(/most similar images are labelled .* \(median\): the error is .* times the spread of similar images' errors, the value .* times the spread of their values/);
    // The neighbours were searched once and stored with the run; the next page reads them.
    expect(searches).toBe(1);
    expect(loadNeighbours(db, p.runId)?.source.embedding).toBe('baseline-v1');
  });

  it('computes the score from the neighbours’ residuals and values as documented', () => {
    // Five rows, each the others' neighbours; row 0 carries a value 10 above its neighbours'.
    const rows = [
      { split: 'train' as const, actual: 20, residual: -9 },
      { split: 'train' as const, actual: 10, residual: 1 },
      { split: 'train' as const, actual: 11, residual: -1 },
      { split: 'train' as const, actual: 9, residual: 0.5 },
      { split: 'train' as const, actual: 10.5, residual: -0.5 },
      { split: 'train' as const, actual: 10, residual: 0 },
    ];
    const neighbours = rows.map((_, i) => rows.map((_, j) => j).filter((j) => j !== i));
    const { target, typical } = targetEvidence(rows, neighbours);
    const med = (xs: number[]) => median(xs);
    const madOf = (xs: number[]) => med(xs.map((x) => Math.abs(x - med(xs))));
    const residuals = rows.map((r) => r.residual);
    const sR = 1.4826 * med(residuals.map((r) => Math.abs(r - med(residuals))));
    const d = rows.map((r, i) => r.actual - med(neighbours[i]!.map((j) => rows[j]!.actual)));
    const sV = 1.4826 * med(d.map(Math.abs));
    const nR = neighbours[0]!.map((j) => rows[j]!.residual);
    const nV = neighbours[0]!.map((j) => rows[j]!.actual);
    const zR = Math.abs(-9 - med(nR)) / Math.max(1.4826 * madOf(nR), sR);
    const zV = Math.abs(20 - med(nV)) / Math.max(1.4826 * madOf(nV), sV);
    expect(target[0]!.zResidual).toBeCloseTo(zR, 12);
    expect(target[0]!.zValue).toBeCloseTo(zV, 12);
    expect(target[0]!.score).toBeCloseTo((zR / sR + zV / sV) / Math.sqrt(sR ** -2 + sV ** -2), 12);
    expect(target[0]!.neighbourMedian).toBe(10);
    expect(typical.trainValid).toBe(med(residuals.map(Math.abs)));
    // Row 0 is in the queue (a score of at least 3); the others, which sit with their neighbours, are not.
    expect(target[0]!.score).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < rows.length; i++) expect(target[i]!.score).toBeLessThan(3);
  });

  it('falls back to the robust z-score in each split group without embeddings', async () => {
    const p = writeValueProject(db, { embeddings: false });
    const target = await page({ kind: 'target' });
    expect(target.method).toMatch(/No embeddings/);
    const all = await page({ kind: 'residual' });
    for (const group of [['train', 'valid'], ['test']]) {
      const members = all.rows.filter((r) => group.includes(r.split!));
      const centre = median(members.map((r) => r.residual));
      const scale = 1.4826 * median(members.map((r) => Math.abs(r.residual - centre)));
      const expected = members.map((r) => ({ id: r.imageId, z: Math.abs(r.residual - centre) / scale })).filter((r) => r.z >= 3);
      const got = target.rows.filter((r) => group.includes(r.split!));
      expect(got.map((r) => r.imageId).sort()).toEqual(expected.map((r) => r.id).sort());
      for (const r of got) {
        expect(r.score).toBeCloseTo(expected.find((e) => e.id === r.imageId)!.z, 9);
        expect(r.neighbourMedian).toBeNull();
        expect(r.neighbours).toEqual([]);
      }
    }
    // The planted rows of the easy region are there even so.
    const ids = new Set(target.rows.map((r) => r.imageId));
    expect(p.planted.filter((id) => p.images.get(id)!.truth < 70).every((id) => ids.has(id))).toBe(true);
  });
});

describe('review:values and the dataset now', () => {
  it('drops reviewed images unless asked for, and images edited or removed since the run; undo brings them back', async () => {
    const p = writeValueProject(db);
    const [a, b, c] = p.planted as [ImageId, ImageId, ImageId];
    const before = await page({ kind: 'target' });
    const ids = () => page({ kind: 'target' }).then((x) => x.rows.map((r) => r.imageId));
    await core.call('images:review', { ids: [a] });
    expect(await ids()).not.toContain(a);
    const withReviewed = await page({ kind: 'target', includeReviewed: true });
    expect(withReviewed.total).toBe(before.total);
    expect(withReviewed.rows.find((r) => r.imageId === a)!.reviewed).toBe(true);
    // A new value (the fix): the run's residual no longer describes the image, so it leaves.
    recordBatch(db, { kind: 'edit', action: 'setValue', description: 'Set value' }, [{ imageId: b, field: 'value', value: String(p.images.get(b)!.truth) }]);
    expect(await ids()).not.toContain(b);
    await core.call('images:remove', { ids: [c] });
    expect(await ids()).not.toContain(c);
    expect((await page({ kind: 'target' })).total).toBe(before.total - 3);
    await core.call('changes:undo', {});
    await core.call('changes:undo', {});
    const back = await page({ kind: 'target' });
    expect(back.rows.map((r) => r.imageId)).toContain(b);
    expect(back.rows.map((r) => r.imageId)).toContain(c);
    expect(back.rows.find((r) => r.imageId === b)!.value).toBe(p.images.get(b)!.value);
  });
});

describe('review:values source and the classification paths', () => {
  it('takes the latest finished regression run, or the chosen one; the label queues never take a regression run', async () => {
    const first = writeValueProject(db).runId;
    const second = writeValueProject(db, { seed: 9 }).runId;
    expect(valueQueueSource(db)).toMatchObject({ runId: second, how: 'best' });
    const got = await core.call('review:values', { kind: 'residual', limit: 3 });
    expect(got.runId).toBe(second);
    expect(got.source).toMatchObject({ runId: second });
    expect(got.rows).toHaveLength(3);
    expect(await core.call('review:setSource', { runId: first })).toMatchObject({ runId: first, how: 'chosen' });
    expect((await core.call('review:values', { kind: 'target' })).runId).toBe(first);
    // The label queues' source never picks a regression run; their requests refuse one.
    expect(queueSource(db)).toBeNull();
    expect((await core.call('review:queue', { kind: 'loss' })).runId).toBeNull();
    await expect(core.call('review:queue', { kind: 'loss', runId: first })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/regression run.*review:values/) });
    // review:neighbours of a regression run: its nearest images with their values.
    const top = (await core.call('review:values', { kind: 'target', runId: first, limit: 1 })).rows[0]!;
    const near = await core.call('review:neighbours', { runId: first, imageId: top.imageId, k: 4 });
    expect(near.map((n) => n.imageId)).toEqual(top.neighbours!.slice(0, 4).map((n) => n.imageId));
  });

  it('answers runs:get with no trust and runs:sessions with none for a regression run, storing nothing for it', async () => {
    const { runId } = writeValueProject(db);
    const run = await core.call('runs:get', { id: runId, trust: true });
    expect(run.task).toBe('regression');
    expect(run.trust).toBeNull();
    expect(loadNeighbours(db, runId)).toBeNull();
    await core.call('images:review', { ids: [[...db.prepare('SELECT id FROM images LIMIT 1').pluck().all()][0] as ImageId] });
    writeValueProject(db, { seed: 3 });
    expect(await core.call('runs:sessions', {})).toEqual([]);
  });

  it('refuses a classification run and an unfinished regression run', async () => {
    const classRun = Number(
      db.prepare("INSERT INTO runs (status, config, dataset_version, classes, started_at, finished_at) VALUES ('done', ?, 0, '[\"a\"]', 1, 2)").run(JSON.stringify({ mode: 'quick' })).lastInsertRowid,
    );
    await expect(core.call('review:values', { kind: 'residual', runId: classRun })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/classification run/) });
    const { runId } = writeValueProject(db);
    db.prepare("UPDATE runs SET status = 'running' WHERE id = ?").run(runId);
    await expect(core.call('review:values', { kind: 'residual', runId })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await core.call('review:values', { kind: 'residual' })).toMatchObject({ runId: null, total: 0, rows: [] });
  });
});
