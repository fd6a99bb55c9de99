/**
 * Hardening figures, against real `loupe` processes:
 * - hostile inputs: every hostile WebSocket input of the tests (tests/unit/server/hostileInputs.ts)
 *   and hostile HTTP requests, sent to one `loupe serve`; a crash is the server exiting or a proper
 *   request failing afterwards;
 * - files outside the dataset served: a dataset with links out of its root and a CSV naming
 *   /etc/passwd is imported, then every image id, traversal paths and encoded variants are asked
 *   for; any answer holding the bytes of a file outside the root counts;
 * - kill -9 trials: a CLI command that writes is killed at a seeded random moment, then the project
 *   is checked, printed as "survived of N". `--trials N` sets N (default 25).
 *
 * A trial survives when: SQLite's integrity and foreign-key checks pass; the next open recovers the
 * killed job (an import left 'running' by a dead owner becomes 'interrupted'); importing again
 * completes the dataset; a fresh edit undoes to exactly the state before it and redoes to the state
 * after it; and every original file is byte-identical to before.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import http from 'node:http';
import { benchDir, listFiles } from './fixtures';
import { hostileInputs } from '../tests/unit/server/hostileInputs';
import { RawSocket, startServe } from '../tests/unit/server/rawSocket';

const bin = path.resolve(import.meta.dirname, '../bin/loupe.mjs');
const classes = ['ant', 'bee', 'cow'];
const perClass = 200;

async function sourceFolder(): Promise<string> {
  const dir = path.join(benchDir, `hardening-${classes.length}x${perClass}`);
  const marker = path.join(dir, '.complete');
  if (fs.existsSync(marker)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  let seed = 0;
  for (const name of classes) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++, seed++) {
      const pixels = Buffer.alloc(48 * 48 * 3);
      for (let p = 0; p < pixels.length; p++) pixels[p] = (Math.imul(seed + 1, 2654435761) ^ Math.imul(p, 40503)) >>> 24;
      await sharp(pixels, { raw: { width: 48, height: 48, channels: 3 } }).png().toFile(path.join(dir, name, `${i}.png`));
    }
  }
  fs.writeFileSync(marker, '');
  return dir;
}

function digest(files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(fs.readFileSync(file));
  return hash.digest('hex');
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `args` and SIGKILLs it after `delayMs` (if it is still running); true when it was killed. */
function killedAfter(args: string[], delayMs: number): Promise<boolean> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: 'ignore' });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal === 'SIGKILL');
    });
  });
}

