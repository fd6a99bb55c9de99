/**
 * Serve mode's HTTP edge on a real server: only 127.0.0.1, localhost and [::1] at its port are
 * answered (DNS rebinding), the socket opens from those origins only, and bad addresses are a 400.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { startServer, type LoupeServer } from '../../../src/main/server/server';
import { tempDir } from '../../helpers/fixtures';
import { RawSocket } from './rawSocket';

let core: Core;
let server: LoupeServer;

beforeEach(async () => {
  const dir = tempDir();
  const uiDir = path.join(dir, 'ui');
  fs.mkdirSync(uiDir);
  fs.writeFileSync(path.join(uiDir, 'index.html'), '<!doctype html><title>Loupe</title>');
  core = new Core();
  await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
  server = await startServer({ core, uiDir });
});
afterEach(async () => {
  await server.close();
  await core.shutdown();
});

/** GET `target` with the token header and the given Host header (null: none). */
function get(target: string, host: string | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'x-loupe-token': server.token };
    if (host !== null) headers.host = host;
    const req = http.request({ host: '127.0.0.1', port: server.port, path: target, headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Host header', () => {
  it('answers 127.0.0.1, localhost and [::1] at its port, in any case', async () => {
    for (const host of ['127.0.0.1', 'localhost', 'LocalHost', '[::1]']) {
      const reply = await get('/', `${host}:${server.port}`);
      expect([host, reply.status]).toEqual([host, 200]);
    }
  });

  it('refuses any other Host with 403 and says which addresses work, before looking at the token', async () => {
    const others = [
      `evil.example:${server.port}`,
      'evil.example',
      `localhost:${server.port + 1}`,
      '127.0.0.1',
      'localhost',
      `127.0.0.2:${server.port}`,
      `localhost.:${server.port}`,
    ];
    for (const host of others) {
      const reply = await get(`/?token=${server.token}`, host);
      expect([host, reply.status]).toEqual([host, 403]);
      expect(reply.body).toContain(`http://localhost:${server.port}`);
    }
    // No Host at all: Node's HTTP/1.1 parser already answers 400.
    expect((await get('/', null)).status).toBe(400);
  });

  it('refuses the socket upgrade for another Host', async () => {
    await expect(RawSocket.open(server.port, server.token, { Host: `evil.example:${server.port}` })).rejects.toThrow(/403/);
  });
});

describe('socket origin', () => {
  const open = (origin: string | undefined) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`, origin === undefined ? {} : { origin });
      socket.once('open', () => {
        socket.close();
        resolve(101);
      });
      socket.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('error', () => resolve(0));
    });

  it('opens for a page served at 127.0.0.1, localhost or [::1] on this port, and for no Origin', async () => {
    expect(await open(undefined)).toBe(101);
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      expect([host, await open(`http://${host}:${server.port}`)]).toEqual([host, 101]);
    }
  });

  it('refuses another origin, another port, https and "null"', async () => {
    for (const origin of ['http://evil.example', `http://127.0.0.1:${server.port + 1}`, `https://localhost:${server.port}`, 'null']) {
      expect([origin, await open(origin)]).toEqual([origin, 401]);
    }
  });

  it('serves the page and answers over the socket when opened at http://localhost:PORT', async () => {
    const page = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const headers = { host: `localhost:${server.port}` };
      http.get({ host: '127.0.0.1', port: server.port, path: `/?token=${server.token}`, headers }, resolve).on('error', reject);
    });
    page.resume();
    expect(page.statusCode).toBe(200);
    const cookie = String(page.headers['set-cookie']?.[0]).split(';')[0]!;
    // What the page's script does: the socket at location.host, with the cookie and its own origin.
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, {
      origin: `http://localhost:${server.port}`,
      headers: { cookie, host: `localhost:${server.port}` },
    });
    const reply = await new Promise<{ id: number; reply: { ok: boolean } }>((resolve, reject) => {
      socket.once('open', () => socket.send(JSON.stringify({ id: 1, name: 'project:current', input: {} })));
      socket.on('message', (data) => resolve(JSON.parse(String(data)) as never));
      socket.once('error', reject);
    });
    socket.close();
    expect(reply).toMatchObject({ id: 1, reply: { ok: true } });
  });
});

describe('addresses', () => {
  it('answers a bad percent escape with 400 VALIDATION, not 500', async () => {
    for (const target of ['/%', '/%zz', '/assets/%E0%A4%A', '/%C0%AF']) {
      const reply = await get(target, `127.0.0.1:${server.port}`);
      expect([target, reply.status]).toEqual([target, 400]);
      expect(JSON.parse(reply.body)).toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('percent escape') });
    }
  });

  it('answers a request target that is not a path on this server with 400', async () => {
    for (const target of [`http://evil.example/?token=${server.token}`, '//evil.example/']) {
      expect([target, (await get(target, `127.0.0.1:${server.port}`)).status]).toEqual([target, 400]);
    }
  });

  it('still answers an unknown image with 404', async () => {
    expect((await get('/thumb/999999', `127.0.0.1:${server.port}`)).status).toBe(404);
  });
});

describe('security headers', () => {
  it('every answer carries the page policy (no framing), nosniff and no referrer, refusals included', async () => {
    const answers = await Promise.all(
      [
        ['/', `127.0.0.1:${server.port}`],
        ['/thumb/999', `127.0.0.1:${server.port}`],
        ['/', `evil.example:${server.port}`],
      ].map(
        ([target, host]) =>
          new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
            const req = http.request(
              { host: '127.0.0.1', port: server.port, path: target, headers: { 'x-loupe-token': server.token, host }, setHost: false },
              (res) => {
                res.resume();
                resolve(res.headers);
              },
            );
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    for (const headers of answers) {
      expect(headers['content-security-policy']).toContain("script-src 'self'");
      expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['referrer-policy']).toBe('no-referrer');
    }
  });
});
