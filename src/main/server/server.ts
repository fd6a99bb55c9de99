/**
 * Serve mode: the contract over HTTP + WebSocket on 127.0.0.1, and the built UI beside it. Every
 * request needs the random token (query `token`, header `x-loupe-token`, or the cookie set when the
 * page was opened with it); anything else is refused with 401.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WsMessage, WsRequest } from '../../shared/bridge';
import { serveRoutes, tokenParam } from '../../shared/bridge';
import { toErrorInfo } from '../../shared/errors';
import type { ImageId } from '../../shared/types';
import type { Core } from '../core';

/** A running server. */
export interface LoupeServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/** Options for serve mode. */
export interface ServeOptions {
  core: Core;
  /** Folder of the built UI (index.html and assets). */
  uiDir: string;
  port?: number;
  token?: string;
}

const cookieName = 'loupe_token';
const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};
const imageTypes: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.avif': 'image/avif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
};

/** Starts serve mode on 127.0.0.1. */
export async function startServer(options: ServeOptions): Promise<LoupeServer> {
  const { core, uiDir } = options;
  const token = options.token ?? randomBytes(24).toString('base64url');
  let port = 0;
  const tokenBuffer = Buffer.from(token);
  const hasToken = (req: http.IncomingMessage, url: URL): boolean => {
    const offered =
      url.searchParams.get(tokenParam) ??
      (req.headers['x-loupe-token'] as string | undefined) ??
      parseCookie(req.headers.cookie ?? '')[cookieName] ??
      '';
    const candidate = Buffer.from(offered);
    return candidate.length === tokenBuffer.length && timingSafeEqual(candidate, tokenBuffer);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!hasToken(req, url)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Loupe: this address needs the token printed when the server started.\n');
      return;
    }
    try {
      route(req, res, url);
    } catch (error) {
      const info = toErrorInfo(error);
      res.writeHead(info.code === 'NOT_FOUND' || info.code === 'NO_PROJECT' ? 404 : 500, {
        'content-type': 'application/json',
      });
      res.end(JSON.stringify(info));
    }
  });

  const route = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const thumb = /^\/thumb\/(\d+)$/.exec(url.pathname);
    if (thumb) {
      const body = core.thumbnail(Number(thumb[1]) as ImageId);
      res.writeHead(200, { 'content-type': 'image/webp', 'cache-control': 'private, max-age=3600' });
      res.end(body);
      return;
    }
    const image = /^\/image\/(\d+)$/.exec(url.pathname);
    if (image) {
      const file = core.imageFile(Number(image[1]) as ImageId);
      sendFile(res, file, imageTypes[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
      return;
    }
    const preview = /^\/preview\/([\w-]+)\/(\d+)$/.exec(url.pathname);
    if (preview) {
      const body = core.previewImage(preview[1]!, Number(preview[2]));
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'private, max-age=600' });
      res.end(body);
      return;
    }
    // The UI: a known asset, or index.html for anything else (the app routes in the page).
    const requested = path.resolve(uiDir, '.' + decodeURIComponent(url.pathname));
    const inside = requested.startsWith(path.resolve(uiDir) + path.sep);
    const file = inside && fs.existsSync(requested) && fs.statSync(requested).isFile() ? requested : path.join(uiDir, 'index.html');
    if (!fs.existsSync(file)) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`Loupe: the UI is not built (${uiDir} is missing). Run \`npm run build\` first.\n`);
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      'content-type': contentTypes[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    };
    if (url.searchParams.has(tokenParam)) {
      headers['set-cookie'] = `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    }
    res.writeHead(200, headers);
    fs.createReadStream(file).pipe(res);
    void req;
  };

  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Only the page this server served may open the socket: another local origin that holds the
    // cookie (a page on another 127.0.0.1 port is "same site") is refused.
    const origin = req.headers.origin;
    const isOwnOrigin = origin === undefined || origin === `http://127.0.0.1:${port}`;
    if (url.pathname !== serveRoutes.socket || !hasToken(req, url) || !isOwnOrigin) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => attach(ws));
  });

  const attach = (ws: WebSocket) => {
    const send = (message: WsMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const unsubscribe = core.subscribe((event, payload) => send({ event, payload }));
    ws.on('close', unsubscribe);
    ws.on('message', (data) => {
      const request = parseRequest(String(data));
      // Not a request at all: nothing to answer, and nothing that may reach the core.
      if (!request) return;
      void core.request(request.name, request.input).then((reply) => send({ id: request.id, reply }));
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?${tokenParam}=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of sockets.clients) client.terminate();
        sockets.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sendFile(res: http.ServerResponse, file: string, type: string): void {
  const stream = fs.createReadStream(file);
  stream.once('error', () => {
    if (!res.headersSent) res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Loupe: the image file cannot be read.\n');
  });
  stream.once('open', () => {
    res.writeHead(200, { 'content-type': type, 'cache-control': 'private, max-age=60' });
    stream.pipe(res);
  });
}

/** A WebSocket message as a request, or null when it is not one. */
function parseRequest(text: string): WsRequest | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { id, name, input } = value as Record<string, unknown>;
  if (typeof id !== 'number' || typeof name !== 'string') return null;
  return { id, name: name as WsRequest['name'], input };
}

function parseCookie(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}
