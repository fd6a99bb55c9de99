/**
 * The threaded tfjs wasm build in Node. tfjs-backend-wasm 4.22 turns threads off in Node: its
 * loader hands Emscripten a `blob:` URL for the pthread worker, which Node's Worker refuses
 * (ERR_WORKER_PATH). Here the worker script is written to a file and the module is built with file
 * paths, then registered as the 'wasm' backend (the registered kernels, Loupe's included, are unchanged).
 *
 * Two quirks of the build: the C++ side caps threads at os.cpus().length / 2, read once while the
 * module initialises (so os.cpus reports 2 x threads for that moment), and the pthread workers would
 * keep Node alive (so they are unref'd).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';

interface EmscriptenModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  PThread?: { unusedWorkers: { unref?: () => void }[]; runningWorkers: { unref?: () => void }[] };
  tfjs?: Record<string, (...args: number[]) => number>;
}

type WasmPackage = typeof import('@tensorflow/tfjs-backend-wasm');

/** Makes 'wasm' the threaded build with `threads` threads (main thread included) and returns the count it got. */
export async function useThreadedWasm(tf: typeof Tf, threads: number): Promise<number> {
  const require = createRequire(import.meta.url);
  const wasmPackage = (await import('@tensorflow/tfjs-backend-wasm')) as WasmPackage;
  const root = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const out = path.join(root, 'wasm-out');
  const { wasmWorkerContents } = require(path.join(out, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  const version = (require(path.join(root, 'package.json')) as { version: string }).version;
  const workerFile = path.join(os.tmpdir(), `loupe-tfjs-wasm-${version}-worker.cjs`);
  // The same escaping as the stock loader's Blob: the template literal turned "\n" into newlines.
  const workerSource = wasmWorkerContents.replace(/\n/g, '\\n');
  if (!fs.existsSync(workerFile) || fs.readFileSync(workerFile, 'utf8') !== workerSource) {
    fs.writeFileSync(workerFile, workerSource);
  }
  const factory = require(path.join(out, 'tfjs-backend-wasm-threaded-simd.js')) as (
    config: Record<string, unknown>,
  ) => Promise<EmscriptenModule>;

  const realCpus = os.cpus;
  const cpu = realCpus()[0]!;
  os.cpus = () => Array.from({ length: 2 * threads }, () => cpu);
  let module: EmscriptenModule;
  try {
    module = await factory({
      locateFile: (file: string) =>
        file.endsWith('.worker.js') ? workerFile : path.join(out, file.endsWith('.wasm') ? 'tfjs-backend-wasm-threaded-simd.wasm' : file),
      mainScriptUrlOrBlob: path.join(out, 'tfjs-backend-wasm-threaded-simd.js'),
    });
  } finally {
    os.cpus = realCpus;
  }
  for (const worker of [...(module.PThread?.unusedWorkers ?? []), ...(module.PThread?.runningWorkers ?? [])]) worker.unref?.();
  // What the stock loader adds to the module.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  wasmPackage.setThreadsCount(threads);
  if (tf.findBackendFactory('wasm')) tf.removeBackend('wasm');
  const BackendWasm = wasmPackage.BackendWasm as unknown as new (wasm: EmscriptenModule) => Tf.KernelBackend;
  tf.registerBackend('wasm', () => new BackendWasm(module), 2);
  if (!(await tf.setBackend('wasm'))) throw new Error('the threaded wasm backend did not initialise');
  // Workers started while initialising (the thread pool) must not hold the process open either.
  for (const worker of module.PThread?.runningWorkers ?? []) worker.unref?.();
  return wasmPackage.getThreadsCount();
}
