import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { openDatabase } from '../../../src/main/store/db';
import type { ErrorInfo } from '../../../src/shared/errors';
import type { JobInfo } from '../../../src/shared/types';
import { tempDir, writeImage } from '../../helpers/fixtures';
import { writeSchema1Project } from './helpers/schema1';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const isRoot = process.getuid?.() === 0;

/**
 * Makes paths unwritable for this process and returns the undo. Root writes through permission bits,
 * so as root the immutable attribute is used; null where neither works (no chattr, a filesystem without it).
 */
function lockDown(paths: string[]): (() => void) | null {
  try {
    for (const p of paths) {
      if (isRoot) execFileSync('chattr', ['+i', p], { stdio: 'ignore' });
      else fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o555 : 0o444);
    }
  } catch {
    return null;
  }
  return () => {
    for (const p of [...paths].reverse()) {
      if (isRoot) execFileSync('chattr', ['-i', p], { stdio: 'ignore' });
      else fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);
    }
  };
}

const canLockDown = (() => {
  const dir = tempDir('loupe-probe-');
  const undo = lockDown([dir]);
  if (!undo) return false;
  try {
    fs.writeFileSync(path.join(dir, 'x'), '');
    return false;
  } catch {
    return true;
  } finally {
    undo();
  }
})();

/** A current-schema project with one image, two classes and one edit, closed cleanly (no -wal or -shm beside it). */
async function writeProject(dir: string): Promise<string> {
  const file = path.join(dir, 'p.loupe');
  writeSchema1Project(file);
  await writeImage(path.join(dir, 'cat', 'a.png'), 1);
  openDatabase(file).close();
  fs.rmSync(`${file}.schema1.bak`);
  return file;
}

async function failure(promise: Promise<unknown>): Promise<ErrorInfo> {
  try {
    await promise;
  } catch (error) {
    return error as ErrorInfo;
  }
  return expect.unreachable('the edit succeeded');
}

async function expectReadOnlyProject(file: string): Promise<void> {
  const core = new Core();
  try {
    const info = await core.call('project:open', { file });
    expect(info.readOnly).toBe(true);
    const stats = await core.call('dataset:stats', {});
    expect(stats).toBeTruthy();
    expect((await core.call('images:get', { id: 1 })).label).toBe('dog');
    for (const edit of [core.call('images:relabel', { ids: [1], className: 'cat' }), core.call('changes:undo', {})]) {
      const error = await failure(edit);
      expect(error.code).toBe('READ_ONLY');
      expect(error.message).toMatch(/read-only, so edits are disabled/);
    }
    // A job's plain (untransacted) write fails the same way.
    const { jobId } = await core.call('dataset:import', { source: path.dirname(file) });
    const job: JobInfo = await core.jobs.finished(jobId);
    expect(job.state).toBe('failed');
    expect(job.error?.code).toBe('READ_ONLY');
  } finally {
    await core.shutdown();
  }
}

describe.skipIf(!canLockDown)(`a read-only project${canLockDown ? '' : ' (skipped: cannot make a file unwritable here)'}`, () => {
  it('opens for stats with readOnly true, and every edit fails with READ_ONLY', async () => {
    const dir = tempDir();
    const file = await writeProject(dir);
    const before = sha256(file);
    const undo = lockDown([file])!;
    try {
      await expectReadOnlyProject(file);
    } finally {
      undo();
    }
    expect(sha256(file)).toBe(before);
  });

  it('in a read-only folder, where WAL cannot make its -shm, opens from a private copy', async () => {
    const dir = tempDir();
    const file = await writeProject(dir);
    const before = sha256(file);
    const listing = fs.readdirSync(dir);
    const undo = lockDown([file, dir])!;
    try {
      await expectReadOnlyProject(file);
    } finally {
      undo();
    }
    expect(sha256(file)).toBe(before);
    expect(fs.readdirSync(dir)).toEqual(listing);
  });

  it('an old-schema project that is read-only is refused with READ_ONLY, saying to copy it', () => {
    const dir = tempDir();
    const file = path.join(dir, 'old.loupe');
    writeSchema1Project(file);
    const undo = lockDown([file])!;
    try {
      expect(() => openDatabase(file)).toThrow(expect.objectContaining({ code: 'READ_ONLY', message: expect.stringMatching(/older Loupe.*Copy it/) }));
    } finally {
      undo();
    }
  });
});
