/**
 * The training process: one long-lived child of the core (child_process.fork) that owns TF.js and
 * the native model runtimes, so a native crash cannot take the UI with it and tfjs-node is loaded
 * once. It embeds images and trains heads on request, streaming progress, curve points and logs;
 * a cancel message stops work between batches.
 */
import type * as Tf from '@tensorflow/tfjs';
import { LoupeError, toErrorInfo } from '../../shared/errors';
import type { CurvePoint } from '../../shared/train';
import { selectBackend, type SelectedBackend } from '../model/backend';
import { presetConfig } from '../../shared/augment';
import { augmentImage } from '../augment/apply';
import type { ImageInput } from '../model/baseline';
import { loadExtractor, type Extractor } from '../model/extractors';
import type { EmbedItem, FromProcess, ProcessResult, ToProcess } from './protocol';
import { runQuick } from './quick';
import { assertNever } from '../../shared/assertNever';

// Electron's utilityProcess talks through process.parentPort; a forked Node child through process.send.
interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}
const parentPort = (process as NodeJS.Process & { parentPort?: ParentPort }).parentPort;
const send = (message: FromProcess) => (parentPort ? parentPort.postMessage(message) : process.send?.(message));
function onParentMessage(listener: (message: ToProcess) => void): void {
  if (parentPort) parentPort.on('message', (event) => listener(event.data as ToProcess));
  else process.on('message', (raw) => listener(raw as ToProcess));
}
const cancelled = new Set<number>();
let backend: Promise<SelectedBackend> | null = null;
const extractors = new Map<string, Extractor>();

function getBackend(): Promise<SelectedBackend> {
  backend ??= selectBackend(undefined, { order: backendOrder() });
  return backend;
}

// LOUPE_BACKEND names the first backend to try (tests and benches pin one).
function backendOrder() {
  const all = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
  const first = process.env.LOUPE_BACKEND;
  const index = all.findIndex((b) => b === first);
  return index > 0 ? all.slice(index) : all;
}

async function handle(message: Exclude<ToProcess, { type: 'cancel' }>): Promise<ProcessResult> {
  const isCancelled = () => cancelled.has(message.id);
  switch (message.type) {
    case 'backend':
      return { type: 'backend', report: (await getBackend()).report };
    case 'embed': {
      const needsTf = message.spec.kind === 'tfjs';
      const selected = needsTf ? await getBackend() : null;
      let extractor = extractors.get(message.spec.key);
      if (!extractor) {
        extractor = await loadExtractor(message.spec, selected?.tf as typeof Tf | undefined);
        extractors.set(message.spec.key, extractor);
      }
      const { items } = message;
      for (let start = 0; start < items.length; start += extractor.batchSize) {
        if (isCancelled()) throw new LoupeError('CANCELLED', 'Embedding was cancelled.');
        const batch = items.slice(start, start + extractor.batchSize);
        const failed: Array<{ index: number; error: string }> = [];
        let vectors: Float32Array[];
        try {
          vectors = await extractor.embed(await Promise.all(batch.map((item) => viewOf(item, extractor!))));
        } catch {
          // One bad file must not sink the batch: retry one by one and record what fails.
          vectors = [];
          for (let i = 0; i < batch.length; i++) {
            try {
              vectors.push(...(await extractor.embed([await viewOf(batch[i]!, extractor)])));
            } catch (error) {
              vectors.push(new Float32Array(extractor.dim));
              failed.push({ index: start + i, error: (error as Error).message });
            }
          }
        }
        const data = new Float32Array(batch.length * extractor.dim);
        vectors.forEach((v, i) => data.set(v, i * extractor!.dim));
        send({ type: 'vectors', id: message.id, start, dim: extractor.dim, data, failed });
        send({ type: 'progress', id: message.id, step: 'embedding', current: start + batch.length, total: items.length });
      }
      return { type: 'embed', dim: extractor.dim, backbone: extractor.spec, report: selected?.report ?? null };
    }
    case 'quick': {
      const { tf, report } = await getBackend();
      send({ type: 'log', id: message.id, line: `TF.js backend: ${report.name}` });
      let pending: CurvePoint[] = [];
      let lastFlush = Date.now();
      const flush = () => {
        if (pending.length > 0) send({ type: 'curve', id: message.id, points: pending });
        pending = [];
        lastFlush = Date.now();
      };
      const result = await runQuick(tf, message.task, {
        onCurve: (point) => {
          pending.push(point);
          if (point.kind === 'epoch' || Date.now() - lastFlush > 100) flush();
        },
        onPhase: (phase, index, total) => {
          flush();
          send({ type: 'progress', id: message.id, step: `training ${phase}`, current: index, total });
          send({ type: 'log', id: message.id, line: `training ${phase}` });
        },
        isCancelled,
      });
      flush();
      return { type: 'quick', result, report };
    }
    default:
      return assertNever(message, 'message');
  }
}

/** The augmentation behind view v > 0: the augmentation pipeline's 'light' preset at the backbone's input size, seeded by (view, content hash). */
export const viewPreset = 'light';

async function viewOf(item: EmbedItem, extractor: Extractor): Promise<ImageInput> {
  if (item.view === 0) return item.file;
  const size = extractor.spec.inputSize;
  const config = presetConfig(viewPreset, { inputSize: { width: size, height: size } });
  return augmentImage({ input: item.file }, config, 0, item.view, item.key);
}

onParentMessage((message) => {
  if (message.type === 'cancel') {
    cancelled.add(message.id);
    return;
  }
  handle(message).then(
    (result) => send({ type: 'done', id: message.id, result }),
    (error) => {
      const info = cancelled.has(message.id) || (error as Error)?.message === 'training was cancelled'
        ? { code: 'CANCELLED' as const, message: 'Training was cancelled.' }
        : toErrorInfo(error);
      if (info.code === 'INTERNAL' && error instanceof Error) info.details = { stack: error.stack };
      send({ type: 'error', id: message.id, error: info });
    },
  ).finally(() => cancelled.delete(message.id));
});

// Leave when the core goes: a training process never outlives its parent (a utility process is ended by Electron).
process.on('disconnect', () => process.exit(0));

