/**
 * `npm run bench -- embed [--n 256] [--size 64]`: the same small CNN (tinyOnnx / tinyTfjs, same
 * weights) embedding the same PNGs through onnxruntime-node and through TF.js wasm (cpu where wasm
 * does not load), in one run; images/s with decode and preprocessing included, and the ratio.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { selectBackend } from '../src/main/model/backend';
import type { BackboneSpec } from '../src/main/model/backbones';
import { loadExtractor } from '../src/main/model/extractors';
import { tinyCnn, tinyCnnOnnx } from '../src/main/model/tinyOnnx';
import { writeTinyCnnTfjs } from '../src/main/model/tinyTfjs';

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && Number(args[i + 1]) > 0 ? Number(args[i + 1]) : fallback;
}

/** Prints images/s of the tiny CNN through onnxruntime-node and TF.js on the same images. */
export async function embedBench(args: string[]): Promise<void> {
  const n = option(args, 'n', 256);
  const size = option(args, 'size', 64);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-embed-'));
  try {
    // Seeded noise PNGs larger than the input, so resizing is part of the work as in a real dataset.
    const images: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const pixels = Buffer.alloc(96 * 96 * 3);
      for (let p = 0; p < pixels.length; p++) pixels[p] = (Math.imul(p + 1, 2654435761 + i * 40503) >>> 24) & 0xff;
      images.push(await sharp(pixels, { raw: { width: 96, height: 96, channels: 3 } }).png().toBuffer());
    }
    const { tf, report } = await selectBackend(undefined, { order: ['wasm', 'cpu'] });
    const model = tinyCnn(size, 16, 32, 7);
    const onnxFile = path.join(work, 'tiny.onnx');
    fs.writeFileSync(onnxFile, tinyCnnOnnx(model));
    const tfjsFile = await writeTinyCnnTfjs(tf, model, path.join(work, 'tfjs'));
    const spec = (kind: 'onnx' | 'tfjs', file: string): BackboneSpec => ({
      name: kind,
      key: kind,
      kind,
      file,
      inputSize: size,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      resize: 'bilinear',
    });
    const rate = async (kind: 'onnx' | 'tfjs', file: string) => {
      const extractor = await loadExtractor(spec(kind, file), tf);
      await extractor.embed(images.slice(0, extractor.batchSize)); // warm-up batch, not timed
      const started = performance.now();
      for (let i = 0; i < images.length; i += extractor.batchSize) await extractor.embed(images.slice(i, i + extractor.batchSize));
      const perSecond = images.length / ((performance.now() - started) / 1000);
      await extractor.dispose();
      return perSecond;
    };
    const onnx = await rate('onnx', onnxFile);
    const tfjs = await rate('tfjs', tfjsFile);
    console.log(`tiny CNN (2 conv 3x3 s2, 16/32 filters, ${size}x${size} input), ${n} PNGs 96x96, decode + resize + scaling included:`);
    console.log(`  onnxruntime-node ${onnx.toFixed(0)} images/s | TF.js ${report.name} ${tfjs.toFixed(0)} images/s | ratio ${(onnx / tfjs).toFixed(2)}x`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
