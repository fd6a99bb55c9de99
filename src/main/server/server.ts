/**
 * Serve mode: the contract over HTTP + WebSocket on 127.0.0.1, and the built UI beside it. Every
 * request needs the random token (query `token`, header `x-loupe-token`, or the cookie set when the
 * page was opened with it); anything else is refused with 401. Only a Host of 127.0.0.1, localhost
 * or [::1] at this port is answered (DNS rebinding), and the socket only opens from those origins.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { WsMessage, WsRequest } from '../../shared/bridge';
import { maxRequestBytes, requestTooLargeMessage, serveRoutes, tokenParam } from '../../shared/bridge';
import { LoupeError, toErrorInfo, type ErrorCode, type ErrorInfo } from '../../shared/errors';
import { textLimits } from '../../shared/limits';
import type { ImageId } from '../../shared/types';
import type { Core } from '../core';
import { contentSecurityPolicy } from '../../shared/csp';

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

// Cookies are not kept apart by port: each server names its own, so two servers' tabs never clobber each other.
const cookiePrefix = 'loupe_token_';
/**
 * The largest WebSocket message ws itself reads; a larger one closes that socket with 1009. Between
 * `maxRequestBytes` and this, the request is still read so that its error reply reaches its caller.
 */
export const maxFrameBytes = 2 * maxRequestBytes;
/** HTTP status of an error code; anything not listed is a 500. */
const httpStatus = new Map<ErrorCode, number>([
  ['VALIDATION', 400],
  ['UNAUTHORIZED', 401],
  ['NOT_FOUND', 404],
  ['NO_PROJECT', 404],
  ['CONFLICT', 409],
]);
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
  // Filled once the port is known; nothing can connect before that.
  let allowedHosts = new Set<string>();
  const isAllowedHost = (host: string | undefined): boolean => host !== undefined && allowedHosts.has(host.toLowerCase());
  // No Origin: a client that is not a browser. A browser page must be one this server served.
  const isAllowedOrigin = (origin: string | undefined): boolean =>
    origin === undefined || (origin.startsWith('http://') && isAllowedHost(origin.slice('http://'.length)));
  const tokenBuffer = Buffer.from(token);
  const hasToken = (req: http.IncomingMessage, url: URL): boolean => {
    const offered =
      url.searchParams.get(tokenParam) ??
      (req.headers['x-loupe-token'] as string | undefined) ??
      parseCookie(req.headers.cookie ?? '').get(cookiePrefix + port) ??
      '';
    const candidate = Buffer.from(offered);
    return candidate.length === tokenBuffer.length && timingSafeEqual(candidate, tokenBuffer);
  };

  const server = http.createServer((req, res) => {
    // The page's policy as a header too (frame-ancestors works only there), on every answer.
    res.setHeader('content-security-policy', `${contentSecurityPolicy}; frame-ancestors 'none'`);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    if (!isAllowedHost(req.headers.host)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(wrongHostMessage(port));
      return;
    }
    try {
      const url = requestUrl(req);
      if (!hasToken(req, url)) {
        res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Loupe: this address needs the token printed when the server started.\n');
        return;
      }
      route(req, res, url);
    } catch (error) {
      const info = toErrorInfo(error);
      if (info.code === 'INTERNAL') console.error(`serve: ${req.method} failed`, error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(httpStatus.get(info.code) ?? 500, { 'content-type': 'application/json' });
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
    const requested = path.resolve(uiDir, '.' + decodePath(url.pathname));
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
      headers['set-cookie'] = `${cookiePrefix}${port}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    }
    res.writeHead(200, headers);
    // pipeline closes the file when the client goes away, and an unreadable file ends only this answer.
    pipeline(fs.createReadStream(file), res, () => {});
    void req;
  };

  const sockets = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes });
  server.on('upgrade', (req, socket, head) => {
    // Once upgraded the http server no longer handles this socket's errors; an unhandled one would end the process.
    socket.on('error', () => socket.destroy());
    const refuse = (status: string, text: string) => {
      const response = `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${text}`;
      socket.end(response, () => socket.destroy());
    };
    if (!isAllowedHost(req.headers.host)) return refuse('403 Forbidden', wrongHostMessage(port));
    let url: URL;
    try {
      url = requestUrl(req);
    } catch {
      return refuse('400 Bad Request', 'Loupe: the address cannot be read.\n');
    }
    // Only a page this server served may open the socket: another local origin that holds the
    // cookie (a page on another 127.0.0.1 port is "same site") is refused.
    if (url.pathname !== serveRoutes.socket || !hasToken(req, url) || !isAllowedOrigin(req.headers.origin)) {
      return refuse('401 Unauthorized', 'Loupe: the socket needs the token, from a page this server served.\n');
    }
    sockets.handleUpgrade(req, socket, head, (ws) => attach(ws));
  });

  const attach = (ws: WebSocket) => {
    const send = (message: WsMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const unsubscribe = core.subscribe((event, payload) => send({ event, payload }));
    ws.on('close', unsubscribe);
    // A malformed frame (bad opcode, reserved bits, close code, UTF-8) or one over maxFrameBytes: ws
    // has already closed this socket with the matching code; the server and other sockets go on.
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      const parsed = parseRequest(toBuffer(data), isBinary);
      if ('error' in parsed) {
        const reply = { ok: false as const, error: parsed.error };
        send(parsed.id === null ? { id: null, reply } : { id: parsed.id, reply });
        return;
      }
      const request = parsed.request;
      void core.request(request.name, request.input).then((reply) => send({ id: request.id, reply }));
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
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
    // pipeline closes the file when the client cancels the load (scrolling away from a large image).
    pipeline(stream, res, () => {});
  });
}

/** The request's URL; its path must start with `/` (not an absolute or `//host` form). */
function requestUrl(req: http.IncomingMessage): URL {
  const target = req.url ?? '/';
  if (!target.startsWith('/') || target.startsWith('//')) {
    throw new LoupeError('VALIDATION', 'Loupe: the address must be a path on this server, such as /?token=…');
  }
  return new URL(target, 'http://127.0.0.1');
}

/** A URL path with its percent escapes decoded; a bad escape is a VALIDATION error (400). */
function decodePath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    throw new LoupeError('VALIDATION', 'Loupe: the address has a bad percent escape (each % must be followed by two hex digits).');
  }
}

function wrongHostMessage(port: number): string {
  return `Loupe: this server answers only at http://127.0.0.1:${port}, http://localhost:${port} or http://[::1]:${port}; open the address it printed.\n`;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

type Parsed = { request: WsRequest } | { id: number | null; error: ErrorInfo };

/** A WebSocket message as a request, or the error to answer it with (to its id when it has a usable one). */
function parseRequest(data: Buffer, isBinary: boolean): Parsed {
  const invalid = (id: number | null, message: string, details?: unknown): Parsed => ({
    id,
    error: details === undefined ? { code: 'VALIDATION', message } : { code: 'VALIDATION', message, details },
  });
  if (isBinary) return invalid(null, 'Loupe: requests are JSON text messages {"id", "name", "input"}, not binary.');
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return invalid(null, 'Loupe: a request must be JSON: {"id": number, "name": "area:verb", "input": {...}}.');
  }
  const fields = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  const id = fields && Number.isSafeInteger(fields.id) ? (fields.id as number) : null;
  if (data.length > maxRequestBytes) {
    return invalid(id, requestTooLargeMessage(data.length), { bytes: data.length, limitBytes: maxRequestBytes });
  }
  if (!fields || id === null) {
    return invalid(null, 'Loupe: a request must be a JSON object with an integer "id", a "name" and an "input".');
  }
  const { name, input } = fields;
  if (typeof name !== 'string') return invalid(id, 'Loupe: a request needs a "name" such as "project:current".');
  // The core refuses unknown names; a bounded one keeps a huge name from riding back in its message.
  if (name.length > textLimits.name) return invalid(id, `request name: at most ${textLimits.name} characters`);
  return { request: { id, name: name as WsRequest['name'], input } };
}

function parseCookie(header: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}
