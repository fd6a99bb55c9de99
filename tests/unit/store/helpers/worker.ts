/**
 * A second process on a project, for the two-process tests. Run with `node --import tsx worker.ts ACTION FILE ...`;
 * it writes one line per milestone on stdout and, where told to, then sleeps until killed.
 */
import fs from 'node:fs';
import { Core } from '../../../../src/main/core';
import { importSource } from '../../../../src/main/dataset/import.job';
import type { JobContext } from '../../../../src/main/jobs/manager';
import { write } from '../../../../src/main/store/db';
import { setMeta } from '../../../../src/main/store/meta';
import { openProject } from '../../../../src/main/store/project';
import { createRun } from '../../../../src/main/train/runs';
import { trainConfigSchema } from '../../../../src/shared/train';

const [action, file, arg] = process.argv.slice(2);
const say = (line: string) => fs.writeSync(1, `${line}\n`);
/** Blocks this process without spinning: it stays alive, holding whatever it holds, until killed or `ms` pass. */
const block = (ms = Infinity) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const idle: JobContext = {
  signal: new AbortController().signal,
  progress() {},
  log() {},
  throwIfCancelled() {},
};

async function main(): Promise<void> {
  switch (action) {
    case 'hold-write': {
      // Holds the write lock for `arg` ms, then commits.
      const project = openProject(file!);
      write(project.db, () => {
        setMeta(project.db, 'held_by', String(process.pid));
        say('locked');
        block(Number(arg));
      });
      say('committed');
      project.close();
      return;
    }
    case 'import': {
      // Imports `arg`, and freezes after its first committed chunk, as if busy reading the rest.
      const project = openProject(file!);
      await importSource(project, { source: arg!, chunkSize: 2, concurrency: 1, onCommit: () => (say('committed'), block()) }, idle);
      return;
    }
    case 'train': {
      // A run this process is training.
      const project = openProject(file!);
      createRun(project.db, trainConfigSchema.parse({}), 0, 'classification');
      say('running');
      block();
      return;
    }
    case 'create-class': {
      const core = new Core();
      await core.call('project:open', { file: file! });
      await core.call('classes:create', { name: arg! });
      await core.shutdown();
      say('done');
      return;
    }
    default:
      throw new Error(`unknown action ${action}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
