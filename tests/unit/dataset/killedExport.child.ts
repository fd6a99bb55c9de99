/**
 * A folder export that stops for good half way, for a test to kill with SIGKILL: it prints
 * "midway" once some files are staged, then blocks its only thread.
 * Usage: node --import tsx killedExport.child.ts <project.loupe> <out>
 */
import fs from 'node:fs';
import { exportDataset } from '../../../src/main/dataset/export';
import { openProject } from '../../../src/main/store/project';

const [file, out] = process.argv.slice(2);
const project = openProject(file!);
void exportDataset(
  project,
  { format: 'folders', out: out! },
  {
    progress: (_step, current) => {
      if (current < 2) return;
      fs.writeSync(1, 'midway\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    },
    throwIfCancelled: () => undefined,
  },
);
