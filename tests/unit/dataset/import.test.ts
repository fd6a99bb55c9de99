import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { importSource } from '../../../src/main/dataset/import.job';
import type { JobContext } from '../../../src/main/jobs/manager';
import { openProject, type Project } from '../../../src/main/store/project';
import { LoupeError } from '../../../src/shared/errors';
import type { ImageId, ImportKind, ImportSummary, JobInfo, SplitName } from '../../../src/shared/types';
import {
  hammingHex,
  snapshotFiles,
  tempDir,
  writeClassFolders,
  writeHugeHeaderPng,
  writeImage,
} from '../../helpers/fixtures';

interface StoredImage {
  id: ImageId;
  path: string;
  source: string;
  status: string;
  error: string | null;
  width: number | null;
  height: number | null;
  format: string | null;
  contentHash: string | null;
  perceptualHash: string | null;
  label: string | null;
  value: number | null;
  split: SplitName | null;
  thumb: number;
}

const cores: Core[] = [];
afterEach(async () => {
  for (const core of cores.splice(0)) await core.shutdown();
});

/** A core with a fresh project in a fresh folder; `dir` is where to put the data. */
async function newProject(dir = tempDir()): Promise<{ core: Core; dir: string; file: string }> {
  const core = new Core();
  cores.push(core);
  const file = path.join(dir, 'p.loupe');
  await core.call('project:open', { file, create: true });
  return { core, dir, file };
}

async function runImport(core: Core, source: string, kind?: ImportKind): Promise<ImportSummary> {
  const { jobId } = await core.call('dataset:import', { source, kind });
  const job: JobInfo = await core.jobs.finished(jobId);
  expect(job.error).toBeNull();
  expect(job.state).toBe('done');
  return job.result as ImportSummary;
}

function stored(core: Core): Map<string, StoredImage> {
  const rows = core
    .requireProject()
    .db.prepare(
      `SELECT i.id, i.path, i.source, i.status, i.error, i.width, i.height, i.format, i.content_hash AS contentHash,
              i.perceptual_hash AS perceptualHash, c.name AS label, l.value, s.split,
              (SELECT count(*) FROM thumbnails t WHERE t.content_hash = i.content_hash) AS thumb
         FROM images i LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN classes c ON c.id = l.class_id
         LEFT JOIN splits s ON s.image_id = i.id ORDER BY i.path`,
    )
    .all() as StoredImage[];
  return new Map(rows.map((r) => [r.path, r]));
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** A picture with real structure (not a flat gradient), so its dHash has both kinds of bits. */
async function writePicture(file: string, format: 'png' | 'jpeg', width = 96, height = 72): Promise<void> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const v = 128 + 100 * Math.sin(x / 7) * Math.cos(y / 9);
      pixels[o] = v;
      pixels[o + 1] = 255 - v;
      pixels[o + 2] = (x * 2) % 256;
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  await (format === 'jpeg' ? image.jpeg({ quality: 95 }) : image.png()).toFile(file);
}

