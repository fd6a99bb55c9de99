/**
 * Reading one image for import: content hash, perceptual hash (dHash), size, channels, format, a
 * WebP thumbnail and the health features (src/main/health/features.ts), from a single decode. Bad files raise UNSUPPORTED_IMAGE with a reason a person
 * can read; they never stop an import.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { LoupeError } from '../../shared/errors';
import { computeFeatures, pixelHash, type ImageFeatures } from '../health/features';

/** Longest side of a stored thumbnail. */
export const thumbnailSize = 256;
import { defaultPixelLimit } from '../util/limits';

export { defaultPixelLimit };

// One libvips thread per image: the import runs several images at once, which scales better.
sharp.concurrency(1);

/** What import records of a readable image. */
export interface ImageFacts {
  contentHash: string;
  /** null for a flat image (its dHash would be noise, making unrelated flat images look alike). */
  perceptualHash: string | null;
  width: number;
  height: number;
  channels: number;
  format: string;
  thumbnail: { webp: Buffer; width: number; height: number };
  /** What the health checks need, stored by content hash. */
  features: ImageFeatures;
}

/**
 * Images up to this many pixels are decoded in full once, so the hash of their decoded pixels
 * finds a re-saved copy (PNG to PNG, JPEG to PNG); larger ones keep libvips' shrink-on-load for the
 * thumbnail, and their "pixel hash" is their content hash (exact copies then means equal bytes).
 */
export const fullDecodeLimit = 4_000_000;

/** The SHA-256 of a file's bytes, hex. */
export function contentHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads and measures one image file. Throws UNSUPPORTED_IMAGE (with the reason) for files sharp cannot decode. */
export async function readImageFacts(file: string, pixelLimit = defaultPixelLimit): Promise<ImageFacts> {
  const bytes = await fs.readFile(file);
  const hash = contentHash(bytes);
  try {
    const input = { limitInputPixels: pixelLimit, failOn: 'truncated' as const };
    const meta = await sharp(bytes, input).metadata();
    if (!meta.width || !meta.height || !meta.format) throw new Error('no image size in header');
    // Orientations 5-8 swap width and height once the EXIF rotation is applied.
    const swapped = (meta.orientation ?? 1) >= 5;
    const thumbnailOptions = { fit: 'inside', withoutEnlargement: true } as const;
    let fullHash: string;
    let decoded: { data: Buffer; info: sharp.OutputInfo };
    if (meta.width * meta.height <= fullDecodeLimit) {
      const full = await sharp(bytes, input).rotate().raw().toBuffer({ resolveWithObject: true });
      fullHash = pixelHash({ data: full.data, width: full.info.width, height: full.info.height, channels: full.info.channels });
      const fullRaw = { raw: { width: full.info.width, height: full.info.height, channels: full.info.channels } };
      decoded =
        full.info.width <= thumbnailSize && full.info.height <= thumbnailSize
          ? full
          : await sharp(full.data, fullRaw).resize(thumbnailSize, thumbnailSize, thumbnailOptions).raw().toBuffer({ resolveWithObject: true });
    } else {
      fullHash = `bytes:${hash}`;
      decoded = await sharp(bytes, input).rotate().resize(thumbnailSize, thumbnailSize, thumbnailOptions).raw().toBuffer({ resolveWithObject: true });
    }
    const { data, info } = decoded;
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
    const webp = await sharp(data, raw).webp({ quality: 75, effort: 2 }).toBuffer();
    const perceptual = differenceHash(data, info.width, info.height, info.channels);
    const features = await computeFeatures(fullHash, { data, width: info.width, height: info.height, channels: info.channels });

    return {
      contentHash: hash,
      perceptualHash: perceptual,
      width: swapped ? meta.height : meta.width,
      height: swapped ? meta.width : meta.height,
      channels: meta.channels ?? info.channels,
      // sharp names the HEIF container; AVIF is HEIF with AV1 inside.
      format: meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : meta.format,
      thumbnail: { webp, width: info.width, height: info.height },
      features,
    };
  } catch (error) {
    throw new LoupeError('UNSUPPORTED_IMAGE', describeSharpError(error as Error, pixelLimit), { file });
  }
}

/** Luma range (0-255) of the 9x8 grid under which an image counts as flat. */
const flatRange = 8;

/**
 * dHash from the decoded thumbnail pixels: box-average to 9x8 luma, then one bit per horizontal
 * neighbour pair, as 16 hex digits. Done in JS on the small buffer already in hand, which is
 * cheaper than another trip through libvips.
 */
export function differenceHash(data: Buffer, width: number, height: number, channels: number): string | null {
  // Each of the 9x8 cells averages a non-empty block of pixels, even for images under 9 px wide.
  const edges = (cells: number, size: number) =>
    Array.from({ length: cells }, (_, c) => {
      const start = Math.min(size - 1, Math.floor((c * size) / cells));
      return [start, Math.max(start + 1, Math.floor(((c + 1) * size) / cells))] as const;
    });
  const columns = edges(9, width);
  const rows = edges(8, height);
  const luma = (x: number, y: number) => {
    const o = (y * width + x) * channels;
    return channels >= 3 ? 0.299 * data[o]! + 0.587 * data[o + 1]! + 0.114 * data[o + 2]! : data[o]!;
  };
  const cell = new Float64Array(9 * 8);
  rows.forEach(([y0, y1], cy) => {
    columns.forEach(([x0, x1], cx) => {
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += luma(x, y);
      cell[cy * 9 + cx] = sum / ((y1 - y0) * (x1 - x0));
    });
  });
  // Cells within a few grey levels of each other: the bits would only record compression noise.
  if (Math.max(...cell) - Math.min(...cell) < flatRange) return null;
  let hex = '';
  for (let y = 0; y < 8; y++) {
    let nibble = 0;
    for (let x = 0; x < 8; x++) {
      nibble = (nibble << 1) | (cell[y * 9 + x]! > cell[y * 9 + x + 1]! ? 1 : 0);
      if (x % 4 === 3) {
        hex += nibble.toString(16);
        nibble = 0;
      }
    }
  }
  return hex;
}

function describeSharpError(error: Error, pixelLimit: number): string {
  const text = error.message;
  if (/pixel limit/i.test(text)) return `image is larger than the ${pixelLimit.toLocaleString('en')} pixel limit`;
  if (/unsupported image format/i.test(text)) return 'not an image (unknown file format)';
  if (/premature end|truncated|unexpected end|incomplete/i.test(text)) return `truncated image: ${firstLine(text)}`;
  return `cannot decode: ${firstLine(text)}`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
