/**
 * Verified duplicate groups. Exact duplicates share file bytes or decoded pixels. Near duplicates
 * are proposed without comparing all pairs, then verified on pixels:
 *
 * - proposing: multi-index hashing on the 64-bit dHash and pHash (each cut into four 16-bit
 *   chunks; images meet in a chunk's bucket, so every pair within Hamming distance 3 of either hash
 *   is proposed), and the nearest neighbours of each image in two 8x8 brightness-normalised views,
 *   found by a random-projection forest (each tree splits the images by random hyperplanes down to
 *   small leaves; images sharing a leaf are compared). One view is the picture as it is (finds
 *   re-encoded, resized and brightened copies); the other is the picture resampled in its own
 *   moment frame (centre and spread of its ink), which a crop moves together with the content, so
 *   cropped copies stay neighbours.
 * - verifying: the pair's grey thumbnails, lightly blurred, at the resolution both images support
 *   (32x32, or 16x16 blurred once more when one is small, e.g. a 0.5x copy), must agree pixel by
 *   pixel after brightness normalisation (RMS of a - g b, gain g fit by least squares), under the
 *   best warp a crop can make: a scale up to alignScaleMax and a shift within the room that scale
 *   leaves (a crop lies inside its original), both images resampled half way, the pixels next to
 *   either image's edge left out (their blur saw past a cut). Near-identical pairs are compared as
 *   they are first; the rest are aligned coarse to fine: one Gauss-Newton step on 8x8 from the
 *   better of no warp and the moment frames' warp (checked there), one on 16x16 (checked there),
 *   one on 32x32. Cheap checks come first, so most distinct candidates cost an 8x8 step.
 *
 * Flat and low-information images take no part in near grouping. Groups are the connected
 * components (union-find) of exact and verified pairs. All per-image data live in flat typed
 * arrays made once per run (the 32x32 thumbnails on first use); verification reads them by offset
 * and allocates nothing per pair.
 */
import type { HealthThreshold, PairEvidence } from '../../shared/health';
import type { ImageId } from '../../shared/types';
import { compareSide } from './features';

/**
 * Hamming distance (bits of 64) within which a pair of dHashes or pHashes is a candidate. On
 * Fashion-MNIST (70,000 images with the bench's 500 planted copies, bench/health.bench.ts) 3
 * proposed half the pairs of 6 and every planted copy the hashes find at 6; the neighbour search
 * below finds the looser ones.
 */
export const nearHammingMax = 3;
/**
 * A hash chunk value shared by more images than this proposes nothing: on plain-background
 * datasets a handful of chunk values (all-dark rows) hold thousands of unrelated images, and
 * pairing inside them is what made equal-dHash grouping noise. The neighbour search covers them.
 */
export const bucketMax = 48;
/**
 * Nearest neighbours proposed per image in the plain 8x8 view. On Fashion-MNIST every re-encoded,
 * brightened and 2x copy's original is its nearest neighbour there, and 45 of 50 0.5x copies'.
 */
export const neighbourCount = 1;
/**
 * The same in the moment view: 97 of 100 5% crops' originals are their nearest neighbour there and
 * the other 3 the second (exact search over 70,000 images); the second also catches what the
 * approximate search misses of the first.
 */
export const momentNeighbourCount = 2;
/** Correlation (8x8, brightness-normalised) under which a neighbour is not proposed: the farthest planted copy lies at 0.80. */
export const neighbourCorrMin = 0.75;
/**
 * The same for the second neighbour in the moment view, which is there for the copy one look-alike
 * outranks: planted crops lie above 0.98 there, while most second neighbours lie below (a sixth
 * fewer candidates).
 */
export const secondNeighbourCorrMin = 0.98;
/**
 * Trees of the random-projection forest in the plain view; more find more true neighbours at
 * linear cost. On Fashion-MNIST at 70,000 images 2 trees missed up to 7 of the 100 resized copies
 * (the seed decides which), 3 trees up to 5.
 */
export const plainTrees = 3;
/** The same in the moment view: 4 trees proposed 88 to 94 of the 100 5% crops, 6 trees 95 to 97 for a tenth more time in all. */
export const momentTrees = 4;
/** Images per forest leaf; each leaf compares all its pairs. */
export const leafSize = 32;
/**
 * The largest RMS difference (grey levels, 0-255) between two brightness-normalised 32x32 grey
 * thumbnails, blurred [1 2 1], under the best crop warp, for a verified near duplicate. Chosen on
 * Fashion-MNIST (70,000 images, the bench's 500 planted copies): JPEG quality 70 copies lie up to
 * 2.65, aligned 2x and 5% crop copies under 2.4 and +10% brightness copies up to 3 except where
 * the highlights clip (3 of 100 above); distinct images the dataset holds twice (the same product
 * photo, re-encoded or shifted by a pixel) lie from 0.4 up, and 4 would have doubled them.
 */
export const nearRmsMax = 3;
/**
 * The same bound when either image is in colour (colourfulness at least quality.ts's
 * greyColourMax): its grey thumbnail carries the JPEG's chroma error too (the grey mix of
 * subsampled colour), so a colour copy differs more than a grey one.
 * JPEG quality 70 copies of the colour test images (tests/unit/health/leakage.test.ts) lie up to
 * 4.4; 4.5 is the bound the verifier had before it aligned crops exactly.
 */
export const colourNearRmsMax = 4.5;
/**
 * The same bound at 16x16, used when one image is too small for 32x32 (e.g. a 0.5x copy): both
 * 16x16 thumbnails are blurred once more, as the small one lost its fine detail to the resize; 0.5x
 * copies of Fashion-MNIST lie under 3 there but for one sharp-edged trouser.
 */
export const coarseRmsMax = 3;
/** The largest 8x8 RMS, as they are, under which a pair is first compared without a warp (a shortcut for re-encoded and brightened copies; the rest are aligned). */
export const plainGateRms = 6;
/**
 * The largest RMS on smooth 8x8 thumbnails after one alignment step for a pair to be aligned
 * further: on Fashion-MNIST every planted copy that verifies lies under 4.6, and about half of the
 * distinct candidates above 5.
 */
