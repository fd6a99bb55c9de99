/**
 * Reading one image for import: content hash, perceptual hash (dHash), size, channels, format and
 * a WebP thumbnail, from a single decode. Bad files raise UNSUPPORTED_IMAGE with a reason a person
 * can read; they never stop an import.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { LoupeError } from '../../shared/errors';

/** Longest side of a stored thumbnail. */
export const thumbnailSize = 256;
/** Images with more pixels than this are refused before decoding (decompression bombs). */
export const defaultPixelLimit = 100_000_000;

// One libvips thread per image: the import runs several images at once, which scales better.
sharp.concurrency(1);

/** What import records of a readable image. */
export interface ImageFacts {
  contentHash: string;
  perceptualHash: string;
  width: number;
  height: number;
  channels: number;
  format: string;
  thumbnail: { webp: Buffer; width: number; height: number };
}

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
    const { data, info } = await sharp(bytes, input)
      .rotate()
      .resize(thumbnailSize, thumbnailSize, { fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
    const webp = await sharp(data, raw).webp({ quality: 75, effort: 2 }).toBuffer();
    const perceptual = differenceHash(data, info.width, info.height, info.channels);
    return {
      contentHash: hash,
      perceptualHash: perceptual,
      width: swapped ? meta.height : meta.width,
      height: swapped ? meta.width : meta.height,
      channels: meta.channels ?? info.channels,
      format: meta.format,
      thumbnail: { webp, width: info.width, height: info.height },
    };
  } catch (error) {
    throw new LoupeError('UNSUPPORTED_IMAGE', describeSharpError(error as Error, pixelLimit), { file });
  }
}

/**
 * dHash from the decoded thumbnail pixels: box-average to 9x8 luma, then one bit per horizontal
 * neighbour pair, as 16 hex digits. Done in JS on the small buffer already in hand, which is
 * cheaper than another trip through libvips.
 */
export function differenceHash(data: Buffer, width: number, height: number, channels: number): string {
  const luma = new Float64Array(9 * 8);
  const counts = new Uint32Array(9 * 8);
  for (let y = 0; y < height; y++) {
    const cy = Math.min(7, Math.floor((y * 8) / height));
    for (let x = 0; x < width; x++) {
      const cx = Math.min(8, Math.floor((x * 9) / width));
      const o = (y * width + x) * channels;
      const value = channels >= 3 ? 0.299 * data[o]! + 0.587 * data[o + 1]! + 0.114 * data[o + 2]! : data[o]!;
      luma[cy * 9 + cx]! += value;
      counts[cy * 9 + cx]!++;
    }
  }
  let hex = '';
  for (let y = 0; y < 8; y++) {
    let nibble = 0;
    for (let x = 0; x < 8; x++) {
      const left = luma[y * 9 + x]! / Math.max(1, counts[y * 9 + x]!);
      const right = luma[y * 9 + x + 1]! / Math.max(1, counts[y * 9 + x + 1]!);
      nibble = (nibble << 1) | (left > right ? 1 : 0);
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
