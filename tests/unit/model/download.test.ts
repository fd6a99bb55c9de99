import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadFile } from '../../../src/main/model/download';
import { tempDir } from '../../helpers/fixtures';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A 127.0.0.1 server for one file that honours Range; `dropFirst` cuts the first response after that many bytes. */
async function serveFile(body: Buffer, options: { dropFirst?: number; redirect?: boolean } = {}) {
  const requests: Array<{ range: string | undefined }> = [];
  const server = http.createServer((req, res) => {
    if (options.redirect && req.url === '/moved') {
      res.writeHead(302, { location: '/file' });
      res.end();
      return;
    }
    requests.push({ range: req.headers.range });
    const match = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = match ? Number(match[1]) : 0;
    const slice = body.subarray(start);
    res.writeHead(match ? 206 : 200, {
      'content-length': slice.length,
      ...(match ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (requests.length === 1 && options.dropFirst !== undefined) {
      res.write(slice.subarray(0, options.dropFirst), () => res.socket?.destroy());
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('downloadFile', () => {
  it('downloads with progress, follows a redirect, verifies the checksum, and reuses the cached file', async () => {
    const body = randomBytes(300_000);
    const { url } = await serveFile(body, { redirect: true });
    const dest = path.join(tempDir(), 'cache', 'model.onnx');
    const progress: number[] = [];
    const result = await downloadFile({ url: `${url}/moved`, sha256: sha(body), dest, onProgress: (r) => progress.push(r) });
    expect(result).toMatchObject({ bytes: body.length, resumes: 0, isCached: false });
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
    expect(progress.at(-1)).toBe(body.length);
    expect(progress.length).toBeGreaterThan(1);
    expect((await downloadFile({ url: `${url}/moved`, sha256: sha(body), dest })).isCached).toBe(true);
  });

  it('resumes with a Range request after the connection drops', async () => {
    const body = randomBytes(500_000);
    const { url, requests } = await serveFile(body, { dropFirst: 200_000 });
    const dest = path.join(tempDir(), 'model.onnx');
    const result = await downloadFile({ url: `${url}/file`, sha256: sha(body), dest });
    expect(result.resumes).toBe(1);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.range).toBeUndefined();
    const resumedAt = Number(/bytes=(\d+)-/.exec(requests[1]!.range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(200_000);
    expect(fs.readFileSync(dest).equals(body)).toBe(true);
    expect(fs.existsSync(`${dest}.part`)).toBe(false);
  });

  it('refuses a file whose checksum does not match, and leaves nothing behind', async () => {
    const body = randomBytes(10_000);
    const { url } = await serveFile(body);
    const dest = path.join(tempDir(), 'model.onnx');
    await expect(downloadFile({ url: `${url}/file`, sha256: sha(Buffer.from('something else')), dest })).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringMatching(/does not match its checksum/),
    });
    expect(fs.existsSync(dest)).toBe(false);
    expect(fs.existsSync(`${dest}.part`)).toBe(false);
  });
});