export const alignGateRms = 5;
/**
 * The largest RMS on 16x16 after one more alignment step for a pair to be compared at 32x32:
 * planted copies that verify lie under 5, and 93% of the distinct candidates above 5.5.
 */
export const alignGate16Rms = 5.5;
/** Alignment accepts scales within this factor: a crop of up to a tenth of the side (twice the 5% the checks must find). */
export const alignScaleMax = 1.1;
/**
 * Shift (pixels of 32) allowed beyond what a crop's scale leaves room for: resamplers place pixel
 * centres differently (sharp's 2x enlargement moves the content 0.28 px of 32).
 */
export const shiftSlack = 0.4;
/** Brightness normalisation accepts gains within this factor (a copy 10% brighter is 1.1); a darker garment of the same cut is not a copy. */
export const gainMax = 1.25;
/** Grey standard deviation (0-255) under which an image is flat: its hashes would record noise. */
export const flatContrastMax = 6;
/** Luma entropy (bits) under which an image carries too little information to be matched by look. */
export const lowEntropyMax = 1.5;
/**
 * Cosine similarity of embeddings (when a run's exist) under which a pixel-verified pair is still
 * refused: a copy's embedding barely moves (the backbones are trained to ignore re-encoding,
 * resizing, small crops and brightness), while distinct objects of one class lie lower. Not tuned
 * on the bench, whose project has no run; 0.9 only refuses pairs the network sees as different.
 */
export const embeddingCosineMin = 0.9;

/** The constants above, for the report. */
export function duplicateThresholds(): HealthThreshold[] {
  return [
    { name: 'nearHammingMax', value: nearHammingMax, description: 'Perceptual hashes (dHash or pHash) within this many bits of 64 make a pair a candidate; candidates are then checked on pixels.' },
    { name: 'bucketMax', value: bucketMax, description: 'A hash chunk shared by more images than this proposes no candidates (common on plain backgrounds, where it means nothing).' },
    { name: 'neighbourCount', value: neighbourCount, description: 'Nearest neighbours proposed per image in the 8x8 view of the picture as it is.' },
    { name: 'momentNeighbourCount', value: momentNeighbourCount, description: 'Nearest neighbours proposed per image in the 8x8 view of the picture in its own moment frame (centre and spread of its ink), where crops stay close.' },
    { name: 'neighbourCorrMin', value: neighbourCorrMin, description: 'Neighbours whose 8x8 brightness-normalised correlation is under this are not proposed.' },
    { name: 'secondNeighbourCorrMin', value: secondNeighbourCorrMin, description: 'The second neighbour in the moment view is proposed only above this correlation (as close as a cropped copy is).' },
    { name: 'plainTrees', value: plainTrees, description: 'Trees of the random-projection forest that finds neighbours in the plain view; more find more at linear cost.' },
    { name: 'momentTrees', value: momentTrees, description: 'Trees of the forest in the moment view.' },
    { name: 'nearRmsMax', value: nearRmsMax, description: 'Largest RMS grey-level difference of brightness-normalised, lightly blurred 32x32 thumbnails under the best crop warp for a near duplicate; tuned on Fashion-MNIST so re-encoded, resized, cropped and brightened copies pass and distinct garments do not.' },
    { name: 'colourNearRmsMax', value: colourNearRmsMax, description: 'The bound instead of nearRmsMax (and coarseRmsMax) when either image is in colour: a colour JPEG\'s grey thumbnail carries its chroma error too.' },
    { name: 'coarseRmsMax', value: coarseRmsMax, description: 'The same bound at 16x16 (blurred once more), used when one image of the pair is too small for 32x32.' },
    { name: 'plainGateRms', value: plainGateRms, description: 'Pairs whose 8x8 thumbnails differ by less than this RMS as they are are first compared without alignment.' },
    { name: 'alignGateRms', value: alignGateRms, description: 'Pairs whose smooth 8x8 thumbnails still differ by more than this RMS after one alignment step are different pictures and are not aligned further.' },
    { name: 'alignGate16Rms', value: alignGate16Rms, description: 'Pairs whose 16x16 thumbnails still differ by more than this RMS after alignment are not compared at 32x32.' },
    { name: 'alignScaleMax', value: alignScaleMax, description: 'Alignment accepts a scale up to this factor (a crop of up to a tenth of the side), and a shift only as far as that crop leaves room for.' },
    { name: 'shiftSlack', value: shiftSlack, description: 'Shift in pixels of 32 allowed beyond a crop\'s room, for resamplers\' pixel-centre conventions.' },
    { name: 'gainMax', value: gainMax, description: 'Brightness normalisation accepts a gain up to this factor (and down to its inverse).' },
    { name: 'flatContrastMax', value: flatContrastMax, description: 'Images with a grey standard deviation under this are flat and get no perceptual grouping.' },
    { name: 'lowEntropyMax', value: lowEntropyMax, description: 'Images with luma entropy (bits) under this carry too little information for perceptual grouping.' },
    { name: 'embeddingCosineMin', value: embeddingCosineMin, description: 'When a run has cached embeddings for both images, a pixel-verified pair must also have at least this cosine similarity.' },
  ];
}

/** The features of every image the finder looks at, as flat arrays (index i is one image). */
export interface FinderInput {
  ids: ImageId[];
  contentHash: string[];
  pixelHash: (string | null)[];
  /** 2 words per image: dHash high, low. */
  dhash: Uint32Array;
  phash: Uint32Array;
  /** 1024 bytes per image. */
  grey: Uint8Array;
  /** Short side in pixels (0 unknown). */
  shortSide: Float64Array;
  /** True when the image is flat or low-information (no near grouping) or has no features. */
  skip: Uint8Array;
  /** True when the image is in colour (not grey by quality.ts's greyColourMax). */
  colour: Uint8Array;
  /** Unit-length embedding of image i, when a run's exist (null where none); asked only for pixel-verified pairs. */
  embedding?: (i: number) => Float32Array | null;
}

