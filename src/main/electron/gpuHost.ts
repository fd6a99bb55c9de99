/**
 * WebGPU training in the app: dawn.node cannot load inside Electron (it refuses external array
 * buffers, electron issue 35801), but Electron's renderers have WebGPU. So a run that asks for
 * WebGPU trains in a hidden window whose page (out/renderer/trainer.html, src/trainer) runs TF.js
 * on WebGPU, driven with the training process's own protocol over a MessageChannelMain. Its
 * batches are decoded and augmented by sharp here, in the main process (batchServer.ts), and sent
 * through the port. This module owns and supervises the window: a renderer that is gone, a window
 * that stops responding or closes, a page that does not say it is ready in time (readyTimeoutMs),
 * or a lost GPU device ends it, and its requests fail with that reason (the client's exit
 * handling); the app and its other windows carry on, and the next run opens a new window. To the
 * client it is one more TrainerSpawner.
 */
import { app, BrowserWindow, MessageChannelMain, type MessagePortMain } from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TrainerHandle, TrainerSpawner } from '../train/client';
import { batchServer } from '../train/batchServer';
import type { FromProcess, ToProcess } from '../train/protocol';
import { trainerPortChannel, type FromWindow, type GpuAdapterReport, type ToWindow } from '../train/windowProtocol';
import { assertNever } from '../../shared/assertNever';

/** Where the trainer page and its preload are. */
export interface GpuWindowOptions {
  /** The page's URL: the built trainer.html beside the renderer (file://), or the dev server's. */
  pageUrl: string;
  /** The preload that hands the page its port (out/preload/trainer.cjs). */
  preload: string;
  /** Told once the page has its adapter (for the log), or why it has none. */
  onReady?(adapter: GpuAdapterReport | null, reason: string | null): void;
  /** How long the page may take to say it is ready before the window is ended (ms); default readyTimeoutMs. */
  readyTimeoutMs?: number;
}

/**
 * How long a GPU training page may take from opening to saying it is ready (loading TF.js,
 * finding the adapter, starting the backend). A page whose script failed never says so: the window
 * is then ended and its runs fail, rather than wait forever.
 */
export const readyTimeoutMs = 60_000;

/** The trainer page and preload of a built app whose main entry is in `mainDir` (out/main), honouring the dev server like rendererUrl. */
export function gpuWindowOptions(mainDir: string, ownPage: string): GpuWindowOptions {
  const page = new URL(ownPage);
  const pageUrl = page.protocol === 'file:' ? pathToFileURL(path.join(mainDir, '../renderer/trainer.html')).href : new URL('trainer.html', page).href;
  return { pageUrl, preload: path.join(mainDir, '../preload/trainer.cjs') };
}

/**
 * Switches the app needs for WebGPU before it is ready. Windows (D3D12) and macOS (Metal) have it.
 * On Linux Electron leaves Vulkan off (electron issues 40929, 41763), and turning it on for the whole
 * app can blank windows on weak drivers, so it is turned on only when asked: LOUPE_WEBGPU_VULKAN=1
 * (serve mode and the CLI train on WebGPU through dawn.node without it). LOUPE_WEBGPU_SOFTWARE=1
 * asks for SwiftShader's software adapter (CI, machines without a GPU) and implies Vulkan.
 */
export function enableWebGpu(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): void {
  if (platform === 'linux' && linuxVulkanAsked(env)) {
    app.commandLine.appendSwitch('enable-unsafe-webgpu');
    app.commandLine.appendSwitch('enable-features', 'Vulkan');
  }
  if (env.LOUPE_WEBGPU_SOFTWARE === '1') app.commandLine.appendSwitch('use-webgpu-adapter', 'swiftshader');
}

function linuxVulkanAsked(env: NodeJS.ProcessEnv): boolean {
  return env.LOUPE_WEBGPU_VULKAN === '1' || env.LOUPE_WEBGPU_SOFTWARE === '1';
}

/** What to do when the app's window finds no WebGPU adapter. */
function noAdapterHint(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'linux' && !linuxVulkanAsked(env)) {
    return 'On Linux, start Loupe with LOUPE_WEBGPU_VULKAN=1 to let the app use Vulkan, or train with `npm run serve` or the CLI, which use WebGPU through dawn.node; or train with backend "auto".';
  }
  return 'Train with backend "auto" instead.';
}

// Open GPU windows, so the app can close them with its own window (a hidden window would keep the app running).
const open = new Set<(why: string) => void>();

/** Ends every GPU training window (their runs fail with `why`): the app's window closed. */
export function closeGpuWindows(why = 'the app window closed'): void {
  for (const end of [...open]) end(why);
}

/** Starts a hidden GPU training window per call: the client calls it when it has none alive. */
export function gpuWindowSpawner(options: GpuWindowOptions): TrainerSpawner {
  return () => openGpuWindow(options);
}

