/**
 * The app's GPU training window against the fake electron module: a hidden, sandboxed window gets
 * its port after loading, a full run that asks for WebGPU is routed to it and trains there on
 * batches decoded by sharp on the main side (the page is played by the real page code, serve.ts,
 * on the cpu backend), and a crashed renderer, a lost GPU device or a page without WebGPU fails
 * the run with that reason while the app and its training process carry on.
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TrainingProcess, type TrainerHandle, type TrainerSpawner } from '../../../src/main/train/client';
import type { FullAnswer, FullInput } from '../../../src/main/train/full';
import type { FromProcess, ToProcess } from '../../../src/main/train/protocol';
import { trainerPortChannel, type FromWindow, type ToWindow } from '../../../src/main/train/windowProtocol';
import type { BackendReport } from '../../../src/shared/train';
import { serveTraining } from '../../../src/trainer/serve';
import { tempDir, writeImage } from '../../helpers/fixtures';
import { fake, type FakeMessagePortMain } from './fakeElectron';

vi.mock('electron', async () => (await import('./fakeElectron')).fake.module);

const { closeGpuWindows, enableWebGpu, gpuWindowSpawner, readyTimeoutMs } = await import('../../../src/main/electron/gpuHost');
const { routedTrainer, trainsOnWindow } = await import('../../../src/main/electron/trainer');

const options = { pageUrl: 'file:///app/out/renderer/trainer.html', preload: '/app/out/preload/trainer.cjs' };
type FakeWindow = (typeof fake.windows)[number];

const device = { label: 'test adapter via WebGPU in the app window', kind: 'gpu' as const, vendor: 'test', architecture: 'fake', description: null, software: true, limits: {} };
const report: BackendReport = { name: 'webgpu', requested: 'webgpu', host: 'window', device, tried: [{ name: 'webgpu', loaded: true, reason: null, device }] };

/** Plays the page of the next window that gets its port: the real page code on `tf`, or a page with no adapter. */
function playPage(how: { noAdapter?: string } = {}): Promise<{ window: FakeWindow; port: MessagePort; sent: ToWindow[] }> {
  const before = fake.windows.length;
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      const window = fake.windows.slice(before).find((w) => w.webContents.posted.length > 0);
      if (!window) return;
      clearInterval(poll);
      const posted = window.webContents.posted[0]!;
      expect(posted.channel).toBe(trainerPortChannel);
      const port = (posted.ports[0] as FakeMessagePortMain).node;
      const sent: ToWindow[] = [];
      const post = (message: FromWindow) => port.postMessage(message);
      if (how.noAdapter) {
        post({ type: 'ready', adapter: null, reason: how.noAdapter });
      } else {
        const handle = serveTraining(post, { tf, report });
        port.on('message', (message: ToWindow) => {
          sent.push(message);
          handle(message);
        });
        post({ type: 'ready', adapter: { vendor: 'test', architecture: 'fake', description: '', isFallbackAdapter: true }, reason: null });
      }
      resolve({ window, port, sent });
    }, 5);
  });
}

async function fullInput(images = 8): Promise<FullInput> {
  const dir = tempDir();
  const items: FullInput['items'] = [];
  for (let i = 0; i < images; i++) {
    const file = path.join(dir, `img${i}.png`);
    await writeImage(file, (i % 2) * 100 + i, { width: 8, height: 8 });
    items.push({ id: i + 1, file, width: 8, height: 8, label: i % 2, split: i < images - 2 ? 'train' : 'valid' });
  }
  return {
    runId: 1,
    classes: ['a', 'b'],
    items,
    config: { mode: 'full', arch: 'small-cnn', epochs: 2, batchSize: 4, learningRate: 3e-3, patience: 5, seed: 3, augment: 'light', backend: 'webgpu' } as FullInput['config'],
    arch: 'small-cnn',
    inputSize: 8,
    channels: 3,
    resume: null,
  };
}

let trainer: TrainingProcess | null = null;
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterEach(async () => {
  await trainer?.stop();
  trainer = null;
});