/** One group found. */
export interface FoundGroup {
  members: number[];
  exact: boolean;
  evidence: PairEvidence[];
}

/** What the finder found, with its counts. */
export interface FinderResult {
  groups: FoundGroup[];
  candidatePairs: number;
  verifiedPairs: number;
  skipped: number;
}

/** Bits set in a 32-bit word. */
export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function hamming(words: Uint32Array, i: number, j: number): number {
  return popcount((words[2 * i]! ^ words[2 * j]!) >>> 0) + popcount((words[2 * i + 1]! ^ words[2 * j + 1]!) >>> 0);
}

/** Union-find with path halving. */
class Components {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    const p = this.parent;
    while (p[i] !== i) {
      p[i] = p[p[i]!]!;
      i = p[i]!;
    }
    return i;
  }
  /** Joins two sets; false when they were one already. */
  union(a: number, b: number): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return false;
    this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
    return true;
  }
}

export function findDuplicates(input: FinderInput): FinderResult {
  const n = input.ids.length;
  const sets = new Components(n);
  const evidence: PairEvidence[] = [];
  // Exact: equal bytes first, then equal decoded pixels.
  for (const [keys, basis] of [
    [input.contentHash, 'bytes'],
    [input.pixelHash, 'pixels'],
  ] as const) {
    const first = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const key = keys[i];
      if (!key) continue;
      const seen = first.get(key);
      if (seen === undefined) first.set(key, i);
      else if (sets.union(seen, i)) {
        evidence.push({ a: input.ids[seen]!, b: input.ids[i]!, basis, hamming: null, rms: null, cosine: null });
      }
    }
  }
  // Near: one representative per exact class, skipping flat and low-information images.
  const reps: number[] = [];
  let skipped = 0;
  for (let i = 0; i < n; i++) {
    if (sets.find(i) !== i) continue;
    if (input.skip[i]) skipped++;
    else reps.push(i);
  }
  const views = new Views(input, reps);
  const candidates = proposePairs(input, reps, views);
  const verifier = new Verifier(input, views);
  let verified = 0;
  for (const pair of candidates) {
    const i = Math.floor(pair / n);
    const j = pair - i * n;
    const check = verifier.verify(i, j);
    if (!check) continue;
    verified++;
    if (sets.union(i, j)) {
      evidence.push({ a: input.ids[i]!, b: input.ids[j]!, basis: 'near', ...check });
    }
  }
  const byRoot = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const root = sets.find(i);
    const list = byRoot.get(root);
    if (list) list.push(i);
    else byRoot.set(root, [i]);
  }
  const idIndex = new Map<ImageId, number>(input.ids.map((id, i) => [id, i]));
  const evidenceByRoot = new Map<number, PairEvidence[]>();
  for (const e of evidence) {
    const root = sets.find(idIndex.get(e.a)!);
    const list = evidenceByRoot.get(root);
    if (list) list.push(e);
    else evidenceByRoot.set(root, [e]);
  }
  const groups: FoundGroup[] = [];
  for (const [root, members] of byRoot) {
    if (members.length < 2) continue;
    const edges = evidenceByRoot.get(root) ?? [];
    groups.push({ members, exact: edges.every((e) => e.basis !== 'near'), evidence: edges });
  }
  return { groups, candidatePairs: candidates.length, verifiedPairs: verified, skipped };
}

/**
 * Candidate pairs (i * n + j, i < j), ascending and each once: multi-index hashing on both hashes,
 * and forest neighbours in both views. Collected in a flat list and deduplicated by sorting (a Set
 * of several hundred thousand numbers beyond 2^31 costs more in allocation than the sort).
 */
function proposePairs(input: FinderInput, reps: number[], views: Views): Float64Array {
  const n = input.ids.length;
  let found = new Float64Array(1 << 16);
  let count = 0;
  const add = (a: number, b: number) => {
    if (count === found.length) {
      const grown = new Float64Array(2 * count);
      grown.set(found);
      found = grown;
    }
    found[count++] = a < b ? a * n + b : b * n + a;
  };
  const pairUp = (list: number[]) => {
    for (let a = 0; a < list.length; a++) {
      for (let b = a + 1; b < list.length; b++) {
        const i = list[a]!;
        const j = list[b]!;
        if (Math.min(hamming(input.dhash, i, j), hamming(input.phash, i, j)) <= nearHammingMax) add(i, j);
      }
    }
  };
  const chunkOf = (words: Uint32Array, i: number, chunk: number) => (words[2 * i + (chunk >> 1)]! >>> (chunk & 1 ? 0 : 16)) & 0xffff;
  for (const words of [input.dhash, input.phash]) {
    for (let chunk = 0; chunk < 4; chunk++) {
      const buckets = new Map<number, number[]>();
      for (const i of reps) {
        const value = chunkOf(words, i, chunk);
        const list = buckets.get(value);
        if (list) list.push(i);
        else buckets.set(value, [i]);
      }
      for (const list of buckets.values()) if (list.length >= 2 && list.length <= bucketMax) pairUp(list);
    }
  }
  for (const [view, seed, K, trees] of [
    [views.plain, 0x9e3779b9, neighbourCount, plainTrees],
    [views.moment, 0x85ebca6b, momentNeighbourCount, momentTrees],
  ] as const) {
    const { index, corr } = nearestNeighbours(view, reps.length, seed, K, trees);
    for (let p = 0; p < reps.length; p++) {
      for (let k = 0; k < K; k++) {
        const q = index[p * K + k]!;
        if (q < 0 || corr[p * K + k]! < (k === 0 ? neighbourCorrMin : secondNeighbourCorrMin)) continue;
        add(reps[p]!, reps[q]!);
      }
    }
  }
  const sorted = found.subarray(0, count).sort();
  let unique = 0;
  for (let k = 0; k < sorted.length; k++) if (k === 0 || sorted[k] !== sorted[unique - 1]) sorted[unique++] = sorted[k]!;
  return sorted.subarray(0, unique);
}

