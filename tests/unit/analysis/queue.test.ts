/**
 * The label-error queue end to end on a real project file: predictions and embeddings written as a
 * run would leave them, then review:queue, review:neighbours, review:source/setSource, runs:get's
 * test-set trust and runs:sessions through the core.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { analyseRun } from '../../../src/main/analysis/issues';
import { searchInProcess } from '../../../src/main/analysis/runSignals';
import { trainingProcess } from '../../../src/main/handlers/train.handlers';
import { getRun } from '../../../src/main/train/runs';
import { computeHealth } from '../../../src/main/health/service';
import { issuesCommand } from '../../../src/main/cli/train';
import { seededRandom } from '../../../src/main/train/folds';
import type { ImageId } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addSyntheticImages } from '../../helpers/synthetic';

const classes = ['a', 'b', 'c'];
let core: Core;
let file: string;
/** Image ids by true class, train first (30 each), then test (10 each). */
let byClass: Map<string, number[]>;
/** Train images whose label is wrong (planted), test images whose label is wrong. */
let flippedTrain: number[];
let flippedTest: number[];

beforeEach(async () => {
  core = new Core();
  file = path.join(tempDir(), 'q.loupe');
  await core.call('project:open', { file, create: true });
  const db = core.requireProject().db;
  byClass = addSyntheticImages(
    db,
    classes.map((name) => ({ name, count: 40, split: (i: number) => (i < 30 ? 'train' : 'test') })),
  );
  // Embeddings: one cluster per true class, in 8 dimensions.
  const random = seededRandom(1);
  const insert = db.prepare("INSERT INTO embeddings (backbone, content_hash, view, dim, vector) VALUES ('baseline-v1', ?, 0, 8, ?)");
  const hashOf = db.prepare('SELECT content_hash AS h FROM images WHERE id = ?');
  classes.forEach((name, c) => {
    for (const id of byClass.get(name)!) {
      const v = Float32Array.from({ length: 8 }, (_, d) => (d === c ? 3 : 0) + random() * 0.5);
      insert.run((hashOf.get(id) as { h: string }).h, Buffer.from(v.buffer));
    }
  });
  // Plant wrong labels: 3 train images of a labelled b, c, b; one test image of c labelled a.
  flippedTrain = [byClass.get('a')![0]!, byClass.get('a')![1]!, byClass.get('b')![2]!];
  flippedTest = [byClass.get('c')![35]!];
  await core.call('images:relabel', { ids: [flippedTrain[0]!], className: 'b' });
  await core.call('images:relabel', { ids: [flippedTrain[1]!], className: 'c' });
  await core.call('images:relabel', { ids: [flippedTrain[2]!], className: 'a' });
  await core.call('images:relabel', { ids: [flippedTest[0]!], className: 'a' });
});
afterEach(async () => {
  await core.shutdown();
});

