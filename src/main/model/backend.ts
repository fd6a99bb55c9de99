/**
 * TF.js backend selection. Automatic: the first of tfjs-node-gpu, WebGPU (dawn.node, a hardware
 * adapter), tfjs-node, wasm, cpu that loads wins. Forced: that one backend or a clear error. Every
 * candidate is probed for its device (a WebGPU adapter's vendor, architecture and limits; the CUDA
 * libraries tfjs-node-gpu needs, naming the one missing) and the report says, for each candidate
 * not used, why. A software WebGPU adapter (SwiftShader) is slower than wasm: automatic selection
 * skips it with that reason, forcing 'webgpu' uses it, flagged. Only the training process calls
 * this (never the main process): tfjs-node must not be loaded twice, nor next to the UI.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';
import { LoupeError } from '../../shared/errors';
import { assertNever } from '../../shared/assertNever';
import { backendNames, type BackendChoice, type BackendDevice, type BackendName, type BackendProbe, type BackendReport, type TrainingHost } from '../../shared/train';
import { findAdapter, registerWebGpu } from './webgpu';

/** What a loader gives: the tfjs module with the backend registered, and the device it runs on. */
export interface LoadedBackend {
  tf: typeof Tf;
  device: BackendDevice;
}

/** How a candidate is being loaded: forced by the user (a software adapter is then allowed) or automatically. */
export interface LoadOptions {
  forced: boolean;
  /** Try a SwiftShader driver when no hardware WebGPU adapter is found (LOUPE_WEBGPU_SOFTWARE=1). */
  software: boolean;
}

/** How one backend is loaded; tests swap these to simulate missing modules. A bare tfjs module gets a generic device. */
export type BackendLoader = (options: LoadOptions) => Promise<typeof Tf | LoadedBackend>;

/** A candidate that loaded but must not be used (a software adapter in automatic selection): the reason, and the device it found. */
export class BackendSkipped extends Error {
  constructor(
    message: string,
    readonly device: BackendDevice,
  ) {
    super(message);
    this.name = 'BackendSkipped';
  }
}

/** A CPU device: what the Train view shows for tfjs-node, wasm and cpu. */
export function cpuDevice(label: string): BackendDevice {
  const model = os.cpus()[0]?.model?.trim() || null;
  return { label, kind: 'cpu', vendor: null, architecture: os.arch(), description: model, software: false, limits: {} };
}

/** The CUDA 11.2 / cuDNN 8.1 libraries libtensorflow 2.9.1 (tfjs-node-gpu) loads, the driver first. */
export const cudaLibraries: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['libcuda.so.1', 'libcudart.so.11.0', 'libcublas.so.11', 'libcublasLt.so.11', 'libcufft.so.10', 'libcurand.so.10', 'libcusolver.so.11', 'libcusparse.so.11', 'libcudnn.so.8'],
  win32: ['nvcuda.dll', 'cudart64_110.dll', 'cublas64_11.dll', 'cublasLt64_11.dll', 'cufft64_10.dll', 'curand64_10.dll', 'cusolver64_11.dll', 'cusparse64_11.dll', 'cudnn64_8.dll'],
};

/** The folders the dynamic loader searches: the library path variable, the linker cache (Linux), the usual CUDA folders. */
export function librarySearchDirs(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string[] {
  const split = (value: string | undefined, sep: string) => (value ?? '').split(sep).filter(Boolean);
  if (platform === 'win32') {
    return [...split(env.PATH ?? env.Path, ';'), ...(env.CUDA_PATH ? [path.join(env.CUDA_PATH, 'bin')] : []), path.join(env.SystemRoot ?? 'C:\\Windows', 'System32')];
  }
  const dirs = [...split(env.LD_LIBRARY_PATH, ':'), '/usr/local/cuda/lib64', '/usr/local/cuda-11.2/lib64', '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu'];
  // ldconfig -p lists the cache as "\tlibname.so.N (libc6,x86-64) => /path/libname.so.N".
  const cache = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', env: { ...env, PATH: `${env.PATH ?? ''}:/sbin:/usr/sbin` } });
  if (cache.status === 0) {
    for (const line of cache.stdout.split('\n')) {
      const arrow = line.indexOf('=> ');
      if (arrow > 0) dirs.push(path.dirname(line.slice(arrow + 3).trim()));
    }
  }
  return [...new Set(dirs)];
}

/** The first CUDA library tfjs-node-gpu needs that is in none of `dirs`, or null when all are found. */
export function missingCudaLibrary(platform: NodeJS.Platform = process.platform, dirs: string[] = librarySearchDirs(platform)): string | null {
  const needed = cudaLibraries[platform];
  if (!needed) return null;
  return needed.find((lib) => !dirs.some((dir) => fs.existsSync(path.join(dir, lib)))) ?? null;
}

/** Why tfjs-node-gpu cannot use a GPU here (platform, package, the CUDA library that is missing), or null. */
export function cudaUnavailable(platform: NodeJS.Platform = process.platform, arch: string = process.arch, dirs?: string[]): string | null {
  if (!((platform === 'linux' || platform === 'win32') && arch === 'x64')) return `tfjs-node-gpu has CUDA builds for Linux and Windows x64 only (this is ${platform} ${arch})`;
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
  } catch {
    return 'the optional package @tensorflow/tfjs-node-gpu is not installed';
  }
  const missing = missingCudaLibrary(platform, dirs ?? librarySearchDirs(platform));
  if (missing === null) return null;
  const what = missing === 'libcuda.so.1' || missing === 'nvcuda.dll' ? 'the NVIDIA driver' : 'tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1 (CUDA 12 is not supported)';
  return `${missing} not found: ${what}`;
}

