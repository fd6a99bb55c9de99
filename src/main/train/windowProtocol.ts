/**
 * Messages between the app's main process and the GPU training page (the hidden window that trains
 * with tfjs-webgpu, src/renderer/trainer), over one MessagePort. The training requests and their
 * answers are the training process's own (protocol.ts), so the core drives the page exactly as it
 * drives the process; around them, the page asks the host for batches (decoded and augmented by
 * sharp outside the page) and the host sends them with their buffers transferred, one `pull` at a
 * time. The page also says which adapter it got, and when its GPU device is lost.
 */
import type { Batch } from '../augment/feeder';
import type { ErrorInfo } from '../../shared/errors';
import type { BatchRequest } from './batchSource';
import type { FromProcess, ToProcess } from './protocol';

/** The WebGPU adapter the page trains on, as the browser describes it. */
export interface GpuAdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  /** A software or otherwise fallback adapter (SwiftShader): correct but slow. */
  isFallbackAdapter: boolean;
}

/** Host to page: the core's requests, and batches for the streams the page opened. */
export type ToWindow =
  | ToProcess
  | { type: 'batch'; stream: number; batch: Batch }
  | { type: 'end'; stream: number }
  | { type: 'feedError'; stream: number; error: ErrorInfo };

/** Page to host: the answers, the page's state, and its batch streams. */
export type FromWindow =
  | FromProcess
  /** Sent once: the backend is up on this adapter, or it could not start (reason). */
  | { type: 'ready'; adapter: GpuAdapterReport | null; reason: string | null }
  /** Opens stream `stream`: one epoch of batches for `request`. */
  | { type: 'feed'; stream: number; request: BatchRequest }
  /** The page wants the stream's next batch. */
  | { type: 'pull'; stream: number }
  /** The page stopped reading the stream before its end. */
  | { type: 'close'; stream: number }
  /** GPUDevice.lost resolved: the page can no longer train. */
  | { type: 'deviceLost'; reason: string; message: string };

/** The window message that hands the page its port (the preload, or a test, posts it with the port transferred). */
export const trainerPortMessage = 'loupe-trainer-port';
/** The IPC channel the main process sends the port on to the trainer page's preload. */
export const trainerPortChannel = 'loupe:trainer-port';

/** The buffers of a batch, to transfer rather than copy. */
export function batchTransfer(batch: Batch): ArrayBuffer[] {
  return [batch.x.buffer as ArrayBuffer, batch.y.buffer as ArrayBuffer];
}
