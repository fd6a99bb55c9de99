/** Generated benchmark data, cached under .bench/ so repeated runs measure the same files. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/** The folder benchmarks keep their generated data in. */
export const benchDir = path.resolve(import.meta.dirname, '../.bench');

/**
 * `count` JPEGs of width x height in `classes` class folders: smooth gradients with noise, so they
 * compress like photographs rather than flat colour. Returns the folder.
 */
export async function jpegFolder(count: number, width: number, height: number, classes = 10): Promise<string> {
  const dir = path.join(benchDir, `jpeg-${count}-${width}x${height}`);
  const marker = path.join(dir, '.complete');
  if (fs.existsSync(marker)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  let state = 12345;
  const random = () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < count; i++) {
    const tint = [random() * 255, random() * 255, random() * 255];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        const noise = random() * 40;
        pixels[o] = (tint[0]! + x * 0.3 + noise) % 256;
        pixels[o + 1] = (tint[1]! + y * 0.4 + noise) % 256;
        pixels[o + 2] = (tint[2]! + (x + y) * 0.2 + noise) % 256;
      }
    }
    const folder = path.join(dir, `class_${i % classes}`);
    fs.mkdirSync(folder, { recursive: true });
    await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toFile(path.join(folder, `img_${i}.jpg`));
  }
  fs.writeFileSync(marker, '');
  return dir;
}

/** Lists the files under a folder, recursively, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else out.push(full);
  }
  return out.sort();
}
