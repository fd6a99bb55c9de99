import { afterEach, describe, expect, it, vi } from 'vitest';
import { JobManager, type JobContext } from '../../../src/main/jobs/manager';
import { LoupeError } from '../../../src/shared/errors';
import type { JobId, JobInfo } from '../../../src/shared/types';

/** A promise with its resolve, to hold a job open until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function record(manager: JobManager): { updates: JobInfo[]; logs: [JobId, string][] } {
  const updates: JobInfo[] = [];
  const logs: [JobId, string][] = [];
  manager.subscribe({ update: (job) => updates.push(job), log: (id, line) => logs.push([id, line]) });
  return { updates, logs };
}

/** Resolves when `ctx.signal` aborts. */
function aborted(ctx: JobContext): Promise<void> {
  return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('JobManager progress', () => {
  it('throttles many progress calls in one tick to a few updates, delivering the last', async () => {
    vi.useFakeTimers();
    const manager = new JobManager();
    const { updates } = record(manager);
    const hold = gate();
    const job = manager.start('count', async (ctx) => {
      for (let i = 1; i <= 1000; i++) ctx.progress('counting', i, 1000);
      await hold.promise;
      return 'ok';
    });
    const running = () => updates.filter((u) => u.state === 'running' && u.progress !== null);
    // The first call goes out at once; the other 999 wait for the throttle window.
    expect(running().length).toBeLessThanOrEqual(2);
    await vi.advanceTimersByTimeAsync(150);
    const progressUpdates = running();
    expect(progressUpdates.length).toBeGreaterThanOrEqual(2);
    expect(progressUpdates.length).toBeLessThanOrEqual(3);
    expect(progressUpdates.at(-1)!.progress).toMatchObject({ step: 'counting', current: 1000, total: 1000 });
    // Nothing more is sent while nothing new is reported.
    const sent = updates.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(updates.length).toBe(sent);

    hold.open();
    const final = await manager.finished(job.id);
    expect(final).toMatchObject({ state: 'done', result: 'ok', error: null });
    expect(final.finishedAt).not.toBeNull();
    expect(updates.at(-1)).toMatchObject({ state: 'done', progress: { current: 1000 } });
  });

  it('delivers the last progress in the final update when the job ends inside the throttle window', async () => {
    const manager = new JobManager();
    const { updates } = record(manager);
    const job = manager.start('quick', async (ctx) => {
      for (let i = 1; i <= 50; i++) ctx.progress('step', i, 50);
      await Promise.resolve();
      return 42;
    });
    const final = await manager.finished(job.id);
    expect(final).toMatchObject({ state: 'done', result: 42, progress: { current: 50, total: 50 } });
    expect(updates.length).toBeLessThanOrEqual(4);
    expect(updates.at(-1)).toMatchObject({ state: 'done', progress: { current: 50 } });
  });

  it('sends progress reported further apart than the window each time, with a rate and an ETA', async () => {
    vi.useFakeTimers();
    const manager = new JobManager();
    const { updates } = record(manager);
    const steps = [gate(), gate(), gate()];
    const job = manager.start('slow', async (ctx) => {
      for (let i = 0; i < steps.length; i++) {
        await steps[i]!.promise;
        ctx.progress('slow', i + 1, 4);
      }
    });
    for (const step of steps) {
      await vi.advanceTimersByTimeAsync(500);
      step.open();
      await vi.advanceTimersByTimeAsync(0);
    }
    await manager.finished(job.id);
    const currents = updates.filter((u) => u.state === 'running' && u.progress).map((u) => u.progress!.current);
    expect(currents).toEqual([1, 2, 3]);
    const last = updates.filter((u) => u.state === 'running' && u.progress).at(-1)!.progress!;
    expect(last.rate).toBeCloseTo(3 / 1.5, 5);
    expect(last.etaSeconds).toBeCloseTo(0.5, 5);
  });
});

describe('JobManager endings', () => {
  it('cancel ends a job as cancelled, not failed, with its partial result', async () => {
    const manager = new JobManager();
    const { updates } = record(manager);
    const job = manager.start('wait', async (ctx) => {
      await aborted(ctx);
      ctx.throwIfCancelled();
      return 'not reached';
    });
    const info = manager.cancel(job.id);
    expect(info.id).toBe(job.id);
    const final = await manager.finished(job.id);
    expect(final).toMatchObject({ state: 'cancelled', error: null });
    expect(updates.at(-1)!.state).toBe('cancelled');
    expect(updates.some((u) => u.state === 'failed')).toBe(false);

    // A job that throws CANCELLED with details keeps them as its result.
    const partial = manager.start('partial', async (ctx) => {
      await aborted(ctx);
      throw new LoupeError('CANCELLED', 'stopped', { done: 7 });
    });
    manager.cancel(partial.id);
    expect(await manager.finished(partial.id)).toMatchObject({ state: 'cancelled', result: { done: 7 }, error: null });

    // Any error after a cancel request is a cancellation too (the work was torn down on purpose).
    const torn = manager.start('torn', async (ctx) => {
      await aborted(ctx);
      throw new Error('socket closed');
    });
    manager.cancel(torn.id);
    expect((await manager.finished(torn.id)).state).toBe('cancelled');
  });

  it('a thrown error fails the job with the error info', async () => {
    const manager = new JobManager();
    const job = manager.start('io', async () => {
      throw new LoupeError('IO', 'Disk gone.', { file: '/x' });
    });
    const final = await manager.finished(job.id);
    expect(final).toMatchObject({
      state: 'failed',
      result: null,
      error: { code: 'IO', message: 'Disk gone.', details: { file: '/x' } },
    });

    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bug = manager.start('bug', async () => {
      throw new TypeError('x is undefined');
    });
    expect(await manager.finished(bug.id)).toMatchObject({
      state: 'failed',
      error: { code: 'INTERNAL', message: 'x is undefined' },
    });
    expect(consoleError).toHaveBeenCalled();
  });

  it('lists jobs newest first, logs through listeners, and refuses unknown ids', async () => {
    const manager = new JobManager();
    const { logs } = record(manager);
    const a = manager.start('a', async (ctx) => ctx.log('hello'));
    const b = manager.start('b', async () => 1);
    await Promise.all([manager.finished(a.id), manager.finished(b.id)]);
    expect(manager.list().map((j) => j.kind)).toEqual(['b', 'a']);
    expect(logs).toEqual([[a.id, 'hello']]);
    expect(() => manager.cancel('nope' as JobId)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => manager.finished('nope' as JobId)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('shutdown cancels running jobs and waits for them', async () => {
    const manager = new JobManager();
    const job = manager.start('wait', async (ctx) => {
      await aborted(ctx);
      ctx.throwIfCancelled();
    });
    await manager.shutdown();
    expect(manager.list()[0]).toMatchObject({ id: job.id, state: 'cancelled' });
  });
});
