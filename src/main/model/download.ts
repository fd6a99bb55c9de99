/**
 * Downloads a pinned file: progress, resume with an HTTP Range request after a dropped connection,
 * redirects followed, and a sha256 that must match before the file takes its final name.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';

/** What to download and where. */
export interface DownloadOptions {
  url: string;
  /** Expected sha256 (hex). */
  sha256: string;
  dest: string;
  /** Called with bytes so far and the total when known. */
  onProgress?: (received: number, total: number | null) => void;
  signal?: AbortSignal;
  /** Attempts after a dropped connection, each resuming where the last stopped. */
  retries?: number;
  /** Milliseconds without data before a connection counts as dropped. */
  idleTimeoutMs?: number;
}

/** What a download did. */
export interface DownloadResult {
  file: string;
  bytes: number;
  sha256: string;
  /** How many times it resumed after a dropped connection. */
  resumes: number;
  /** True when the file was already there with the right checksum. */
  isCached: boolean;
}

/** Downloads `url` to `dest` (via `dest.part`), resuming and verifying; returns when the file is complete. */
export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const { dest, sha256 } = options;
  const expected = sha256.toLowerCase();
  if (fs.existsSync(dest) && (await hashFile(dest)) === expected) {
    return { file: dest, bytes: fs.statSync(dest).size, sha256: expected, resumes: 0, isCached: true };
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const retries = options.retries ?? 5;
  let resumes = 0;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted?.();
    const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
    if (have > 0 && attempt > 0) resumes++;
    try {
      await fetchInto(options, part, have);
      break;
    } catch (error) {
      if (options.signal?.aborted) throw new LoupeError('CANCELLED', 'The download was cancelled.');
      if (error instanceof LoupeError || attempt >= retries) {
        throw error instanceof LoupeError
          ? error
          : new LoupeError('IO', `Download of ${options.url} failed: ${(error as Error).message}`, { url: options.url });
      }
    }
  }
  const actual = await hashFile(part);
  if (actual !== expected) {
    fs.rmSync(part, { force: true });
    throw new LoupeError('IO', `The file from ${options.url} does not match its checksum (sha256 ${actual}, expected ${expected}); it was deleted.`, {
      url: options.url,
      expected,
      actual,
    });
  }
  fs.renameSync(part, dest);
  return { file: dest, bytes: fs.statSync(dest).size, sha256: actual, resumes, isCached: false };
}

/** sha256 of a file, hex. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function fetchInto(options: DownloadOptions, part: string, have: number, url = options.url, redirects = 0): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const client = url.startsWith('https:') ? https : url.startsWith('http:') ? http : null;
    if (!client) return reject(new LoupeError('VALIDATION', `Unsupported download address ${url}.`));
    const headers: Record<string, string> = { 'user-agent': 'loupe' };
    if (have > 0) headers.range = `bytes=${have}-`;
    const request = client.get(url, { headers, signal: options.signal }, (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location) {
        response.resume();
        if (redirects >= 5) return reject(new LoupeError('IO', `Too many redirects from ${options.url}.`));
        const next = new URL(response.headers.location, url).toString();
        fetchInto(options, part, have, next, redirects + 1).then(resolve, reject);
        return;
      }
      if (status === 416 && have > 0) {
        // The part file is already complete (or wrong): let the checksum decide.
        response.resume();
        return resolve();
      }
      if (status !== 200 && status !== 206) {
        response.resume();
        return reject(new LoupeError('IO', `Download of ${options.url} failed: HTTP ${status}.`, { url: options.url, status }));
      }
      // 200 to a Range request means the server ignores ranges: start over.
      const isResume = status === 206 && have > 0;
      const start = isResume ? have : 0;
      const length = Number(response.headers['content-length'] ?? NaN);
      const total = Number.isFinite(length) ? start + length : null;
      const out = fs.createWriteStream(part, { flags: isResume ? 'a' : 'w' });
      let received = start;
      let idle: ReturnType<typeof setTimeout> | null = null;
      const armIdle = () => {
        if (idle) clearTimeout(idle);
        idle = setTimeout(() => request.destroy(new Error('no data for too long')), options.idleTimeoutMs ?? 30_000);
      };
      armIdle();
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        armIdle();
        options.onProgress?.(received, total);
      });
      const fail = (error: Error) => {
        if (idle) clearTimeout(idle);
        out.end(() => reject(error));
      };
      response.on('aborted', () => fail(new Error('connection dropped')));
      response.on('error', fail);
      response.pipe(out);
      out.on('finish', () => {
        if (idle) clearTimeout(idle);
        if (total !== null && received < total) reject(new Error(`connection dropped at ${received} of ${total} bytes`));
        else resolve();
      });
    });
    request.on('error', reject);
  });
}