function openGpuWindow(options: GpuWindowOptions): TrainerHandle {
  const window = new BrowserWindow({
    show: false,
    title: 'Loupe training',
    webPreferences: {
      preload: options.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      // A hidden window's timers and rendering are throttled by default; training must not be.
      backgroundThrottling: false,
    },
  });
  const { port1, port2 } = new MessageChannelMain();
  const messageListeners: Array<(message: FromProcess) => void> = [];
  const exitListeners: Array<(why: string) => void> = [];
  // Requests wait here until the page says it is ready.
  let queued: ToProcess[] | null = [];
  let gone: string | null = null;

  const post = (message: ToWindow) => {
    if (gone === null) port1.postMessage(message);
  };
  // MessagePortMain transfers only ports; a batch's buffers are copied once, on their way to the renderer.
  const batches = batchServer((message) => post(message));

  // The page may ask for batches of the images its runs were given, and no other files.
  const allowed = new Set<string>();
  const end = (why: string) => {
    if (gone !== null) return;
    gone = why;
    clearTimeout(readyTimer);
    open.delete(end);
    queued = null;
    batches.closeAll();
    port1.close();
    if (!window.isDestroyed()) window.destroy();
    for (const listener of exitListeners) listener(why);
  };
  const waitMs = options.readyTimeoutMs ?? readyTimeoutMs;
  // Set before anything can end the window (end clears it).
  const readyTimer = setTimeout(() => end(`the GPU training page did not start within ${waitMs / 1000} s (its script failed to load or threw)`), waitMs);
  readyTimer.unref?.();
  const answer = (message: FromProcess) => {
    for (const listener of messageListeners) listener(message);
  };

  const onPage = (message: FromWindow) => {
    switch (message.type) {
      case 'ready': {
        clearTimeout(readyTimer);
        options.onReady?.(message.adapter, message.reason);
        const waiting = queued ?? [];
        queued = null;
        if (message.reason !== null) {
          // No WebGPU here: each waiting request fails with the reason, then the window goes.
          for (const request of waiting) {
            if (request.type !== 'cancel') {
              answer({ type: 'error', id: request.id, error: { code: 'CONFLICT', message: `WebGPU is not available in the app: ${message.reason}. ${noAdapterHint()}` } });
            }
          }
          end(`no WebGPU: ${message.reason}`);
          return;
        }
        for (const request of waiting) post(request);
        return;
      }
      case 'feed': {
        const stranger = message.request.items.find((item) => typeof item.input !== 'string' || !allowed.has(item.input));
        if (stranger) {
          post({ type: 'feedError', stream: message.stream, error: { code: 'UNAUTHORIZED', message: 'The GPU training page asked for an image that is not in its run.' } });
          return;
        }
        batches.handle(message);
        return;
      }
      case 'pull':
      case 'close':
        batches.handle(message);
        return;
      case 'deviceLost':
        end(`the GPU device was lost (${message.reason || 'unknown'}: ${message.message})`);
        return;
      case 'progress':
      case 'log':
      case 'curve':
      case 'emit':
      case 'done':
      case 'error':
        answer(message);
        return;
      default:
        assertNever(message, 'message');
    }
  };

  port1.on('message', (event: { data: unknown }) => onPage(event.data as FromWindow));
  port1.start();
  const contents = window.webContents;
  contents.on('render-process-gone', (_event: unknown, details: { reason: string; exitCode: number }) =>
    end(`the GPU training window's renderer ${details.reason === 'oom' ? 'ran out of memory' : details.reason} (exit code ${details.exitCode})`),
  );
  contents.on('unresponsive', () => end('the GPU training window stopped responding'));
  contents.on('did-fail-load', (_event: unknown, code: number, description: string) => end(`the GPU training page did not load (${description}, ${code})`));
  window.on('closed', () => end('the GPU training window closed'));
  contents.once('did-finish-load', () => contents.postMessage(trainerPortChannel, null, [port2 as MessagePortMain]));
  void window.loadURL(options.pageUrl).catch(() => {});
  open.add(end);

  return {
    get pid() {
      return gone === null && !contents.isDestroyed() ? contents.getOSProcessId() : undefined;
    },
    alive: () => gone === null,
    send: (message) => {
      if (gone !== null) return;
      if (message.type === 'run') for (const item of (message.input as { items?: Array<{ file?: unknown }> }).items ?? []) if (typeof item.file === 'string') allowed.add(item.file);
      if (!queued) {
        post(message);
      } else if (message.type === 'cancel') {
        // Not started yet: drop the request and answer its cancel here, as the page would.
        const at = queued.findIndex((m) => m.type !== 'cancel' && m.id === message.id);
        if (at >= 0) {
          queued.splice(at, 1);
          answer({ type: 'error', id: message.id, error: { code: 'CANCELLED', message: 'Training was cancelled.' } });
        }
      } else {
        queued.push(message);
      }
    },
    onMessage: (listener) => messageListeners.push(listener),
    onExit: (listener) => exitListeners.push(listener),
    // The app's main process stays alive with its window; nothing to hold.
    hold: () => {},
    kill: () => end('stopped'),
  };
}
