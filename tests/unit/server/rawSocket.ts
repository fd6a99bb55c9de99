/**
 * A `loupe serve` child process, and a WebSocket spoken by hand over a plain `net` socket so that
 * tests can send frames no well-behaved client would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';

const repo = path.resolve(import.meta.dirname, '../../..');

/** A running `loupe serve`. */
export interface Served {
  port: number;
  token: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `node bin/loupe.mjs serve --project P --port 0` and reads the address it prints. */
export async function startServe(projectFile: string): Promise<Served> {
  const child = spawn(process.execPath, [path.join(repo, 'bin/loupe.mjs'), 'serve', '--project', projectFile, '--port', '0'], {
    cwd: repo,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  // The printed line is "Loupe is serving at URL" (or JSON with --json); either carries the URL.
  const url = await new Promise<URL>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const found = /http:\/\/[^\s"]+/.exec(line);
      if (found) resolve(new URL(found[0]));
    });
    child.once('exit', (code) => reject(new Error(`loupe serve exited with ${code}: ${stderr}`)));
  });
  return {
    port: Number(url.port),
    token: url.searchParams.get('token') ?? '',
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** What a test sends in one frame. */
export interface FrameSpec {
  opcode: number;
  payload?: Buffer;
  fin?: boolean;
  /** RSV1..3 as the bits 0x40, 0x20, 0x10. */
  rsv?: number;
  masked?: boolean;
  /** A length to announce instead of the payload's (the payload is then not sent). */
  announcedLength?: bigint;
}

/** One client frame's bytes. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const length = spec.announcedLength ?? BigInt(payload.length);
  const masked = spec.masked ?? true;
  const first = ((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode;
  let header: Buffer;
  if (length < 126n) {
    header = Buffer.from([first, Number(length)]);
  } else if (length < 65536n) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 127;
    header.writeBigUInt64BE(length, 2);
  }
  if (masked) header[1]! |= 0x80;
  if (spec.announcedLength !== undefined) return masked ? Buffer.concat([header, randomBytes(4)]) : header;
  if (!masked) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  const body = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i]! ^ key[i % 4]!;
  return Buffer.concat([header, key, body]);
}

/** A frame from the server (never masked). */
export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** A WebSocket opened by a real upgrade handshake, then spoken frame by frame. */
export class RawSocket {
  readonly frames: ServerFrame[] = [];
  isEnded = false;
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {}

  /** Connects and upgrades; rejects with the status line when the server refuses. `headers` add to or replace the handshake's. */
  static open(port: number, token: string, headers: Record<string, string> = {}): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const raw = new RawSocket(socket);
      let head = Buffer.alloc(0);
      let isUpgraded = false;
      socket.on('error', reject);
      socket.on('close', () => {
        raw.isEnded = true;
        raw.wake();
        if (!isUpgraded) reject(new Error(`closed before the upgrade: ${head.toString('latin1').split('\r\n')[0]}`));
      });
      socket.on('data', (chunk: Buffer) => {
        if (isUpgraded) return raw.receive(chunk);
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
        if (!status.startsWith('HTTP/1.1 101')) return reject(new Error(status));
        isUpgraded = true;
        resolve(raw);
        raw.receive(head.subarray(end + 4));
      });
      const all = new Map<string, string>([
        ['Host', `127.0.0.1:${port}`],
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
        ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
        ['Sec-WebSocket-Version', '13'],
        ...Object.entries(headers),
      ]);
      const lines = [`GET /ws?token=${encodeURIComponent(token)} HTTP/1.1`, ...[...all].map(([k, v]) => `${k}: ${v}`)];
      socket.write(lines.join('\r\n') + '\r\n\r\n');
    });
  }

  /** Writes bytes as they are. */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      // A server that closed mid-write answers EPIPE/ECONNRESET: the test then reads what came back.
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Sends a masked text frame. */
  sendText(text: string): Promise<void> {
    return this.write(encodeFrame({ opcode: 0x1, payload: Buffer.from(text) }));
  }

  /** The close code the server sent, once the connection ended (null: it ended without one). */
  async closeCode(): Promise<number | null> {
    await this.until(() => this.isEnded);
    const close = this.frames.find((f) => f.opcode === 0x8);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : null;
  }

  /** The next text message that carries an `id` field (events are skipped). */
  async reply(): Promise<{ id: number | null; reply: { ok: boolean; value?: unknown; error?: { code: string; message: string; details?: unknown } } }> {
    let seen = 0;
    for (;;) {
      await this.until(() => this.frames.length > seen || this.isEnded);
      if (this.frames.length === seen) throw new Error('the socket ended without a reply');
      const frame = this.frames[seen++]!;
      if (frame.opcode !== 0x1) continue;
      const message = JSON.parse(frame.payload.toString('utf8')) as Record<string, unknown>;
      if ('id' in message) {
        this.frames.splice(0, seen);
        return message as never;
      }
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.buffer.length < 2) break;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) break;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) break;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) break;
      this.frames.push({ opcode: this.buffer[0]! & 0x0f, payload: this.buffer.subarray(offset, offset + length) });
      this.buffer = this.buffer.subarray(offset + length);
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private until(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => (condition() ? resolve() : this.waiters.push(check));
      this.waiters.push(check);
    });
  }
}