/** A finished run: out-of-sample probabilities that know the true class (`sureness` on it), given = the labels now. */
function addRun(sureness: number, metrics: { testAccuracy: number } = { testAccuracy: 0.9 }): number {
  const db = core.requireProject().db;
  const version = core.requireProject().info().version;
  const runId = Number(
    db
      .prepare("INSERT INTO runs (status, config, dataset_version, classes, metrics, started_at, finished_at) VALUES ('done', ?, ?, ?, ?, 1, 2)")
      .run(
        JSON.stringify({ mode: 'quick' }),
        version,
        JSON.stringify(classes),
        JSON.stringify({ train: { count: 90, accuracy: 0.8, macroF1: 0.8, logLoss: 0.5, perClass: [], confusion: [] }, valid: null, test: { count: 30, accuracy: metrics.testAccuracy, macroF1: 0.9, logLoss: 0.3, perClass: [], confusion: [] } }),
      ).lastInsertRowid,
  );
  const labelOf = db.prepare('SELECT c.name FROM labels l JOIN classes c ON c.id = l.class_id WHERE l.image_id = ?');
  const insert = db.prepare(
    `INSERT INTO predictions (run_id, image_id, split, fold, given, predicted, probability, given_prob, loss, probabilities)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  classes.forEach((name, truth) => {
    byClass.get(name)!.forEach((id, i) => {
      const given = classes.indexOf((labelOf.get(id) as { name: string }).name);
      const p = classes.map((_, j) => (j === truth ? sureness : (1 - sureness) / 2));
      insert.run(runId, id, i < 30 ? 'train' : 'test', i < 30 ? i % 3 : -1, given, truth, sureness, p[given], -Math.log(p[given]!), Buffer.from(Float32Array.from(p).buffer));
    });
  });
  return runId;
}

describe('the label-error queue', () => {
  it('puts the planted errors first, says why with the neighbours, and estimates how many to expect', async () => {
    const runId = addRun(0.8);
    const page = await core.call('review:queue', { kind: 'label', split: 'train', limit: 10 });
    expect(page.runId).toBe(runId);
    expect(page.sort).toBe('fused');
    expect(page.source).toMatchObject({ runId, how: 'best' });
    expect(page.available).toEqual(['selfConfidence', 'margin', 'confident', 'knn']);
    expect(page.rows.slice(0, 3).map((r) => r.imageId).sort((x, y) => x - y)).toEqual([...flippedTrain].sort((x, y) => x - y));
    const first = page.rows.find((r) => r.imageId === flippedTrain[0])!;
    expect(first.given).toBe('b');
    expect(first.predicted).toBe('a');
    expect(first.why).toMatchObject({ given: 'b', suggested: 'a', neighbours: { count: 10 } });
    expect(first.why!.neighbours!.suggested).toBeGreaterThanOrEqual(8);
    expect(first.reason).toMatch(/^p\(a\) 0\.\d\d vs p\(b\) 0\.\d\d; \d+ of 10 nearest images are labelled a/);
    expect(first.neighbours).toHaveLength(10);
    expect(first.neighbours!.filter((n) => n.given === 'a').length).toBe(first.why!.neighbours!.suggested);
    expect(first.signals!.pWrong).toBeGreaterThan(0.5);
    // How many to expect: about the 3 planted among 90 train labels.
    expect(page.estimate!.of).toBe(90);
    expect(page.estimate!.labels).toBeGreaterThanOrEqual(2);
    expect(page.estimate!.labels).toBeLessThanOrEqual(5);
    // The expected precision of the next rows: their mean P(wrong), from the page's offset.
    const next = await core.call('review:queue', { kind: 'label', split: 'train', offset: 1, limit: 2, window: 2 });
    expect(next.estimate!.next.count).toBe(2);
    expect(next.estimate!.next.precision).toBeCloseTo((page.rows[1]!.signals!.pWrong + page.rows[2]!.signals!.pWrong) / 2, 10);
    expect(page.calibration!.rows).toBe(90);
  });

  it('keeps single-signal queues as sorts, and separates test rows', async () => {
    addRun(0.8);
    const knn = await core.call('review:queue', { kind: 'label', sort: 'knn', limit: 100 });
    expect(knn.sort).toBe('knn');
    expect(knn.rows.every((r) => r.signals!.knn! > 0)).toBe(true);
    const values = knn.rows.map((r) => r.signals!.knn!);
    expect(values).toEqual([...values].sort((x, y) => y - x));
    const self = await core.call('review:queue', { kind: 'label', sort: 'selfConfidence', limit: 2000 });
    expect(self.total).toBe(120);
    expect((await core.call('review:queue', { kind: 'label', sort: 'ensemble' })).total).toBe(0);
    const test = await core.call('review:queue', { kind: 'label', split: 'test', limit: 50 });
    expect(test.rows.every((r) => r.split === 'test')).toBe(true);
    expect(test.rows[0]!.imageId).toBe(flippedTest[0]);
    expect(test.estimate!.of).toBe(30);
  });

  it('stores the neighbours with the run: a reopened project reads them instead of computing again', async () => {
    const runId = addRun(0.8);
    const before = await core.call('review:neighbours', { imageId: flippedTrain[0]!, k: 5 });
    expect(before).toHaveLength(5);
    expect(before.map((n) => n.similarity)).toEqual([...before.map((n) => n.similarity)].sort((x, y) => y - x));
    const db = core.requireProject().db;
    const computedAt = (db.prepare('SELECT computed_at AS t FROM run_neighbour_sources WHERE run_id = ?').get(runId) as { t: number }).t;
    expect((db.prepare('SELECT count(*) AS n FROM run_neighbours WHERE run_id = ?').get(runId) as { n: number }).n).toBe(120);
    await core.shutdown();
    core = new Core();
    await core.call('project:open', { file });
    expect(await core.call('review:neighbours', { imageId: flippedTrain[0]!, k: 5 })).toEqual(before);
    const again = (core.requireProject().db.prepare('SELECT computed_at AS t FROM run_neighbour_sources WHERE run_id = ?').get(runId) as { t: number }).t;
    expect(again).toBe(computedAt);
  });

  it('gives the test split’s estimated label errors and the corrected accuracy beside the metrics', async () => {
    const runId = addRun(0.8);
    const run = await core.call('runs:get', { id: runId });
    expect(run.trust).toBeTruthy();
    const trust = run.trust!;
    expect(trust.rows).toBe(30);
    expect(trust.accuracy).toBeCloseTo(29 / 30, 10);
    expect(trust.noiseRate).toBeGreaterThan(0.5 / 30);
    expect(trust.noiseRate).toBeLessThan(3 / 30);
    expect(trust.interval[0]).toBeLessThanOrEqual(trust.noiseRate);
    expect(trust.interval[1]).toBeGreaterThan(trust.noiseRate);
    // The one miss is on the mislabelled image, where the model is right: corrected accuracy is higher.
    expect(trust.correctedAccuracy).toBeGreaterThan(trust.accuracy);
  });

  it('feeds the queues from the run with the best out-of-sample quality, or the one chosen', async () => {
    const good = addRun(0.8);
    const poor = addRun(0.4);
    const source = await core.call('review:source', {});
    expect(source).toMatchObject({ runId: good, how: 'best' });
    expect(source!.candidates.map((c) => c.runId)).toEqual([good, poor]);
    expect(source!.reason).toContain('log loss');
    expect((await core.call('review:queue', { kind: 'label' })).runId).toBe(good);
    expect(await core.call('review:setSource', { runId: poor })).toMatchObject({ runId: poor, how: 'chosen' });
    expect((await core.call('review:queue', { kind: 'label' })).runId).toBe(poor);
    expect(await core.call('review:setSource', { runId: null })).toMatchObject({ runId: good, how: 'best' });
    await expect(core.call('review:setSource', { runId: 999 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('records review sessions and, after the next run, how many touched images it agrees with', async () => {
    const first = addRun(0.8, { testAccuracy: 0.9 });
    await core.call('images:relabel', { ids: [flippedTrain[0]!], className: 'a' });
    await core.call('images:relabel', { ids: [flippedTrain[1]!], className: 'a' });
    await core.call('images:review', { ids: [byClass.get('c')![5]! as ImageId] });
    await core.call('images:remove', { ids: [flippedTrain[2]! as ImageId] });
    let sessions = await core.call('runs:sessions', {});
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ beforeRunId: first, afterRunId: null, batches: 4, touched: { total: 4, relabelled: 2, removed: 1, reviewed: 1 }, agreement: null, deltas: [] });
    const second = addRun(0.8, { testAccuracy: 0.95 });
    sessions = await core.call('runs:sessions', {});
    expect(sessions[0]).toMatchObject({ beforeRunId: first, afterRunId: second, agreement: { predicted: 3, agrees: 3, rate: 1 } });
    expect(sessions[0]!.deltas.find((d) => d.split === 'test' && d.metric === 'accuracy')!.delta).toBeCloseTo(0.05, 10);
  });

  it("takes the health check's label conflicts (duplicates with different labels) as a signal and a sort", async () => {
    addRun(0.8);
    const db = core.requireProject().db;
    const twin = byClass.get('b')![7]!;
    const original = byClass.get('a')![9]!;
    expect((await core.call('review:queue', { kind: 'label' })).available).not.toContain('duplicate');
    // A byte copy of an 'a' image, labelled b: the health check groups them as a label conflict.
    db.prepare('UPDATE images SET content_hash = (SELECT content_hash FROM images WHERE id = ?) WHERE id = ?').run(original, twin);
    computeHealth(db);
    const page = await core.call('review:queue', { kind: 'label', sort: 'duplicate' });
    expect(page.available).toContain('duplicate');
    expect(new Set(page.rows.map((r) => r.imageId))).toEqual(new Set([twin, original]));
    expect(page.rows.find((r) => r.imageId === twin)!.reason).toContain('a duplicate of it carries another label');
  });

  it('loupe issues --json carries the signals, why, the neighbours and the estimate; --sort picks a signal', async () => {
    addRun(0.8);
    let printed: { rows: Array<{ path: string; signals: { knn: number }; why: { suggested: string }; neighbours: unknown[] }>; sort: string; estimate: { labels: number } } | null = null;
    let text = '';
    const print = (json: unknown, words: string) => {
      printed = json as typeof printed;
      text = words;
    };
    expect(await issuesCommand(core, { kind: 'label', limit: '5', json: true }, print)).toBe(0);
    expect(printed!.sort).toBe('fused');
    expect(printed!.rows[0]!.why.suggested).toBeTruthy();
    expect(printed!.rows[0]!.neighbours).toHaveLength(10);
    expect(printed!.estimate.labels).toBeGreaterThan(0);
    expect(text).toMatch(/^About \d+ of 120 labels \([\d.]+%\) are likely wrong; the next \d+ are about \d+% likely to be wrong\./);
    await issuesCommand(core, { kind: 'label', sort: 'knn', limit: '50', json: true }, print);
    expect(printed!.sort).toBe('knn');
    const knn = printed!.rows.map((r) => r.signals.knn);
    expect(knn).toEqual([...knn].sort((x, y) => y - x));
  });

  it('searches neighbours within train+valid and within test apart: no label votes across', async () => {
    const runId = addRun(0.8);
    await core.call('review:queue', { kind: 'label', limit: 1 });
    const db = core.requireProject().db;
    const splitOf = new Map((db.prepare('SELECT image_id AS id, split FROM predictions WHERE run_id = ?').all(runId) as Array<{ id: number; split: string }>).map((r) => [r.id, r.split === 'test']));
    const stored = db.prepare('SELECT image_id AS id, neighbours FROM run_neighbours WHERE run_id = ?').all(runId) as Array<{ id: number; neighbours: Buffer }>;
    expect(stored).toHaveLength(120);
    for (const row of stored) {
      const ids = new Int32Array(row.neighbours.buffer.slice(row.neighbours.byteOffset, row.neighbours.byteOffset + row.neighbours.byteLength));
      expect(ids.length).toBeGreaterThanOrEqual(10);
      expect([...ids].every((id) => splitOf.get(id) === splitOf.get(row.id))).toBe(true);
    }
    // What the queue shows follows: a test row's nearest images are test images.
    const testIds = new Set([...byClass.values()].flatMap((ids) => ids.slice(30)));
    const test = await core.call('review:queue', { kind: 'label', split: 'test', limit: 50 });
    expect(test.rows.length).toBeGreaterThan(0);
    expect(test.rows.every((r) => r.neighbours!.length === 10 && r.neighbours!.every((n) => testIds.has(n.imageId)))).toBe(true);
  });

  it('a new set of label conflicts reruns only the fusion, not the analysis of the run', async () => {
    const runId = addRun(0.8);
    const db = core.requireProject().db;
    const search = searchInProcess(trainingProcess(core));
    const before = await analyseRun(db, getRun(db, runId), search);
    const { labelled, prepared } = before.signals;
    const beforeRows = before.rows;
    expect(before.signals.duplicates).toBeNull();
    const twin = byClass.get('b')![7]!;
    const original = byClass.get('a')![9]!;
    db.prepare('UPDATE images SET content_hash = (SELECT content_hash FROM images WHERE id = ?) WHERE id = ?').run(original, twin);
    computeHealth(db);
    const after = await analyseRun(db, getRun(db, runId), search);
    expect(after.rows).toBe(beforeRows);
    expect(after.signals.prepared).toBe(prepared);
    expect(after.signals.labelled).toBe(labelled);
    expect(after.signals.duplicates!.has(twin as ImageId)).toBe(true);
    expect(after.signals.signals.duplicate[after.signals.rowOf.get(twin as ImageId)!]).toBe(true);
    expect(after.signals.signals.available).toContain('duplicate');
  });

  it('review sessions survive a session of more changes than a spread can take', async () => {
    addRun(0.8);
    const db = core.requireProject().db;
    const ids = [...byClass.values()].flat();
    db.transaction(() => {
      const batch = Number(db.prepare("INSERT INTO batches (kind, action, description, created_at) VALUES ('edit', 'review', 'many', 5)").run().lastInsertRowid);
      const insert = db.prepare("INSERT INTO changes (batch_id, image_id, field, old_value, new_value) VALUES (?, ?, 'reviewed', '0', '1')");
      for (let i = 0; i < 130_000; i++) insert.run(batch, ids[i % ids.length]);
    })();
    const sessions = await core.call('runs:sessions', {});
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ firstAt: 5, lastAt: 5, touched: { reviewed: 120 } });
  });
});