/** Labels, splits and statuses of every image: the state undo/redo must give back exactly. */
function snapshot(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT i.path, i.status, l.class_id, s.split FROM images i
           LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN splits s ON s.image_id = i.id ORDER BY i.path`,
      )
      .all();
    return JSON.stringify(rows);
  } finally {
    db.close();
  }
}

function checks(file: string): string[] {
  const problems: string[] = [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') problems.push(`integrity_check: ${String(integrity)}`);
    const foreign = db.pragma('foreign_key_check') as unknown[];
    if (foreign.length > 0) problems.push(`${foreign.length} foreign-key violations`);
  } finally {
    db.close();
  }
  return problems;
}

/** A raw HTTP GET (the path sent as written, no normalising), with the Host given. */
function rawGet(port: number, target: string, host: string, token: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, headers: { host, 'x-loupe-token': token }, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', () => resolve({ status: 0, body: Buffer.alloc(0) }));
    req.end();
  });
}

async function properReply(port: number, token: string): Promise<boolean> {
  try {
    const raw = await RawSocket.open(port, token);
    try {
      await raw.sendText(JSON.stringify({ id: 1, name: 'project:current', input: {} }));
      return (await raw.reply()).reply.ok;
    } finally {
      raw.destroy();
    }
  } catch {
    return false;
  }
}

/** Hostile inputs against one `loupe serve` of a dataset with links out of its root; prints the counts. */
async function hostileServe(work: string): Promise<void> {
  const data = path.join(work, 'served', 'data');
  const outside = path.join(work, 'served', 'outside');
  fs.mkdirSync(path.join(data, 'cat'), { recursive: true });
  fs.mkdirSync(outside, { recursive: true });
  const secret = Buffer.from('LOUPE-SECRET-OUTSIDE-THE-ROOT\n');
  fs.writeFileSync(path.join(outside, 'secret.txt'), secret);
  // Three different images: an answer holding the outside one's bytes can only come from outside.
  const png = (fill: number, file: string) =>
    sharp(Buffer.alloc(16 * 16 * 3, fill), { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(file);
  await png(200, path.join(outside, 'outside.png'));
  await png(40, path.join(data, 'cat', 'inside.png'));
  await png(90, path.join(data, 'cat', 'swapped.png'));
  fs.symlinkSync(path.join(outside, 'outside.png'), path.join(data, 'cat', 'link-out.png'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(data, 'cat', 'secret.png'));
  fs.symlinkSync(outside, path.join(data, 'folder-link'));
  const csv = path.join(data, 'labels.csv');
  fs.writeFileSync(csv, `path,label\ncat/inside.png,cat\n/etc/passwd,cat\n../outside/outside.png,cat\n${path.join(outside, 'secret.txt')},cat\n`);
  const project = path.join(work, 'served', 'p.loupe');
  cli(['import', data, '--project', project]);
  cli(['import', csv, '--project', project]);
  // After import, an imported file is replaced by a link out of the root.
  fs.rmSync(path.join(data, 'cat', 'swapped.png'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(data, 'cat', 'swapped.png'));
  const forbidden = [secret, fs.readFileSync(path.join(outside, 'outside.png')), fs.readFileSync('/etc/passwd')];

  const served = await startServe(project);
  let tried = 0;
  let crashes = 0;
  let leaks = 0;
  try {
    const alive = async () => served.child.exitCode === null && (await properReply(served.port, served.token));
    for (const input of hostileInputs) {
      tried++;
      try {
        const raw = await RawSocket.open(served.port, served.token);
        for (const frame of input.frames()) await raw.write(frame);
        await Promise.race([raw.closeCode(), raw.reply().catch(() => null), new Promise((r) => setTimeout(r, 2000))]);
        raw.destroy();
      } catch {
        // A refused or broken socket is an answer; only the server's health counts.
      }
      if (!(await alive())) crashes++;
    }
    const host = `127.0.0.1:${served.port}`;
    const targets = [
      ...Array.from({ length: 12 }, (_, i) => `/image/${i + 1}`),
      '/image/0',
      '/image/-1',
      '/image/99999999999999999999',
      '/thumb/1',
      '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/../../../../etc/passwd',
      '/..%2f..%2f..%2fetc%2fpasswd',
      '/%E0%A4%A',
      '/%',
      '/%00',
      '/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json',
      `//${host}/etc/passwd`,
      'http://evil.example/',
      '/preview/../../etc/1',
      `/${'a'.repeat(60_000)}`,
    ];
    const hosts = [host, `localhost:${served.port}`, `evil.example:${served.port}`, 'evil.example', ''];
    for (const target of targets) {
      for (const h of hosts) {
        tried++;
        const { body } = await rawGet(served.port, target, h, served.token);
        if (forbidden.some((f) => body.includes(f))) {
          leaks++;
          console.log(`served a file outside the dataset: GET ${target.slice(0, 80)} (Host: ${h})`);
        }
      }
    }
    if (!(await alive())) crashes++;
  } finally {
    await served.stop();
  }
  console.log(`hostile inputs: ${tried} tried (${hostileInputs.length} WebSocket, ${tried - hostileInputs.length} HTTP), crashes: ${crashes}`);
  console.log(`files outside the dataset served: ${leaks}`);
}