describe('import formats', () => {
  it('folders: one sub-folder per class, recursive, files at the root unlabeled', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['cat', 'dog'], 3);
    await writeImage(path.join(data, 'cat', 'deeper', 'more', 'nested.png'), 90);
    await writeImage(path.join(data, 'loose.png'), 91);
    const summary = await runImport(core, data);
    expect(summary).toMatchObject({ kind: 'folders', scanned: 8, added: 8, unchanged: 0, unreadable: 0, missing: 0 });
    const images = stored(core);
    expect([...images.keys()]).toEqual([
      'cat/cat_0.png',
      'cat/cat_1.png',
      'cat/cat_2.png',
      'cat/deeper/more/nested.png',
      'dog/dog_0.png',
      'dog/dog_1.png',
      'dog/dog_2.png',
      'loose.png',
    ]);
    expect(images.get('cat/deeper/more/nested.png')!.label).toBe('cat');
    expect(images.get('dog/dog_1.png')!.label).toBe('dog');
    expect(images.get('loose.png')!.label).toBeNull();
    for (const image of images.values()) {
      expect(image.status).toBe('active');
      expect(image.split).not.toBeNull();
      expect(image.source).toBe(data);
    }
    const stats = await core.call('dataset:stats', {});
    expect(stats.images).toBe(8);
    expect(stats.unlabeled).toBe(1);
    expect(stats.classes.map((c) => [c.name, c.total])).toEqual([
      ['cat', 4],
      ['dog', 3],
    ]);
    expect(core.requireProject().info()).toMatchObject({ task: 'classification', root: data });
  });

  it('split folders: splits come from train/ valid/ test/ and are counted exactly', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    // Per class, i % 5: 0 → valid, 1 → test, else train; 10 per class → 6/2/2.
    await writeClassFolders(data, ['cat', 'dog', 'fox'], 10, 'splits');
    const summary = await runImport(core, data);
    expect(summary).toMatchObject({ kind: 'split-folders', added: 30 });
    const stats = await core.call('dataset:stats', {});
    expect(stats.classes).toEqual([
      { name: 'cat', train: 6, valid: 2, test: 2, total: 10 },
      { name: 'dog', train: 6, valid: 2, test: 2, total: 10 },
      { name: 'fox', train: 6, valid: 2, test: 2, total: 10 },
    ]);
    expect(stats.splits).toEqual({ train: 18, valid: 6, test: 6 });
    const images = stored(core);
    expect(images.get('valid/cat/cat_0.png')).toMatchObject({ split: 'valid', label: 'cat' });
    expect(images.get('test/fox/fox_1.png')).toMatchObject({ split: 'test', label: 'fox' });
    expect(images.get('train/dog/dog_9.png')).toMatchObject({ split: 'train', label: 'dog' });
    // No split was assigned by the seeded planner: there is no assign-splits batch.
    const assigned = core.requireProject().db.prepare("SELECT count(*) AS n FROM batches WHERE action = 'assign-splits'").get();
    expect(assigned).toEqual({ n: 0 });
  });

  it('split folders accept the usual aliases (training/, val/, testing/)', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeImage(path.join(data, 'training', 'a', '1.png'), 1);
    await writeImage(path.join(data, 'val', 'a', '2.png'), 2);
    await writeImage(path.join(data, 'testing', 'b', '3.png'), 3);
    await runImport(core, data);
    const stats = await core.call('dataset:stats', {});
    expect(stats.classes).toEqual([
      { name: 'a', train: 1, valid: 1, test: 0, total: 2 },
      { name: 'b', train: 0, valid: 0, test: 1, total: 1 },
    ]);
  });

  it('CSV path,label with a header', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    for (let i = 0; i < 4; i++) await writeImage(path.join(data, 'img', `${i}.png`), i);
    fs.writeFileSync(path.join(data, 'labels.csv'), 'path,label\nimg/0.png,cat\nimg/1.png,dog\nimg/2.png,cat\nimg/3.png,"big dog"\n');
    const summary = await runImport(core, path.join(data, 'labels.csv'));
    expect(summary).toMatchObject({ kind: 'csv-labels', added: 4 });
    const images = stored(core);
    expect([...images.values()].map((i) => [i.path, i.label])).toEqual([
      ['img/0.png', 'cat'],
      ['img/1.png', 'dog'],
      ['img/2.png', 'cat'],
      ['img/3.png', 'big dog'],
    ]);
    for (const image of images.values()) expect(image.split).not.toBeNull();
  });

  it('CSV path,label without a header, and with a split column', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    for (let i = 0; i < 6; i++) await writeImage(path.join(data, `${i}.png`), i);
    fs.writeFileSync(
      path.join(data, 'labels.csv'),
      '0.png,cat,train\n1.png,cat,val\n2.png,cat,test\n3.png,dog,train\n4.png,dog,validation\n5.png,dog,train\n',
    );
    const summary = await runImport(core, path.join(data, 'labels.csv'));
    expect(summary).toMatchObject({ kind: 'csv-labels', added: 6 });
    const images = stored(core);
    // Without a header the first row is an image too.
    expect(images.get('0.png')).toMatchObject({ label: 'cat', split: 'train' });
    expect(images.get('1.png')).toMatchObject({ label: 'cat', split: 'valid' });
    expect(images.get('4.png')).toMatchObject({ label: 'dog', split: 'valid' });
    const stats = await core.call('dataset:stats', {});
    expect(stats.classes).toEqual([
      { name: 'cat', train: 1, valid: 1, test: 1, total: 3 },
      { name: 'dog', train: 2, valid: 1, test: 0, total: 3 },
    ]);
  });

  it('CSV path,value: regression targets in labels.value, task regression', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    const values = [0.5, -3, 12.25, 100, 7];
    for (let i = 0; i < values.length; i++) await writeImage(path.join(data, `${i}.png`), i);
    fs.writeFileSync(path.join(data, 'ages.csv'), ['file,value', ...values.map((v, i) => `${i}.png,${v}`)].join('\n'));
    const summary = await runImport(core, path.join(data, 'ages.csv'));
    expect(summary).toMatchObject({ kind: 'csv-values', added: 5 });
    const images = stored(core);
    expect([...images.values()].map((i) => i.value)).toEqual(values);
    expect([...images.values()].every((i) => i.label === null && i.split !== null)).toBe(true);
    expect(core.requireProject().info().task).toBe('regression');
    const stats = await core.call('dataset:stats', {});
    expect(stats).toMatchObject({ images: 5, unlabeled: 5, classes: [] });

    // A headerless numeric CSV is detected as values too.
    const second = await newProject();
    fs.writeFileSync(path.join(data, 'plain.csv'), values.map((v, i) => `${i}.png,${v}`).join('\n'));
    expect(await runImport(second.core, path.join(data, 'plain.csv'))).toMatchObject({ kind: 'csv-values', added: 5 });
  });
});