describe('the GPU training window', () => {
  it('is hidden and sandboxed, gets its port once loaded, and trains a full run on batches fed from the main side', async () => {
    trainer = new TrainingProcess(gpuWindowSpawner(options));
    const page = playPage();
    const logs: string[] = [];
    const checkpoints: unknown[] = [];
    const run = trainer.run<FullAnswer>('full', await fullInput(), { onLog: (l) => logs.push(l), onEmit: (m) => checkpoints.push(m) });
    const { window, sent } = await page;
    expect(window.options).toMatchObject({ show: false, webPreferences: { contextIsolation: true, sandbox: true, nodeIntegration: false, backgroundThrottling: false, preload: options.preload } });
    expect(window.url).toBe(options.pageUrl);
    const answer = await run;
    expect(answer).toMatchObject({ epochs: 2, steps: 4, report: { name: 'webgpu', host: 'window' }, batch: { size: 4, note: null } });
    expect(answer.probabilities).toBeInstanceOf(Float32Array);
    expect(answer.probabilities).toHaveLength(16);
    expect(checkpoints).toHaveLength(2);
    expect(logs).toContain('TF.js backend: webgpu');
    // The batches came through the port from the main side's feeder: 6 train images, 2 epochs at batch 4.
    const batches = sent.filter((m) => m.type === 'batch');
    expect(batches.length).toBeGreaterThanOrEqual(4);
    expect((batches[0] as Extract<ToWindow, { type: 'batch' }>).batch.x).toBeInstanceOf(Float32Array);
    expect((batches[0] as Extract<ToWindow, { type: 'batch' }>).batch.x.length).toBe(4 * 8 * 8 * 3);
    await trainer.stop();
    expect(window.isDestroyed()).toBe(true);
  });

  it('fails the run with the reason when its renderer crashes, and the next run opens a new window', async () => {
    trainer = new TrainingProcess(gpuWindowSpawner(options));
    const page = playPage();
    const run = trainer.run<FullAnswer>('full', await fullInput());
    const { window } = await page;
    window.webContents.emit('render-process-gone', {}, { reason: 'crashed', exitCode: 139 });
    await expect(run).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/renderer crashed \(exit code 139\).*the app is fine/) });
    expect(window.isDestroyed()).toBe(true);
    const next = playPage();
    const again = trainer.run<{ numTensors: number }>('memory', {});
    const second = await next;
    expect(second.window).not.toBe(window);
    expect((await again).numTensors).toBeGreaterThanOrEqual(0);
  });

  it('fails the run when the GPU device is lost', async () => {
    trainer = new TrainingProcess(gpuWindowSpawner(options));
    const page = playPage();
    const run = trainer.run<FullAnswer>('full', await fullInput(32));
    const { window, port } = await page;
    port.postMessage({ type: 'deviceLost', reason: 'unknown', message: 'GPU process crashed' } satisfies FromWindow);
    await expect(run).rejects.toMatchObject({ message: expect.stringMatching(/GPU device was lost \(unknown: GPU process crashed\)/) });
    expect(window.isDestroyed()).toBe(true);
  });

  it('refuses with the reason when the window has no WebGPU', async () => {
    trainer = new TrainingProcess(gpuWindowSpawner(options));
    const page = playPage({ noAdapter: 'WebGPU found no adapter (no usable GPU driver)' });
    const run = trainer.run<FullAnswer>('full', await fullInput());
    const { window } = await page;
    await expect(run).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/WebGPU is not available in the app: WebGPU found no adapter.*backend "auto"/) });
    expect(window.isDestroyed()).toBe(true);
  });

  it('ends a window whose page never says it is ready, failing its run with the reason', async () => {
    trainer = new TrainingProcess(gpuWindowSpawner({ ...options, readyTimeoutMs: 200 }));
    const before = fake.windows.length;
    // Nobody plays the page: its script failed before it listened for its port.
    const run = trainer.run<FullAnswer>('full', await fullInput());
    await expect(run).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/GPU training page did not start within 0.2 s/) });
    expect(fake.windows.length).toBe(before + 1);
    expect(fake.windows.at(-1)!.isDestroyed()).toBe(true);
    expect(readyTimeoutMs).toBe(60_000);
  });

  it('answers the cancel of a request still waiting for the page at once, and never sends it', async () => {
    trainer = new TrainingProcess(gpuWindowSpawner(options));
    const input = await fullInput();
    // The page comes up a little later (it gets its port after loading): only the request still wanted reaches it.
    const page = playPage();
    const controller = new AbortController();
    const run = trainer.run<FullAnswer>('full', input, {}, controller.signal);
    const other = trainer.run<{ numTensors: number }>('memory', {});
    controller.abort();
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    const { sent } = await page;
    expect((await other).numTensors).toBeGreaterThanOrEqual(0);
    expect(sent.filter((m) => m.type === 'run').map((m) => (m as { kind: string }).kind)).toEqual(['memory']);
    expect(sent.some((m) => m.type === 'cancel')).toBe(false);
  });

  it('serves only the images of its runs', async () => {
    trainer = new TrainingProcess(gpuWindowSpawner(options));
    const page = playPage();
    const input = await fullInput();
    void trainer.run('memory', {}).catch(() => {});
    const { port } = await page;
    const answer = new Promise<ToWindow>((resolve) => port.on('message', (m: ToWindow) => m.type === 'feedError' && resolve(m)));
    port.postMessage({ type: 'feed', stream: 99, request: { items: [{ id: 1, input: '/etc/passwd', label: 0 }], config: {} as never, batchSize: 1, seed: 1, epoch: 1 } } satisfies FromWindow);
    expect(await answer).toMatchObject({ type: 'feedError', stream: 99, error: { code: 'UNAUTHORIZED' } });
    expect(input.items.length).toBe(8);
  });

  it('closes with the app window', async () => {
    trainer = new TrainingProcess(gpuWindowSpawner(options));
    const page = playPage();
    const run = trainer.run<FullAnswer>('full', await fullInput(32));
    const { window } = await page;
    closeGpuWindows();
    await expect(run).rejects.toMatchObject({ message: expect.stringMatching(/app window closed/) });
    expect(window.isDestroyed()).toBe(true);
  });

  it('turns on Vulkan for WebGPU on Linux only when asked (it can blank windows on weak drivers), and SwiftShader when asked', () => {
    const before = fake.app.switches.length;
    enableWebGpu({}, 'linux');
    expect(fake.app.switches.length).toBe(before);
    enableWebGpu({ LOUPE_WEBGPU_VULKAN: '1' }, 'linux');
    expect(fake.app.switches.slice(before)).toEqual([
      ['enable-unsafe-webgpu', undefined],
      ['enable-features', 'Vulkan'],
    ]);
    enableWebGpu({ LOUPE_WEBGPU_SOFTWARE: '1' }, 'linux');
    expect(fake.app.switches.slice(before + 2)).toEqual([
      ['enable-unsafe-webgpu', undefined],
      ['enable-features', 'Vulkan'],
      ['use-webgpu-adapter', 'swiftshader'],
    ]);
    enableWebGpu({}, 'win32');
    expect(fake.app.switches.length).toBe(before + 5);
  });
});