const side = compareSide;
const pixels = side * side;
/** Length of an 8x8 view vector. */
const viewDim = 64;

/** A small deterministic PRNG (mulberry32), so a run proposes the same pairs every time. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Approximate nearest neighbours (by correlation) of m unit vectors of length 64: a forest of
 * random-projection trees, each splitting at the median of a random direction (the difference of
 * two members) until leaves hold at most leafSize; members of a leaf are compared. Returns the
 * K best per vector (index -1 where fewer were met).
 */
function nearestNeighbours(vectors: Float32Array, m: number, seed: number, K: number, trees: number): { index: Int32Array; corr: Float32Array } {
  const index = new Int32Array(m * K).fill(-1);
  const corr = new Float32Array(m * K).fill(-2);
  const next = random(seed);
  const order = new Int32Array(m);
  const projection = new Float32Array(m);
  const direction = new Float32Array(viewDim);
  const offer = (p: number, q: number, c: number) => {
    const o = p * K;
    if (c <= corr[o + K - 1]!) return;
    for (let k = 0; k < K; k++) if (index[o + k] === q) return;
    let k = K - 1;
    while (k > 0 && corr[o + k - 1]! < c) {
      corr[o + k] = corr[o + k - 1]!;
      index[o + k] = index[o + k - 1]!;
      k--;
    }
    corr[o + k] = c;
    index[o + k] = q;
  };
  const stack: number[] = [];
  for (let tree = 0; tree < trees; tree++) {
    for (let p = 0; p < m; p++) order[p] = p;
    stack.push(0, m);
    while (stack.length > 0) {
      const hi = stack.pop()!;
      const lo = stack.pop()!;
      const size = hi - lo;
      if (size <= leafSize) {
        for (let a = lo; a < hi; a++) {
          const p = order[a]!;
          const op = p * viewDim;
          for (let b = a + 1; b < hi; b++) {
            const q = order[b]!;
            const c = dot64(vectors, op, vectors, q * viewDim);
            offer(p, q, c);
            offer(q, p, c);
          }
        }
        continue;
      }
      const u = order[lo + Math.floor(next() * size)]! * viewDim;
      const v = order[lo + Math.floor(next() * size)]! * viewDim;
      for (let k = 0; k < viewDim; k++) direction[k] = vectors[u + k]! - vectors[v + k]! + (next() - 0.5) * 0.05;
      for (let a = lo; a < hi; a++) {
        const p = order[a]!;
        projection[p] = dot64(vectors, p * viewDim, direction, 0);
      }
      const mid = lo + (size >> 1);
      selectNth(order, projection, lo, hi - 1, mid);
      stack.push(lo, mid, mid, hi);
    }
  }
  return { index, corr };
}

/** Dot product of two 64-long vectors at offsets, four partial sums (the forest's inner loop). */
function dot64(a: Float32Array, oa: number, b: Float32Array, ob: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = 0; k < viewDim; k += 4) {
    s0 += a[oa + k]! * b[ob + k]!;
    s1 += a[oa + k + 1]! * b[ob + k + 1]!;
    s2 += a[oa + k + 2]! * b[ob + k + 2]!;
    s3 += a[oa + k + 3]! * b[ob + k + 3]!;
  }
  return s0 + s1 + (s2 + s3);
}

