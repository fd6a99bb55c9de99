import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import type { ImageId } from '../../../src/shared/types';
import { tempDir } from '../../helpers/fixtures';
import { addSyntheticImages } from '../../helpers/synthetic';

let core: Core;
let cats: ImageId[];
let dogs: ImageId[];

beforeEach(async () => {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'p.loupe'), create: true });
  const ids = addSyntheticImages(core.requireProject().db, [
    { name: 'cat', count: 5, split: () => 'train' },
    { name: 'dog', count: 5, split: () => 'train' },
  ]);
  cats = ids.get('cat')! as ImageId[];
  dogs = ids.get('dog')! as ImageId[];
});
afterEach(async () => {
  await core.shutdown();
});

/** A finished run whose predictions say: cats[0] and cats[1] look like dogs, with rising loss by id. */
function addRun(): void {
  const db = core.requireProject().db;
  const runId = Number(
    db
      .prepare(
        "INSERT INTO runs (status, config, dataset_version, classes, started_at) VALUES ('done', '{}', 0, '[\"cat\",\"dog\"]', 1)",
      )
      .run().lastInsertRowid,
  );
  const insert = db.prepare(
    `INSERT INTO predictions (run_id, image_id, split, fold, given, predicted, probability, given_prob, loss, probabilities)
     VALUES (?, ?, 'train', 0, ?, ?, ?, ?, ?, ?)`,
  );
  [...cats, ...dogs].forEach((id, k) => {
    const given = k < 5 ? 0 : 1;
    const predicted = k < 2 ? 1 : given;
    const probability = 0.5 + k / 40;
    insert.run(runId, id, given, predicted, probability, 1 - probability, k / 10, Buffer.alloc(8));
  });
}

describe('gallery by prediction', () => {
  it('asks for a run before sorting by loss', async () => {
    await expect(core.call('images:page', { sort: 'loss' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await core.call('images:page', {})).rows[0]!.prediction).toBeNull();
  });

  it('filters by (given, predicted), sorts by loss and confidence, and shows each prediction', async () => {
    addRun();
    const confused = await core.call('images:page', { filter: { className: 'cat', predicted: 'dog' } });
    expect(confused.rows.map((r) => r.id)).toEqual([cats[0], cats[1]]);
    expect(confused.rows[0]!.prediction).toMatchObject({ className: 'dog', loss: 0 });
    const byLoss = await core.call('images:page', { sort: 'loss', limit: 3 });
    expect(byLoss.rows.map((r) => r.id)).toEqual([dogs[4], dogs[3], dogs[2]]);
    const bySureness = await core.call('images:page', { sort: 'confidence', limit: 2 });
    expect(bySureness.rows.map((r) => r.id)).toEqual([cats[0], cats[1]]);
    expect((await core.call('images:ids', { filter: { predicted: 'dog' } })).ids).toEqual([cats[0], cats[1], ...dogs]);
  });
});

describe('review queues follow the dataset', () => {
  it('drop relabelled, removed and reviewed images, keep them through a class rename, and bring them back on undo', async () => {
    addRun();
    const db = core.requireProject().db;
    db.prepare("UPDATE runs SET dataset_version = ?").run(core.requireProject().info().version);
    const queue = async () => (await core.call('review:queue', { kind: 'loss', limit: 100 })).rows.map((r) => r.imageId);
    const all = await queue();
    expect(all).toHaveLength(10);
    await core.call('classes:rename', { from: 'cat', to: 'feline' });
    expect(await queue()).toEqual(all);
    await core.call('images:relabel', { ids: [cats[0]!], className: 'dog' });
    await core.call('images:remove', { ids: [dogs[1]!] });
    await core.call('images:review', { ids: [dogs[2]!], reviewed: true });
    expect((await queue()).sort()).toEqual(all.filter((id) => ![cats[0], dogs[1], dogs[2]].includes(id as ImageId)).sort());
    await core.call('changes:undo', {});
    await core.call('changes:undo', {});
    await core.call('changes:undo', {});
    expect((await queue()).sort()).toEqual([...all].sort());
    // Relabelled and relabelled back: the image is as the run saw it, so it is in the queue.
    await core.call('images:relabel', { ids: [cats[1]!], className: 'dog' });
    await core.call('images:relabel', { ids: [cats[1]!], className: 'feline' });
    expect(await queue()).toContain(cats[1]);
  });
});

describe('label-error estimate', () => {
  it('comes with the label-error queue only, as a share of the labels and a count', async () => {
    addRun();
    const label = await core.call('review:queue', { kind: 'label' });
    expect(label.estimate).not.toBeNull();
    expect(label.estimate!.noiseRate).toBeGreaterThan(0);
    expect(label.estimate!.noiseRate).toBeLessThan(1);
    expect(label.estimate!.labels).toBe(Math.round(label.estimate!.noiseRate * 10));
    expect((await core.call('review:queue', { kind: 'loss' })).estimate).toBeNull();
  });
});