/** A host that records what it was sent and answers every request at once. */
function recordingSpawner(name: string, log: Array<[string, ToProcess]>, ends: Array<(why: string) => void>): TrainerSpawner {
  return () => {
    const listeners: Array<(m: FromProcess) => void> = [];
    const exits: Array<(why: string) => void> = [];
    let alive = true;
    const end = (why: string) => {
      if (!alive) return;
      alive = false;
      for (const l of exits) l(why);
    };
    ends.push(end);
    const handle: TrainerHandle = {
      pid: 1,
      alive: () => alive,
      send: (message) => {
        log.push([name, message]);
        // 'slow' runs wait; the rest are answered.
        if (message.type === 'run' && (message.input as { slow?: boolean }).slow) return;
        if (message.type !== 'cancel') queueMicrotask(() => listeners.forEach((l) => l({ type: 'done', id: message.id, result: name })));
      },
      onMessage: (l) => listeners.push(l),
      onExit: (l) => exits.push(l),
      hold: () => {},
      kill: () => end('killed'),
    };
    return handle;
  };
}

describe('the app trainer', () => {
  it('sends full runs that ask for WebGPU to the GPU window and everything else to the training process', async () => {
    const log: Array<[string, ToProcess]> = [];
    const ends: Array<Array<(why: string) => void>> = [[], []];
    trainer = new TrainingProcess(routedTrainer(recordingSpawner('process', log, ends[0]!), recordingSpawner('window', log, ends[1]!)));
    expect(await trainer.run('full', { config: { backend: 'webgpu' } })).toBe('window');
    expect(await trainer.run('full', { config: { backend: 'auto' } })).toBe('process');
    expect(await trainer.run('embed', { config: { backend: 'webgpu' } })).toBe('process');
    expect((await trainer.request({ type: 'backend' })) as unknown).toBe('process');
    expect(trainsOnWindow({ type: 'run', id: 1, kind: 'full', input: { config: { backend: 'webgpu' } } })).toBe(true);

    // The window ends mid-run: its run fails with the reason, the process's run is untouched.
    const onWindow = trainer.run('full', { config: { backend: 'webgpu' }, slow: true });
    const onProcess = trainer.run('full', { config: { backend: 'auto' }, slow: true });
    const controller = new AbortController();
    void trainer.run('full', { config: { backend: 'webgpu' }, slow: true }, {}, controller.signal).catch(() => {});
    controller.abort();
    expect(log.at(-1)).toEqual(['window', { type: 'cancel', id: expect.any(Number) }]);
    ends[1]!.at(-1)!('the GPU device was lost (unknown: test)');
    await expect(onWindow).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/GPU training stopped: the GPU device was lost/) });
    let settled = false;
    void onProcess.finally(() => (settled = true)).catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    // A new window for the next WebGPU run.
    expect(await trainer.run('full', { config: { backend: 'webgpu' } })).toBe('window');
    expect(ends[1]!.length).toBe(2);
  });
});
