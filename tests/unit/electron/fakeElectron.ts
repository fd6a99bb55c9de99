/**
 * A small stand-in for the `electron` module (its binary cannot be downloaded here). It records
 * what the main process registers, and behaves like Electron where the main process relies on it:
 * every new BrowserWindow's web contents is announced through `web-contents-created`.
 * A test file mocks `electron` with `fake.module`, sets `fake.module.app.isPackaged`, then imports
 * src/main/electron/index.
 */
import childProcess from 'node:child_process';
import { MessageChannel, type MessagePort } from 'node:worker_threads';

type Listener = (...args: unknown[]) => unknown;

/** An event the guards may cancel, as Electron passes to will-navigate and its kin. */
export interface FakeEvent {
  url?: string;
  defaultPrevented: boolean;
  preventDefault(): void;
}

export function fakeEvent(url?: string): FakeEvent {
  return {
    url,
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
  };
}

/** Listeners by event name, emitted by hand. */
class Emitter {
  readonly listeners = new Map<string, Listener[]>();
  on(name: string, listener: Listener) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), listener]);
    return this;
  }
  emit(name: string, ...args: unknown[]) {
    for (const listener of this.listeners.get(name) ?? []) listener(...args);
  }
}

export class FakeWebContents extends Emitter {
  readonly mainFrame = { url: '' };
  windowOpenHandler: ((details: { url: string }) => { action: string }) | null = null;
  /** What the main process posted to the page (webContents.postMessage), ports included. */
  readonly posted: Array<{ channel: string; message: unknown; ports: FakeMessagePortMain[] }> = [];
  destroyed = false;
  send() {}
  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }) {
    this.windowOpenHandler = handler;
  }
  once(name: string, listener: Listener) {
    const wrapped: Listener = (...args) => {
      this.listeners.set(name, (this.listeners.get(name) ?? []).filter((l) => l !== wrapped));
      return listener(...args);
    };
    return this.on(name, wrapped);
  }
  postMessage(channel: string, message: unknown, ports: FakeMessagePortMain[] = []) {
    this.posted.push({ channel, message, ports });
    this.emit('fake-posted', channel, ports);
  }
  isDestroyed() {
    return this.destroyed;
  }
  getOSProcessId() {
    return 4242;
  }
}

/**
 * Electron's MessagePortMain over a Node MessagePort (structured clone, as Electron's): messages
 * arrive as events with `data`, after start(). `node` is the Node port, for a test playing the page.
 */
export class FakeMessagePortMain extends Emitter {
  closed = false;
  constructor(
    readonly node: MessagePort,
    listen = true,
  ) {
    super();
    if (listen) node.on('message', (data: unknown) => this.emit('message', { data, ports: [] }));
    // Node ports start on their first 'message' listener; hold delivery until start() as Electron does.
    node.unref();
  }
  start() {}
  postMessage(message: unknown) {
    if (!this.closed) this.node.postMessage(message);
  }
  close() {
    this.closed = true;
    this.node.close();
  }
}

class FakeMessageChannelMain {
  readonly port1: FakeMessagePortMain;
  readonly port2: FakeMessagePortMain;
  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port1 = new FakeMessagePortMain(port1);
    // The page's end: a test playing the page reads and writes it through `.node`.
    this.port2 = new FakeMessagePortMain(port2, false);
  }
}

const app = new (class extends Emitter {
  isPackaged = false;
  /** Switches appended before ready (app.commandLine.appendSwitch). */
  readonly switches: Array<[string, string | undefined]> = [];
  readonly commandLine = { appendSwitch: (name: string, value?: string) => this.switches.push([name, value]) };
  private ready: () => void = () => {};
  private readonly readyPromise = new Promise<void>((resolve) => (this.ready = resolve));
  whenReady() {
    return this.readyPromise;
  }
  fireReady() {
    this.ready();
  }
  quit() {}
})();

const windows: FakeBrowserWindow[] = [];