describe('what import records of each image', () => {
  it('jpg, png, webp, gif and tiff import active with their size and format', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    const cases = [
      { name: 'a.jpg', format: 'jpeg' as const, width: 40, height: 30 },
      { name: 'b.png', format: 'png' as const, width: 32, height: 24 },
      { name: 'c.webp', format: 'webp' as const, width: 24, height: 32 },
      { name: 'd.gif', format: 'gif' as const, width: 17, height: 9 },
      { name: 'e.tiff', format: 'tiff' as const, width: 32, height: 24 },
      { name: 'f.tif', format: 'tiff' as const, width: 8, height: 8 },
    ];
    for (const [i, c] of cases.entries()) {
      await writeImage(path.join(data, 'x', c.name), i, { width: c.width, height: c.height, format: c.format });
    }
    const summary = await runImport(core, data);
    expect(summary).toMatchObject({ added: cases.length, unreadable: 0 });
    const images = stored(core);
    for (const c of cases) {
      expect(images.get(`x/${c.name}`), c.name).toMatchObject({
        status: 'active',
        error: null,
        width: c.width,
        height: c.height,
        format: c.format,
      });
    }
  });

  it('avif imports active, with format "avif"', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeImage(path.join(data, 'x', 'g.avif'), 1, { format: 'avif' });
    await runImport(core, data);
    const image = stored(core).get('x/g.avif')!;
    expect(image).toMatchObject({ status: 'active', width: 32, height: 24 });
    // sharp reports AVIF as its container, "heif"; people (and exports) know the file as AVIF.
    expect(image.format).toBe('avif');
  });

  it('content hash is the sha256 of the bytes; perceptual hash is 16 hex digits and survives PNG → JPEG', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writePicture(path.join(data, 'same', 'picture.png'), 'png');
    await writePicture(path.join(data, 'same', 'picture.jpg'), 'jpeg');
    await writeImage(path.join(data, 'other', 'different.png'), 5, { width: 96, height: 72 });
    await runImport(core, data);
    const images = stored(core);
    for (const image of images.values()) {
      expect(image.contentHash).toBe(sha256(path.join(data, image.path)));
      expect(image.perceptualHash).toMatch(/^[0-9a-f]{16}$/);
    }
    const png = images.get('same/picture.png')!;
    const jpg = images.get('same/picture.jpg')!;
    expect(png.contentHash).not.toBe(jpg.contentHash);
    expect(hammingHex(png.perceptualHash!, jpg.perceptualHash!)).toBeLessThanOrEqual(4);
    expect(hammingHex(png.perceptualHash!, images.get('other/different.png')!.perceptualHash!)).toBeGreaterThan(4);
    const detail = await core.call('images:get', { id: png.id });
    expect(detail).toMatchObject({ contentHash: png.contentHash, perceptualHash: png.perceptualHash, channels: 3 });
  });

  it('stores a WebP thumbnail whose longest side is at most 256', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeImage(path.join(data, 'wide.png'), 1, { width: 600, height: 300 });
    await writeImage(path.join(data, 'tall.jpg'), 2, { width: 100, height: 400, format: 'jpeg' });
    await writeImage(path.join(data, 'small.png'), 3, { width: 32, height: 24 });
    await runImport(core, data);
    const expected: Record<string, [number, number]> = {
      'wide.png': [256, 128],
      'tall.jpg': [64, 256],
      'small.png': [32, 24], // never enlarged
    };
    for (const image of stored(core).values()) {
      expect(image.thumb).toBe(1);
      const webp = core.thumbnail(image.id);
      const meta = await sharp(webp).metadata();
      expect(meta.format).toBe('webp');
      expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(256);
      expect([meta.width, meta.height], image.path).toEqual(expected[image.path]);
      const row = core
        .requireProject()
        .db.prepare('SELECT width, height FROM thumbnails WHERE content_hash = ?')
        .get(image.contentHash) as { width: number; height: number };
      expect([row.width, row.height]).toEqual(expected[image.path]);
    }
  });

  it('an EXIF-rotated JPEG is measured and thumbnailed upright', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    fs.mkdirSync(data, { recursive: true });
    // Stored 40x20; orientation 6 means it is shown rotated a quarter turn, 20x40.
    await sharp({ create: { width: 40, height: 20, channels: 3, background: '#336699' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(path.join(data, 'rotated.jpg'));
    expect((await sharp(path.join(data, 'rotated.jpg')).metadata()).orientation).toBe(6);
    await runImport(core, data);
    const image = stored(core).get('rotated.jpg')!;
    expect(image).toMatchObject({ status: 'active', width: 20, height: 40 });
    const thumb = await sharp(core.thumbnail(image.id)).metadata();
    expect([thumb.width, thumb.height]).toEqual([20, 40]);
  });

  it('a path with spaces and non-ASCII letters is stored relative to the root with forward slashes', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeImage(path.join(data, 'chats noirs', 'été à Paris.png'), 1);
    await writeImage(path.join(data, 'chats noirs', 'sous dossier', 'ñandú 猫.png'), 2);
    await runImport(core, data);
    const images = stored(core);
    expect([...images.keys()].sort()).toEqual(['chats noirs/sous dossier/ñandú 猫.png', 'chats noirs/été à Paris.png']);
    for (const image of images.values()) {
      expect(image).toMatchObject({ status: 'active', label: 'chats noirs' });
      expect(core.imageFile(image.id)).toBe(path.join(data, ...image.path.split('/')));
    }
  });
});