async function wasmThreads(): Promise<number> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  return wasm.getThreadsCount();
}

/** The default loaders, by dynamic import so a missing optional package is just a reason. */
export const defaultLoaders: Record<BackendName, BackendLoader> = {
  'tensorflow-gpu': async () => {
    const unavailable = cudaUnavailable();
    if (unavailable) throw new Error(unavailable);
    // A variable specifier keeps bundlers from resolving an optional package at build time.
    const name = '@tensorflow/tfjs-node-gpu';
    const tf = (await import(name)) as typeof Tf;
    return { tf, device: { label: 'NVIDIA GPU via CUDA (tfjs-node-gpu)', kind: 'gpu', vendor: 'nvidia', architecture: null, description: null, software: false, limits: {} } };
  },
  webgpu: async ({ forced, software }) => {
    const found = await findAdapter({ software });
    if (found.device.software && !forced) {
      throw new BackendSkipped(`${found.device.label} is a software adapter, slower than wasm: not chosen automatically (force the webgpu backend to use it)`, found.device);
    }
    return { tf: await registerWebGpu(found), device: found.device };
  },
  tensorflow: async () => {
    const name = '@tensorflow/tfjs-node';
    const tf = (await import(name)) as typeof Tf;
    return { tf, device: cpuDevice(`CPU (TensorFlow, ${os.cpus().length} cores)`) };
  },
  wasm: async () => {
    const tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    // Loupe's gradient kernels: stock tfjs wasm cannot train a conv net (tfjs issue 8474).
    (await import('./kernels/wasmKernels')).registerWasmKernels(tf);
    return tf;
  },
  cpu: async () => import('@tensorflow/tfjs'),
};

const registeredName: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  webgpu: 'webgpu',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** The device of a backend whose loader gave a bare tfjs module, read once it is initialised. */
async function defaultDevice(name: BackendName): Promise<BackendDevice> {
  switch (name) {
    case 'wasm': {
      const threads = await wasmThreads();
      return cpuDevice(`CPU (wasm, ${threads} thread${threads === 1 ? '' : 's'})`);
    }
    case 'cpu':
      return cpuDevice('CPU (JavaScript)');
    case 'tensorflow':
      return cpuDevice('CPU (TensorFlow)');
    case 'tensorflow-gpu':
      return { label: 'GPU via CUDA (tfjs-node-gpu)', kind: 'gpu', vendor: null, architecture: null, description: null, software: false, limits: {} };
    case 'webgpu':
      return { label: 'GPU via WebGPU', kind: 'gpu', vendor: null, architecture: null, description: null, software: false, limits: {} };
    default:
      return assertNever(name, 'backend');
  }
}

/** The selected tfjs module and the report. */
export interface SelectedBackend {
  tf: typeof Tf;
  report: BackendReport;
}

/** How to select. */
export interface SelectOptions {
  /** 'auto' (default): the first of `order` that works. A backend name: that one, or a BACKEND_UNAVAILABLE error with every reason. */
  choice?: BackendChoice;
  /** The automatic order (default: backendNames). */
  order?: readonly BackendName[];
  /** Let WebGPU try a SwiftShader driver when no hardware adapter is found (default: LOUPE_WEBGPU_SOFTWARE=1). */
  software?: boolean;
  /** Recorded in the report (default 'process'). */
  host?: TrainingHost;
}

/** Tries backends in order and returns the first that loads and initialises, with the report. */
export async function selectBackend(loaders: Partial<Record<BackendName, BackendLoader>> = {}, options: SelectOptions = {}): Promise<SelectedBackend> {
  const choice = options.choice ?? 'auto';
  const forced = choice !== 'auto';
  const order = forced ? [choice] : (options.order ?? backendNames);
  const software = options.software ?? process.env.LOUPE_WEBGPU_SOFTWARE === '1';
  const tried: BackendProbe[] = [];
  for (const name of order) {
    const load = loaders[name] ?? defaultLoaders[name];
    try {
      const loaded = await load({ forced, software });
      const { tf, device } = 'tf' in loaded ? loaded : { tf: loaded, device: null };
      const ok = await tf.setBackend(registeredName[name]);
      if (!ok) throw new Error(`the ${registeredName[name]} backend did not initialise`);
      await tf.ready();
      const found = device ?? (await defaultDevice(name));
      tried.push({ name, loaded: true, reason: null, device: found });
      return { tf, report: { name, requested: choice, host: options.host ?? 'process', device: found, tried } };
    } catch (error) {
      tried.push({ name, loaded: false, reason: firstLine(error), ...(error instanceof BackendSkipped ? { device: error.device } : {}) });
    }
  }
  const reasons = tried.map((t) => `${t.name}: ${t.reason}`).join('; ');
  if (forced) {
    throw new LoupeError('BACKEND_UNAVAILABLE', `The ${choice} backend was asked for but cannot run here (${reasons}). Choose another backend, or 'auto'.`, { tried });
  }
  throw new LoupeError('BACKEND_UNAVAILABLE', `No TF.js backend loaded: ${reasons}`, { tried });
}

