/**
 * What each transport puts on the wire. The renderer's api client speaks these; the Electron
 * preload and the serve-mode server implement them. Kept here so both ends read one definition.
 */
import type { ErrorInfo, Reply } from './errors';
import type { EventName, RequestName } from './contract';

/** The object the Electron preload exposes as `window.loupeBridge`: one function per request, no generic channel. */
export interface ElectronBridge {
  request: Record<RequestName, (input: unknown) => Promise<Reply<unknown>>>;
  /** Listen to every pushed event; returns the unsubscribe. */
  subscribe(listener: (event: EventName, payload: unknown) => void): () => void;
}

/** Electron serves images through this scheme: `loupe://thumb/<id>` and `loupe://image/<id>`. */
export const imageScheme = 'loupe';

/** A WebSocket message from the UI to serve mode. */
export interface WsRequest {
  id: number;
  name: RequestName;
  input: unknown;
}

/**
 * A WebSocket message from serve mode to the UI: a reply to a request, or a pushed event. A message
 * that was not a request, or carried no usable id, is answered with `id: null` and an error.
 */
export type WsMessage =
  | { id: number; reply: Reply<unknown> }
  | { id: null; reply: { ok: false; error: ErrorInfo } }
  | { event: EventName; payload: unknown };

/**
 * The largest request serve mode reads, in bytes of JSON: room for the largest selection the
 * contract takes (1,000,000 image ids). A larger one is answered with a VALIDATION error.
 */
export const maxRequestBytes = 8 * 1024 * 1024;

/** The message of a request over `maxRequestBytes`, shared by the server and the UI's client. */
export function requestTooLargeMessage(bytes: number): string {
  const mib = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `The request is ${mib(bytes)}; serve mode takes at most ${mib(maxRequestBytes)} per request. Send a smaller selection, or split it into several requests.`;
}

/** Serve mode's routes; every one needs the token (query `token`, header `x-loupe-token` or the session cookie). */
export const serveRoutes = {
  socket: '/ws',
  thumb: (id: number) => `/thumb/${id}`,
  image: (id: number) => `/image/${id}`,
  preview: (previewId: string, index: number) => `/preview/${encodeURIComponent(previewId)}/${index}`,
} as const;

/** Query parameter that carries serve mode's token. */
export const tokenParam = 'token';