describe('bad files', () => {
  it('truncated, oversized and fake images are unreadable with a reason; other files are skipped; the import succeeds', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeImage(path.join(data, 'ok', 'good.png'), 1);
    const jpeg = path.join(data, 'ok', 'truncated.jpg');
    await writeImage(jpeg, 2, { width: 200, height: 150, format: 'jpeg' });
    const bytes = fs.readFileSync(jpeg);
    fs.writeFileSync(jpeg, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await writeHugeHeaderPng(path.join(data, 'ok', 'bomb.png'), 20000, 20000);
    fs.writeFileSync(path.join(data, 'ok', 'x.jpg'), 'this is text, not a JPEG\n');
    fs.writeFileSync(path.join(data, 'ok', 'notes.txt'), 'some notes\n');
    fs.writeFileSync(path.join(data, 'README'), 'read me\n');

    const summary = await runImport(core, data);
    expect(summary).toMatchObject({ scanned: 4, added: 4, unreadable: 3 });
    const images = stored(core);
    expect([...images.keys()]).toEqual(['ok/bomb.png', 'ok/good.png', 'ok/truncated.jpg', 'ok/x.jpg']);
    expect(images.get('ok/good.png')).toMatchObject({ status: 'active', error: null });
    const truncated = images.get('ok/truncated.jpg')!;
    expect(truncated.status).toBe('unreadable');
    expect(truncated.error).toMatch(/truncated|decode/i);
    const bomb = images.get('ok/bomb.png')!;
    expect(bomb.status).toBe('unreadable');
    expect(bomb.error).toMatch(/pixel limit/);
    const fake = images.get('ok/x.jpg')!;
    expect(fake.status).toBe('unreadable');
    expect(fake.error).toMatch(/not an image/);
    for (const bad of [truncated, bomb, fake]) {
      expect(bad.split).toBeNull();
      expect(bad.thumb).toBe(0);
    }

    const stats = await core.call('dataset:stats', {});
    expect(stats).toMatchObject({ images: 1, unreadable: 3 });
    const page = await core.call('images:page', { filter: { status: 'unreadable' } });
    expect(page.total).toBe(3);
    expect(page.rows.every((r) => r.error !== null)).toBe(true);
  });

  it('a lower pixel limit from Core options applies', async () => {
    const core = new Core({ pixelLimit: 500 });
    cores.push(core);
    const dir = tempDir();
    await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
    await writeImage(path.join(dir, 'data', 'small.png'), 1, { width: 20, height: 20 });
    await writeImage(path.join(dir, 'data', 'big.png'), 2, { width: 32, height: 24 });
    await runImport(core, path.join(dir, 'data'));
    const images = stored(core);
    expect(images.get('small.png')!.status).toBe('active');
    expect(images.get('big.png')).toMatchObject({ status: 'unreadable', error: expect.stringMatching(/500 pixel limit/) });
  });
});

