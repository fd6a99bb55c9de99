/**
 * The image baseline, Loupe's features when no pretrained backbone is available:
 *  - a 16x16 grey thumbnail (256 values, 0..1),
 *  - per-channel mean and standard deviation of a 32x32 RGB copy (6 values),
 *  - gradient-orientation histograms: the 32x32 grey image in a 4x4 grid of cells, 8 unsigned
 *    orientation bins per cell weighted by gradient magnitude, each cell normalised (128 values),
 *  - edge density: the share of pixels whose gradient magnitude exceeds a fixed threshold (1 value).
 * 391 values in all. It separates shapes and colours reasonably; a pretrained backbone does better.
 */
import sharp from 'sharp';
import { defaultPixelLimit } from '../util/limits';

/** Length of a baseline vector. */
export const baselineDim = 256 + 6 + 128 + 1;

/** An image as a file, its encoded bytes, or 8-bit RGB pixels (an augmented view). */
export type ImageInput = string | Buffer | { data: Buffer; width: number; height: number };

/**
 * A sharp pipeline on any ImageInput. Files are turned upright by their EXIF orientation, as the
 * thumbnails and the augmented views are, and refused past import's pixel limit.
 */
export function sharpOf(input: ImageInput): sharp.Sharp {
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    return sharp(input, { failOn: 'none', limitInputPixels: defaultPixelLimit }).rotate();
  }
  return sharp(input.data, { raw: { width: input.width, height: input.height, channels: 3 } });
}

/** Baseline features of one image. */
export async function baselineFeatures(input: ImageInput): Promise<Float32Array> {
  const rgb = await sharpOf(input)
    .removeAlpha()
    .toColourspace('srgb')
    .resize(32, 32, { fit: 'fill' })
    .raw()
    .toBuffer();
  return baselineFromRgb32(rgb);
}

/** Baseline features from a 32x32 RGB buffer (3,072 bytes). */
export function baselineFromRgb32(rgb: Uint8Array): Float32Array {
  const size = 32;
  const out = new Float32Array(baselineDim);
  const grey = new Float32Array(size * size);
  const sums = [0, 0, 0];
  const squares = [0, 0, 0];
  for (let i = 0; i < size * size; i++) {
    const r = rgb[i * 3]! / 255;
    const g = rgb[i * 3 + 1]! / 255;
    const b = rgb[i * 3 + 2]! / 255;
    grey[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    sums[0]! += r;
    sums[1]! += g;
    sums[2]! += b;
    squares[0]! += r * r;
    squares[1]! += g * g;
    squares[2]! += b * b;
  }
  // 16x16 thumbnail: the mean of each 2x2 block.
  let o = 0;
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      const i = y * 2 * size + x * 2;
      out[o++] = (grey[i]! + grey[i + 1]! + grey[i + size]! + grey[i + size + 1]!) / 4;
    }
  }
  const n = size * size;
  for (let c = 0; c < 3; c++) {
    const mean = sums[c]! / n;
    out[o++] = mean;
    out[o++] = Math.sqrt(Math.max(0, squares[c]! / n - mean * mean));
  }
  const hist = new Float32Array(128);
  let edges = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const gx = grey[y * size + x + 1]! - grey[y * size + x - 1]!;
      const gy = grey[(y + 1) * size + x]! - grey[(y - 1) * size + x]!;
      const magnitude = Math.hypot(gx, gy);
      if (magnitude > 0.2) edges++;
      // Unsigned orientation in [0, pi), 8 bins.
      let angle = Math.atan2(gy, gx);
      if (angle < 0) angle += Math.PI;
      const bin = Math.min(7, Math.floor((angle / Math.PI) * 8));
      const cell = Math.floor(y / 8) * 4 + Math.floor(x / 8);
      hist[cell * 8 + bin]! += magnitude;
    }
  }
  for (let cell = 0; cell < 16; cell++) {
    let norm = 0;
    for (let b = 0; b < 8; b++) norm += hist[cell * 8 + b]! ** 2;
    norm = Math.sqrt(norm) + 1e-6;
    for (let b = 0; b < 8; b++) out[o++] = hist[cell * 8 + b]! / norm;
  }
  out[o++] = edges / ((size - 2) * (size - 2));
  return out;
}
