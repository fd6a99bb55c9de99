// --from-file: 10,000 paths, past what fits comfortably on a command line, from a file and from
// standard input, in real child processes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeClassFolders } from '../../helpers/fixtures';
import { expectOneErrorLine, loupe } from './run';

interface Stats {
  images: number;
  removed: number;
  version: number;
  classes: { name: string; total: number }[];
}

let dir: string;
let project: string;
const paths: string[] = [];

async function stats(): Promise<Stats> {
  const run = await loupe(['stats', '--project', project, '--json']);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Stats;
}

/** 10,000 lines naming the project's 20 images over and over, with CRLF endings and blank lines mixed in. */
function tenThousandLines(): string {
  const lines: string[] = [];
  for (let i = 0; i < 10_000; i++) lines.push(paths[i % paths.length]! + (i % 3 === 0 ? '\r' : ''));
  lines.splice(5000, 0, '', '');
  return lines.join('\n') + '\n';
}

describe('loupe --from-file', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-cli-from-'));
    const data = path.join(dir, 'data');
    await writeClassFolders(data, ['cat', 'dog'], 10);
    for (const name of ['cat', 'dog']) for (let i = 0; i < 10; i++) paths.push(`${name}/${name}_${i}.png`);
    project = path.join(dir, 'p.loupe');
    const imported = await loupe(['import', data, '--project', project, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('relabels 10,000 paths read from a file, each image once', async () => {
    const list = path.join(dir, 'paths.txt');
    fs.writeFileSync(list, tenThousandLines());
    const run = await loupe(['relabel', '--from-file', list, '--to', 'dog', '--project', project, '--json']);
    expect(run.code, run.stderr).toBe(0);
    // The 10 cats become dogs; the dogs were dogs already.
    expect(JSON.parse(run.stdout)).toMatchObject({ changed: 10 });
    expect(run.ms).toBeLessThan(30_000);
    expect((await stats()).classes.find((c) => c.name === 'dog')?.total).toBe(20);
  });

  it('removes and restores 10,000 paths read from standard input with --from-file -', async () => {
    const removed = await loupe(['remove', '--from-file', '-', '--project', project, '--json'], { input: tenThousandLines() });
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ changed: 20 });
    expect(removed.ms).toBeLessThan(30_000);
    expect(await stats()).toMatchObject({ images: 0, removed: 20 });
    // Paths on the command line and from the file together.
    const restored = await loupe(['restore', 'cat/cat_0.png', '--from-file', '-', '--project', project, '--json'], {
      input: paths.slice(1).join('\n'),
    });
    expect(JSON.parse(restored.stdout)).toMatchObject({ changed: 20 });
    expect(await stats()).toMatchObject({ images: 20, removed: 0 });
  });

  it('names the first unknown path, changes nothing, and refuses an unreadable or empty list', async () => {
    const version = (await stats()).version;
    const list = path.join(dir, 'some-wrong.txt');
    fs.writeFileSync(list, [...paths, 'cat/nope.png', 'dog/nope.png'].join('\n'));
    const [unknown, unreadable, empty] = await Promise.all([
      loupe(['remove', '--from-file', list, '--project', project]),
      loupe(['remove', '--from-file', path.join(dir, 'absent.txt'), '--project', project]),
      loupe(['remove', '--from-file', '-', '--project', project], { input: '\n\n' }),
    ]);
    expectOneErrorLine(unknown, /No image at cat\/nope\.png in this project \(and 1 more of the paths named\)/, 1);
    expectOneErrorLine(unreadable, /Cannot read the paths in .*absent\.txt/, 1);
    expectOneErrorLine(empty, /Standard input names no image paths/, 2);
    expect((await stats()).version).toBe(version);
  });
});
