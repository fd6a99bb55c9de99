/** The training process runs work by kind name, checks each input with its kind's schema, and cancels by signal. */
import { afterEach, describe, expect, it } from 'vitest';
import { TrainingProcess } from '../../../src/main/train/client';
import { quickConfigSchema } from '../../../src/shared/train';

let trainer: TrainingProcess | null = null;
afterEach(async () => {
  await trainer?.stop();
  trainer = null;
});

describe('the training process', () => {
  it('refuses an unknown kind and an input its kind does not take, and cancels a running kind as CANCELLED', async () => {
    trainer = new TrainingProcess();
    await expect(trainer.run('no-such-kind', {})).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/no-such-kind/) });
    await expect(trainer.run('quick', { classes: ['a', 'b'] })).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/^quick: x/) });

    // A quick task long enough to be cancelled between batches.
    const n = 400;
    const dim = 16;
    const task = {
      classes: ['a', 'b'],
      x: { data: Float32Array.from({ length: n * dim }, (_, i) => Math.sin(i)), rows: n, dim },
      given: Int32Array.from({ length: n }, (_, i) => i % 2),
      split: new Int8Array(n),
      views: { x: { data: new Float32Array(0), rows: 0, dim }, owner: new Int32Array(0) },
      config: quickConfigSchema.parse({ mode: 'quick', folds: 2, epochs: 1000, patience: 100, batchSize: 8 }),
    };
    const cancel = new AbortController();
    let points = 0;
    const running = trainer.run('quick', task, { onCurve: (p) => (points += p.length) > 0 && cancel.abort() }, cancel.signal);
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(points).toBeGreaterThan(0);
  });
});
