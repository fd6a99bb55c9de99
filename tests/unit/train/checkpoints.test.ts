/** Checkpoints of full runs: the weight encoding, last and best kept per run, and resumability. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openProject } from '../../../src/main/store/project';
import { checkpointEpochs, decodeWeights, encodeWeights, loadCheckpoint, saveCheckpoint } from '../../../src/main/train/checkpoints';
import { createRun, getRun, updateRun } from '../../../src/main/train/runs';
import { fullConfigSchema } from '../../../src/shared/train';
import type { NamedWeights } from '../../../src/main/model/archSpec';
import { tempDir } from '../../helpers/fixtures';

const weights = (value: number): NamedWeights =>
  new Map([
    ['conv1/kernel', { shape: [3, 3, 1, 2], data: Float32Array.from({ length: 18 }, (_, i) => value + i / 7) }],
    ['conv1/bias', { shape: [2], data: Float32Array.from([value, -value]) }],
  ]);

describe('checkpoints', () => {
  it('encode named float32 arrays exactly, in order', () => {
    const w = weights(0.1);
    const back = decodeWeights(encodeWeights(w));
    expect([...back.keys()]).toEqual([...w.keys()]);
    for (const [name, { shape, data }] of w) {
      expect(back.get(name)!.shape).toEqual(shape);
      expect(Array.from(back.get(name)!.data)).toEqual(Array.from(data));
    }
  });

  it('keep the last and the best per run, each replaced by the next, and make a cancelled run resumable', () => {
    const project = openProject(path.join(tempDir(), 'p.loupe'), { create: true });
    const { db } = project;
    const runId = createRun(db, fullConfigSchema.parse({ mode: 'full' }), 0, 'classification');
    expect(loadCheckpoint(db, runId, 'last')).toBeNull();
    const state = { best: { epoch: 1, loss: 0.5 }, since: 0, optimizerScalars: { accBeta1: 0.81 }, stopped: null };
    saveCheckpoint(db, runId, 'last', { epoch: 1, step: 3, weights: weights(1), optimizer: weights(2), state });
    saveCheckpoint(db, runId, 'best', { epoch: 1, step: 3, weights: weights(1), optimizer: weights(2), state });
    saveCheckpoint(db, runId, 'last', { epoch: 2, step: 6, weights: weights(3), optimizer: weights(4), state: { ...state, since: 1 } });
    expect(checkpointEpochs(db, runId)).toEqual({ last: 2, best: 1 });
    expect((db.prepare('SELECT count(*) AS n FROM run_checkpoints WHERE run_id = ?').get(runId) as { n: number }).n).toBe(2);
    const last = loadCheckpoint(db, runId, 'last')!;
    expect(last).toMatchObject({ epoch: 2, step: 6, state: { since: 1, optimizerScalars: { accBeta1: 0.81 } } });
    expect(Array.from(last.weights.get('conv1/bias')!.data)).toEqual([3, -3]);
    expect(getRun(db, runId).resumable).toBe(false); // still running
    updateRun(db, runId, { status: 'cancelled' });
    expect(getRun(db, runId).resumable).toBe(true);
    project.close();
  });
});
