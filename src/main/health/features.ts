/**
 * Per-image health features, computed once from pixels already decoded (at import, or by the
 * health job for images imported before it existed) and stored by content hash: a hash of the
 * decoded pixels (a re-saved PNG is an exact copy), a 32x32 grey thumbnail (to verify near
 * duplicates), 64-bit dHash and pHash (to propose them), and the quality scores (brightness,
 * contrast, entropy, sharpness, colourfulness). Everything here is plain JS on small buffers, except
 * one libvips resize to the fixed 64x64 grey the scores are measured on.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';

/** Side of the grey image the scores are measured on: fixed, so sharpness is comparable across image sizes. */
export const measureSide = 64;
/** Side of the stored grey thumbnail used to verify near duplicates. */
export const compareSide = 32;

/** What the health checks know of one decoded image. */
export interface ImageFeatures {
  /** SHA-256 (hex) of the decoded pixels with their width, height and channel count. */
  pixelHash: string;
  /** 32x32 grey thumbnail, row-major, 1024 bytes. */
  grey: Buffer;
  /** 64-bit difference hash as 8 bytes (big-endian bit order: row by row). */
  dhash: Buffer;
  /** 64-bit DCT hash as 8 bytes. */
  phash: Buffer;
  /** Mean luma, 0-255. */
  brightness: number;
  /** Standard deviation of luma, 0-128. */
  contrast: number;
  /** Shannon entropy of the luma histogram, bits (0-8). */
  entropy: number;
  /** Variance of the Laplacian of the 64x64 grey image. */
  sharpness: number;
  /** Hasler-Süsstrunk colourfulness; 0 for grey images. */
  colourfulness: number;
}

/** Raw decoded pixels as sharp hands them over. */
export interface RawPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** The SHA-256 of decoded pixels, with their geometry so a 2x1 and a 1x2 image never match. */
export function pixelHash(pixels: RawPixels): string {
  return createHash('sha256').update(`${pixels.width}x${pixels.height}x${pixels.channels}:`).update(pixels.data).digest('hex');
}

/**
 * Features of one image. `full` gives the pixel hash (the full decode); `thumb` (the same image,
 * possibly downscaled) gives everything else. They may be the same buffer.
 */
