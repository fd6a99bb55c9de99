/**
 * Seeded randomness for augmentation. Every (seed, epoch, image) gets its own stream, derived by
 * hashing, so that an image's augmentation never depends on which images came before it or on how
 * many ran at once.
 */
import { createHash } from 'node:crypto';

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** sfc32: small, fast, and good enough for augmentation parameters; 128 bits of state. */
export function sfc32(a: number, b: number, c: number, d: number): Rng {
  let s0 = a >>> 0;
  let s1 = b >>> 0;
  let s2 = c >>> 0;
  let s3 = d >>> 0;
  const next: Rng = () => {
    const t = (((s0 + s1) >>> 0) + s3) >>> 0;
    s3 = (s3 + 1) >>> 0;
    s0 = s1 ^ (s1 >>> 9);
    s1 = (s2 + (s2 << 3)) >>> 0;
    s2 = ((s2 << 21) | (s2 >>> 11)) >>> 0;
    s2 = (s2 + t) >>> 0;
    return t / 4294967296;
  };
  // Mix the state so that nearby seeds give unrelated first draws.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** The 128-bit seed of one (seed, epoch, image) pair, from SHA-1. */
export function deriveSeed(seed: number, epoch: number, imageId: number | string): [number, number, number, number] {
  const digest = createHash('sha1').update(`loupe-augment:${seed}:${epoch}:${imageId}`).digest();
  return [digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8), digest.readUInt32LE(12)];
}

/** The random stream of one image in one epoch. */
export function rngFor(seed: number, epoch: number, imageId: number | string): Rng {
  const [a, b, c, d] = deriveSeed(seed, epoch, imageId);
  return sfc32(a, b, c, d);
}

/** A uniform draw in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Fisher-Yates shuffle of a copy, driven by `rng`. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
