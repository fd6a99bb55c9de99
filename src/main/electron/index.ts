/**
 * The Electron app: one window, the contract over IPC (one channel per request, senders checked),
 * events pushed to the window, and images through the `loupe://` protocol, which serves only files
 * under the open project's root. Everything else is the same Core that serve mode and the CLI use.
 */
import { app, BrowserWindow, ipcMain, net, protocol, type IpcMainInvokeEvent } from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { imageScheme } from '../../shared/bridge';
import { ipcChannel, requestNames } from '../../shared/contract';
import { LoupeError, toErrorInfo } from '../../shared/errors';
import type { ImageId } from '../../shared/types';
import { Core } from '../core';

protocol.registerSchemesAsPrivileged([
  { scheme: imageScheme, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

const core = new Core();
let window: BrowserWindow | null = null;

function rendererUrl(): string {
  return process.env.ELECTRON_RENDERER_URL ?? pathToFileURL(path.join(__dirname, '../renderer/index.html')).href;
}

/** Only our own window's top frame, showing our own page, may call the core. */
function checkSender(event: IpcMainInvokeEvent): void {
  const frame = event.senderFrame;
  // file:// URLs all share the origin "null": compare the page itself, without query or hash.
  const page = (url: string) => {
    if (!URL.canParse(url)) return null;
    const parsed = new URL(url);
    parsed.hash = '';
    parsed.search = '';
    return parsed.href;
  };
  if (!window || event.sender !== window.webContents || !frame || frame !== window.webContents.mainFrame || page(frame.url) === null || page(frame.url) !== page(rendererUrl())) {
    throw new LoupeError('UNAUTHORIZED', 'This window may not call Loupe.');
  }
}

function registerIpc(): void {
  for (const name of requestNames) {
    ipcMain.handle(ipcChannel.request(name), async (event, input: unknown) => {
      try {
        checkSender(event);
      } catch (error) {
        return { ok: false, error: toErrorInfo(error) };
      }
      return core.request(name, input);
    });
  }
  core.subscribe((event, payload) => window?.webContents.send(ipcChannel.event, { event, payload }));
}

function registerImageProtocol(): void {
  protocol.handle(imageScheme, async (request) => {
    const url = new URL(request.url);
    const id = Number(url.pathname.replace(/^\//, '')) as ImageId;
    try {
      if (url.host === 'thumb') {
        return new Response(new Uint8Array(core.thumbnail(id)), { headers: { 'content-type': 'image/webp' } });
      }
      if (url.host === 'image') return net.fetch(pathToFileURL(core.imageFile(id)).href);
      const preview = /^\/([\w-]+)\/(\d+)$/.exec(url.pathname);
      if (url.host === 'preview' && preview) {
        return new Response(new Uint8Array(core.previewImage(preview[1]!, Number(preview[2]))), {
          headers: { 'content-type': 'image/png' },
        });
      }
      return new Response('unknown image route', { status: 404 });
    } catch (error) {
      return new Response(toErrorInfo(error).message, { status: 404 });
    }
  });
}

function createWindow(): void {
  window = new BrowserWindow({
    width: 1400,
    height: 900,
    title: 'Loupe',
    backgroundColor: '#16181d',
    webPreferences: {
      preload: path.join(__dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  });
  // Links never navigate the app window away from Loupe.
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  window.on('closed', () => (window = null));
  void window.loadURL(rendererUrl());
}

void app.whenReady().then(async () => {
  registerIpc();
  registerImageProtocol();
  const projectArg = process.argv.find((a) => a.endsWith('.loupe'));
  if (projectArg) await core.request('project:open', { file: projectArg, create: true });
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on('window-all-closed', () => {
  void core.shutdown().then(() => app.quit());
});
