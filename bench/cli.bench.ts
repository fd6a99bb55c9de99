/**
 * The CLI on real data: `loupe import` of 7,000 Fashion-MNIST PNGs (6,000 train, 1,000 test), then
 * `loupe stats --json`, checked class by class against the dataset's own label files.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { benchDir } from './fixtures';
import { fashionMnistFolders } from './fashionMnist';

const bin = path.resolve(import.meta.dirname, '../bin/loupe.mjs');

/** Prints import time and whether stats match the label files exactly. */
export async function cliBench(): Promise<void> {
  const { dir, expected } = await fashionMnistFolders(6000, 1000);
  const project = path.join(benchDir, 'fashion-cli.loupe');
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(project + suffix, { force: true });
  const start = performance.now();
  execFileSync(process.execPath, [bin, 'import', dir, '--project', project, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const seconds = (performance.now() - start) / 1000;
  const stats = JSON.parse(execFileSync(process.execPath, [bin, 'stats', '--project', project, '--json']).toString()) as {
    images: number;
    unreadable: number;
    classes: { name: string; train: number; valid: number; test: number }[];
  };
  let mismatches = 0;
  for (const row of stats.classes) {
    const want = expected[row.name];
    if (!want || want.train !== row.train || want.test !== row.test || row.valid !== 0) {
      mismatches++;
      console.log(`mismatch ${row.name}: got ${JSON.stringify(row)}, want ${JSON.stringify(want)}`);
    }
  }
  console.log(`loupe import of 7,000 Fashion-MNIST PNGs: ${seconds.toFixed(1)} s (${(7000 / seconds).toFixed(0)} images/s, CLI start included)`);
  console.log(`stats --json: ${stats.images} images, ${stats.unreadable} unreadable, ${stats.classes.length} classes`);
  console.log(mismatches === 0 && stats.images === 7000 ? 'counts per class and split: exact' : `counts: ${mismatches} classes differ`);
}
