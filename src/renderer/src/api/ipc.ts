/** The Electron transport: calls go through the preload's `window.loupeBridge`, images through `loupe://`. */
import type { ElectronBridge } from '../../../shared/bridge';
import { imageScheme } from '../../../shared/bridge';
import type { EventName, LoupeApi, RequestName, RequestOutput } from '../../../shared/contract';
import { LoupeError } from '../../../shared/errors';
import type { Reply } from '../../../shared/errors';
import { EventHub } from './events';

/** Builds the api over the Electron bridge. */
export function createIpcApi(bridge: ElectronBridge): LoupeApi {
  const hub = new EventHub();
  bridge.subscribe((event: EventName, payload: unknown) => hub.emit(event, payload));

  return {
    async call<N extends RequestName>(name: N, input: unknown): Promise<RequestOutput<N>> {
      const fn = bridge.request[name];
      if (typeof fn !== 'function') throw new LoupeError('INTERNAL', `The app does not know the request ${name}`);
      const reply = (await fn(input)) as Reply<RequestOutput<N>>;
      if (reply.ok) return reply.value;
      throw new LoupeError(reply.error.code, reply.error.message, reply.error.details);
    },
    on: (event, listener) => hub.on(event, listener),
    thumbUrl: (id) => `${imageScheme}://thumb/${id}`,
    imageUrl: (id) => `${imageScheme}://image/${id}`,
    previewUrl: (previewId, index) => `${imageScheme}://preview/${encodeURIComponent(previewId)}/${index}`,
  };
}
