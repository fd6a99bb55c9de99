/**
 * Verified duplicate groups. Exact duplicates share file bytes or decoded pixels. Near duplicates
 * are proposed without comparing all pairs, then verified on pixels:
 *
 * - proposing: multi-index hashing on the 64-bit dHash and pHash (each cut into four 16-bit
 *   chunks; images meet in a chunk's bucket, so every pair within Hamming distance 3 of either hash
 *   is proposed, kept within nearHammingMax), and a few nearest neighbours of each image in
 *   two 8x8 brightness-normalised views, found by a random-projection forest (each tree splits the
 *   images by random hyperplanes down to small leaves; images sharing a leaf are compared). One
 *   view is the picture as it is (finds re-encoded, resized and brightened copies); the other is
 *   the picture resampled in its own moment frame (centre and spread of its ink), which a crop or
 *   shift moves together with the content, so cropped copies stay neighbours.
 * - verifying: the pair's grey thumbnails, lightly blurred, at the resolution both images support
 *   (32x32, or 16x16 / 8x8 when one is small, e.g. a 0.5x copy), must agree pixel by pixel after
 *   brightness normalisation (RMS of a - g b, gain g fit by least squares); when they do not, the
 *   moment frames propose a scale and shift (checked at 8x8), Gauss-Newton refines it on 16x16
 *   (checked there) and on 32x32, and the RMS with both images resampled half way must agree.
 *   Cheap checks come first, so most distinct candidates cost an 8x8 comparison.
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
 * Fashion-MNIST 12 proposed 2.5 times the pairs of 6 and found no planted copy more: the
 * neighbour search below finds the looser ones.
 */
export const nearHammingMax = 6;
/**
 * A hash chunk value shared by more images than this proposes nothing: on plain-background
 * datasets a handful of chunk values (all-dark rows) hold thousands of unrelated images, and
 * pairing inside them is what made equal-dHash grouping noise. The neighbour search covers them.
 */
export const bucketMax = 48;
/**
 * Nearest neighbours kept per image in each 8x8 view. On Fashion-MNIST (20,000 images with the
 * bench's planted copies, bench/health.bench.ts) a resized copy's original is within its 3
 * nearest in the plain view and a 5% crop's within its 3 nearest in the moment view; with 3 the
 * forest proposed every planted pair, and 4 proposed a third more pairs for none more.
 */
export const neighbourCount = 3;
/** The same in the moment view, where look-alikes of one cut crowd closer (crops lost their originals among 3 at 70,000 images). */
export const momentNeighbourCount = 5;
/** Correlation (8x8, brightness-normalised) under which a neighbour is not proposed: copies lie above 0.9. */
export const neighbourCorrMin = 0.85;
/** Trees in the random-projection forest; more find more true neighbours at linear cost. */
export const forestTrees = 6;
/** Images per forest leaf; each leaf compares all its pairs. */
export const leafSize = 32;
/**
 * The largest RMS difference (grey levels, 0-255) between two brightness-normalised 32x32 grey
 * thumbnails, both blurred [1 2 1] (and, when aligned, both resampled half way so both carry the
 * same interpolation blur), for a verified near duplicate. Chosen on 20,000 Fashion-MNIST images
 * with the bench's 500 planted copies (bench/health.bench.ts): JPEG 70 and +10% brightness copies
 * lie under 3.5, 2x resized copies and aligned 5% crops mostly under 4.5 (a few crops lie above,
 * where the crop cut into the garment), while of ~375,000 distinct candidate pairs 13 lie under it
 * (some are genuine re-shots of one product); 5 would take 5% more crops and twice the false pairs.
 */
export const nearRmsMax = 4.5;
/**
 * The same bound when a pair is compared at 16x16 or 8x8 (one image is small, e.g. a 0.5x copy):
 * on Fashion-MNIST 96 of 100 0.5x copies lie under 4.5 on blurred 16x16; at 6 a small copy began
 * to match several distinct originals, joining them into one group.
 */
