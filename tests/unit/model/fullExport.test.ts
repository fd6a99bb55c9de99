import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { sql } from '../../../src/main/store/statements';
import { tempDir, writeClassFolders } from '../../helpers/fixtures';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

describe('a full run, exported and predicting', () => {
  it("trains a tiny full run, exports it (ONNX checked), and predicts its valid images exactly as the run stored them", async () => {
    const dir = tempDir();
    const root = path.join(dir, 'data');
    const classes = ['ant', 'bee', 'cow'];
    await writeClassFolders(root, classes, 5, 'splits');
    core = new Core();
    await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
    const imported = await core.call('dataset:import', { source: root });
    expect((await core.jobs.finished(imported.jobId)).state).toBe('done');

    const { jobId, runId } = await core.call('train:start', {
      config: { mode: 'full', arch: 'small-cnn', inputSize: 12, channels: 1, epochs: 2, batchSize: 4, augment: 'none', seed: 3 },
    });
    const job = await core.jobs.finished(jobId);
    expect(job.error).toBeNull();
    const run = await core.call('runs:get', { id: runId });
    expect(run.model).toMatchObject({ arch: 'small-cnn', inputShape: [12, 12, 1] });

    const out = path.join(dir, 'model');
    const exported = await core.call('runs:exportModel', { id: runId, out });
    expect(exported.onnxMaxDifference).toBeLessThan(1e-4);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'loupe-model.json'), 'utf8'))).toMatchObject({ classes: run.classes, channels: 1, inputSize: 12, run: runId });

    // The run's stored probabilities of its valid images, by file.
    const stored = sql(
      core.requireProject().db,
      "SELECT i.path, p.probabilities FROM predictions p JOIN images i ON i.id = p.image_id WHERE p.run_id = ? AND p.split = 'valid' ORDER BY i.path",
    ).all(runId) as Array<{ path: string; probabilities: Buffer }>;
    expect(stored.length).toBe(3);
    const files = stored.map((s) => path.join(root, s.path));
    const predictions = await core.call('runs:predict', { id: runId, files });
    for (const [i, row] of stored.entries()) {
      const want = new Float32Array(row.probabilities.buffer.slice(row.probabilities.byteOffset, row.probabilities.byteOffset + row.probabilities.byteLength));
      const got = predictions[i]!;
      expect(got.error).toBeNull();
      expect(got.top).toHaveLength(3);
      for (const t of got.top) expect(Math.abs(t.probability - want[run.classes.indexOf(t.name)]!)).toBeLessThan(1e-5);
    }
  }, 90_000);
});