/** Reorders order[lo..hi] so that order[k] has the k-th smallest key, smaller keys before it and larger after (quickselect). */
function selectNth(order: Int32Array, key: Float32Array, lo: number, hi: number, k: number): void {
  while (hi > lo) {
    const pivot = key[order[(lo + hi) >> 1]!]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (key[order[i]!]! < pivot) i++;
      while (key[order[j]!]! > pivot) j--;
      if (i <= j) {
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * Per-image arrays for the representatives (position p is reps[p]): the 8x8 grey averages (as
 * they are, and smooth for the first alignment step), the blurred 16x16, the two 8x8
 * brightness-normalised views (zero mean, unit length) and the moment frame (centre x, y and
 * spread, in 32x32 pixels).
 */
class Views {
  readonly position: Int32Array;
  /** 8x8 averages. */
  readonly g8: Float32Array;
  /** 8x8 averages of the 16x16 blurred twice, blurred again: smooth, so a shift of a fraction of a cell interpolates well. */
  readonly s8: Float32Array;
  /** 16x16 averages, blurred [1 2 1]. */
  readonly b16: Float32Array;
  /** 32x32 grey blurred [1 2 1], rounded to bytes; made on first use (ensure32), as most images never reach 32x32. */
  readonly b32: Uint8Array;
  private readonly b32Made: Uint8Array;
  private readonly reps: number[];
  private readonly grey: Uint8Array;
  private readonly scratch = new Float32Array(pixels);
  readonly plain: Float32Array;
  readonly moment: Float32Array;
  readonly frame: Float32Array;
  constructor(input: FinderInput, reps: number[]) {
    const m = reps.length;
    this.position = new Int32Array(input.ids.length).fill(-1);
    this.g8 = new Float32Array(m * 64);
    this.s8 = new Float32Array(m * 64);
    this.b16 = new Float32Array(m * 256);
    this.b32 = new Uint8Array(m * pixels);
    this.b32Made = new Uint8Array(m);
    this.reps = reps;
    this.grey = input.grey;
    this.plain = new Float32Array(m * viewDim);
    this.moment = new Float32Array(m * viewDim);
    this.frame = new Float32Array(m * 3);
    const g16 = new Float32Array(256);
    const a16 = new Float32Array(256);
    const t8 = new Float32Array(64);
    const histogram = new Int32Array(256);
    const { position, g8, s8, b16, plain, moment, frame } = this;
    const grey = input.grey;
    for (let p = 0; p < m; p++) {
      const i = reps[p]!;
      position[i] = p;
      const base = i * pixels;
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          const o = base + 2 * y * side + 2 * x;
          g16[y * 16 + x] = (grey[o]! + grey[o + 1]! + grey[o + side]! + grey[o + side + 1]!) / 4;
        }
      }
      const o8 = p * 64;
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const o = 2 * y * 16 + 2 * x;
          const v = (g16[o]! + g16[o + 1]! + g16[o + 16]! + g16[o + 17]!) / 4;
          g8[o8 + y * 8 + x] = v;
          plain[o8 + y * 8 + x] = v;
        }
      }
      normalise(plain, o8);
      a16.set(g16);
      blur3(g16, 16);
      b16.set(g16, p * 256);
      blur3(g16, 16);
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const o = 2 * y * 16 + 2 * x;
          t8[y * 8 + x] = (g16[o]! + g16[o + 1]! + g16[o + 16]! + g16[o + 17]!) / 4;
        }
      }
      blur3(t8, 8);
      s8.set(t8, o8);
      // Moment frame: centre and spread of the difference from the background (the border's median grey).
      histogram.fill(0);
      for (let k = 0; k < side; k++) {
        histogram[grey[base + k]!]!++;
        histogram[grey[base + (side - 1) * side + k]!]!++;
      }
      for (let k = 1; k < side - 1; k++) {
        histogram[grey[base + k * side]!]!++;
        histogram[grey[base + k * side + side - 1]!]!++;
      }
      let background = 0;
      for (let seen = 0; background < 255; background++) {
        seen += histogram[background]!;
        if (2 * seen > 4 * side - 4) break;
      }
      // One pass over the 16x16 averages: weight, first and second moments in 32x32 pixels (a
      // 16x16 cell covers the 32x32 pixels 2X..2X+1, centred on 2X + 0.5, and adds their spread of
      // 1/4 per axis; the spread is E[r^2] - |centre|^2).
      let sw = 0;
      let sx = 0;
      let sy = 0;
      let sr = 0;
      for (let y = 0; y < 16; y++) {
        let rw = 0;
        let rx = 0;
        let rr = 0;
        for (let x = 0; x < 16; x++) {
          const w = Math.abs(a16[y * 16 + x]! - background);
          const px = 2 * x + 0.5;
          rw += w;
          rx += w * px;
          rr += w * px * px;
        }
        const py = 2 * y + 0.5;
        sw += rw;
        sx += rx;
        sy += rw * py;
        sr += rr + rw * (py * py + 0.5);
      }
      const cx = sw > 0 ? sx / sw : (side - 1) / 2;
      const cy = sw > 0 ? sy / sw : (side - 1) / 2;
      const spread = sw > 0 ? Math.max(0, sr - sw * (cx * cx + cy * cy)) : 0;
      const sigma = sw > 0 ? Math.max(1, Math.sqrt(spread / sw / 2)) : side / Math.sqrt(12);
      frame[p * 3] = cx;
      frame[p * 3 + 1] = cy;
      frame[p * 3 + 2] = sigma;
      // The moment view: 8x8 samples spanning 1.7 spreads either side of the centre.
      for (let v = 0; v < 8; v++) {
        const py = cy + (1.7 * sigma * (v - 3.5)) / 3.5;
        for (let u = 0; u < 8; u++) {
          const px = cx + (1.7 * sigma * (u - 3.5)) / 3.5;
          moment[o8 + v * 8 + u] = bilinear(grey, base, side, px, py);
        }
      }
      normalise(moment, o8);
    }
  }

  /** Makes position p's 32x32 blurred thumbnail in b32 if it is not made yet. */
  ensure32(p: number): void {
    if (this.b32Made[p]) return;
    const { scratch, grey, b32 } = this;
    const o = this.reps[p]! * pixels;
    for (let k = 0; k < pixels; k++) scratch[k] = grey[o + k]!;
    blur3(scratch, side);
    for (let k = 0; k < pixels; k++) b32[p * pixels + k] = Math.round(scratch[k]!);
    this.b32Made[p] = 1;
  }
}

/** Makes the 64 values at offset zero-mean and unit-length (all zero when constant). */
function normalise(v: Float32Array, offset: number): void {
  let sum = 0;
  for (let k = 0; k < viewDim; k++) sum += v[offset + k]!;
  const mean = sum / viewDim;
  let squares = 0;
  for (let k = 0; k < viewDim; k++) {
    const d = v[offset + k]! - mean;
    v[offset + k] = d;
    squares += d * d;
  }
  const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
  for (let k = 0; k < viewDim; k++) v[offset + k]! *= scale;
}

/** Bilinear sample of the w x w image at offset `base` of img at (x, y), edges clamped. */
function bilinear(img: Uint8Array, base: number, w: number, x: number, y: number): number {
  const cx = Math.min(w - 1.000001, Math.max(0, x));
  const cy = Math.min(w - 1.000001, Math.max(0, y));
  const x0 = cx | 0;
  const y0 = cy | 0;
  const fx = cx - x0;
  const fy = cy - y0;
  const o = base + y0 * w + x0;
  return (1 - fy) * ((1 - fx) * img[o]! + fx * img[o + 1]!) + fy * ((1 - fx) * img[o + w]! + fx * img[o + w + 1]!);
}

/** Squared error after brightness normalisation from the sums of a^2, ab, b^2: the better of a ~ g b and b ~ g a, g fit and clamped. */
function residual(aa: number, ab: number, bb: number): number {
  const g1 = Math.min(gainMax, Math.max(1 / gainMax, bb > 0 ? ab / bb : 1));
  const g2 = Math.min(gainMax, Math.max(1 / gainMax, aa > 0 ? ab / aa : 1));
  return Math.max(0, Math.min(aa - 2 * g1 * ab + g1 * g1 * bb, bb - 2 * g2 * ab + g2 * g2 * aa));
}

