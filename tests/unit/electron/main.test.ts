/**
 * The Electron main process without the Electron binary (it cannot be downloaded here): `electron`
 * is replaced by a small fake (fakeElectron.ts) that records what the main process registers, so
 * the IPC bridge, its sender check, the loupe:// image protocol, the app-wide web contents guard,
 * the permission handlers and the window's security settings run for real.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ipcChannel, requestNames } from '../../../src/shared/contract';
import { contentSecurityPolicy } from '../../../src/shared/csp';
import type { Reply } from '../../../src/shared/errors';
import { tempDir, writeClassFolders } from '../../helpers/fixtures';
import { fake, fakeEvent, FakeWebContents } from './fakeElectron';

vi.mock('electron', async () => (await import('./fakeElectron')).fake.module);

type Handler = (event: unknown, input: unknown) => Promise<Reply<unknown>>;

let dir: string;
const call = (name: string, input: unknown, event?: unknown) => {
  const window = fake.windows[0]!;
  const own = { sender: window.webContents, senderFrame: window.webContents.mainFrame };
  return (fake.handlers.get(ipcChannel.request(name as never)) as Handler)(event ?? own, input);
};

beforeAll(async () => {
  dir = tempDir('loupe-electron-');
  delete process.env.ELECTRON_RENDERER_URL;
  fake.app.isPackaged = false;
  await import('../../../src/main/electron/index');
  fake.app.fireReady();
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
    const subframe = { sender: window.webContents, senderFrame: { url: window.webContents.mainFrame.url } };
    expect(await call('project:current', {}, subframe)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    const otherPage = { sender: window.webContents, senderFrame: window.webContents.mainFrame };
    const mainFrame = window.webContents.mainFrame;
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

  it('sends the renderer CSP and nosniff on every loupe:// response, errors included', async () => {
    const handler = fake.protocolHandler!;
    const page = (await call('images:page', {})) as Reply<{ rows: { id: number }[] }>;
    if (!page.ok) throw new Error('no page');
    const id = page.value.rows[0]!.id;
    const urls = [`loupe://thumb/${id}`, `loupe://image/${id}`, 'loupe://image/999999', 'loupe://preview/none/0', 'loupe://etc/passwd'];
    for (const url of urls) {
      const response = await handler(new Request(url));
      expect(response.headers.get('content-security-policy'), url).toBe(contentSecurityPolicy);
      expect(response.headers.get('x-content-type-options'), url).toBe('nosniff');
    }
  });

  it('guards every web contents the app creates: no webviews, no new windows, no navigation or redirect off our page', () => {
    const own = fake.windows[0]!.url!;
    const contents = new FakeWebContents();
    fake.app.emit('web-contents-created', fakeEvent(), contents);
    for (const contentsUnderTest of [contents, fake.windows[0]!.webContents]) {
      const webview = fakeEvent();
      contentsUnderTest.emit('will-attach-webview', webview, {}, {});
      expect(webview.defaultPrevented).toBe(true);
      expect(contentsUnderTest.windowOpenHandler?.({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
      for (const name of ['will-navigate', 'will-redirect']) {
        for (const url of ['https://example.com/', 'file:///tmp/evil.html', 'not a url']) {
          const away = fakeEvent(url);
          contentsUnderTest.emit(name, away, url);
          expect(away.defaultPrevented, `${name} ${url}`).toBe(true);
        }
        const home = fakeEvent(`${own}#/review`);
        contentsUnderTest.emit(name, home, home.url);
        expect(home.defaultPrevented, name).toBe(false);
      }
    }
  });

  it('guards the window once, through the app-wide guard only', () => {
    const contents = fake.windows[0]!.webContents;
    for (const name of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      expect(contents.listeners.get(name), name).toHaveLength(1);
    }
  });

  it('denies every permission request and check', () => {
    const contents = fake.windows[0]!.webContents;
    for (const permission of ['media', 'notifications', 'geolocation', 'clipboard-read', 'clipboard-sanitized-write', 'openExternal']) {
      const answers: boolean[] = [];
      fake.defaultSession.permissionRequest!(contents, permission, (granted) => answers.push(granted), {});
      expect(answers, permission).toEqual([false]);
    }
    for (const permission of ['hid', 'serial', 'usb', 'media', 'clipboard-read']) {
      expect(fake.defaultSession.permissionCheck!(contents, permission, 'file://', {}), permission).toBe(false);
    }
  });
});
