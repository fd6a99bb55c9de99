/**
 * Runs stored by the release before devices were recorded ({name, tried} backend reports) still
 * read, show and report: their device says it was not recorded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import { tempDir } from '../../helpers/fixtures';

let core: Core | null = null;
afterEach(async () => {
  await core?.shutdown();
  core = null;
});

it("reads an older run's backend report without a device, and writes its report", async () => {
  core = new Core();
  const dir = tempDir();
  await core.call('project:open', { file: path.join(dir, 'old.loupe'), create: true });
  const db = core.requireProject().db;
  const legacy = JSON.stringify({ name: 'wasm', tried: [{ name: 'tensorflow', loaded: false, reason: 'not installed' }, { name: 'wasm', loaded: true, reason: null }] });
  const id = Number(
    db
      .prepare("INSERT INTO runs (status, config, dataset_version, backend, classes, started_at, finished_at) VALUES ('done', ?, 0, ?, '[\"a\",\"b\"]', 1, 2)")
      .run(JSON.stringify({ mode: 'quick' }), legacy).lastInsertRowid,
  );
  const run = await core.call('runs:get', { id });
  expect(run.backend).toMatchObject({ name: 'wasm', requested: 'auto', host: 'process', device: { label: 'wasm (device not recorded)', kind: 'cpu' } });
  const out = path.join(dir, 'report.html');
  await core.call('experiments:report', { runId: id, out });
  expect(fs.readFileSync(out, 'utf8')).toContain('wasm (device not recorded)');
});
