/**
 * The host's side of the GPU page's batch streams (windowProtocol.ts): a `feed` opens one epoch of
 * the sharp feeder on this side, each `pull` sends the next batch (the feeder decodes ahead of the
 * pulls), `close` stops it. Used by the app's window host (electron/gpuHost.ts) and by the test
 * that drives the page in Chromium, so both feed the page the same way.
 */
import { feedBatches, type Batch } from '../augment/feeder';
import { toErrorInfo } from '../../shared/errors';
import type { FromWindow, ToWindow } from './windowProtocol';

type FeedMessage = Extract<FromWindow, { type: 'feed' | 'pull' | 'close' }>;

/** Open streams, answering through `post`. */
export interface BatchServer {
  /** Handles a feed, pull or close from the page. */
  handle(message: FeedMessage): void;
  /** Stops every stream (the page went away). */
  closeAll(): void;
  /** Streams open now. */
  readonly open: number;
}

/** Serves batch streams: `post` sends a message to the page (with the batch's buffers, where the port can transfer them). */
export function batchServer(post: (message: ToWindow, batch?: Batch) => void): BatchServer {
  const streams = new Map<number, { iterator: AsyncIterator<Batch>; controller: AbortController; busy: Promise<void> }>();

  const pull = (stream: number) => {
    const s = streams.get(stream);
    if (!s) return;
    // Pulls are answered in order: each waits for the one before.
    s.busy = s.busy.then(async () => {
      if (!streams.has(stream)) return;
      try {
        const next = await s.iterator.next();
        if (!streams.has(stream)) return;
        if (next.done) {
          streams.delete(stream);
          post({ type: 'end', stream });
        } else {
          post({ type: 'batch', stream, batch: next.value }, next.value);
        }
      } catch (error) {
        streams.delete(stream);
        if (!s.controller.signal.aborted) post({ type: 'feedError', stream, error: toErrorInfo(error) });
      }
    });
  };

  const close = (stream: number) => {
    const s = streams.get(stream);
    if (!s) return;
    streams.delete(stream);
    s.controller.abort();
    void s.busy.then(() => s.iterator.return?.()).catch(() => {});
  };

  return {
    handle(message) {
      switch (message.type) {
        case 'feed': {
          const controller = new AbortController();
          const iterator = feedBatches({ ...message.request, signal: controller.signal })[Symbol.asyncIterator]();
          streams.set(message.stream, { iterator, controller, busy: Promise.resolve() });
          return;
        }
        case 'pull':
          pull(message.stream);
          return;
        case 'close':
          close(message.stream);
          return;
      }
    },
    closeAll() {
      for (const stream of [...streams.keys()]) close(stream);
    },
    get open() {
      return streams.size;
    },
  };
}
