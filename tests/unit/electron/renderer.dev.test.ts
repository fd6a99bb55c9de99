/**
 * A development build (not packaged) loads electron-vite's dev server from ELECTRON_RENDERER_URL,
 * and accepts only a loopback http URL there.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ipcChannel } from '../../../src/shared/contract';
import { rendererUrl } from '../../../src/main/electron/security';
import { fake } from './fakeElectron';

vi.mock('electron', async () => (await import('./fakeElectron')).fake.module);

const devUrl = 'http://localhost:5173/';

beforeAll(async () => {
  process.env.ELECTRON_RENDERER_URL = devUrl;
  fake.app.isPackaged = false;
  await import('../../../src/main/electron/index');
  fake.app.fireReady();
  await vi.waitFor(() => expect(fake.windows).toHaveLength(1), { timeout: 15_000 });
});
afterAll(() => {
  delete process.env.ELECTRON_RENDERER_URL;
});

describe('Electron main process, development', () => {
  it('loads and trusts the dev server', async () => {
    const contents = fake.windows[0]!.webContents;
    expect(fake.windows[0]!.url).toBe(devUrl);
    const handler = fake.handlers.get(ipcChannel.request('project:current'))!;
    expect(await handler({ sender: contents, senderFrame: contents.mainFrame }, {})).toMatchObject({ ok: true });
  });

  it('refuses a dev server URL that is not loopback http, and says how to fix it', () => {
    const builtDir = path.join('out', 'renderer');
    for (const url of ['https://localhost:5173/', 'http://evil.example/', 'file:///tmp/evil.html', 'nonsense']) {
      expect(() => rendererUrl({ isPackaged: false, env: { ELECTRON_RENDERER_URL: url }, builtDir }), url).toThrow(/unset it to load the built renderer/);
    }
    expect(rendererUrl({ isPackaged: true, env: { ELECTRON_RENDERER_URL: 'nonsense' }, builtDir })).toMatch(/^file:.*index\.html$/);
  });
});