describe('splits for images without one', () => {
  it('gets a seeded stratified 80/10/10, the same in a second project', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['cat', 'dog'], 50);
    const one = await newProject(fs.mkdtempSync(path.join(dir, 'one-')));
    await runImport(one.core, data);
    const stats = await one.core.call('dataset:stats', {});
    expect(stats.classes).toEqual([
      { name: 'cat', train: 40, valid: 5, test: 5, total: 50 },
      { name: 'dog', train: 40, valid: 5, test: 5, total: 50 },
    ]);
    const two = await newProject(fs.mkdtempSync(path.join(dir, 'two-')));
    await runImport(two.core, data);
    const splitsOf = (core: Core) => [...stored(core).values()].map((i) => [i.path, i.split]);
    expect(splitsOf(two.core)).toEqual(splitsOf(one.core));
  });
});

describe('re-import', () => {
  it('is idempotent: nothing added, nothing written', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['a', 'b'], 5);
    await writeImage(path.join(data, 'a', 'bad.jpg'), 0, { format: 'jpeg' });
    fs.truncateSync(path.join(data, 'a', 'bad.jpg'), 100);
    await runImport(core, data);
    const before = stored(core);
    const version = (await core.call('dataset:stats', {})).version;
    const again = await runImport(core, data);
    expect(again).toMatchObject({ scanned: 11, added: 0, updated: 0, unchanged: 11, unreadable: 0, missing: 0, version });
    expect((await core.call('dataset:stats', {})).version).toBe(version);
    expect(stored(core)).toEqual(before);
  });

  it('picks up an added file (with a split) and a deleted one (missing, out of the stats)', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['a', 'b'], 5);
    await runImport(core, data);
    await writeImage(path.join(data, 'b', 'new.png'), 77);
    fs.rmSync(path.join(data, 'a', 'a_2.png'));
    const summary = await runImport(core, data);
    expect(summary).toMatchObject({ added: 1, unchanged: 9, missing: 1 });
    const images = stored(core);
    expect(images.get('b/new.png')).toMatchObject({ status: 'active', label: 'b' });
    expect(images.get('b/new.png')!.split).not.toBeNull();
    expect(images.get('a/a_2.png')!.status).toBe('missing');
    const stats = await core.call('dataset:stats', {});
    expect(stats).toMatchObject({ images: 10, missing: 1 });
    expect(stats.classes.map((c) => [c.name, c.total])).toEqual([
      ['a', 4],
      ['b', 6],
    ]);

    // The file coming back brings the image back.
    await writeImage(path.join(data, 'a', 'a_2.png'), 2);
    const back = await runImport(core, data);
    expect(back).toMatchObject({ added: 0, updated: 1, missing: 0 });
    expect(stored(core).get('a/a_2.png')!.status).toBe('active');
    expect((await core.call('dataset:stats', {})).images).toBe(11);
  });

  it('a file that changed is read again; a removed image stays removed', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['a'], 3);
    await runImport(core, data);
    const images = stored(core);
    await core.call('images:remove', { ids: [images.get('a/a_1.png')!.id] });
    await writeImage(path.join(data, 'a', 'a_0.png'), 50, { width: 40, height: 40 });
    await writeImage(path.join(data, 'a', 'a_1.png'), 51, { width: 40, height: 40 });
    const summary = await runImport(core, data);
    expect(summary).toMatchObject({ added: 0, updated: 2, unchanged: 1 });
    const after = stored(core);
    expect(after.get('a/a_0.png')).toMatchObject({ status: 'active', width: 40, height: 40 });
    expect(after.get('a/a_0.png')!.contentHash).toBe(sha256(path.join(data, 'a', 'a_0.png')));
    expect(after.get('a/a_1.png')).toMatchObject({ status: 'removed', width: 40 });
  });

  it('a CSV given by a relative path is the same source when given by its absolute path', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    for (let i = 0; i < 3; i++) await writeImage(path.join(data, `${i}.png`), i);
    const csv = path.join(data, 'labels.csv');
    fs.writeFileSync(csv, 'path,label\n0.png,a\n1.png,a\n2.png,b\n');
    await runImport(core, path.relative(process.cwd(), csv));
    fs.writeFileSync(csv, 'path,label\n0.png,a\n1.png,a\n');
    const summary = await runImport(core, csv);
    expect(summary).toMatchObject({ unchanged: 2, missing: 1 });
    expect(stored(core).get('2.png')!.status).toBe('missing');
    const sources = new Set([...stored(core).values()].map((i) => i.source));
    expect([...sources]).toEqual([csv]);
  });
});

