/** The one api the UI talks to; it does not know whether IPC or WebSocket carries it. */
import type { ElectronBridge } from '../../../shared/bridge';
import type { LoupeApi } from '../../../shared/contract';
import { createIpcApi } from './ipc';
import { createWsApi } from './ws';

declare global {
  interface Window {
    loupeBridge?: ElectronBridge;
  }
}

/** Picks the Electron transport when the preload exposed its bridge, else serve mode's WebSocket. */
export function createApi(): LoupeApi {
  const bridge = window.loupeBridge;
  return bridge ? createIpcApi(bridge) : createWsApi();
}
