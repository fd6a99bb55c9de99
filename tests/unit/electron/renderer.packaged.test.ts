/**
 * A packaged app ignores ELECTRON_RENDERER_URL: it loads the built renderer, trusts only that page
 * for IPC, and will not navigate to the URL from the environment.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ipcChannel } from '../../../src/shared/contract';
import type { Reply } from '../../../src/shared/errors';
import { fake, fakeEvent } from './fakeElectron';

vi.mock('electron', async () => (await import('./fakeElectron')).fake.module);

const devUrl = 'http://localhost:5173/';

beforeAll(async () => {
  process.env.ELECTRON_RENDERER_URL = devUrl;
  fake.app.isPackaged = true;
  await import('../../../src/main/electron/index');
  fake.app.fireReady();
  await vi.waitFor(() => expect(fake.windows).toHaveLength(1), { timeout: 15_000 });
});
afterAll(() => {
  delete process.env.ELECTRON_RENDERER_URL;
});

describe('Electron main process, packaged', () => {
  it('loads the built renderer, not ELECTRON_RENDERER_URL', () => {
    expect(fake.windows[0]!.url).toMatch(/^file:.*renderer\/index\.html$/);
  });

  it('refuses IPC from, and navigation to, the URL in the environment', async () => {
    const contents = fake.windows[0]!.webContents;
    const away = fakeEvent(devUrl);
    contents.emit('will-navigate', away, devUrl);
    expect(away.defaultPrevented).toBe(true);
    contents.mainFrame.url = devUrl;
    const handler = fake.handlers.get(ipcChannel.request('project:current'))!;
    const reply = (await handler({ sender: contents, senderFrame: contents.mainFrame }, {})) as Reply<unknown>;
    expect(reply).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
  });
});
