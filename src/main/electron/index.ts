/**
 * The Electron app: one window, the contract over IPC (one channel per request, senders checked),
 * events pushed to the window, and images through the `loupe://` protocol, which serves only files
 * under the open project's root. Everything else is the same Core that serve mode and the CLI use.
 * The guards every web contents gets live in security.ts.
 */
import { app, BrowserWindow, ipcMain, net, protocol, session, type IpcMainInvokeEvent } from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { imageScheme } from '../../shared/bridge';
import { ipcChannel, requestNames } from '../../shared/contract';
import { LoupeError, toErrorInfo } from '../../shared/errors';
import type { ImageId } from '../../shared/types';
import { Core } from '../core';
import { closeGpuWindows, enableWebGpu, gpuWindowOptions, gpuWindowSpawner } from './gpuHost';
import { routedTrainer, utilityTrainer } from './trainer';
import { denyPermissions, guardWebContents, isOwnPage, rendererUrl, withSecurityHeaders } from './security';

protocol.registerSchemesAsPrivileged([
  { scheme: imageScheme, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

const ownPage = rendererUrl({ isPackaged: app.isPackaged, env: process.env, builtDir: path.join(__dirname, '../renderer') });
app.on('web-contents-created', (_event, contents) => guardWebContents(contents, ownPage));

enableWebGpu();
// Full runs that ask for WebGPU train in a hidden window (dawn.node cannot load in Electron); the rest in the utility process.
const core = new Core({ trainer: routedTrainer(utilityTrainer, gpuWindowSpawner(gpuWindowOptions(__dirname, ownPage))), warmQueues: true });
let window: BrowserWindow | null = null;

/** Only our own window's top frame, showing our own page, may call the core. */
function checkSender(event: IpcMainInvokeEvent): void {
  const frame = event.senderFrame;
  if (!window || event.sender !== window.webContents || !frame || frame !== window.webContents.mainFrame || !isOwnPage(frame.url, ownPage)) {
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
  protocol.handle(imageScheme, async (request) => withSecurityHeaders(await imageResponse(request)));
}

async function imageResponse(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const id = Number(url.pathname.replace(/^\//, '')) as ImageId;
  const text = (body: string) => new Response(body, { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  try {
    if (url.host === 'thumb') {
      return new Response(new Uint8Array(core.thumbnail(id)), { headers: { 'content-type': 'image/webp' } });
    }
    // Awaited so a failed read lands in the catch below.
    if (url.host === 'image') return await net.fetch(pathToFileURL(core.imageFile(id)).href);
    const preview = /^\/([\w-]+)\/(\d+)$/.exec(url.pathname);
    if (url.host === 'preview' && preview) {
      return new Response(new Uint8Array(core.previewImage(preview[1]!, Number(preview[2]))), {
        headers: { 'content-type': 'image/png' },
      });
    }
    return text('unknown image route');
  } catch (error) {
    return text(toErrorInfo(error).message);
  }
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
  window.on('closed', () => {
    window = null;
    // A hidden GPU window would keep the app running after its window closed.
    closeGpuWindows();
  });
  void window.loadURL(ownPage);
}

void app.whenReady().then(async () => {
  denyPermissions(session.defaultSession);
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
