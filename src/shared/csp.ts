/**
 * The renderer's Content-Security-Policy, in one place: the build writes it into index.html's meta
 * tag (electron.vite.config.ts) and the Electron app sends it as a header on every loupe:// response.
 */
export const contentSecurityPolicy =
  "default-src 'self'; img-src 'self' loupe: data: blob:; connect-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'";
