/**
 * The built GPU training page (out/renderer/trainer.html) in Chromium, driven as the app's window
 * host drives it: the page gets a MessagePort posted to its window (as its preload does), and this
 * side answers its batch streams with the real sharp feeder (batchServer.ts) and sends it the
 * training process's requests. Playwright cannot hand Node a MessagePort, so the port's other end
 * stays in the page and a small bridge relays messages to and from Node (typed arrays as arrays,
 * made typed again on the page's side and transferred through the port). LOUPE_TRAINER_CONSOLE=1
 * prints the page's console.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { batchServer } from '../../src/main/train/batchServer';
import type { FromWindow, GpuAdapterReport, ToWindow } from '../../src/main/train/windowProtocol';
import { chromiumPath } from './app';

const repo = path.resolve(import.meta.dirname, '../..');
const builtDir = path.join(repo, 'out/renderer');

/** Chromium flags for WebGPU on SwiftShader, headless (issue 13: Debian's Chromium gives an adapter with these). */
export const webgpuFlags = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan', '--disable-vulkan-surface'];

type Message = FromWindow & Record<string, unknown>;

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  logs: string[];
  emitted: unknown[];
}

/** A served copy of out/renderer on 127.0.0.1 (a secure context, as WebGPU needs; file:// would not load module scripts). */
async function serveBuilt(): Promise<{ url: string; close(): void }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
  const server = http.createServer((request, response) => {
    const file = path.join(builtDir, path.normalize(new URL(request.url!, 'http://x').pathname));
    if (!file.startsWith(builtDir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/trainer.html`, close: () => server.close() };
}

/** The page, its port bridged to Node. */
export class TrainerPage {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly server = batchServer((message) => void this.send(message));
  readonly errors: string[] = [];
  /** Set once the page said it is ready. */
  adapter: GpuAdapterReport | null = null;
  reason: string | null = null;

  private constructor(
    readonly browser: Browser,
    readonly page: Page,
    private readonly close_: () => void,
  ) {}

  /** Launches Chromium with WebGPU on SwiftShader, opens the page and hands it its port; resolves when it says ready. */
  static async open(): Promise<TrainerPage> {
    if (!fs.existsSync(path.join(builtDir, 'trainer.html'))) throw new Error('out/renderer/trainer.html is missing: run `npm run build` first');
    const served = await serveBuilt();
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', ...webgpuFlags] });
    const page = await browser.newPage();
    const host = new TrainerPage(browser, page, () => {
      served.close();
    });
    page.on('pageerror', (error) => host.errors.push(error.message));
    page.on('console', (message) => {
      if (process.env.LOUPE_TRAINER_CONSOLE) console.log(`[page ${message.type()}] ${message.text()}`);
      if (message.type() === 'error') host.errors.push(message.text());
    });
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    await page.exposeFunction('__loupeToNode', (message: Message) => {
      if (message.type === 'ready') {
        host.adapter = message.adapter as GpuAdapterReport | null;
        host.reason = message.reason as string | null;
        ready();
        return;
      }
      host.receive(message);
    });
    await page.goto(served.url);
    await page.waitForSelector('body[data-waiting="port"]', { state: 'attached' });
    await page.evaluate((portMessage) => {
      // The bridge: typed arrays and Maps become plain data for Node; batches become typed again and are transferred.
      const plain = (value: unknown): unknown => {
        if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
        if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]));
        if (Array.isArray(value)) return value.map(plain);
        if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
        return value;
      };
      const channel = new MessageChannel();
      const w = window as unknown as { __loupeToNode(m: unknown): void; __loupeSend(m: { type: string; batch?: { x: number[]; y: number[] } }): void };
      channel.port1.onmessage = (event) => w.__loupeToNode(plain(event.data));
      w.__loupeSend = (message) => {
        if (message.type === 'batch' && message.batch) {
          const x = Float32Array.from(message.batch.x);
          const y = Float32Array.from(message.batch.y);
          channel.port1.postMessage({ ...message, batch: { ...message.batch, x, y } }, [x.buffer, y.buffer]);
        } else {
          channel.port1.postMessage(message);
        }
      };
      window.postMessage(portMessage, '*', [channel.port2]);
    }, 'loupe-trainer-port');
    await isReady;
    return host;
  }

  /** Sends a request of the training process's protocol and resolves with its result. */
  run<T>(kind: string, input: unknown, logs: string[] = [], emitted: unknown[] = []): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, logs, emitted });
      void this.send({ type: 'run', id, kind, input });
    });
  }

  /** Batch streams open on this side (0 once the page has read or closed every one). */
  get openStreams(): number {
    return this.server.open;
  }

  private async send(message: ToWindow): Promise<void> {
    const wire = message.type === 'batch' ? { ...message, batch: { ...message.batch, x: Array.from(message.batch.x), y: Array.from(message.batch.y) } } : message;
    await this.page.evaluate((m) => (window as unknown as { __loupeSend(m: unknown): void }).__loupeSend(m), wire as unknown as Record<string, unknown>);
  }

  private receive(message: Message): void {
    switch (message.type) {
      case 'feed':
      case 'pull':
      case 'close':
        this.server.handle(message);
        return;
      case 'deviceLost':
        this.errors.push(`device lost: ${message.message}`);
        return;
      default:
        break;
    }
    const p = this.pending.get(message.id as number);
    if (!p) return;
    if (message.type === 'log') p.logs.push(message.line as string);
    if (message.type === 'emit') p.emitted.push(message.message);
    if (message.type === 'done') {
      this.pending.delete(message.id as number);
      p.resolve(message.result);
    }
    if (message.type === 'error') {
      this.pending.delete(message.id as number);
      const error = message.error as { code: string; message: string };
      p.reject(Object.assign(new Error(`${error.code}: ${error.message}`), { code: error.code }));
    }
  }

  async close(): Promise<void> {
    this.server.closeAll();
    await this.browser.close();
    this.close_();
  }
}