export async function computeFeatures(full: RawPixels | string, thumb: RawPixels): Promise<ImageFeatures> {
  const raw = { raw: { width: thumb.width, height: thumb.height, channels: thumb.channels as 1 | 2 | 3 | 4 } };
  // Alpha is dropped, not composited: what the hashes compare is the colour a pixel carries.
  let pipeline = sharp(thumb.data, raw);
  if (thumb.channels === 2 || thumb.channels === 4) pipeline = pipeline.removeAlpha();
  const grey64 = await pipeline
    .greyscale()
    .resize(measureSide, measureSide, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
  return featuresFromGrey(typeof full === 'string' ? full : pixelHash(full), grey64, colourfulness(thumb));
}

/** The features from the 64x64 grey image and a precomputed pixel hash and colourfulness. */
export function featuresFromGrey(hash: string, grey64: Buffer, colour: number): ImageFeatures {
  const n = measureSide * measureSide;
  let sum = 0;
  const histogram = new Float64Array(256);
  for (let i = 0; i < n; i++) {
    sum += grey64[i]!;
    histogram[grey64[i]!]!++;
  }
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (grey64[i]! - mean) ** 2;
  let entropy = 0;
  for (const count of histogram) if (count > 0) entropy -= (count / n) * Math.log2(count / n);
  const grey = halve(grey64, measureSide);
  return {
    pixelHash: hash,
    grey,
    dhash: differenceBits(grey, compareSide),
    phash: dctBits(grey),
    brightness: mean,
    contrast: Math.sqrt(squares / n),
    entropy,
    sharpness: laplacianVariance(grey64, measureSide),
    colourfulness: colour,
  };
}

/** 2x2 box average: side x side to side/2 x side/2. */
function halve(grey: Buffer, side: number): Buffer {
  const half = side / 2;
  const out = Buffer.alloc(half * half);
  for (let y = 0; y < half; y++) {
    for (let x = 0; x < half; x++) {
      const o = 2 * y * side + 2 * x;
      out[y * half + x] = Math.round((grey[o]! + grey[o + 1]! + grey[o + side]! + grey[o + side + 1]!) / 4);
    }
  }
  return out;
}

/** Variance of the 4-neighbour Laplacian over the interior: how much fine detail (focus) an image has. */
function laplacianVariance(grey: Buffer, side: number): number {
  let sum = 0;
  let squares = 0;
  let count = 0;
  for (let y = 1; y < side - 1; y++) {
    for (let x = 1; x < side - 1; x++) {
      const o = y * side + x;
      const v = grey[o - 1]! + grey[o + 1]! + grey[o - side]! + grey[o + side]! - 4 * grey[o]!;
      sum += v;
      squares += v * v;
      count++;
    }
  }
  const mean = sum / count;
  return squares / count - mean * mean;
}

/** Hasler and Süsstrunk's colourfulness on RGB pixels; 0 for one- or two-channel images. */
export function colourfulness(pixels: RawPixels): number {
  if (pixels.channels < 3) return 0;
  const n = pixels.width * pixels.height;
  let sumRg = 0;
  let sumYb = 0;
  let sqRg = 0;
  let sqYb = 0;
  for (let i = 0; i < n; i++) {
    const o = i * pixels.channels;
    const r = pixels.data[o]!;
    const g = pixels.data[o + 1]!;
    const b = pixels.data[o + 2]!;
    const rg = r - g;
    const yb = 0.5 * (r + g) - b;
    sumRg += rg;
    sumYb += yb;
    sqRg += rg * rg;
    sqYb += yb * yb;
  }
  const mRg = sumRg / n;
  const mYb = sumYb / n;
  const sdRg = Math.sqrt(Math.max(0, sqRg / n - mRg * mRg));
  const sdYb = Math.sqrt(Math.max(0, sqYb / n - mYb * mYb));
  return Math.hypot(sdRg, sdYb) + 0.3 * Math.hypot(mRg, mYb);
}

/** dHash: the grey image box-averaged to 9x8, one bit per horizontal neighbour pair (left brighter). */
function differenceBits(grey: Buffer, side: number): Buffer {
  const cells = new Float64Array(9 * 8);
  for (let cy = 0; cy < 8; cy++) {
    const y0 = Math.floor((cy * side) / 8);
    const y1 = Math.floor(((cy + 1) * side) / 8);
    for (let cx = 0; cx < 9; cx++) {
      const x0 = Math.floor((cx * side) / 9);
      const x1 = Math.max(x0 + 1, Math.floor(((cx + 1) * side) / 9));
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += grey[y * side + x]!;
      cells[cy * 9 + cx] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  const bits = Buffer.alloc(8);
  for (let y = 0; y < 8; y++) {
    let byte = 0;
    for (let x = 0; x < 8; x++) byte = (byte << 1) | (cells[y * 9 + x]! > cells[y * 9 + x + 1]! ? 1 : 0);
    bits[y] = byte;
  }
  return bits;
}

/** cos((2x + 1) u pi / 64) for u < 8, x < 32: the rows of the 32-point DCT-II that pHash keeps. */
const dctRows = (() => {
  const rows = new Float64Array(8 * compareSide);
  for (let u = 0; u < 8; u++) {
    for (let x = 0; x < compareSide; x++) rows[u * compareSide + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * compareSide));
  }
  return rows;
})();

/** pHash: the 8x8 lowest frequencies of the 32x32 grey image's DCT, one bit each (above the median of the 63 AC terms). */
function dctBits(grey: Buffer): Buffer {
  const side = compareSide;
  // Rows first: 8 frequencies for each of the 32 rows, then the 8 column frequencies of those.
  const partial = new Float64Array(side * 8);
  for (let y = 0; y < side; y++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let x = 0; x < side; x++) s += grey[y * side + x]! * dctRows[u * side + x]!;
      partial[y * 8 + u] = s;
    }
  }
  const coefficients = new Float64Array(64);
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let y = 0; y < side; y++) s += partial[y * 8 + u]! * dctRows[v * side + y]!;
      coefficients[v * 8 + u] = s;
    }
  }
  const ac = [...coefficients.subarray(1)].sort((a, b) => a - b);
  const median = (ac[31]! + ac[32]!) / 2;
  const bits = Buffer.alloc(8);
  for (let i = 0; i < 64; i++) if (coefficients[i]! > median) bits[i >> 3]! |= 0x80 >> (i & 7);
  return bits;
}
