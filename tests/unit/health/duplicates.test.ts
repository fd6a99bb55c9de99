/**
 * Verified duplicates on real pixels: every must-find copy kind of a real Fashion-MNIST garment is
 * grouped with its original; distinct garments of one class, screenshots of one app and plain
 * product shots are not grouped with each other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { computeHealth } from '../../../src/main/health/service';
import { putEmbeddings } from '../../../src/main/model/embeddingCache';
import { healthRows } from '../../../src/main/store/health';
import type { DuplicateGroup } from '../../../src/shared/health';
import { tempDir } from '../../helpers/fixtures';

const fashionDir = '/usr/share/datasets/fashion-mnist';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

/** The first `count` Fashion-MNIST test images of class `label` (28x28 grey). */
function garments(label: number, count: number): Buffer[] {
  const images = gunzipSync(fs.readFileSync(path.join(fashionDir, 't10k-images-idx3-ubyte.gz'))).subarray(16);
  const labels = gunzipSync(fs.readFileSync(path.join(fashionDir, 't10k-labels-idx1-ubyte.gz'))).subarray(8);
  const out: Buffer[] = [];
  for (let i = 0; i < labels.length && out.length < count; i++) if (labels[i] === label) out.push(Buffer.from(images.subarray(i * 784, (i + 1) * 784)));
  return out;
}

const png = (pixels: Buffer) => sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();

async function importFolder(dir: string): Promise<DuplicateGroup[]> {
  core = new Core();
  await core.call('project:open', { file: path.join(tempDir(), 'h.loupe'), create: true });
  const { jobId } = await core.call('dataset:import', { source: dir });
  const job = await core.jobs.finished(jobId);
  expect(job.state).toBe('done');
  const groups: DuplicateGroup[] = [];
  for (const view of ['exact', 'near'] as const) groups.push(...(await core.call('health:groups', { view, limit: 500 })).rows);
  return groups;
}

/** Group membership by file name. */
function groupedNames(groups: DuplicateGroup[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const g of groups) for (const m of g.members) out.set(path.basename(m.path), g.key);
  return out;
}