describe('originals', () => {
  it('are never modified by import, export, relabel or remove', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['cat', 'dog'], 4);
    await writeImage(path.join(data, 'cat', 'photo.jpg'), 9, { format: 'jpeg' });
    fs.writeFileSync(path.join(data, 'notes.txt'), 'notes');
    fs.writeFileSync(path.join(data, 'dog', 'broken.png'), 'not a png');
    const before = snapshotFiles(data);

    await runImport(core, data);
    const ids = [...stored(core).values()].map((i) => i.id);
    await core.call('images:relabel', { ids: ids.slice(0, 3), className: 'bird' });
    await core.call('images:remove', { ids: ids.slice(3, 5) });
    await core.call('changes:undo', {});
    await core.call('dataset:export', { format: 'csv', out: path.join(dir, 'out-csv') });
    await core.call('dataset:export', { format: 'folders', out: path.join(dir, 'out-folders') });
    await core.call('dataset:export', { format: 'folders', out: path.join(dir, 'out-links'), link: 'hardlink' });
    await runImport(core, data);

    expect(snapshotFiles(data)).toEqual(before);
  });
});

describe('cancel', () => {
  function context(controller: AbortController): JobContext {
    return {
      signal: controller.signal,
      progress: () => {},
      log: () => {},
      throwIfCancelled: () => {
        if (controller.signal.aborted) throw new LoupeError('CANCELLED', 'cancelled');
      },
    };
  }

  it('an import that fails part way is recorded as failed, not left running, and keeps its whole chunks', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['a', 'b'], 30);
    const project: Project = openProject(path.join(dir, 'p.loupe'), { create: true });
    try {
      let commits = 0;
      const failure = new Error('disk full');
      const onCommit = () => {
        if (commits++ === 0) throw failure;
      };
      await expect(importSource(project, { source: data, chunkSize: 20, onCommit }, context(new AbortController()))).rejects.toBe(failure);
      const { db } = project;
      expect(db.prepare('SELECT status FROM imports').all()).toEqual([{ status: 'failed' }]);
      expect((db.prepare('SELECT count(*) AS n FROM images').get() as { n: number }).n).toBe(20);
      expect(project.info().unfinishedImport).toBeNull();
    } finally {
      project.close();
    }
  });

  it('keeps whole committed chunks, and a re-import finishes with exact totals', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['a', 'b', 'c'], 100);
    const project: Project = openProject(path.join(dir, 'p.loupe'), { create: true });
    try {
      const controller = new AbortController();
      let commits = 0;
      const error = await importSource(
        project,
        { source: data, chunkSize: 20, concurrency: 2, onCommit: () => (commits++ === 0 ? controller.abort() : undefined) },
        context(controller),
      ).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LoupeError);
      expect((error as LoupeError).code).toBe('CANCELLED');
      const partial = (error as LoupeError).details as ImportSummary;
      const { db } = project;
      const count = (where: string) => (db.prepare(`SELECT count(*) AS n FROM images i WHERE ${where}`).get() as { n: number }).n;
      const committed = count('1');
      expect(committed).toBeGreaterThanOrEqual(20);
      expect(committed).toBeLessThan(300);
      expect(partial.added).toBe(committed);
      // Every committed image is complete: active, labelled, with a thumbnail and a split.
      expect(count("i.status = 'active'")).toBe(committed);
      expect(count('NOT EXISTS (SELECT 1 FROM thumbnails t WHERE t.content_hash = i.content_hash)')).toBe(0);
      expect(count('NOT EXISTS (SELECT 1 FROM splits s WHERE s.image_id = i.id)')).toBe(0);
      expect(count('NOT EXISTS (SELECT 1 FROM labels l WHERE l.image_id = i.id AND l.class_id IS NOT NULL)')).toBe(0);
      expect(db.prepare('SELECT status FROM imports').all()).toEqual([{ status: 'cancelled' }]);

      const summary = await importSource(project, { source: data, chunkSize: 64 }, context(new AbortController()));
      expect(summary).toMatchObject({ scanned: 300, added: 300 - committed, unchanged: committed, missing: 0 });
      expect(count('1')).toBe(300);
      expect(count("i.status = 'active'")).toBe(300);
      const perClass = db
        .prepare(
          `SELECT c.name, count(*) AS n, count(s.split) AS split FROM images i JOIN labels l ON l.image_id = i.id
             JOIN classes c ON c.id = l.class_id LEFT JOIN splits s ON s.image_id = i.id GROUP BY c.name ORDER BY c.name`,
        )
        .all();
      expect(perClass).toEqual([
        { name: 'a', n: 100, split: 100 },
        { name: 'b', n: 100, split: 100 },
        { name: 'c', n: 100, split: 100 },
      ]);
      expect(db.prepare('SELECT status FROM imports ORDER BY id').all()).toEqual([{ status: 'cancelled' }, { status: 'done' }]);
    } finally {
      project.close();
    }
  });

  it('a cancelled Core job ends as cancelled with the partial summary', async () => {
    const { core, dir } = await newProject();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['a'], 40);
    const { jobId } = await core.call('dataset:import', { source: data });
    await core.call('jobs:cancel', { id: jobId });
    const job = await core.jobs.finished(jobId);
    expect(job.state).toBe('cancelled');
    expect(job.error).toBeNull();
    expect(job.result).toMatchObject({ source: data, scanned: 40 });
    // Whatever was committed is whole.
    const { db } = core.requireProject();
    const incomplete = db
      .prepare(
        `SELECT count(*) AS n FROM images i WHERE i.status = 'active' AND (
           NOT EXISTS (SELECT 1 FROM splits s WHERE s.image_id = i.id) OR
           NOT EXISTS (SELECT 1 FROM thumbnails t WHERE t.content_hash = i.content_hash))`,
      )
      .get();
    expect(incomplete).toEqual({ n: 0 });
  });
});

describe('one import at a time', () => {
  it('refuses a second import while one runs, and takes it once the first is done', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['a', 'b'], 150);
    const core = new Core();
    try {
      await core.call('project:open', { file: path.join(dir, 'p.loupe'), create: true });
      const { jobId } = await core.call('dataset:import', { source: data });
      await expect(core.call('dataset:import', { source: data })).rejects.toMatchObject({ code: 'CONFLICT' });
      await core.jobs.finished(jobId);
      const again = await core.call('dataset:import', { source: data });
      expect((await core.jobs.finished(again.jobId)).state).toBe('done');
    } finally {
      await core.shutdown();
    }
  });
});
