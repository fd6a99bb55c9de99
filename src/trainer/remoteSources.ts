/**
 * A full run's sources in the GPU page: each epoch's batches are asked of the host over the port
 * (it decodes and augments them with sharp, outside the page) and arrive with their buffers, one
 * batch ahead of the one training. No backbone files here, so no fine-tuning.
 */
import type { Batch } from '../main/augment/feeder';
import type { BatchRequest } from '../main/train/batchSource';
import type { Callback } from '../main/train/engine';
import type { FullHostSources } from '../main/train/full';
import type { FromWindow, ToWindow } from '../main/train/windowProtocol';
import { LoupeError } from '../shared/errors';

type StreamMessage = Extract<ToWindow, { type: 'batch' | 'end' | 'feedError' }>;

/** The sources, and where the page hands the host's stream messages. */
export interface RemoteSources extends FullHostSources {
  /** Routes a batch, end or feedError message to its stream. */
  deliver(message: StreamMessage): void;
}

/** Batch streams over `post`: a stream per epoch request, a `pull` per batch; the page's step checks ride along. */
export function remoteSources(post: (message: FromWindow) => void, checks: { callbacks?: Callback[]; failedFit?(error: unknown): Promise<unknown> } = {}): RemoteSources {
  const streams = new Map<number, (message: StreamMessage) => void>();
  let nextStream = 1;

  async function* batches(request: BatchRequest, signal: AbortSignal): AsyncGenerator<Batch> {
    const stream = nextStream++;
    const arrived: StreamMessage[] = [];
    let wake: (() => void) | null = null;
    streams.set(stream, (message) => {
      arrived.push(message);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    let ended = false;
    try {
      post({ type: 'feed', stream, request });
      post({ type: 'pull', stream });
      for (;;) {
        while (arrived.length === 0 && !signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        if (signal.aborted) throw new LoupeError('CANCELLED', 'Cancelled.');
        const message = arrived.shift()!;
        if (message.type === 'end') {
          ended = true;
          return;
        }
        if (message.type === 'feedError') {
          ended = true;
          throw new LoupeError(message.error.code, message.error.message, message.error.details);
        }
        // Ask for the next one now: the host decodes it while this one trains.
        post({ type: 'pull', stream });
        yield message.batch;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      streams.delete(stream);
      if (!ended) post({ type: 'close', stream });
    }
  }

  return {
    batches,
    loadFinetune: null,
    callbacks: checks.callbacks ?? [],
    ...(checks.failedFit ? { failedFit: checks.failedFit } : {}),
    deliver: (message) => streams.get(message.stream)?.(message),
  };
}
