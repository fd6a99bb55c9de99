/**
 * TF.js backend selection: the first of tfjs-node-gpu, tfjs-node, wasm, cpu that loads wins, and the
 * report says why each better one did not. Only the training process calls this (never the main
 * process): tfjs-node must not be loaded twice, nor next to the UI.
 */
import type * as Tf from '@tensorflow/tfjs';
import { backendNames, type BackendName, type BackendReport } from '../../shared/train';

/** How one backend is loaded; tests swap these to simulate missing modules. */
export type BackendLoader = () => Promise<typeof Tf>;

/** The default loaders, by dynamic import so a missing optional package is just a reason. */
export const defaultLoaders: Record<BackendName, BackendLoader> = {
  'tensorflow-gpu': async () => {
    // A variable specifier keeps bundlers from resolving an optional package at build time.
    const name = '@tensorflow/tfjs-node-gpu';
    return (await import(name)) as typeof Tf;
  },
  tensorflow: async () => {
    const name = '@tensorflow/tfjs-node';
    return (await import(name)) as typeof Tf;
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
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** The selected tfjs module and the report. */
export interface SelectedBackend {
  tf: typeof Tf;
  report: BackendReport;
}

/** Tries backends in order (optionally starting from `prefer`) and returns the first that loads and initialises. */
export async function selectBackend(
  loaders: Partial<Record<BackendName, BackendLoader>> = {},
  options: { order?: readonly BackendName[] } = {},
): Promise<SelectedBackend> {
  const order = options.order ?? backendNames;
  const tried: BackendReport['tried'] = [];
  for (const name of order) {
    const load = loaders[name] ?? defaultLoaders[name];
    try {
      const tf = await load();
      const ok = await tf.setBackend(registeredName[name]);
      if (!ok) throw new Error(`the ${registeredName[name]} backend did not initialise`);
      await tf.ready();
      tried.push({ name, loaded: true, reason: null });
      return { tf, report: { name, tried } };
    } catch (error) {
      tried.push({ name, loaded: false, reason: firstLine(error) });
    }
  }
  throw new Error(`No TF.js backend loaded: ${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')}`);
}

/** The reason a person reads: the error's first line, without the path of the file that imported it. */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.replace(/ imported from \S+$/, '').trim();
}
