/** Test fixtures built by code: temporary folders and generated images. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach } from 'vitest';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test. */
export function tempDir(prefix = 'loupe-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Writes a small image whose colour depends on `seed`. */
export async function writeImage(
  file: string,
  seed: number,
  options: { width?: number; height?: number; format?: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif' } = {},
): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const width = options.width ?? 32;
  const height = options.height ?? 24;
  // A gradient tinted by seed under a seeded 4x4 block pattern: distinct content hashes and, unlike
  // a bare gradient, a distinct perceptual hash per seed (so images are not "duplicates").
  const pixels = Buffer.alloc(width * height * 3);
  const block = (bx: number, by: number) => ((Math.imul(seed + 1, 2654435761) ^ Math.imul(bx * 31 + by + 7, 40503)) >>> 8) % 96;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const b = block(x >> 2, y >> 2);
      pixels[o] = (x * 4 + seed * 37 + b) % 256;
      pixels[o + 1] = (y * 4 + seed * 11 + b) % 256;
      pixels[o + 2] = (seed * 53 + b) % 256;
    }
  }
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  await image.toFormat(options.format ?? 'png').toFile(file);
}

/** A folder of `perClass` images in each of `classes`, optionally under train/valid/test. */
export async function writeClassFolders(
  root: string,
  classes: string[],
  perClass: number,
  layout: 'flat' | 'splits' = 'flat',
): Promise<void> {
  let seed = 0;
  for (const name of classes) {
    for (let i = 0; i < perClass; i++) {
      const split = layout === 'splits' ? (i % 5 === 0 ? 'valid' : i % 5 === 1 ? 'test' : 'train') : '';
      await writeImage(path.join(root, split, name, `${name}_${i}.png`), seed++);
    }
  }
}

/** A PNG whose header claims width x height pixels: a decompression bomb that only its header describes. */
export async function writeHugeHeaderPng(file: string, width: number, height: number): Promise<void> {
  const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer();
  // IHDR data starts at byte 16: width (4 bytes), height (4 bytes); its CRC follows the 13 data bytes.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, png);
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// Appended helpers (kept below the originals; ES imports are hoisted).
import { createHash } from 'node:crypto';

/** Every file under `root` (relative path → sha256 of its bytes, size and mtime), to prove originals are untouched. */
export function snapshotFiles(root: string): Map<string, { sha256: string; mtimeMs: number; size: number }> {
  const out = new Map<string, { sha256: string; mtimeMs: number; size: number }>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const stat = fs.statSync(full);
        out.set(path.relative(root, full), {
          sha256: createHash('sha256').update(fs.readFileSync(full)).digest('hex'),
          mtimeMs: stat.mtimeMs,
          size: stat.size,
        });
      }
    }
  };
  walk(root);
  return out;
}

/** Hamming distance between two equal-length hex strings, in bits. */
export function hammingHex(a: string, b: string): number {
  let x = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let bits = 0;
  while (x > 0n) {
    bits += Number(x & 1n);
    x >>= 1n;
  }
  return bits;
}

/** A regression dataset on disk: images whose brightness encodes their target, and a `path,value` CSV. */
export interface RegressionDataset {
  /** The CSV (header `path,value`), paths relative to `root`. */
  csv: string;
  root: string;
  /** The true value of each image by relative path. */
  truth: Map<string, number>;
  /** Relative paths whose CSV value was planted wrong. */
  wrong: string[];
}

/**
 * Writes `count` images whose mean brightness is a linear function of a target in [0, 100] (with a
 * seeded texture so no two are duplicates), and a CSV giving each its target, except `wrong` images
 * whose value is replaced by one at least 40 away from the truth.
 */
export async function writeRegressionDataset(
  root: string,
  options: { count?: number; wrong?: number; seed?: number; size?: number } = {},
): Promise<RegressionDataset> {
  const count = options.count ?? 120;
  const wrongCount = options.wrong ?? 0;
  const seed = options.seed ?? 1;
  const size = options.size ?? 24;
  fs.mkdirSync(root, { recursive: true });
  let state = seed >>> 0 || 1;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const truth = new Map<string, number>();
  const rows: string[] = ['path,value'];
  const wrong: string[] = [];
  for (let i = 0; i < count; i++) {
    const value = Math.round(random() * 1000) / 10;
    const rel = `img_${String(i).padStart(4, '0')}.png`;
    const base = 30 + value * 1.9;
    const pixels = Buffer.alloc(size * size * 3);
    for (let p = 0; p < size * size; p++) {
      const noise = (random() - 0.5) * 24;
      const v = Math.max(0, Math.min(255, Math.round(base + noise)));
      pixels[p * 3] = v;
      pixels[p * 3 + 1] = Math.max(0, Math.min(255, v - 10 + ((i * 7) % 20)));
      pixels[p * 3 + 2] = Math.max(0, Math.min(255, v + 10 - ((i * 3) % 20)));
    }
    await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toFile(path.join(root, rel));
    truth.set(rel, value);
    // Planted errors are spread over the dataset: every (count / wrong)-th image.
    const planted = wrongCount > 0 && i % Math.floor(count / wrongCount) === 0 && wrong.length < wrongCount;
    const given = planted ? (value < 50 ? value + 40 + random() * 10 : value - 40 - random() * 10) : value;
    if (planted) wrong.push(rel);
    rows.push(`${rel},${given.toFixed(1)}`);
  }
  const csv = path.join(root, 'values.csv');
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  return { csv, root, truth, wrong };
}
