/**
 * The full run's training code on its own, fed by a batch source that is not the feeder (as the GPU
 * window is fed over a MessagePort): it trains, frees every tensor it makes (tf.memory().numTensors
 * does not grow across steps or epochs, on the cpu and wasm backends), and halves a batch that does
 * not fit on the device, saying so.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Batch } from '../../../src/main/augment/feeder';
import { cpuDevice, defaultLoaders } from '../../../src/main/model/backend';
import type { BatchRequest, FullSources } from '../../../src/main/train/batchSource';
import { fullInputSchema, runFull, type FullCheckpointMessage, type FullInput } from '../../../src/main/train/full';
import { schedules } from '../../../src/main/train/engine';
import type { KindContext } from '../../../src/main/train/kinds/types';
import { DeviceOutOfMemory, isOutOfMemory } from '../../../src/main/train/outOfMemory';
import type { BackendName, CurvePoint } from '../../../src/shared/train';
import { errorScopes } from '../../../src/trainer/errorScopes';

const side = 8;

/** 24 train and 8 valid images of two classes: class 1 is bright, class 0 dark. */
function input(config: Record<string, unknown> = {}): FullInput {
  const items = Array.from({ length: 32 }, (_, i) => ({ id: i + 1, file: `img${i}.png`, width: side, height: side, label: i % 2, split: i < 24 ? ('train' as const) : ('valid' as const) }));
  return fullInputSchema.parse({
    runId: 1,
    classes: ['dark', 'bright'],
    items,
    config: { mode: 'full', arch: 'small-cnn', epochs: 6, batchSize: 8, learningRate: 1e-2, patience: 10, seed: 3, ...config },
    arch: 'small-cnn',
    inputSize: side,
    channels: 1,
    resume: null,
  });
}

/** A batch source from memory: the pixels follow from the id and the label (no files, no sharp). */
function memorySources(requests: BatchRequest[] = []): FullSources {
  return {
    loadFinetune: null,
    async *batches(request, signal) {
      requests.push(request);
      const pixels = side * side * (request.channels ?? 3);
      for (let index = 0; index * request.batchSize < request.items.length; index++) {
        if (signal.aborted) throw new Error('cancelled');
        const slice = request.items.slice(index * request.batchSize, (index + 1) * request.batchSize);
        const x = new Float32Array(slice.length * pixels);
        slice.forEach((item, k) => x.fill(item.label === 1 ? 0.8 + (item.id % 5) / 50 : 0.1 + (item.id % 5) / 50, k * pixels, (k + 1) * pixels));
        yield { x, y: Float32Array.from(slice, (i) => i.label), ids: slice.map((i) => i.id), size: slice.length, index } satisfies Batch;
      }
    },
  };
}

function context(tfModule: typeof tf, backend: BackendName) {
  const logs: string[] = [];
  const progress: Array<{ step: string; current: number; tensors: number }> = [];
  const points: CurvePoint[] = [];
  const emitted: unknown[] = [];
  const ctx: KindContext = {
    tf: async () => {
      const device = cpuDevice(`CPU (${backend})`);
      return { tf: tfModule, report: { name: backend, requested: backend, host: 'process', device, tried: [{ name: backend, loaded: true, reason: null, device }] } };
    },
    signal: new AbortController().signal,
    progress: (step, current) => progress.push({ step, current, tensors: tf.memory().numTensors }),
    log: (line) => logs.push(line),
    curve: (p) => points.push(...p),
    emit: (message) => emitted.push(message),
  };
  return { ctx, logs, progress, points, emitted };
}

const hosts: Array<{ backend: BackendName; engine: string; load(): Promise<unknown> }> = [
  { backend: 'cpu', engine: 'cpu', load: async () => {} },
  { backend: 'wasm', engine: 'wasm', load: () => defaultLoaders.wasm({ forced: true, software: false }) },
];

afterAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(hosts)('full-run training on the $backend backend, fed by a batch source', (host) => {
  it('trains, and tf.memory().numTensors does not grow across steps or epochs', async () => {
    await host.load();
    await tf.setBackend(host.engine);
    const { ctx, progress } = context(tf, host.backend);
    const requests: BatchRequest[] = [];
    const before = tf.memory().numTensors;
    const answer = await runFull(input(), ctx, memorySources(requests));
    expect(tf.memory().numTensors).toBe(before);
    expect(answer.epochs).toBe(6);
    expect(answer.steps).toBe(18);
    expect(answer.batch).toEqual({ size: 8, note: null });
    expect(answer.report.name).toBe(host.backend);
    // Train batches were asked for per epoch (augmented), valid and predict batches without augmentation.
    expect(requests.filter((r) => r.augment === undefined).map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(requests.filter((r) => r.augment === false).length).toBe(7);
    // The dark/bright classes are learnt: the valid images' predictions follow their labels.
    const probabilities = answer.probabilities;
    const correct = input().items.filter((item, r) => (probabilities[r * 2 + 1]! > probabilities[r * 2]! ? 1 : 0) === item.label).length;
    expect(correct).toBeGreaterThanOrEqual(28);

    // After each step: the same tensors at the same batch of every epoch (Adam's slots exist from the first step).
    const steps = progress.filter((p) => p.step.startsWith('training'));
    expect(steps.map((p) => p.current)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    const atBatch = (b: number) => steps.filter((_, i) => i % 3 === b).map((p) => p.tensors);
    for (const b of [0, 1, 2]) expect(new Set(b === 0 ? atBatch(0).slice(1) : atBatch(b)).size).toBe(1);
    expect(Math.max(...steps.slice(1).map((p) => p.tensors))).toBe(steps[1]!.tensors);
  }, 120_000);

  it('halves a batch that does not fit on the device, retries, says so, and frees what the failed steps made', async () => {
    await host.load();
    await tf.setBackend(host.engine);
    // A device that fits at most 4 images a batch: larger batches fail to allocate, as WebGPU reports it.
    const device = { ...tf, tensor4d: ((values: Float32Array, shape: [number, number, number, number]) => {
      if (shape[0] > 4) throw new DeviceOutOfMemory(`cannot allocate a batch of ${shape[0]}`);
      return tf.tensor4d(values, shape);
    }) as typeof tf.tensor4d } as typeof tf;
    const { ctx, logs } = context(device, host.backend);
    const before = tf.memory().numTensors;
    const answer = await runFull(input({ batchSize: 16, epochs: 2 }), ctx, memorySources());
    expect(answer.batch).toEqual({ size: 4, note: 'batch 16 did not fit on the device; halved to 8; batch 8 did not fit on the device; halved to 4' });
    expect(logs).toContain('batch 16 did not fit on the device; halved to 8 and retrying the epoch');
    expect(answer.epochs).toBe(2);
    // 24 train images at 4 a batch, two epochs.
    expect(answer.steps).toBe(12);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('halving mid-run counts the steps done again at the new size: the schedule still ends at its end, the curve only moves on, and a resume keeps the halved size', async () => {
    await host.load();
    await tf.setBackend(host.engine);
    // Batches of 8 fit until the 11th is made (the second batch of epoch 3 is made ahead): then only 4 fit.
    let made = 0;
    const device = { ...tf, tensor4d: ((values: Float32Array, shape: [number, number, number, number]) => {
      if (shape[0] > 4 && ++made > 10) throw new DeviceOutOfMemory(`cannot allocate a batch of ${shape[0]}`);
      return tf.tensor4d(values, shape);
    }) as typeof tf.tensor4d } as typeof tf;
    const { ctx, points, emitted } = context(device, host.backend);
    const config = { batchSize: 8, epochs: 6, schedule: 'one-cycle', learningRate: 1e-2 };
    const answer = await runFull(input(config), ctx, memorySources());
    expect(answer.batch.size).toBe(4);
    // Epochs 1-2 at 3 batches count as 12 steps at 4 images; then 4 epochs of 6.
    expect(answer.steps).toBe(36);
    const batches = points.filter((p) => p.kind === 'batch');
    for (let i = 1; i < batches.length; i++) expect(batches[i]!.step).toBeGreaterThan(batches[i - 1]!.step);
    expect(batches.at(-1)!.step).toBe(36);
    // The last step's rate is the one-cycle's end (under 1% of the peak), not a rate part-way back up.
    expect(batches.at(-1)!.learningRate).toBeCloseTo(schedules.oneCycle(1e-2)(35, 36), 12);
    expect(batches.at(-1)!.learningRate).toBeLessThan(1e-2 / 100);
    const epochSteps = points.filter((p) => p.kind === 'epoch').map((p) => p.step);
    expect(epochSteps).toEqual([1, 2, 3, 4, 5, 6]);

    // The checkpoints after the halving record its size; a resume from epoch 4 continues at it.
    const checkpoints = emitted.filter((m): m is FullCheckpointMessage => (m as { type: string }).type === 'checkpoint');
    const after4 = checkpoints.find((c) => c.epoch === 4)!;
    expect(after4).toMatchObject({ step: 24, state: { batchSize: 4 } });
    expect(checkpoints.find((c) => c.epoch === 2)!.state.batchSize).toBe(8);
    const best = after4.state.best ? checkpoints.find((c) => c.epoch === after4.state.best!.epoch)!.weights : null;
    const requests: BatchRequest[] = [];
    const resumed = context(tf, host.backend);
    const again = await runFull(
      fullInputSchema.parse({ ...input(config), resume: { epoch: 4, step: 24, weights: after4.weights, optimizer: after4.optimizer, state: after4.state, bestWeights: best } }),
      resumed.ctx,
      memorySources(requests),
    );
    expect(again.batch).toEqual({ size: 4, note: 'batch 8 did not fit on the device before the resume; continuing at 4' });
    expect(again.steps).toBe(36);
    expect(new Set(requests.map((r) => r.batchSize))).toEqual(new Set([4]));
    const resumedBatches = resumed.points.filter((p) => p.kind === 'batch');
    expect(resumedBatches[0]!.step).toBe(25);
    expect(resumedBatches.at(-1)!.learningRate).toBeCloseTo(schedules.oneCycle(1e-2)(35, 36), 12);
  }, 120_000);
});

describe('the GPU page\'s error scopes around a step', () => {
  it('a step that throws still has its scope closed, and a device that ran out of memory there halves the batch', async () => {
    await tf.setBackend('cpu');
    // A WebGPU device as the scopes see it: a failed allocation is recorded in the open scope.
    const scopes: Array<{ message: string } | null> = [];
    let pushed = 0;
    let popped = 0;
    const device = {
      pushErrorScope: () => {
        pushed++;
        scopes.push(null);
      },
      popErrorScope: async () => {
        popped++;
        return scopes.pop() ?? null;
      },
    };
    // Batches over 4 images fail to allocate inside the step; the step then throws (as a read-back of a buffer never made does).
    const gpu = { ...tf, oneHot: ((indices: tf.Tensor1D, depth: number) => {
      if (indices.shape[0] > 4) {
        scopes[scopes.length - 1] = { message: 'Not enough memory left' };
        throw new Error('Failed to execute mapAsync on GPUBuffer');
      }
      return tf.oneHot(indices, depth);
    }) as typeof tf.oneHot } as typeof tf;
    const checks = errorScopes(device);
    const { ctx, logs } = context(gpu, 'cpu');
    const sources = { ...memorySources(), callbacks: checks.callbacks, failedFit: checks.failedFit };
    const answer = await runFull(input({ batchSize: 16, epochs: 2 }), ctx, sources);
    expect(answer.batch.size).toBe(4);
    expect(logs).toContain('batch 16 did not fit on the device; halved to 8 and retrying the epoch');
    expect(answer.steps).toBe(12);
    // Every scope pushed was popped: none left open by the steps that threw.
    expect(popped).toBe(pushed);
    expect(scopes).toEqual([]);
    // A step that throws with no memory error in its scope fails the run as it was, its scope closed too.
    const broken = { ...tf, oneHot: (() => {
      throw new Error('a shader bug');
    }) as typeof tf.oneHot } as typeof tf;
    const second = context(broken, 'cpu');
    await expect(runFull(input({ epochs: 1 }), second.ctx, sources)).rejects.toThrow('a shader bug');
    expect(popped).toBe(pushed);
    expect(second.logs.some((l) => l.includes('halved'))).toBe(false);
  }, 120_000);
});

describe('out of memory', () => {
  it('is known by type (and by tfjs-node\'s status text), and other errors are not retried', async () => {
    expect(isOutOfMemory(new DeviceOutOfMemory('x'))).toBe(true);
    expect(isOutOfMemory(new RangeError('Array buffer allocation failed'))).toBe(true);
    expect(isOutOfMemory(new Error('OOM when allocating tensor with shape[64,32,112,112]'))).toBe(true);
    expect(isOutOfMemory(new Error('Invalid image'))).toBe(false);
    // Real allocation failures from V8 count; RangeErrors of code bugs do not.
    const thrown = (make: () => unknown): unknown => {
      try {
        make();
      } catch (error) {
        return error;
      }
      throw new Error('expected a throw');
    };
    expect(isOutOfMemory(thrown(() => new ArrayBuffer(2 ** 40)))).toBe(true);
    expect(isOutOfMemory(thrown(() => new WebAssembly.Memory({ initial: 1, maximum: 2 }).grow(5)))).toBe(true);
    expect(isOutOfMemory(new RangeError('WebAssembly.Memory.grow(): Unable to grow instance memory'))).toBe(true);
    const recurse = (): number => recurse() + 1;
    expect(thrown(recurse)).toBeInstanceOf(RangeError);
    expect(isOutOfMemory(thrown(recurse))).toBe(false);
    expect(isOutOfMemory(thrown(() => new Float32Array(-1)))).toBe(false);
    expect(isOutOfMemory(thrown(() => new Float32Array(2 ** 40)))).toBe(false);
    expect(isOutOfMemory(thrown(() => new WebAssembly.Memory({ initial: 70000 })))).toBe(false);
    const broken: FullSources = {
      loadFinetune: null,
      // eslint-disable-next-line require-yield
      async *batches() {
        throw new Error('the image store went away');
      },
    };
    const { ctx, logs } = context(tf, 'cpu');
    await expect(runFull(input(), ctx, broken)).rejects.toThrow('the image store went away');
    expect(logs.some((l) => l.includes('halved'))).toBe(false);
    // A bug that throws a RangeError fails the run at once, with the batch left as it was.
    const buggy: FullSources = {
      loadFinetune: null,
      // eslint-disable-next-line require-yield
      async *batches() {
        throw new RangeError('Maximum call stack size exceeded');
      },
    };
    const second = context(tf, 'cpu');
    await expect(runFull(input(), second.ctx, buggy)).rejects.toThrow('Maximum call stack size exceeded');
    expect(second.logs.some((l) => l.includes('halved'))).toBe(false);
  });

  it('refuses a fine-tune on a host that cannot read backbone files, naming the fix', async () => {
    const { ctx } = context(tf, 'cpu');
    const finetune = { ...input(), arch: 'finetune' as const, backbone: { name: 'b', kind: 'tfjs', file: '/x/model.json' } as never };
    await expect(runFull(finetune, ctx, memorySources())).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/built-in network/) });
  });
});
