/**
 * Every name, path and free-text field of the contract has a length limit with a message that says
 * it, checked through the core's own validation (the same path IPC, WebSocket and CLI take).
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Core } from '../../../src/main/core';
import type { RequestName } from '../../../src/shared/contract';
import { LoupeError } from '../../../src/shared/errors';
import { textLimits } from '../../../src/shared/limits';
import { tempDir } from '../../helpers/fixtures';

const cores: Core[] = [];
afterEach(async () => {
  for (const core of cores.splice(0)) await core.shutdown();
});
const newCore = () => {
  const core = new Core();
  cores.push(core);
  return core;
};

const long = (n: number) => 'x'.repeat(n + 1);
const klass = long(textLimits.className);
const filePath = '/' + long(textLimits.path);

/** A request with one field over its limit, and the message it must get. */
const oversized: Array<{ name: RequestName; input: (big: string) => unknown; big: string; message: string }> = [
  { name: 'classes:create', input: (big) => ({ name: big }), big: klass, message: 'name: class name: at most 200 characters' },
  { name: 'images:relabel', input: (big) => ({ ids: [1], className: big }), big: klass, message: 'class name: at most 200 characters' },
  { name: 'classes:rename', input: (big) => ({ from: 'a', to: big }), big: klass, message: 'new name: at most 200 characters' },
  { name: 'classes:merge', input: (big) => ({ from: big, into: 'a' }), big: klass, message: 'class: at most 200 characters' },
  { name: 'classes:previewMerge', input: (big) => ({ from: 'a', into: big }), big: klass, message: 'target class: at most 200 characters' },
  { name: 'classes:delete', input: (big) => ({ name: big }), big: klass, message: 'class: at most 200 characters' },
  { name: 'images:page', input: (big) => ({ filter: { className: big } }), big: klass, message: 'class name: at most 200 characters' },
  { name: 'images:ids', input: (big) => ({ filter: { predicted: big } }), big: klass, message: 'predicted class: at most 200 characters' },
  { name: 'images:page', input: (big) => ({ filter: { search: big } }), big: long(textLimits.freeText), message: 'search: at most 500 characters' },
  { name: 'review:queue', input: (big) => ({ kind: 'cell', given: big }), big: klass, message: 'given class: at most 200 characters' },
  { name: 'project:open', input: (big) => ({ file: big }), big: filePath, message: 'project file: at most 4096 characters' },
  { name: 'dataset:import', input: (big) => ({ source: big }), big: filePath, message: 'source: at most 4096 characters' },
  { name: 'dataset:export', input: (big) => ({ format: 'csv', out: big }), big: filePath, message: 'output folder: at most 4096 characters' },
  { name: 'train:importBackbone', input: (big) => ({ file: big }), big: filePath, message: 'model file: at most 4096 characters' },
  { name: 'train:importBackbone', input: (big) => ({ file: '/m.onnx', name: big }), big: long(textLimits.name), message: 'backbone name: at most 200 characters' },
  { name: 'train:start', input: (big) => ({ config: { backbone: big } }), big: filePath, message: 'backbone: at most 4096 characters' },
  { name: 'jobs:cancel', input: (big) => ({ id: big }), big: long(textLimits.id), message: 'job id: at most 100 characters' },
];

describe('contract text limits', () => {
  it.each(oversized.map((c) => [`${c.name} ${c.message}`, c] as const))('%s', async (_label, c) => {
    const error = await newCore()
      .call(c.name, c.input(c.big) as never)
      .then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(LoupeError);
    expect((error as LoupeError).code).toBe('VALIDATION');
    expect((error as LoupeError).message).toContain(c.message);
    // The refused value does not ride back in the error.
    expect(JSON.stringify((error as LoupeError).toInfo()).length).toBeLessThan(2000);
  });

  it('a 5 MiB class name is refused without being echoed', async () => {
    const error = (await newCore()
      .call('classes:create', { name: 'c'.repeat(5 * 1024 * 1024) })
      .catch((e: unknown) => e)) as LoupeError;
    expect([error.code, error.message]).toEqual(['VALIDATION', 'classes:create: name: class name: at most 200 characters']);
    expect(JSON.stringify(error.toInfo()).length).toBeLessThan(2000);
  });

  it('accepts a class name of exactly 200 characters, and still trims and requires one', async () => {
    const core = newCore();
    await core.call('project:open', { file: path.join(tempDir(), 'p.loupe'), create: true });
    const name = 'n'.repeat(textLimits.className);
    expect((await core.call('classes:create', { name })).name).toBe(name);
    await expect(core.call('classes:create', { name: '   ' })).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('class name is required') });
    await expect(core.call('classes:create', { name: 5 as never })).rejects.toMatchObject({ message: expect.stringContaining('class name must be text') });
  });
});