/** The reason a person reads: the error's first line, without the path of the file that imported it. */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.replace(/ imported from \S+$/, '').trim();
}

/** A backend held by one request; release it when the request ends. */
export interface BackendLease {
  selected: SelectedBackend;
  release(): void;
}

/**
 * A process's backends over its life: the automatic selection, and any backend a run forced, each
 * selected once and switched to when a request asks for it. TF.js has one active backend per
 * process, so a request whose backend differs from the one in use waits until that is free; a
 * request with no preference (an embedding, a prediction) joins the backend in use, or takes the
 * automatic one. A failed selection is forgotten, so a later request tries again.
 */
export class BackendSelector {
  private readonly selections = new Map<SelectionKey, Promise<SelectedBackend>>();
  private active: SelectionKey | null = null;
  /** The backend the active key resolved to, once it has. */
  private activeName: BackendName | null = null;
  private users = 0;
  private waiting: Array<() => void> = [];

  constructor(private readonly options: { order?: readonly BackendName[]; loaders?: Partial<Record<BackendName, BackendLoader>> } = {}) {}

  /**
   * Holds the backend for `choice` until released. 'auto' or a name: a full run's config.backend
   * (WebGPU may be picked). null, no preference (embeddings, the quick head, predictions): joins a
   * backend in use unless that is WebGPU, else takes the automatic order without WebGPU, whose
   * synchronous reads those kinds rely on cannot run in Node (no OffscreenCanvas).
   */
  async acquire(choice: BackendChoice | null): Promise<BackendLease> {
    for (;;) {
      const joinable = this.users > 0 && this.active !== null && this.activeName !== null && this.activeName !== 'webgpu';
      const key: SelectionKey = choice ?? (joinable ? this.active! : 'auto-sync');
      if (this.users === 0 || this.active === key) {
        // Reserved before any await, so a request arriving meanwhile sees the backend it will get.
        this.users++;
        if (this.active !== key) this.activeName = null;
        this.active = key;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          this.users--;
          if (this.users === 0) for (const wake of this.waiting.splice(0)) wake();
        };
        try {
          return { selected: await this.activate(key), release };
        } catch (error) {
          release();
          throw error;
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private async activate(key: SelectionKey): Promise<SelectedBackend> {
    let selected = this.selections.get(key);
    if (!selected) {
      selected = this.select(key);
      this.selections.set(key, selected);
      selected.catch(() => this.selections.delete(key));
    }
    const result = await selected;
    if (this.active === key) this.activeName = result.report.name;
    const name = registeredName[result.report.name];
    if (result.tf.getBackend() !== name && !(await result.tf.setBackend(name))) {
      throw new LoupeError('BACKEND_UNAVAILABLE', `Switching to the ${result.report.name} backend failed.`);
    }
    return result;
  }

  /** Selects for a key, refusing a second tfjs-node build next to the first. */
  private async select(key: SelectionKey): Promise<SelectedBackend> {
    const order = this.options.order ?? backendNames;
    if (key !== 'auto' && key !== 'auto-sync' && nativeBuilds.has(key)) {
      for (const [other, pending] of this.selections) {
        const done: SelectedBackend | null = other === key ? null : await pending.catch(() => null);
        if (done && nativeBuilds.has(done.report.name) && done.report.name !== key) {
          throw new LoupeError(
            'BACKEND_UNAVAILABLE',
            `The training process already runs ${done.report.name}; ${key} cannot load beside it (both are builds of TensorFlow). Restart Loupe to use ${key}, or choose wasm.`,
          );
        }
      }
    }
    if (key === 'auto') return selectBackend(this.options.loaders, { order });
    if (key === 'auto-sync') return selectBackend(this.options.loaders, { order: order.filter((name) => name !== 'webgpu') });
    return selectBackend(this.options.loaders, { choice: key });
  }
}

/** A key of the selector: a backend choice, or the automatic order without WebGPU. */
type SelectionKey = BackendChoice | 'auto-sync';

/** The two tfjs-node builds register one backend name and load one libtensorflow each: only one per process. */
const nativeBuilds: ReadonlySet<BackendName> = new Set(['tensorflow', 'tensorflow-gpu']);

/** A report for a backend the caller set up itself (a test pinning one, a host with its own device). */
export function reportOf(name: BackendName, device: BackendDevice, options: { host?: TrainingHost; requested?: BackendChoice } = {}): BackendReport {
  return { name, requested: options.requested ?? name, host: options.host ?? 'process', device, tried: [{ name, loaded: true, reason: null, device }] };
}