/** Prints the hostile-input counts, then how many kill -9 trials left the project consistent. */
export async function hardeningBench(args: string[]): Promise<void> {
  const trialsFlag = args.indexOf('--trials');
  const trials = trialsFlag >= 0 ? Number(args[trialsFlag + 1]) : 25;
  const source = await sourceFolder();
  const originals = listFiles(source);
  const before = digest(originals);
  const work = path.join(benchDir, 'hardening-trials');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  await hostileServe(work);
  const relabelPaths = originals.filter((_, i) => i % 3 === 0).map((f) => path.relative(source, f).split(path.sep).join('/'));

  let state = 2024;
  const random = () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const operations = ['import', 'relabel', 'split', 'undo'] as const;
  let survived = 0;
  let killed = 0;
  for (let trial = 0; trial < trials; trial++) {
    const operation = operations[trial % operations.length]!;
    const file = path.join(work, `t${trial}.loupe`);
    const problems: string[] = [];
    if (operation !== 'import') {
      const setup = cli(['import', source, '--project', file, '--json']);
      if (setup.status !== 0) throw new Error(`setup import failed: ${setup.stderr}`);
      if (operation === 'undo') cli(['relabel', ...relabelPaths, '--to', 'bee', '--project', file]);
    }
    const command =
      operation === 'import'
        ? ['import', source, '--project', file]
        : operation === 'relabel'
          ? ['relabel', ...relabelPaths, '--to', 'cow', '--project', file]
          : operation === 'split'
            ? ['split', '--ratios', '70,15,15', '--seed', String(trial), '--project', file]
            : ['undo', '--project', file];
    // Imports take seconds, edits well under one: kill within each one's own span.
    const delay = Math.round((operation === 'import' ? 300 + random() * 2500 : 150 + random() * 500));
    if (await killedAfter(command, delay)) killed++;
    if (!fs.existsSync(file)) {
      // Killed before the file existed: nothing to check but the originals.
      if (digest(originals) !== before) problems.push('originals changed');
      if (problems.length === 0) survived++;
      continue;
    }
    problems.push(...checks(file));
    // Opening recovers the dead owner's job; stats must work.
    const stats = cli(['stats', '--project', file, '--json']);
    if (stats.status !== 0) problems.push(`stats after kill: ${stats.stderr.trim()}`);
    const resumed = cli(['import', source, '--project', file, '--json']);
    if (resumed.status !== 0) problems.push(`import after kill: ${resumed.stderr.trim()}`);
    else {
      const total = (JSON.parse(cli(['stats', '--project', file, '--json']).stdout) as { images: number }).images;
      if (total !== originals.length) problems.push(`${total} images after re-import, want ${originals.length}`);
    }
    // Undo and redo still work: a fresh edit is undone to exactly the state before it, and redone.
    const beforeEdit = snapshot(file);
    const edit = cli(['relabel', ...relabelPaths.slice(0, 30), '--to', `trial${trial}`, '--create', '--project', file]);
    const afterEdit = snapshot(file);
    const undo = cli(['undo', '--project', file]);
    const undone = snapshot(file);
    const redo = cli(['redo', '--project', file]);
    if (edit.status !== 0 || undo.status !== 0 || redo.status !== 0) {
      problems.push(`edit/undo/redo: ${edit.stderr.trim()} ${undo.stderr.trim()} ${redo.stderr.trim()}`);
    } else if (afterEdit === beforeEdit || undone !== beforeEdit || snapshot(file) !== afterEdit) {
      problems.push('undo did not give back the state before the edit, or redo the state after it');
    }
    problems.push(...checks(file));
    if (digest(originals) !== before) problems.push('originals changed');
    if (problems.length === 0) survived++;
    else console.log(`trial ${trial} (${operation}, killed after ${delay} ms): ${problems.join('; ')}`);
  }
  console.log(`kill -9 trials: ${survived} of ${trials} survived (${killed} commands were killed mid-way, the rest had finished)`);
  console.log(`originals: ${digest(originals) === before ? 'byte-identical' : 'CHANGED'} (${originals.length} files)`);
}
