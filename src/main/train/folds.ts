/** Seeded randomness and the stratified k-fold assignment the quick model uses (by class, or by quantile bin of a numeric target). */

/** A small seeded generator (mulberry32): the same seed gives the same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle in place with a seeded generator. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * Stratified fold of each item: within each class, items are shuffled and dealt round-robin, so
 * every fold holds about 1/k of every class. Returns fold indexes 0..k-1 in item order.
 */
export function stratifiedFolds(labels: readonly number[], k: number, seed: number): number[] {
  const random = seededRandom(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, i) => {
    const list = byClass.get(label) ?? [];
    list.push(i);
    byClass.set(label, list);
  });
  const folds = new Array<number>(labels.length).fill(0);
  // Continue the deal across classes so small classes do not all start in fold 0.
  let next = 0;
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    for (const i of shuffle(byClass.get(label)!, random)) {
      folds[i] = next;
      next = (next + 1) % k;
    }
  }
  return folds;
}
