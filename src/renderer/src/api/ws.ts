/**
 * The serve-mode transport: one WebSocket carries requests, replies and pushed events.
 * Calls made while the socket is down wait for it; calls in flight when it drops are rejected,
 * and the socket reconnects with a growing delay.
 */
import { maxRequestBytes, requestTooLargeMessage, serveRoutes, tokenParam } from '../../../shared/bridge';
import type { WsMessage } from '../../../shared/bridge';
import type { LoupeApi, RequestName, RequestOutput } from '../../../shared/contract';
import { LoupeError, isErrorInfo } from '../../../shared/errors';
import { EventHub } from './events';

const tokenKey = 'loupe.token';

/** The serve-mode token: from the page URL when present (and remembered), else the one remembered. */
export function readToken(): string {
  const fromUrl = new URLSearchParams(location.search).get(tokenParam);
  if (fromUrl) {
    try {
      sessionStorage.setItem(tokenKey, fromUrl);
    } catch {
      // Storage can be unavailable (private mode); the URL still carries the token.
    }
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(tokenKey) ?? '';
  } catch {
    return '';
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  name: RequestName;
  /** Sent on a socket: its reply is lost if that socket closes. Unsent calls wait for the next one. */
  isSent: boolean;
}

/** Builds the api over a WebSocket to the serve-mode server that served this page. */
export function createWsApi(): LoupeApi {
  const token = readToken();
  const hub = new EventHub();
  const pending = new Map<number, Pending>();
  /** Requests not sent yet, already serialised. */
  const outbox: Array<{ id: number; text: string }> = [];
  let nextId = 1;
  let socket: WebSocket | null = null;
  let retryDelay = 250;
  let hasConnected = false;

  const socketUrl = (): string => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${serveRoutes.socket}?${tokenParam}=${encodeURIComponent(token)}`;
  };

  const withToken = (path: string): string => `${path}?${tokenParam}=${encodeURIComponent(token)}`;

  const flush = (): void => {
    while (socket && socket.readyState === WebSocket.OPEN && outbox.length > 0) {
      const request = outbox.shift();
      if (!request) continue;
      socket.send(request.text);
      const waiting = pending.get(request.id);
      if (waiting) waiting.isSent = true;
    }
  };

  const onMessage = (raw: MessageEvent): void => {
    let message: WsMessage;
    try {
      message = JSON.parse(String(raw.data)) as WsMessage;
    } catch {
      console.error('unreadable message from Loupe', raw.data);
      return;
    }
    if ('event' in message) {
      hub.emit(message.event, message.payload);
      return;
    }
    if (message.id === null) {
      console.error('Loupe could not read a message from this page', message.reply.error);
      return;
    }
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    const reply = message.reply;
    if (reply.ok) waiting.resolve(reply.value);
    else if (isErrorInfo(reply.error)) waiting.reject(new LoupeError(reply.error.code, reply.error.message, reply.error.details));
    else waiting.reject(new LoupeError('INTERNAL', `Malformed reply to ${waiting.name}`));
  };

  const connect = (): void => {
    const ws = new WebSocket(socketUrl());
    socket = ws;
    ws.addEventListener('open', () => {
      retryDelay = 250;
      const isReconnect = hasConnected;
      hasConnected = true;
      flush();
      if (isReconnect) void resync();
    });
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', () => {
      if (socket !== ws) return;
      socket = null;
      // Replies to calls already sent will never come on a new socket; calls not sent yet go on the next.
      for (const [id, waiting] of pending) {
        if (!waiting.isSent) continue;
        pending.delete(id);
        waiting.reject(new LoupeError('IO', `Lost the connection to Loupe during ${waiting.name}; reconnecting`));
      }
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 5000);
    });
  };

  const call = <N extends RequestName>(name: N, input: unknown): Promise<RequestOutput<N>> =>
    new Promise<RequestOutput<N>>((resolve, reject) => {
      const id = nextId++;
      const text = JSON.stringify({ id, name, input });
      // UTF-8 takes at most 3 bytes per UTF-16 unit, so most requests need no encoding to measure.
      const bytes = text.length * 3 <= maxRequestBytes ? 0 : new TextEncoder().encode(text).byteLength;
      if (bytes > maxRequestBytes) {
        // The server would refuse it; said here, without sending megabytes first.
        reject(new LoupeError('VALIDATION', `${name}: ${requestTooLargeMessage(bytes)}`, { bytes, limitBytes: maxRequestBytes }));
        return;
      }
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject, name, isSent: false });
      outbox.push({ id, text });
      flush();
    });

  // After a reconnect events may have been missed: tell the UI to reload what it shows.
  const resync = async (): Promise<void> => {
    try {
      const project = await call('project:current', {});
      hub.emit('project:changed', project);
    } catch (error) {
      console.error('resync after reconnect failed', error);
    }
  };

  connect();

  return {
    call: (name, input) => call(name, input),
    on: (event, listener) => hub.on(event, listener),
    thumbUrl: (id) => withToken(serveRoutes.thumb(id)),
    imageUrl: (id) => withToken(serveRoutes.image(id)),
    previewUrl: (previewId, index) => withToken(serveRoutes.preview(previewId, index)),
  };
}