class FakeBrowserWindow extends Emitter {
  readonly webContents = new FakeWebContents();
  url: string | null = null;
  destroyed = false;
  constructor(readonly options: Record<string, unknown>) {
    super();
    windows.push(this);
    app.emit('web-contents-created', fakeEvent(), this.webContents);
  }
  loadURL(url: string) {
    this.url = url;
    this.webContents.mainFrame.url = url;
    // The page has loaded: as Electron, did-finish-load follows loadURL.
    queueMicrotask(() => this.webContents.emit('did-finish-load'));
    return Promise.resolve();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.webContents.destroyed = true;
    this.emit('closed');
  }
  isDestroyed() {
    return this.destroyed;
  }
  static getAllWindows() {
    return windows;
  }
}

type PermissionRequest = (contents: unknown, permission: string, callback: (granted: boolean) => void, details: unknown) => void;
type PermissionCheck = (contents: unknown, permission: string, origin: string, details: unknown) => boolean;

const defaultSession = {
  permissionRequest: null as PermissionRequest | null,
  permissionCheck: null as PermissionCheck | null,
  setPermissionRequestHandler(handler: PermissionRequest) {
    this.permissionRequest = handler;
  },
  setPermissionCheckHandler(handler: PermissionCheck) {
    this.permissionCheck = handler;
  },
};

/**
 * utilityProcess.fork as a forked Node child given the `process.parentPort` a utility process has
 * (parentPortShim.mjs), so the real training process runs behind the app's spawner.
 */
class FakeUtilityProcess extends Emitter {
  private readonly child: import('node:child_process').ChildProcess;
  constructor(file: string, args: string[], options: { execArgv?: string[] }) {
    super();
    const shim = new URL('./parentPortShim.mjs', import.meta.url).href;
    this.child = childProcess.fork(file, args, {
      execArgv: ['--import', shim, ...(options.execArgv ?? [])],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (envelope) => this.emit('message', (envelope as { parentPort: unknown }).parentPort));
    this.child.once('exit', (code) => this.emit('exit', code ?? 1));
  }
  get pid() {
    return this.child.pid;
  }
  once(name: string, listener: Listener) {
    const wrapped: Listener = (...args) => {
      this.listeners.set(name, (this.listeners.get(name) ?? []).filter((l) => l !== wrapped));
      return listener(...args);
    };
    return this.on(name, wrapped);
  }
  postMessage(message: unknown) {
    this.child.send({ parentPort: message } as import('node:child_process').Serializable);
  }
  kill() {
    return this.child.kill();
  }
}
const utilityForks: FakeUtilityProcess[] = [];

const handlers = new Map<string, (event: unknown, input: unknown) => Promise<unknown>>();
let protocolHandler: ((request: Request) => Promise<Response>) | null = null;

export const fake = {
  handlers,
  utilityForks,
  windows,
  app,
  defaultSession,
  get protocolHandler() {
    return protocolHandler;
  },
  module: {
    app,
    BrowserWindow: FakeBrowserWindow,
    MessageChannelMain: FakeMessageChannelMain,
    session: { defaultSession },
    utilityProcess: {
      fork: (file: string, args: string[] = [], options: { execArgv?: string[] } = {}) => {
        const child = new FakeUtilityProcess(file, args, options);
        utilityForks.push(child);
        return child;
      },
    },
    ipcMain: {
      handle: (channel: string, handler: (event: unknown, input: unknown) => Promise<unknown>) => handlers.set(channel, handler),
    },
    // Electron's net.fetch reads file:// URLs; Node's fetch does not, so read the file here.
    net: {
      fetch: async (url: string) => {
        const fs = await import('node:fs/promises');
        return new Response(await fs.readFile(new URL(url)), { headers: { 'content-type': 'application/octet-stream' } });
      },
    },
    protocol: {
      registerSchemesAsPrivileged: () => {},
      handle: (_scheme: string, handler: (request: Request) => Promise<Response>) => (protocolHandler = handler),
    },
  },
};
