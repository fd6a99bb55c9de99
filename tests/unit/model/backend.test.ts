import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../../src/main/model/backend';

describe('selectBackend', () => {
  it('takes the first backend that loads, in order, and says why the better ones did not', async () => {
    // Here the native packages cannot install: the real loaders fail with "Cannot find module".
    const { tf, report } = await selectBackend();
    expect(report.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(report.tried.map((t) => [t.name, t.loaded])).toEqual([
      ['tensorflow-gpu', false],
      ['tensorflow', false],
      ['wasm', true],
    ]);
    expect(report.tried[0]!.reason).toMatch(/Cannot find (module|package) '@tensorflow\/tfjs-node-gpu'/);
    expect(report.tried[1]!.reason).toMatch(/Cannot find (module|package) '@tensorflow\/tfjs-node'/);
    expect(report.tried[2]!.reason).toBeNull();
  });

  it('falls through to cpu when wasm fails, keeping every reason', async () => {
    const { report } = await selectBackend({
      'tensorflow-gpu': () => Promise.reject(new Error('no CUDA\nlong trace')),
      tensorflow: () => Promise.reject(new Error('libtensorflow.so: cannot open shared object file')),
      wasm: () => Promise.reject(new Error('wasm binary missing')),
    });
    expect(report).toEqual({
      name: 'cpu',
      tried: [
        { name: 'tensorflow-gpu', loaded: false, reason: 'no CUDA' },
        { name: 'tensorflow', loaded: false, reason: 'libtensorflow.so: cannot open shared object file' },
        { name: 'wasm', loaded: false, reason: 'wasm binary missing' },
        { name: 'cpu', loaded: true, reason: null },
      ],
    });
  });
});
