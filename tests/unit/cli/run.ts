/** Runs bin/loupe.mjs in a child process, as a person would, and checks its one-line errors. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'vitest';

const bin = path.resolve('bin/loupe.mjs');

/** What one run of `loupe` did. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `loupe ...args`, with `input` on standard input (closed when absent). */
export function loupe(args: string[], options: { input?: string; cwd?: string } = {}): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: process.env, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, ms: performance.now() - started }));
    child.stdin.end(options.input ?? '');
  });
}

/** The run failed with exactly one `loupe:` line on stderr, matching `pattern`, and no stack trace. */
export function expectOneErrorLine(run: Run, pattern: RegExp, code?: number): void {
  expect(run.code, run.stderr).not.toBe(0);
  if (code !== undefined) expect(run.code, run.stderr).toBe(code);
  const lines = run.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^loupe: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at |TypeError|ERR_PARSE_ARGS/);
}
