import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { presetConfig } from '../../../src/shared/augment';
import { LoupeError } from '../../../src/shared/errors';
import { Core } from '../../../src/main/core';
import { tempDir, writeClassFolders } from '../../helpers/fixtures';

const cores: Core[] = [];
afterEach(async () => {
  for (const core of cores.splice(0)) await core.shutdown();
});

async function projectWithImages(): Promise<{ core: Core; dir: string; file: string }> {
  const dir = tempDir();
  await writeClassFolders(path.join(dir, 'data'), ['cat', 'dog'], 8);
  const core = new Core();
  cores.push(core);
  const file = path.join(dir, 'p.loupe');
  await core.call('project:open', { file, create: true });
  const { jobId } = await core.call('dataset:import', { source: path.join(dir, 'data') });
  expect((await core.jobs.finished(jobId)).state).toBe('done');
  return { core, dir, file };
}

describe('augment:preview', () => {
  it('renders 12 PNGs at the input size, one image many times or many images once, well under a second', async () => {
    const { core } = await projectWithImages();
    const config = { ...presetConfig('strong'), inputSize: { width: 64, height: 48 } };
    const many = await core.call('augment:preview', { config, seed: 3 });
    expect(many.items).toHaveLength(12);
    expect(new Set(many.items.map((i) => i.imageId)).size).toBe(12);
    expect(many.elapsedMs).toBeLessThan(1000);
    for (const item of many.items) {
      expect(item.error).toBeNull();
      expect(item.path).toMatch(/^(cat|dog)\/.+\.png$/);
      const meta = await sharp(core.previewImage(many.previewId, item.index)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 48]);
    }
    const one = await core.call('augment:preview', { config, seed: 3, mode: 'one-image', imageIds: [many.items[0]!.imageId] });
    expect(new Set(one.items.map((i) => i.imageId))).toEqual(new Set([many.items[0]!.imageId]));
    const pngs = one.items.map((i) => core.previewImage(one.previewId, i.index).toString('base64'));
    expect(new Set(pngs).size).toBeGreaterThan(8);
    // Same request, same pixels; a re-roll (new seed) changes them.
    const again = await core.call('augment:preview', { config, seed: 3, mode: 'one-image', imageIds: [many.items[0]!.imageId] });
    expect(core.previewImage(again.previewId, 5).equals(core.previewImage(one.previewId, 5))).toBe(true);
    const rerolled = await core.call('augment:preview', { config, seed: 4, mode: 'one-image', imageIds: [many.items[0]!.imageId] });
    expect(core.previewImage(rerolled.previewId, 5).equals(core.previewImage(one.previewId, 5))).toBe(false);
  });

  it('lists the presets and refuses an invalid config with a clear message', async () => {
    const { core } = await projectWithImages();
    const presets = await core.call('augment:presets', {});
    expect(presets.map((p) => p.name)).toEqual(['none', 'light', 'standard', 'strong']);
    const bad = { ...presetConfig('none'), transforms: [{ kind: 'rotate', p: 1, degrees: 200, fill: 'edge' }] };
    await expect(core.call('augment:preview', { config: bad })).rejects.toThrow(/rotate\.degrees must be between 0 and 180/);
    await expect(core.call('augment:preview', { config: presetConfig('none'), imageIds: [999] })).rejects.toSatisfy(
      (error) => error instanceof LoupeError && error.code === 'NOT_FOUND',
    );
    expect(() => core.previewImage('nope', 0)).toThrow(/No preview image/);
  });
});

describe('loupe augment-preview', () => {
  it('writes the previews as PNG files', async () => {
    const { core, dir, file } = await projectWithImages();
    await core.shutdown();
    const out = path.join(dir, 'previews');
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const args = [path.resolve('bin/loupe.mjs'), 'augment-preview', '--project', file, '--image', 'cat/cat_1.png', '--n', '5', '--seed', '2', '--preset', 'strong', '--out', out, '--json'];
      execFile(process.execPath, args, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim()) as { image: string; files: string[]; width: number };
    expect(result.image).toBe('cat/cat_1.png');
    expect(result.files).toEqual(['augment_0.png', 'augment_1.png', 'augment_2.png', 'augment_3.png', 'augment_4.png']);
    expect(fs.readdirSync(out).sort()).toEqual(result.files);
    const meta = await sharp(path.join(out, 'augment_3.png')).metadata();
    expect([meta.width, meta.height]).toEqual([224, 224]);
  });
});