/** RMS after brightness normalisation from the sums of a^2, ab, b^2 over count pixels. */
function rmsFromSums(aa: number, ab: number, bb: number, count: number): number {
  return count === 0 ? Infinity : Math.sqrt(residual(aa, ab, bb) / count);
}

/** Brightness-normalised RMS of two equal-length arrays at offsets. */
function plainRms(a: ArrayLike<number>, oa: number, b: ArrayLike<number>, ob: number, length: number): number {
  let aa = 0;
  let ab = 0;
  let bb = 0;
  for (let k = 0; k < length; k++) {
    const x = a[oa + k]!;
    const y = b[ob + k]!;
    aa += x * x;
    ab += x * y;
    bb += y * y;
  }
  return rmsFromSums(aa, ab, bb, length);
}

/** An alignment of b to a: b is sampled at scale * (x - c) + c + dx (and the same for y), in the compared image's pixels. */
interface Warp {
  scale: number;
  dx: number;
  dy: number;
}

/** The same warp at another side, in place (pixel centres: x16 = (x32 - 0.5) / 2, so shifts scale with the side). */
function rescale(warp: Warp, factor: number): Warp {
  warp.dx *= factor;
  warp.dy *= factor;
  return warp;
}

/**
 * How far (pixels at side w) a crop at scale s moves the centre at most: a crop to 1/s of the side
 * lies anywhere inside its original, so its centre is at most (w/2)|1 - s| off (the same holds the
 * other way round, for the original against the crop), plus shiftSlack for resamplers'
 * pixel-centre conventions. A larger shift is no crop but another shot of the object.
 */
function cropRoom(s: number, w: number): number {
  return (w / 2) * Math.abs(1 - s) + (shiftSlack * w) / side;
}

/** Moves a warp (side w) into the crop family, in place: the scale within alignScaleMax, the shift within cropRoom. */
function clampToFamily(warp: Warp, w: number): Warp {
  const s = Math.min(alignScaleMax, Math.max(1 / alignScaleMax, warp.scale));
  const room = cropRoom(s, w);
  warp.scale = s;
  warp.dx = Math.min(room, Math.max(-room, warp.dx));
  warp.dy = Math.min(room, Math.max(-room, warp.dy));
  return warp;
}

const blurScratch = new Float32Array(pixels);

/** [1 2 1] blur in both directions, in place, edges clamped (rows into scratch, then columns back, both in memory order). */
function blur3(img: Float32Array, w: number): void {
  const t = blurScratch;
  const end = w - 1;
  for (let y = 0; y < w; y++) {
    const o = y * w;
    let left = img[o]!;
    let mid = left;
    for (let x = 0; x < end; x++) {
      const right = img[o + x + 1]!;
      t[o + x] = (left + 2 * mid + right) * 0.25;
      left = mid;
      mid = right;
    }
    t[o + end] = (left + 3 * mid) * 0.25;
  }
  for (let y = 0; y < w; y++) {
    const o = y * w;
    const up = y > 0 ? o - w : o;
    const down = y < end ? o + w : o;
    for (let x = 0; x < w; x++) img[o + x] = (t[up + x]! + 2 * t[o + x]! + t[down + x]!) * 0.25;
  }
}

/** Column scratch for symmetricRms (made once). */
const columns = { ax0: new Int32Array(compareSide), afx: new Float64Array(compareSide), bx0: new Int32Array(compareSide), bfx: new Float64Array(compareSide) };
/** Row scratch for symmetricRms (made once). */
const rows = { ay0: new Int32Array(compareSide), afy: new Float64Array(compareSide), by0: new Int32Array(compareSide), bfy: new Float64Array(compareSide) };

/**
 * Brightness-normalised RMS of a against b under a warp (w x w images at offsets oa, ob), both
 * resampled half way (b by the half warp, a by its inverse) so both carry the same interpolation
 * blur. Only pixels whose positions in both images lie a pixel inside their edges count: an edge
 * pixel's blur saw past the picture (a crop's cut edge), so it says nothing. Infinity when under
 * half of the inner pixels count, or as soon as the pixels summed so far prove it above `limit`
 * (the best gain over a subset of pixels leaves no more error than over all of them).
 */
function symmetricRms(a: Float32Array, oa: number, b: Float32Array, ob: number, w: number, warp: Warp, limit = Infinity): number {
  const c = (w - 1) / 2;
  const r = Math.sqrt(warp.scale);
  const ex = warp.dx / (1 + r);
  const ey = warp.dy / (1 + r);
  const lo = 0.5;
  const hi = w - 1.5;
  // Rows and columns are sampled the same throughout: their bilinear cell and weight in a and b,
  // once (positions grow with x and y, so those inside both images are one run).
  const { ax0, afx, bx0, bfx } = columns;
  const { ay0, afy, by0, bfy } = rows;
  let first = w;
  let last = -1;
  let top = w;
  let bottom = -1;
  for (let x = 0; x < w; x++) {
    const bx = r * (x - c) + c + ex;
    const ax = (x - c - ex) / r + c;
    if (bx >= lo && bx <= hi && ax >= lo && ax <= hi) {
      ax0[x] = ax | 0;
      afx[x] = ax - (ax | 0);
      bx0[x] = bx | 0;
      bfx[x] = bx - (bx | 0);
      if (first === w) first = x;
      last = x;
    }
    const by = r * (x - c) + c + ey;
    const ay = (x - c - ey) / r + c;
    if (by >= lo && by <= hi && ay >= lo && ay <= hi) {
      ay0[x] = ay | 0;
      afy[x] = ay - (ay | 0);
      by0[x] = by | 0;
      bfy[x] = by - (by | 0);
      if (top === w) top = x;
      bottom = x;
    }
  }
  const count = Math.max(0, last - first + 1) * Math.max(0, bottom - top + 1);
  if (count * 2 < (w - 2) ** 2) return Infinity;
  const bound = limit * limit * count;
  let aa = 0;
  let ab = 0;
  let bb = 0;
  for (let y = top; y <= bottom; y++) {
    const ray = oa + ay0[y]! * w;
    const fay = afy[y]!;
    const rby = ob + by0[y]! * w;
    const fby = bfy[y]!;
    for (let x = first; x <= last; x++) {
      const fx = afx[x]!;
      const o = ray + ax0[x]!;
      const u = (1 - fay) * ((1 - fx) * a[o]! + fx * a[o + 1]!) + fay * ((1 - fx) * a[o + w]! + fx * a[o + w + 1]!);
      const gx = bfx[x]!;
      const q = rby + bx0[x]!;
      const v = (1 - fby) * ((1 - gx) * b[q]! + gx * b[q + 1]!) + fby * ((1 - gx) * b[q + w]! + gx * b[q + w + 1]!);
      aa += u * u;
      ab += u * v;
      bb += v * v;
    }
    if (residual(aa, ab, bb) > bound) return Infinity;
  }
  return rmsFromSums(aa, ab, bb, count);
}

