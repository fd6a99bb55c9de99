/**
 * The app starts its training process with Electron's utilityProcess (fork stops working with the
 * RunAsNode fuse off). The real training process runs here behind the app's spawner, with the
 * `process.parentPort` a utility process has, and answers a request.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TrainingProcess } from '../../../src/main/train/client';
import { backendNames } from '../../../src/shared/train';
import { fake } from './fakeElectron';

vi.mock('electron', async () => (await import('./fakeElectron')).fake.module);

const { utilityTrainer } = await import('../../../src/main/electron/trainer');

let trainer: TrainingProcess | null = null;
afterEach(async () => {
  await trainer?.stop();
  trainer = null;
});

describe('the training process under utilityProcess', () => {
  it('talks through parentPort and answers a request', async () => {
    trainer = new TrainingProcess(utilityTrainer);
    const result = await trainer.request({ type: 'backend' });
    expect(fake.utilityForks).toHaveLength(1);
    expect(result.type).toBe('backend');
    if (result.type !== 'backend') return;
    expect(backendNames).toContain(result.report.name);
    expect(trainer.pid).toBe(fake.utilityForks[0]!.pid);
  });

  it('fails the request in flight when the process dies, and the next request starts a new one', async () => {
    trainer = new TrainingProcess(utilityTrainer);
    await trainer.request({ type: 'backend' });
    const before = fake.utilityForks.length;
    const pending = trainer.request({ type: 'backend' });
    fake.utilityForks.at(-1)!.kill();
    await expect(pending).rejects.toMatchObject({ code: 'INTERNAL' });
    await trainer.request({ type: 'backend' });
    expect(fake.utilityForks.length).toBe(before + 1);
  });
});
