/** Runs `work` over `items` with at most `limit` in flight, yielding results in input order; stops starting new work once `signal` aborts. */
export async function* mapOrdered<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
  signal?: AbortSignal,
): AsyncGenerator<R> {
  const inFlight: Promise<R>[] = [];
  let next = 0;
  const fill = () => {
    while (inFlight.length < limit && next < items.length && !signal?.aborted) {
      inFlight.push(work(items[next++]!));
    }
  };
  fill();
  while (inFlight.length > 0) {
    const result = await inFlight.shift()!;
    fill();
    yield result;
  }
}