export const coarseRmsMax = 4.5;
/**
 * The largest RMS at 8x8, in the moment frames' alignment, for a pair to be aligned at all: a 5%
 * crop moves an 8x8 cell by a fraction of itself; most distinct candidates differ by more, and
 * alignment is the costly step (on Fashion-MNIST 14 sends 18% of candidates on and keeps every
 * crop that verifies; 10 lost a third of them).
 */
export const alignGateRms = 14;
/** The largest RMS at 16x16 after the coarse alignment for a pair to be aligned again at 32x32 (crops that verify lie under 6). */
export const alignGate16Rms = 7;
/** Alignment accepts scales within this factor (a 5% crop is 1.05) and shifts within 10% of the side. */
export const alignScaleMax = 1.15;
/** Brightness normalisation accepts gains within this factor (a copy 10% brighter is 1.1); a darker garment of the same cut is not a copy. */
export const gainMax = 1.25;
/** Grey standard deviation (0-255) under which an image is flat: its hashes would record noise. */
export const flatContrastMax = 6;
/** Luma entropy (bits) under which an image carries too little information to be matched by look. */
export const lowEntropyMax = 1.5;
/** Cosine similarity of embeddings (when a run's exist) under which a pixel-verified pair is still refused. */
export const embeddingCosineMin = 0.9;

