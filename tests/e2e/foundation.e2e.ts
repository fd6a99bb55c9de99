import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeClassFolders } from '../helpers/fixtures';
import { launchBrowser, openApp, serve, type ServedApp } from './app';

let browser: Browser;
let app: ServedApp | null = null;

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await app?.stop();
  app = null;
});

describe('serve mode', () => {
  it('refuses requests without the token, and accepts them with it', async () => {
    app = await serve();
    const bare = await fetch(`${app.origin}/`);
    expect(bare.status).toBe(401);
    const wrong = await fetch(`${app.origin}/?token=not-the-token`);
    expect(wrong.status).toBe(401);
    const thumb = await fetch(`${app.origin}/thumb/1`);
    expect(thumb.status).toBe(401);
    const good = await fetch(app.url);
    expect(good.status).toBe(200);
    expect(await good.text()).toContain('<div id="app"');
  });

  it('refuses a socket from another origin, and survives messages that are not requests', async () => {
    app = await serve();
    const socketUrl = `${app.origin.replace('http', 'ws')}/ws?token=${app.token}`;
    const opened = (origin: string) =>
      new Promise<boolean>((resolve) => {
        const ws = new WebSocket(socketUrl, { origin });
        ws.once('open', () => {
          ws.close();
          resolve(true);
        });
        ws.once('error', () => resolve(false));
      });
    expect(await opened('http://evil.example')).toBe(false);
    expect(await opened(app.origin)).toBe(true);
    const ws = new WebSocket(socketUrl, { origin: app.origin });
    await new Promise((resolve) => ws.once('open', resolve));
    for (const junk of ['null', '42', '"x"', '{"id":"1"}', 'not json', '{"id":1,"name":"toString","input":{}}']) ws.send(junk);
    ws.send(JSON.stringify({ id: 7, name: 'project:current', input: {} }));
    const reply = await new Promise<{ id: number; reply: { ok: boolean; value?: { name: string } } }>((resolve) =>
      ws.on('message', (data) => {
        const message = JSON.parse(String(data));
        if (message.id === 7) resolve(message);
      }),
    );
    expect(reply.reply.ok).toBe(true);
    expect(reply.reply.value?.name).toBe('e2e');
    ws.close();
  });

  it('works when opened at http://localhost:PORT, and refuses another Host', async () => {
    app = await serve();
    const localUrl = app.url.replace('//127.0.0.1:', '//localhost:');
    const page = await browser.newPage();
    await page.goto(localUrl);
    // The nav shows once project:current came back over the socket.
    await page.getByTestId('nav-overview').waitFor();
    await page.close();
    // A DNS-rebinding page reaches 127.0.0.1 under its own name: refused even with the token.
    const { port, search } = new URL(app.url);
    const request = { host: '127.0.0.1', port, path: `/${search}`, headers: { host: `rebind.example:${port}` } };
    const rebound = await new Promise<number>((resolve, reject) => {
      http
        .get(request, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(rebound).toBe(403);
  });

  it('imports a folder through the UI, shows counts, scrolls the gallery and opens an image', async () => {
    app = await serve();
    const source = path.join(app.dir, 'pets');
    await writeClassFolders(source, ['cat', 'dog', 'fox'], 60);
    fs.writeFileSync(path.join(source, 'cat', 'broken.png'), 'this is not a png');
    // A link out of the folder is not imported, and the dialog says so.
    fs.copyFileSync(path.join(source, 'dog', 'dog_0.png'), path.join(app.dir, 'elsewhere.png'));
    fs.symlinkSync(path.join(app.dir, 'elsewhere.png'), path.join(source, 'cat', 'link-out.png'));

    const page = await openApp(browser, app);
    await page.getByTestId('import-open').click();
    await page.getByTestId('import-source-input').fill(source);
    await page.getByTestId('import-start').click();
    const done = page.getByTestId('import-done');
    await done.waitFor();
    expect(await done.getAttribute('data-added')).toBe('181');
    expect(await page.getByTestId('import-skipped').textContent()).toBe('1');
    await page.getByTestId('import-skipped-toggle').click();
    const skipped = await page.getByTestId('import-skipped-list').textContent();
    expect(skipped).toContain('link-out.png');
    expect(skipped).toContain('outside the project root');
    await page.getByTestId('import-close').click();

    await page.getByTestId('nav-overview').click();
    await expect.poll(() => page.getByTestId('overview-images').textContent()).toBe('180');
    expect(await page.getByTestId('overview-unreadable').textContent()).toBe('1');
    for (const name of ['cat', 'dog', 'fox']) {
      const row = page.locator(`[data-testid="class-row"][data-class="${name}"]`);
      expect(await row.locator('[data-split="train"]').textContent()).toBe('48');
      expect(await row.locator('[data-split="valid"]').textContent()).toBe('6');
      expect(await row.locator('[data-split="test"]').textContent()).toBe('6');
    }
    await expect.poll(() => page.getByText('broken.png').count()).toBeGreaterThan(0);

    await page.getByTestId('nav-gallery').click();
    const grid = page.getByTestId('gallery-grid');
    await grid.waitFor();
    await page.getByTestId('gallery-cell').first().waitFor();
    const firstIds = await page.getByTestId('gallery-cell').evaluateAll((cells) => cells.map((c) => Number(c.getAttribute('data-id'))));
    // Virtualized: far fewer cells in the DOM than images.
    expect(firstIds.length).toBeLessThan(180);
    await grid.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await expect
      .poll(async () =>
        Math.max(...(await page.getByTestId('gallery-cell').evaluateAll((cells) => cells.map((c) => Number(c.getAttribute('data-id')))))),
      )
      .toBeGreaterThanOrEqual(170);
    // Thumbnails load through the token-checked route.
    await expect
      .poll(() => page.locator('[data-testid="gallery-cell"] img').evaluateAll((imgs) => imgs.filter((i) => (i as HTMLImageElement).naturalWidth > 0).length))
      .toBeGreaterThan(0);

    const cell = page.getByTestId('gallery-cell').last();
    const id = await cell.getAttribute('data-id');
    // A click selects; a double click (or Space) opens the large view.
    await cell.dblclick();
    const viewer = page.getByTestId('image-viewer');
    await viewer.waitFor();
    await expect.poll(() => page.getByTestId('image-viewer-path').textContent()).toMatch(/\.png$/);
    await expect
      .poll(() => viewer.locator('img').evaluate((img) => (img as HTMLImageElement).naturalWidth))
      .toBe(32);
    expect(id).not.toBeNull();
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
  });

  it('cancels an import, says what is kept, and resumes it from the Overview', async () => {
    app = await serve();
    const source = path.join(app.dir, 'many');
    await writeClassFolders(source, ['a', 'b'], 400);
    const page = await openApp(browser, app);
    await page.getByTestId('import-open').click();
    await page.getByTestId('import-source-input').fill(source);
    await page.getByTestId('import-start').click();
    await page.getByTestId('import-cancel').click();
    await page.getByTestId('import-cancelled').waitFor();
    await page.getByTestId('import-close').click();
    await page.getByTestId('nav-overview').click();
    const kept = Number(await page.getByTestId('overview-images').textContent());
    expect(kept).toBeLessThan(800);
    await page.getByTestId('unfinished-import').waitFor();
    await page.getByTestId('resume-import').click();
    const done = page.getByTestId('import-done');
    await done.waitFor();
    expect(Number(await done.getAttribute('data-added'))).toBe(800 - kept);
    await page.getByTestId('import-close').click();
    await expect.poll(() => page.getByTestId('overview-images').textContent()).toBe('800');
    await page.getByTestId('unfinished-import').waitFor({ state: 'detached' });
  });
});
