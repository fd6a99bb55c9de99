/**
 * The Electron main process without the Electron binary (it cannot be downloaded here): `electron`
 * is replaced by a small fake that records what the main process registers, so the IPC bridge, its
 * sender check, the loupe:// image protocol and the window's security settings run for real.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ipcChannel, requestNames } from '../../../src/shared/contract';
import type { Reply } from '../../../src/shared/errors';
import { tempDir, writeClassFolders } from '../../helpers/fixtures';

type Handler = (event: unknown, input: unknown) => Promise<Reply<unknown>>;

const fake = vi.hoisted(() => {
  const handlers = new Map<string, (event: unknown, input: unknown) => Promise<unknown>>();
  const windows: Array<{ options: Record<string, unknown>; url: string | null; webContents: Record<string, unknown> }> = [];
  let protocolHandler: ((request: Request) => Promise<Response>) | null = null;
  let ready: () => void = () => {};
  const whenReady = new Promise<void>((resolve) => (ready = resolve));
  class BrowserWindow {
    webContents: Record<string, unknown>;
    url: string | null = null;
    constructor(public options: Record<string, unknown>) {
      const mainFrame = { url: '' };
      this.webContents = {
        mainFrame,
        send: () => {},
        setWindowOpenHandler: () => {},
        on: () => {},
      };
      windows.push(this as never);
    }
    on() {}
    loadURL(url: string) {
      this.url = url;
      (this.webContents.mainFrame as { url: string }).url = url;
      return Promise.resolve();
    }
    static getAllWindows() {
      return windows;
    }
  }
  return {
    handlers,
    windows,
    ready: () => ready(),
    get protocolHandler() {
      return protocolHandler;
    },
    module: {
      app: { whenReady: () => whenReady, on: () => {}, quit: () => {} },
      BrowserWindow,
      ipcMain: { handle: (channel: string, handler: (event: unknown, input: unknown) => Promise<unknown>) => handlers.set(channel, handler) },
      net: { fetch: (url: string) => Promise.resolve(new Response(fs.readFileSync(new URL(url)))) },
      protocol: {
        registerSchemesAsPrivileged: () => {},
        handle: (_scheme: string, handler: (request: Request) => Promise<Response>) => (protocolHandler = handler),
      },
    },
  };
});
vi.mock('electron', () => fake.module);

let dir: string;
const call = (name: string, input: unknown, event?: unknown) => {
  const window = fake.windows[0]!;
  const own = { sender: window.webContents, senderFrame: window.webContents.mainFrame };
  return (fake.handlers.get(ipcChannel.request(name as never)) as Handler)(event ?? own, input);
};

beforeAll(async () => {
  dir = tempDir('loupe-electron-');
  await import('../../../src/main/electron/index');
  fake.ready();
  await vi.waitFor(() => expect(fake.windows).toHaveLength(1), { timeout: 15_000 });
});
afterAll(async () => {
  await call('project:close', {});
});

describe('Electron main process', () => {
  it('opens a sandboxed, isolated window on the built renderer', () => {
    const window = fake.windows[0]!;
    expect(window.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(String((window.options.webPreferences as { preload: string }).preload)).toMatch(/preload[\\/]index\.cjs$/);
    expect(window.url).toMatch(/^file:.*renderer\/index\.html$/);
  });

  it('registers one IPC channel per request, and answers through the core', async () => {
    expect([...fake.handlers.keys()].sort()).toEqual(requestNames.map((n) => ipcChannel.request(n)).sort());
    const source = path.join(dir, 'pets');
    await writeClassFolders(source, ['cat', 'dog'], 3);
    const opened = await call('project:open', { file: path.join(dir, 'e.loupe'), create: true });
    expect(opened).toMatchObject({ ok: true, value: { name: 'e' } });
    const started = (await call('dataset:import', { source })) as Reply<{ jobId: string }>;
    expect(started.ok).toBe(true);
    await vi.waitFor(async () => expect(((await call('dataset:stats', {})) as Reply<{ images: number }>)).toMatchObject({ value: { images: 6 } }), {
      timeout: 15_000,
    });
  });

  it('refuses calls from another frame or another page', async () => {
    const window = fake.windows[0]!;
    const subframe = { sender: window.webContents, senderFrame: { url: (window.webContents.mainFrame as { url: string }).url } };
    expect(await call('project:current', {}, subframe)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    const otherPage = { sender: window.webContents, senderFrame: window.webContents.mainFrame };
    const mainFrame = window.webContents.mainFrame as { url: string };
    const own = mainFrame.url;
    mainFrame.url = 'file:///tmp/evil.html';
    expect(await call('project:current', {}, otherPage)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    mainFrame.url = `${own}#/gallery`;
    expect(await call('project:current', {})).toMatchObject({ ok: true });
    mainFrame.url = own;
  });

  it('serves thumbnails and originals through loupe://, and nothing it does not know', async () => {
    const handler = fake.protocolHandler!;
    const page = (await call('images:page', {})) as Reply<{ rows: { id: number; path: string }[] }>;
    if (!page.ok) throw new Error('no page');
    const first = page.value.rows[0]!;
    const thumb = await handler(new Request(`loupe://thumb/${first.id}`));
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect((await thumb.arrayBuffer()).byteLength).toBeGreaterThan(0);
    const original = await handler(new Request(`loupe://image/${first.id}`));
    expect(Buffer.from(await original.arrayBuffer()).equals(fs.readFileSync(path.join(dir, 'pets', first.path)))).toBe(true);
    expect((await handler(new Request('loupe://image/999999'))).status).toBe(404);
    expect((await handler(new Request('loupe://etc/passwd'))).status).toBe(404);
  });
});