/** The constants above, for the report. */
export function duplicateThresholds(): HealthThreshold[] {
  return [
    { name: 'nearHammingMax', value: nearHammingMax, description: 'Perceptual hashes (dHash or pHash) within this many bits of 64 make a pair a candidate; candidates are then checked on pixels.' },
    { name: 'bucketMax', value: bucketMax, description: 'A hash chunk shared by more images than this proposes no candidates (common on plain backgrounds, where it means nothing).' },
    { name: 'neighbourCount', value: neighbourCount, description: 'Nearest neighbours proposed per image in each 8x8 view (as-is, and in its own moment frame so crops stay close).' },
    { name: 'momentNeighbourCount', value: momentNeighbourCount, description: 'Nearest neighbours proposed per image in the moment view, where look-alikes of one cut crowd closer.' },
    { name: 'neighbourCorrMin', value: neighbourCorrMin, description: 'Neighbours whose 8x8 brightness-normalised correlation is under this are not proposed.' },
    { name: 'nearRmsMax', value: nearRmsMax, description: 'Largest RMS grey-level difference of brightness-normalised, lightly blurred, aligned 32x32 thumbnails for a near duplicate; tuned on Fashion-MNIST so re-encoded, resized, cropped and brightened copies pass and distinct garments do not.' },
    { name: 'coarseRmsMax', value: coarseRmsMax, description: 'The same bound at 16x16 or 8x8, used when one image of the pair is too small for 32x32 (lower: averaging hides differences).' },
    { name: 'alignGateRms', value: alignGateRms, description: 'Pairs whose 8x8 thumbnails, aligned by their moment frames, differ by more than this RMS are different pictures and are not aligned further.' },
    { name: 'alignGate16Rms', value: alignGate16Rms, description: 'Pairs whose 16x16 thumbnails still differ by more than this RMS after alignment are not aligned again at 32x32.' },
    { name: 'alignScaleMax', value: alignScaleMax, description: 'Alignment accepts a scale up to this factor (a crop of a few percent), and shifts up to 10% of the side.' },
    { name: 'gainMax', value: gainMax, description: 'Brightness normalisation accepts a gain up to this factor (and down to its inverse).' },
    { name: 'flatContrastMax', value: flatContrastMax, description: 'Images with a grey standard deviation under this are flat and get no perceptual grouping.' },
    { name: 'lowEntropyMax', value: lowEntropyMax, description: 'Images with luma entropy (bits) under this carry too little information for perceptual grouping.' },
    { name: 'embeddingCosineMin', value: embeddingCosineMin, description: 'When a run has embeddings, a pixel-verified pair must also have at least this cosine similarity.' },
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
  /** Optional unit-length embeddings by index (null where none). */
  embedding?: (Float32Array | null)[];
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

/** Finds exact and verified near-duplicate groups (two or more members). */
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
  const found: number[] = [];
  const add = (a: number, b: number) => found.push(a < b ? a * n + b : b * n + a);
  for (const words of [input.dhash, input.phash]) {
    for (let chunk = 0; chunk < 4; chunk++) {
      const word = chunk >> 1;
      const shift = chunk & 1 ? 0 : 16;
      const buckets = new Map<number, number[]>();
      for (const i of reps) {
        const value = (words[2 * i + word]! >>> shift) & 0xffff;
        const list = buckets.get(value);
        if (list) list.push(i);
        else buckets.set(value, [i]);
      }
      for (const list of buckets.values()) {
        if (list.length < 2 || list.length > bucketMax) continue;
        for (let a = 0; a < list.length; a++) {
          for (let b = a + 1; b < list.length; b++) {
            const i = list[a]!;
            const j = list[b]!;
            if (Math.min(hamming(input.dhash, i, j), hamming(input.phash, i, j)) <= nearHammingMax) add(i, j);
          }
        }
      }
    }
  }
  for (const [view, seed, K] of [
    [views.plain, 0x9e3779b9, neighbourCount],
    [views.moment, 0x85ebca6b, momentNeighbourCount],
  ] as const) {
    const { index, corr } = nearestNeighbours(view, reps.length, seed, K);
    for (let p = 0; p < reps.length; p++) {
      for (let k = 0; k < K; k++) {
        const q = index[p * K + k]!;
        if (q < 0 || corr[p * K + k]! < neighbourCorrMin) continue;
        add(reps[p]!, reps[q]!);
      }
    }
  }
  const sorted = Float64Array.from(found).sort();
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
function nearestNeighbours(vectors: Float32Array, m: number, seed: number, K: number): { index: Int32Array; corr: Float32Array } {
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
  for (let tree = 0; tree < forestTrees; tree++) {
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
            const oq = q * viewDim;
            const c = dot64(vectors, op, vectors, oq);
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
 * Per-image arrays for the representatives (position p is reps[p]): the 8x8 and 16x16 grey
 * averages, the two 8x8 brightness-normalised views (zero mean, unit length) and the moment
 * frame (centre x, y and spread, in 32x32 pixels).
 */
class Views {
  readonly position: Int32Array;
  readonly g8: Float32Array;
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
    this.b16 = new Float32Array(m * 256);
    this.b32 = new Uint8Array(m * pixels);
    this.b32Made = new Uint8Array(m);
    this.reps = reps;
    this.grey = input.grey;
    const g16 = new Float32Array(256);
    this.plain = new Float32Array(m * viewDim);
    this.moment = new Float32Array(m * viewDim);
    this.frame = new Float32Array(m * 3);
    const histogram = new Int32Array(256);
    const { position, g8, b16, plain, moment, frame } = this;
    // The image as floats: every sampler below then reads one array type.
    const g = new Float32Array(pixels);
    for (let p = 0; p < m; p++) {
      const i = reps[p]!;
      position[i] = p;
      const grey = input.grey;
      for (let k = 0, o = i * pixels; k < pixels; k++) g[k] = grey[o + k]!;
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          const o = 2 * y * side + 2 * x;
          g16[y * 16 + x] = (g[o]! + g[o + 1]! + g[o + side]! + g[o + side + 1]!) / 4;
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
      blur3(g16, 16);
      b16.set(g16, p * 256);
      // Moment frame: centre and spread of the difference from the background (the border's median grey).
      histogram.fill(0);
      for (let k = 0; k < side; k++) {
        histogram[grey[i * pixels + k]!]!++;
        histogram[grey[i * pixels + (side - 1) * side + k]!]!++;
      }
      for (let k = 1; k < side - 1; k++) {
        histogram[grey[i * pixels + k * side]!]!++;
        histogram[grey[i * pixels + k * side + side - 1]!]!++;
      }
      let background = 0;
      for (let seen = 0; background < 255; background++) {
        seen += histogram[background]!;
        if (2 * seen > 4 * side - 4) break;
      }
      // One pass: weight, first and second moments (the spread is E[r^2] - |centre|^2).
      let sw = 0;
      let sx = 0;
      let sy = 0;
      let sr = 0;
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const w = Math.abs(g[y * side + x]! - background);
          sw += w;
          sx += w * x;
          sy += w * y;
          sr += w * (x * x + y * y);
        }
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
          moment[o8 + v * 8 + u] = bilinear(g, 0, side, px, py);
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
function bilinear(img: Float32Array, base: number, w: number, x: number, y: number): number {
  const cx = Math.min(w - 1.000001, Math.max(0, x));
  const cy = Math.min(w - 1.000001, Math.max(0, y));
  const x0 = cx | 0;
  const y0 = cy | 0;
  const fx = cx - x0;
  const fy = cy - y0;
  const o = base + y0 * w + x0;
  return (1 - fy) * ((1 - fx) * img[o]! + fx * img[o + 1]!) + fy * ((1 - fx) * img[o + w]! + fx * img[o + w + 1]!);
}

/** RMS after brightness normalisation from the sums of a^2, ab, b^2: the better of a ~ g b and b ~ g a, g fit and clamped. */
function rmsFromSums(aa: number, ab: number, bb: number, count: number): number {
  if (count === 0) return Infinity;
  const g1 = Math.min(gainMax, Math.max(1 / gainMax, bb > 0 ? ab / bb : 1));
  const g2 = Math.min(gainMax, Math.max(1 / gainMax, aa > 0 ? ab / aa : 1));
  const e1 = aa - 2 * g1 * ab + g1 * g1 * bb;
  const e2 = bb - 2 * g2 * ab + g2 * g2 * aa;
  return Math.sqrt(Math.max(0, Math.min(e1, e2)) / count);
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

/** Brightness-normalised RMS of a against b warped (w x w images at offsets oa, ob), over the pixels whose warped position lies inside b. */
function warpedRms(a: Float32Array, oa: number, b: Float32Array, ob: number, w: number, warp: Warp): number {
  const c = (w - 1) / 2;
  let aa = 0;
  let ab = 0;
  let bb = 0;
  let count = 0;
  for (let y = 0; y < w; y++) {
    const sy = warp.scale * (y - c) + c + warp.dy;
    if (sy < -0.5 || sy > w - 0.5) continue;
    for (let x = 0; x < w; x++) {
      const sx = warp.scale * (x - c) + c + warp.dx;
      if (sx < -0.5 || sx > w - 0.5) continue;
      const u = a[oa + y * w + x]!;
      const v = bilinear(b, ob, w, sx, sy);
      aa += u * u;
      ab += u * v;
      bb += v * v;
      count++;
    }
  }
  // Half the pixels at least: a warp that keeps a sliver of the image proves nothing.
  return count * 2 >= w * w ? rmsFromSums(aa, ab, bb, count) : Infinity;
}

const blurRow = new Float32Array(compareSide);

/** [1 2 1] blur in both directions, in place, edges clamped. */
function blur3(img: Float32Array, w: number): void {
  const row = blurRow;
  const end = w - 1;
  for (let y = 0; y < w; y++) {
    const o = y * w;
    row[0] = (img[o]! + 2 * img[o]! + img[o + 1]!) / 4;
    for (let x = 1; x < end; x++) row[x] = (img[o + x - 1]! + 2 * img[o + x]! + img[o + x + 1]!) / 4;
    row[end] = (img[o + end - 1]! + 2 * img[o + end]! + img[o + end]!) / 4;
    for (let x = 0; x < w; x++) img[o + x] = row[x]!;
  }
  for (let x = 0; x < w; x++) {
    row[0] = (img[x]! + 2 * img[x]! + img[w + x]!) / 4;
    for (let y = 1; y < end; y++) row[y] = (img[(y - 1) * w + x]! + 2 * img[y * w + x]! + img[(y + 1) * w + x]!) / 4;
    row[end] = (img[(end - 1) * w + x]! + 2 * img[end * w + x]! + img[end * w + x]!) / 4;
    for (let y = 0; y < w; y++) img[y * w + x] = row[y]!;
  }
}

/**
 * warpedRms with both images resampled: each moves half way (b by the half warp, a by its
 * inverse), so both carry the same interpolation blur and a clean copy is not penalised for it.
 */
function symmetricRms(a: Float32Array, oa: number, b: Float32Array, ob: number, w: number, warp: Warp): number {
  const c = (w - 1) / 2;
  const r = Math.sqrt(warp.scale);
  const ex = warp.dx / (1 + r);
  const ey = warp.dy / (1 + r);
  // Columns are sampled the same in every row: their bilinear cell and weight in a and b, once
  // (both positions grow with x, so the columns inside both images are one run).
  const { ax0, afx, bx0, bfx } = columns;
  let first = w;
  let last = -1;
  for (let x = 0; x < w; x++) {
    const bx = r * (x - c) + c + ex;
    const ax = (x - c - ex) / r + c;
    if (bx < -0.5 || bx > w - 0.5 || ax < -0.5 || ax > w - 0.5) continue;
    const cax = Math.min(w - 1.000001, Math.max(0, ax));
    const cbx = Math.min(w - 1.000001, Math.max(0, bx));
    ax0[x] = cax | 0;
    afx[x] = cax - (cax | 0);
    bx0[x] = cbx | 0;
    bfx[x] = cbx - (cbx | 0);
    if (first === w) first = x;
    last = x;
  }
  let aa = 0;
  let ab = 0;
  let bb = 0;
  let count = 0;
  for (let y = 0; y < w; y++) {
    const by = r * (y - c) + c + ey;
    const ay = (y - c - ey) / r + c;
    if (by < -0.5 || by > w - 0.5 || ay < -0.5 || ay > w - 0.5) continue;
    const cay = Math.min(w - 1.000001, Math.max(0, ay));
    const cby = Math.min(w - 1.000001, Math.max(0, by));
    const ray = oa + (cay | 0) * w;
    const fay = cay - (cay | 0);
    const rby = ob + (cby | 0) * w;
    const fby = cby - (cby | 0);
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
      count++;
    }
  }
  return count * 2 >= w * w ? rmsFromSums(aa, ab, bb, count) : Infinity;
}

/** Column scratch for symmetricRms (made once). */
const columns = { ax0: new Int32Array(compareSide), afx: new Float64Array(compareSide), bx0: new Int32Array(compareSide), bfx: new Float64Array(compareSide) };

/** Pixel verification of candidate pairs, with scratch buffers made once. */
class Verifier {
  private readonly a32 = new Float32Array(pixels);
  private readonly b32 = new Float32Array(pixels);
  private readonly gx = new Float32Array(pixels);
  private readonly gy = new Float32Array(pixels);
  private readonly column = new Int32Array(side);
  private readonly fraction = new Float64Array(side);
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
    const bound = w === 32 ? nearRmsMax : coarseRmsMax;
    // Block averages hide differences, so a pair already apart at 8x8 is apart at full size too.
    let rms = plainRms(views.g8, p * 64, views.g8, q * 64, 64);
    if (rms <= bound && w === 16) rms = plainRms(views.b16, p * 256, views.b16, q * 256, 256);
    else if (rms <= bound && w === 32) {
      views.ensure32(p);
      views.ensure32(q);
      rms = plainRms(views.b32, p * pixels, views.b32, q * pixels, pixels);
    }
    if (rms > bound && w > 8) rms = this.aligned(p, q, w);
    if (rms > bound) return null;
    const hammingBits = Math.min(hamming(input.dhash, i, j), hamming(input.phash, i, j));
    let cosine: number | null = null;
    const ei = input.embedding?.[i];
    const ej = input.embedding?.[j];
    if (ei && ej) {
      cosine = 0;
      for (let k = 0; k < ei.length; k++) cosine += ei[k]! * ej[k]!;
      if (cosine < embeddingCosineMin) return null;
    }
    return { hamming: hammingBits, rms: Math.round(rms * 100) / 100, cosine };
  }

  /**
   * RMS at w x w (16 or 32) after aligning b to a, Infinity when refused early: the moment frames
   * propose scale and shift, checked at 8x8; Gauss-Newton refines on 16x16, checked there; for 32
   * two more steps on 32x32. Each check drops most distinct pairs before the costlier step.
   */
  private aligned(p: number, q: number, w: number): number {
    const { frame, g8, b16, b32 } = this.views;
    // The image with the larger spread (the zoomed-in one, e.g. a crop) is the reference: warping
    // the other by a scale under 1 keeps every reference pixel inside it.
    if (frame[q * 3 + 2]! > frame[p * 3 + 2]!) [p, q] = [q, p];
    const scale = frame[q * 3 + 2]! / frame[p * 3 + 2]!;
    if (scale > alignScaleMax || scale < 1 / alignScaleMax) return Infinity;
    const c32 = (side - 1) / 2;
    // In 32x32 pixels: b's position of a's pixel x is cxb + scale (x - cxa) = scale (x - c) + c + dx.
    const dx32 = frame[q * 3]! - c32 - scale * (frame[p * 3]! - c32);
    const dy32 = frame[q * 3 + 1]! - c32 - scale * (frame[p * 3 + 1]! - c32);
    if (Math.abs(dx32) > side * 0.1 || Math.abs(dy32) > side * 0.1) return Infinity;
    // Pixel centres: x16 = (x32 - 0.5) / 2 and x8 = (x16 - 0.5) / 2, so shifts halve with the side.
    if (symmetricRms(g8, p * 64, g8, q * 64, 8, { scale, dx: dx32 / 4, dy: dy32 / 4 }) > alignGateRms) return Infinity;
    const warp = this.refine(b16, p * 256, b16, q * 256, { scale, dx: dx32 / 2, dy: dy32 / 2 }, 16, 2);
    if (!warp) return Infinity;
    if (w === 16) return symmetricRms(b16, p * 256, b16, q * 256, 16, warp);
    if (warpedRms(b16, p * 256, b16, q * 256, 16, warp) > alignGate16Rms) return Infinity;
    const { a32, b32: bf } = this;
    this.views.ensure32(p);
    this.views.ensure32(q);
    for (let k = 0; k < pixels; k++) {
      a32[k] = b32[p * pixels + k]!;
      bf[k] = b32[q * pixels + k]!;
    }
    const fine = this.refine(a32, 0, bf, 0, { scale: warp.scale, dx: warp.dx * 2, dy: warp.dy * 2 }, side, 2);
    return fine ? symmetricRms(a32, 0, bf, 0, side, fine) : Infinity;
  }

  /**
   * `steps` Gauss-Newton steps on scale and shift from `start` (w x w images at offsets oa, ob); null when it leaves the
   * allowed range. Each step samples b and its gradients with one set of bilinear weights per
   * pixel, and uses the gain fit on the previous step's samples.
   */
  private refine(a: Float32Array, oa: number, b: Float32Array, ob: number, start: Warp, w: number, steps: number): Warp | null {
    const c = (w - 1) / 2;
    const { gx, gy } = this;
    for (let y = 0; y < w; y++) {
      const o = y * w;
      const r = ob + o;
      const up = y > 0 ? r - w : r;
      const down = y < w - 1 ? r + w : r;
      gx[o] = (b[r + 1]! - b[r]!) / 2;
      for (let x = 1; x < w - 1; x++) gx[o + x] = (b[r + x + 1]! - b[r + x - 1]!) / 2;
      gx[o + w - 1] = (b[r + w - 1]! - b[r + w - 2]!) / 2;
      for (let x = 0; x < w; x++) gy[o + x] = (b[down + x]! - b[up + x]!) / 2;
    }
    let { scale: s, dx, dy } = start;
    let gain = 1;
    const { column, fraction } = this;
    for (let step = 0; step < steps; step++) {
      // Columns are sampled the same in every row: their left neighbour and weight, once per step
      // (the scale is positive, so the columns inside b are one run from first to last).
      let first = w;
      let last = -1;
      for (let x = 0; x < w; x++) {
        const sx = s * (x - c) + c + dx;
        if (sx < 0 || sx > w - 1) continue;
        const x0 = Math.min(w - 2, sx | 0);
        column[x] = x0;
        fraction[x] = sx - x0;
        if (first === w) first = x;
        last = x;
      }
      let h00 = 0, h01 = 0, h02 = 0, h11 = 0, h12 = 0, h22 = 0, r0 = 0, r1 = 0, r2 = 0, ab = 0, bb = 0; // prettier-ignore
      for (let y = 0; y < w; y++) {
        const sy = s * (y - c) + c + dy;
        if (sy < 0 || sy > w - 1) continue;
        const y0 = Math.min(w - 2, sy | 0);
        const fy = sy - y0;
        for (let x = first; x <= last; x++) {
          const fx = fraction[x]!;
          const o = y0 * w + column[x]!;
          const ib = ob + o;
          const w00 = (1 - fx) * (1 - fy);
          const w01 = fx * (1 - fy);
          const w10 = (1 - fx) * fy;
          const w11 = fx * fy;
          const v = w00 * b[ib]! + w01 * b[ib + 1]! + w10 * b[ib + w]! + w11 * b[ib + w + 1]!;
          const ix = gain * (w00 * gx[o]! + w01 * gx[o + 1]! + w10 * gx[o + w]! + w11 * gx[o + w + 1]!);
          const iy = gain * (w00 * gy[o]! + w01 * gy[o + 1]! + w10 * gy[o + w]! + w11 * gy[o + w + 1]!);
          const u = a[oa + y * w + x]!;
          ab += u * v;
          bb += v * v;
          const j0 = ix * (x - c) + iy * (y - c);
          const e = u - gain * v;
          r0 += j0 * e;
          r1 += ix * e;
          r2 += iy * e;
          h00 += j0 * j0;
          h01 += j0 * ix;
          h02 += j0 * iy;
          h11 += ix * ix;
          h12 += ix * iy;
          h22 += iy * iy;
        }
      }
      gain = Math.min(gainMax, Math.max(1 / gainMax, bb > 0 ? ab / bb : 1));
      const det = h00 * (h11 * h22 - h12 * h12) - h01 * (h01 * h22 - h12 * h02) + h02 * (h01 * h12 - h11 * h02);
      if (Math.abs(det) < 1e-9) break;
      const d0 = (r0 * (h11 * h22 - h12 * h12) - h01 * (r1 * h22 - h12 * r2) + h02 * (r1 * h12 - h11 * r2)) / det;
      const d1 = (h00 * (r1 * h22 - h12 * r2) - r0 * (h01 * h22 - h12 * h02) + h02 * (h01 * r2 - r1 * h02)) / det;
      const d2 = (h00 * (h11 * r2 - r1 * h12) - h01 * (h01 * r2 - r1 * h02) + r0 * (h01 * h12 - h11 * h02)) / det;
      s += d0;
      dx += d1;
      dy += d2;
      // A crop of a few percent and a shift of a few pixels, no more: beyond that it is another picture.
      if (s > alignScaleMax || s < 1 / alignScaleMax || Math.abs(dx) > w * 0.1 || Math.abs(dy) > w * 0.1) return null;
    }
    return { scale: s, dx, dy };
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
