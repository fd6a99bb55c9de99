import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../../src/main/model/backend';
import { backendNames } from '../../../src/shared/train';

describe('selectBackend', () => {
  it('takes the first backend that loads, in order, and says why the better ones did not', async () => {
    // Whichever backend this machine has: the ones before it failed with a reason, it loaded, and it runs.
    const { tf, report } = await selectBackend();
    const names = report.tried.map((t) => t.name);
    expect(names).toEqual(backendNames.slice(0, names.length));
    expect(report.tried.at(-1)).toEqual({ name: report.name, loaded: true, reason: null });
    for (const earlier of report.tried.slice(0, -1)) {
      expect(earlier.loaded).toBe(false);
      expect(earlier.reason).toMatch(/\S/);
    }
    expect(tf.getBackend()).toBe(report.name === 'tensorflow-gpu' ? 'tensorflow' : report.name);
    expect(Array.from(await tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).data())).toEqual([4, 6]);
  });

  it('names a missing native package in its reason and moves on to the next', async () => {
    const missing = (name: string) => async () => {
      const specifier = name;
      return (await import(specifier)) as never;
    };
    const { report } = await selectBackend({
      'tensorflow-gpu': missing('@tensorflow/loupe-test-missing-gpu'),
      tensorflow: missing('@tensorflow/loupe-test-missing'),
    });
    expect(report.tried[0]!.reason).toMatch(/Cannot find (module|package) '@tensorflow\/loupe-test-missing-gpu'/);
    expect(report.tried[1]!.reason).toMatch(/Cannot find (module|package) '@tensorflow\/loupe-test-missing'/);
    expect(report.tried[2]).toEqual({ name: 'wasm', loaded: true, reason: null });
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
