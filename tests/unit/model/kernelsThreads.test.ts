import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { registerWasmKernels } from '../../../src/main/model/kernels/wasmKernels';
import { useThreadedWasm } from '../../../src/main/model/kernels/wasmThreads';

// Its own file: it replaces the process's 'wasm' backend with the threaded build.
describe('threaded wasm in Node', () => {
  it('starts 2 threads from file paths and computes conv gradients like cpu', async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmKernels(tf);
    expect(await useThreadedWasm(tf, 2)).toBe(2);
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(Float32Array.from({ length: 8 * 10 * 10 * 4 }, (_, i) => Math.sin(i)), [8, 10, 10, 4]);
      const f = tf.tensor4d(Float32Array.from({ length: 3 * 3 * 4 * 6 }, (_, i) => Math.cos(i)), [3, 3, 4, 6]);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same').square().sum())([x, f]);
      const out = await Promise.all(g.map(async (t) => Array.from(await t.data())));
      tf.dispose([x, f, ...g]);
      return out;
    };
    const wasm = await grads('wasm');
    const cpu = await grads('cpu');
    for (let i = 0; i < 2; i++) {
      const scale = Math.max(...cpu[i]!.map(Math.abs));
      const diff = Math.max(...cpu[i]!.map((v, j) => Math.abs(v - wasm[i]![j]!)));
      expect(diff / scale).toBeLessThan(1e-4);
    }
  });
});