/** Pixel verification of candidate pairs, with scratch buffers made once. */
class Verifier {
  private readonly a32 = new Float32Array(pixels);
  private readonly b32 = new Float32Array(pixels);
  private readonly column = new Int32Array(side);
  private readonly fraction = new Float64Array(side);
  /** The pair's alignment, updated in place from stage to stage. */
  private readonly warp: Warp = { scale: 1, dx: 0, dy: 0 };
  constructor(
    private readonly input: FinderInput,
    private readonly views: Views,
  ) {}

  /** The evidence when i and j are near duplicates, else null. */
  verify(i: number, j: number): Omit<PairEvidence, 'a' | 'b' | 'basis'> | null {
    const { input, views } = this;
    const p = views.position[i]!;
    const q = views.position[j]!;
    // Compare at the detail both images have: a 14 px image has no 32x32 detail to agree on.
    const small = Math.min(input.shortSide[i]! || side, input.shortSide[j]! || side);
    const w = small >= 24 ? 32 : small >= 12 ? 16 : 8;
    const bound = input.colour[i] || input.colour[j] ? colourNearRmsMax : w === 32 ? nearRmsMax : coarseRmsMax;
    const rms = w === 8 ? plainRms(views.g8, p * 64, views.g8, q * 64, 64) : this.compare(p, q, w, bound);
    if (rms > bound) return null;
    const hammingBits = Math.min(hamming(input.dhash, i, j), hamming(input.phash, i, j));
    let cosine: number | null = null;
    const ei = input.embedding?.(i);
    const ej = input.embedding?.(j);
    if (ei && ej) {
      cosine = 0;
      for (let k = 0; k < ei.length; k++) cosine += ei[k]! * ej[k]!;
      if (cosine < embeddingCosineMin) return null;
    }
    return { hamming: hammingBits, rms: Math.round(rms * 100) / 100, cosine };
  }

  /**
   * RMS at w x w (16 or 32) under the best warp of the crop family, Infinity when refused early.
   * Near-identical pairs are compared as they are (and settled when under `bound`); the rest take one Gauss-Newton step on smooth
   * 8x8 from the better of no warp and the moment frames' warp (checked there), one on 16x16
   * (checked there) and, for 32, one on 32x32.
   */
  private compare(p: number, q: number, w: number, bound: number): number {
    const { g8, s8, b16 } = this.views;
    const warp = this.warp;
    if (plainRms(g8, p * 64, g8, q * 64, 64) <= plainGateRms) {
      warp.scale = 1;
      warp.dx = 0;
      warp.dy = 0;
      const rms = w === 32 ? this.at32(p, q, warp) : this.at16(p, q, warp);
      if (rms <= bound) return rms;
    }
    this.start(p, q, warp);
    this.refine(s8, p * 64, s8, q * 64, warp, 8);
    if (symmetricRms(s8, p * 64, s8, q * 64, 8, warp, alignGateRms) > alignGateRms) return Infinity;
    this.refine(b16, p * 256, b16, q * 256, rescale(warp, 2), 16);
    if (w === 16) return this.at16(p, q, warp);
    if (symmetricRms(b16, p * 256, b16, q * 256, 16, warp, alignGate16Rms) > alignGate16Rms) return Infinity;
    this.load32(p, q);
    this.refine(this.a32, 0, this.b32, 0, rescale(warp, 2), side);
    return symmetricRms(this.a32, 0, this.b32, 0, side, warp);
  }

  /**
   * Where alignment starts, into `warp` (8x8 pixels): the moment frames' warp (q's position of p's
   * pixel x is cxq + scale (x - cxp), scale the ratio of spreads) moved into the crop family, or no
   * warp when that fits the smooth 8x8 thumbnails better (a crop that cuts into the object moves
   * its frame).
   */
  private start(p: number, q: number, warp: Warp): void {
    const { frame, s8 } = this.views;
    const c = (side - 1) / 2;
    const scale = frame[q * 3 + 2]! / frame[p * 3 + 2]!;
    warp.scale = 1;
    warp.dx = 0;
    warp.dy = 0;
    const none = symmetricRms(s8, p * 64, s8, q * 64, 8, warp);
    warp.scale = scale;
    warp.dx = frame[q * 3]! - c - scale * (frame[p * 3]! - c);
    warp.dy = frame[q * 3 + 1]! - c - scale * (frame[p * 3 + 1]! - c);
    rescale(clampToFamily(warp, side), 1 / 4);
    if (symmetricRms(s8, p * 64, s8, q * 64, 8, warp, none) < none) return;
    warp.scale = 1;
    warp.dx = 0;
    warp.dy = 0;
  }

