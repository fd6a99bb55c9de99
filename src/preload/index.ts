/**
 * The preload: exposes one function per contract request and an event subscription, nothing more.
 * No logic lives here; validation happens in the core.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { ElectronBridge } from '../shared/bridge';
import { ipcChannel, requestNames, type EventName } from '../shared/contract';
import type { Reply } from '../shared/errors';

const request = Object.fromEntries(
  requestNames.map((name) => [
    name,
    (input: unknown) => ipcRenderer.invoke(ipcChannel.request(name), input) as Promise<Reply<unknown>>,
  ]),
) as ElectronBridge['request'];

const bridge: ElectronBridge = {
  request,
  subscribe(listener) {
    const handler = (_event: unknown, message: { event: EventName; payload: unknown }) =>
      listener(message.event, message.payload);
    ipcRenderer.on(ipcChannel.event, handler);
    return () => ipcRenderer.off(ipcChannel.event, handler);
  },
};

contextBridge.exposeInMainWorld('loupeBridge', bridge);
