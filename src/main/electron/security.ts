/**
 * The Electron app's security guards, each in one place: which page is ours, what every web
 * contents may do (no webviews, no new windows, no navigation or redirect off our page), the
 * permissions Loupe grants (none), and the headers on every loupe:// response.
 */
import type { Session, WebContents } from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { contentSecurityPolicy } from '../../shared/csp';

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The renderer page the app loads and trusts. Only a development build (not packaged) honours
 * electron-vite's `ELECTRON_RENDERER_URL`, and only for its loopback dev server.
 */
export function rendererUrl(options: { isPackaged: boolean; env: NodeJS.ProcessEnv; builtDir: string }): string {
  const built = pathToFileURL(path.join(options.builtDir, 'index.html')).href;
  const dev = options.env.ELECTRON_RENDERER_URL;
  if (options.isPackaged || dev === undefined) return built;
  const parsed = URL.canParse(dev) ? new URL(dev) : null;
  if (!parsed || parsed.protocol !== 'http:' || !loopbackHosts.has(parsed.hostname)) {
    throw new Error(
      `ELECTRON_RENDERER_URL must be the dev server on http://localhost (it is "${dev}"); unset it to load the built renderer.`,
    );
  }
  return parsed.href;
}

// file:// URLs all share the origin "null": compare the page itself, without query or hash.
function pageOf(url: string): string | null {
  if (!URL.canParse(url)) return null;
  const parsed = new URL(url);
  parsed.hash = '';
  parsed.search = '';
  return parsed.href;
}

/** Whether `url` is our renderer page (any query or hash). */
export function isOwnPage(url: string, ownPage: string): boolean {
  const page = pageOf(url);
  return page !== null && page === pageOf(ownPage);
}

/** The app-wide guard, for every web contents Electron creates (windows, and anything else). */
export function guardWebContents(contents: WebContents, ownPage: string): void {
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  const stayOnOwnPage = (event: { url: string; preventDefault(): void }) => {
    if (!isOwnPage(event.url, ownPage)) event.preventDefault();
  };
  contents.on('will-navigate', stayOnOwnPage);
  contents.on('will-redirect', stayOnOwnPage);
}

/** Loupe uses no web permission (camera, notifications, clipboard, devices...): deny every request and check. */
export function denyPermissions(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}

/** The same response with the renderer's CSP and `nosniff`, for every loupe:// answer. */
export function withSecurityHeaders(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set('content-security-policy', contentSecurityPolicy);
  headers.set('x-content-type-options', 'nosniff');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
