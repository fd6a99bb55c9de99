/**
 * Hostile WebSocket input against a real `loupe serve` child process: broken frames close only their
 * own socket, bad messages get an error reply, and afterwards a fresh, proper client still gets answers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxRequestBytes } from '../../../src/shared/bridge';
import { hostileInputs } from './hostileInputs';
import { RawSocket, startServe, type Served } from './rawSocket';

/** A proper client (the `ws` package) asks for the open project and returns the reply. */
async function properRequest(port: number, token: string): Promise<{ ok: boolean; value?: { file: string } | null }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`);
  try {
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const reply = new Promise<{ id: number; reply: { ok: boolean; value?: { file: string } | null } }>((resolve) => {
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { id?: number };
        if (message.id === 1) resolve(message as never);
      });
    });
    socket.send(JSON.stringify({ id: 1, name: 'project:current', input: {} }));
    return (await reply).reply;
  } finally {
    socket.close();
  }
}

let served: Served;
let dir: string;
const projectFile = () => path.join(dir, 'hostile.loupe');

// `loupe serve` serves the contract whether or not the UI is built, so this runs before the build.
describe('loupe serve under hostile WebSocket input', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-hostile-'));
    served = await startServe(projectFile());
  });
  afterAll(async () => {
    await served?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers a proper client before anything hostile', async () => {
    const reply = await properRequest(served.port, served.token);
    expect(reply.ok).toBe(true);
    expect(reply.value?.file).toBe(projectFile());
  });

  it.each(hostileInputs.map((input) => [input.name, input] as const))('%s: handled, and the server answers afterwards', async (_name, input) => {
    const raw = await RawSocket.open(served.port, served.token);
    try {
      for (const frame of input.frames()) await raw.write(frame);
      if ('closes' in input.outcome) {
        expect(await raw.closeCode()).toBe(input.outcome.closes);
      } else {
        const message = await raw.reply();
        expect(message.id).toBe(input.outcome.replies);
        expect(message.reply.ok).toBe(false);
        expect(message.reply.error?.code).toBe('VALIDATION');
        // The error names the problem without echoing megabytes of input back.
        expect(JSON.stringify(message).length).toBeLessThan(4000);
        // That socket is still open and still works.
        await raw.sendText(JSON.stringify({ id: 99, name: 'project:current', input: {} }));
        const after = await raw.reply();
        expect([after.id, after.reply.ok]).toEqual([99, true]);
      }
    } finally {
      raw.destroy();
    }
    expect(served.child.exitCode, served.stderr()).toBeNull();
    expect((await properRequest(served.port, served.token)).ok).toBe(true);
  });

  it('says how large a request may be, in MiB, with the limit in the details', async () => {
    const raw = await RawSocket.open(served.port, served.token);
    try {
      await raw.sendText(JSON.stringify({ id: 5, name: 'images:relabel', input: { ids: [1], className: 'y'.repeat(maxRequestBytes) } }));
      const message = await raw.reply();
      expect(message.reply.error?.message).toContain('at most 8.0 MiB per request');
      expect(message.reply.error?.details).toMatchObject({ limitBytes: maxRequestBytes });
    } finally {
      raw.destroy();
    }
  });

  it('gives a class name over 200 characters a VALIDATION error that says the limit', async () => {
    const raw = await RawSocket.open(served.port, served.token);
    try {
      await raw.sendText(JSON.stringify({ id: 6, name: 'classes:create', input: { name: 'c'.repeat(201) } }));
      const message = await raw.reply();
      expect(message.reply.error?.code).toBe('VALIDATION');
      expect(message.reply.error?.message).toContain('class name: at most 200 characters');
    } finally {
      raw.destroy();
    }
  });

  it(`tried ${hostileInputs.length} hostile inputs and the server still runs`, async () => {
    expect(hostileInputs.length).toBeGreaterThanOrEqual(30);
    expect(served.child.exitCode).toBeNull();
    expect((await properRequest(served.port, served.token)).ok).toBe(true);
  });
});