describe('duplicate finder', () => {
  it('finds byte, re-encoded, resized, cropped and brightened copies of real garments', async () => {
    const dir = tempDir();
    const originals = [...garments(0, 4), ...garments(3, 4), ...garments(9, 4)];
    const kinds: Record<string, (b: Buffer) => Promise<Buffer>> = {
      bytes: async (b) => b,
      jpeg70: (b) => sharp(b).jpeg({ quality: 70 }).toBuffer(),
      half: (b) => sharp(b).resize(14, 14).png().toBuffer(),
      double: (b) => sharp(b).resize(56, 56).png().toBuffer(),
      resaved: (b) => sharp(b).png({ compressionLevel: 1 }).toBuffer(),
      crop5: (b) => sharp(b).extract({ left: 1, top: 1, width: 27, height: 27 }).png().toBuffer(),
      // The same crop from the other corner: alignment must not assume where the cut was.
      crop5other: (b) => sharp(b).extract({ left: 0, top: 0, width: 27, height: 27 }).png().toBuffer(),
      bright10: (b) => sharp(b).linear(1.1, 0).png().toBuffer(),
    };
    const expected: [string, string, string][] = [];
    const kindNames = Object.keys(kinds);
    for (const [i, pixels] of originals.entries()) {
      const original = await png(pixels);
      fs.mkdirSync(path.join(dir, 'a'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'a', `o${i}.png`), original);
      // Each original gets one copy, the kinds taking turns, so one group holds one pair.
      const kind = kindNames[i % kindNames.length]!;
      const name = `c${i}-${kind}.${kind === 'jpeg70' ? 'jpg' : 'png'}`;
      fs.writeFileSync(path.join(dir, 'a', name), await kinds[kind]!(original));
      expected.push([`o${i}.png`, name, kind]);
    }
    const groups = await importFolder(dir);
    const byName = groupedNames(groups);
    for (const [original, copy, kind] of expected) {
      expect(byName.get(copy), `${kind} copy ${copy} is grouped`).toBeDefined();
      expect(byName.get(copy), `${kind} copy ${copy} is grouped with its original`).toBe(byName.get(original));
    }
    const exact = groups.filter((g) => g.kind === 'exact').flatMap((g) => g.members.map((m) => path.basename(m.path)));
    expect(exact).toEqual(expect.arrayContaining(expected.filter(([, , k]) => k === 'bytes' || k === 'resaved').map(([, c]) => c)));
    // Every group is exactly one original and its copy.
    for (const g of groups) expect(g.members).toHaveLength(2);
  }, 60_000);

  it('does not group distinct garments of one class', async () => {
    const dir = tempDir();
    // 150 trousers and 150 sandals: plain shapes on black, the worst case for hash grouping.
    for (const [label, name] of [
      [1, 'Trouser'],
      [5, 'Sandal'],
    ] as const) {
      for (const [i, pixels] of garments(label, 150).entries()) {
        fs.mkdirSync(path.join(dir, name), { recursive: true });
        fs.writeFileSync(path.join(dir, name, `${i}.png`), await png(pixels));
      }
    }
    const groups = await importFolder(dir);
    const pairs = groups.reduce((n, g) => n + g.members.length - 1, 0);
    // Fashion-MNIST holds a few genuine re-shots of one product; at most 1% of images may pair.
    expect(pairs).toBeLessThanOrEqual(3);
  }, 60_000);

  it('does not group screenshots of one app or plain product shots', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'shots'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'products'), { recursive: true });
    for (let i = 0; i < 12; i++) {
      // One app's layout: a title bar, a sidebar, and rows whose widths and count differ per screen.
      const rows = Array.from({ length: 3 + (i % 5) }, (_, r) => {
        const width = 60 + ((i * 37 + r * 53) % 200);
        return `<rect x="80" y="${50 + r * 22}" width="${width}" height="12" fill="#333"/>`;
      }).join('');
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200"><rect width="320" height="200" fill="#f4f4f4"/><rect width="320" height="30" fill="#2a5db0"/><rect y="30" width="64" height="170" fill="#ddd"/>${rows}<circle cx="${100 + i * 15}" cy="170" r="${8 + (i % 4) * 3}" fill="#c33"/></svg>`;
      await sharp(Buffer.from(svg)).png().toFile(path.join(dir, 'shots', `s${i}.png`));
      // A product shot: one white background, a different object each time.
      const object = i % 3 === 0
        ? `<circle cx="${80 + i * 5}" cy="100" r="${40 + i * 2}" fill="#${(0x224466 + i * 0x131313).toString(16).slice(-6)}"/>`
        : i % 3 === 1
          ? `<rect x="${50 + i * 3}" y="${40 + i * 2}" width="${60 + i * 4}" height="${100 - i * 2}" fill="#${(0x663322 + i * 0x111111).toString(16).slice(-6)}"/>`
          : `<polygon points="${100 + i * 4},30 ${40 + i * 2},170 ${170 - i},170" fill="#${(0x226633 + i * 0x0f0f0f).toString(16).slice(-6)}"/>`;
      const product = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><rect width="200" height="200" fill="#fff"/>${object}</svg>`;
      await sharp(Buffer.from(product)).jpeg({ quality: 90 }).toFile(path.join(dir, 'products', `p${i}.jpg`));
    }
    const groups = await importFolder(dir);
    expect(groups.map((g) => g.members.map((m) => m.path))).toEqual([]);
  }, 60_000);

  it("a run's cached embeddings refuse a pixel-verified pair they see as different, and keep one they agree on", async () => {
    const dir = tempDir();
    const [first, second] = garments(7, 2);
    fs.mkdirSync(path.join(dir, 'a'), { recursive: true });
    for (const [name, pixels] of [
      ['agree', first!],
      ['differ', second!],
    ] as const) {
      const original = await png(pixels);
      fs.writeFileSync(path.join(dir, 'a', `${name}.png`), original);
      fs.writeFileSync(path.join(dir, 'a', `${name}-copy.jpg`), await sharp(original).jpeg({ quality: 70 }).toBuffer());
    }
    const before = await importFolder(dir);
    // Without embeddings both JPEG copies are found on pixels.
    expect(before.filter((g) => g.kind === 'near')).toHaveLength(2);
    const { db } = core!.requireProject();
    const hashOf = new Map(healthRows(db).map((r) => [path.basename(r.path), r.contentHash!]));
    const unit = (k: number) => Float32Array.from({ length: 8 }, (_, i) => (i === k ? 1 : 0));
    putEmbeddings(db, 'test-backbone@1', [
      { hash: hashOf.get('agree.png')!, view: 0, vector: unit(0) },
      { hash: hashOf.get('agree-copy.jpg')!, view: 0, vector: Float32Array.from(unit(0), (x, i) => x * 3 + (i === 1 ? 0.2 : 0)) },
      { hash: hashOf.get('differ.png')!, view: 0, vector: unit(2) },
      { hash: hashOf.get('differ-copy.jpg')!, view: 0, vector: unit(3) },
    ]);
    const after = computeHealth(db).groups.filter((g) => g.kind === 'near');
    expect(after.map((g) => g.members.map((m) => path.basename(m.path)).sort())).toEqual([['agree-copy.jpg', 'agree.png']]);
    // The evidence carries the cosine (of unit-length vectors: scale does not matter).
    expect(after[0]!.evidence[0]!.cosine).toBeGreaterThan(0.95);
  }, 60_000);
});