  /**
   * The RMS at 16x16 under a warp, for a pair with a small image (e.g. a 0.5x copy): both 16x16
   * thumbnails blurred once more, as the small one lost its fine detail to the resize.
   */
  private at16(p: number, q: number, warp: Warp): number {
    const { a32, b32 } = this;
    const t = this.views.b16;
    for (let k = 0, op = p * 256, oq = q * 256; k < 256; k++) {
      a32[k] = t[op + k]!;
      b32[k] = t[oq + k]!;
    }
    blur3(a32, 16);
    blur3(b32, 16);
    return symmetricRms(a32, 0, b32, 0, 16, warp);
  }

  /** The RMS at 32x32 under a warp. */
  private at32(p: number, q: number, warp: Warp): number {
    this.load32(p, q);
    return symmetricRms(this.a32, 0, this.b32, 0, side, warp);
  }

  /** Copies p's and q's blurred 32x32 thumbnails into the float scratch a32, b32. */
  private load32(p: number, q: number): void {
    const { views, a32, b32 } = this;
    views.ensure32(p);
    views.ensure32(q);
    const t = views.b32;
    for (let k = 0, op = p * pixels, oq = q * pixels; k < pixels; k++) {
      a32[k] = t[op + k]!;
      b32[k] = t[oq + k]!;
    }
  }

  /**
   * One Gauss-Newton step on scale and shift from `warp` (w x w images at offsets oa, ob), in
   * place, moved back into the crop family. The step samples b and its gradients with one set of bilinear
   * weights per pixel, over the pixels a pixel inside both images' edges (as symmetricRms counts).
   */
  private refine(a: Float32Array, oa: number, b: Float32Array, ob: number, warp: Warp, w: number): void {
    const c = (w - 1) / 2;
    clampToFamily(warp, w);
    const { scale: s, dx, dy } = warp;
    // Columns are sampled the same in every row: their left neighbour and weight, once (the
    // scale is positive, so the columns inside b are one run from first to last).
    const { column, fraction } = this;
    let first = w;
    let last = -1;
    for (let x = 1; x < w - 1; x++) {
      const sx = s * (x - c) + c + dx;
      if (sx < 0.5 || sx > w - 1.5) continue;
      const x0 = sx | 0;
      column[x] = x0;
      fraction[x] = sx - x0;
      if (first === w) first = x;
      last = x;
    }
    // The normal equations of a ~ g b(warp), the gain g fit on the same samples: J^T J d = J^T a / g - J^T b,
    // J the derivatives of the samples of b by scale and shift.
    let h00 = 0, h01 = 0, h02 = 0, h11 = 0, h12 = 0, h22 = 0, ju0 = 0, ju1 = 0, ju2 = 0, jv0 = 0, jv1 = 0, jv2 = 0, ab = 0, bb = 0; // prettier-ignore
    for (let y = 1; y < w - 1; y++) {
      const sy = s * (y - c) + c + dy;
      if (sy < 0.5 || sy > w - 1.5) continue;
      const y0 = sy | 0;
      const fy = sy - y0;
      for (let x = first; x <= last; x++) {
        const fx = fraction[x]!;
        const ib = ob + y0 * w + column[x]!;
        const w00 = (1 - fx) * (1 - fy);
        const w01 = fx * (1 - fy);
        const w10 = (1 - fx) * fy;
        const w11 = fx * fy;
        const b00 = b[ib]!;
        const b01 = b[ib + 1]!;
        const b10 = b[ib + w]!;
        const b11 = b[ib + w + 1]!;
        const v = w00 * b00 + w01 * b01 + w10 * b10 + w11 * b11;
        // The bilinear surface's own slopes: no gradient images, the same four samples.
        const ix = (1 - fy) * (b01 - b00) + fy * (b11 - b10);
        const iy = (1 - fx) * (b10 - b00) + fx * (b11 - b01);
        const u = a[oa + y * w + x]!;
        const j0 = ix * (x - c) + iy * (y - c);
        ab += u * v;
        bb += v * v;
        ju0 += j0 * u;
        ju1 += ix * u;
        ju2 += iy * u;
        jv0 += j0 * v;
        jv1 += ix * v;
        jv2 += iy * v;
        h00 += j0 * j0;
        h01 += j0 * ix;
        h02 += j0 * iy;
        h11 += ix * ix;
        h12 += ix * iy;
        h22 += iy * iy;
      }
    }
    const gain = Math.min(gainMax, Math.max(1 / gainMax, bb > 0 ? ab / bb : 1));
    const r0 = ju0 / gain - jv0;
    const r1 = ju1 / gain - jv1;
    const r2 = ju2 / gain - jv2;
    const det = h00 * (h11 * h22 - h12 * h12) - h01 * (h01 * h22 - h12 * h02) + h02 * (h01 * h12 - h11 * h02);
    if (Math.abs(det) < 1e-9) return;
    warp.scale = s + (r0 * (h11 * h22 - h12 * h12) - h01 * (r1 * h22 - h12 * r2) + h02 * (r1 * h12 - h11 * r2)) / det;
    warp.dx = dx + (h00 * (r1 * h22 - h12 * r2) - r0 * (h01 * h22 - h12 * h02) + h02 * (h01 * r2 - r1 * h02)) / det;
    warp.dy = dy + (h00 * (h11 * r2 - r1 * h12) - h01 * (h01 * r2 - r1 * h02) + r0 * (h01 * h12 - h11 * h02)) / det;
    clampToFamily(warp, w);
  }
}

/** Diagnostics for one pair (benches and tests): hash distance, plain RMS at 32x32, and the RMS the verifier settles on (Infinity when refused). */
export function measurePair(input: FinderInput, i: number, j: number): { hamming: number; rms: number; aligned: number } {
  const views = new Views(input, [i, j]);
  const verifier = new Verifier(input, views);
  return {
    hamming: Math.min(hamming(input.dhash, i, j), hamming(input.phash, i, j)),
    rms: plainRms(input.grey, i * pixels, input.grey, j * pixels, pixels),
    aligned: verifier.verify(i, j)?.rms ?? Infinity,
  };
}
