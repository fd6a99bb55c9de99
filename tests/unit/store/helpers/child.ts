/** Starting the second process of a two-process test and waiting on what it says. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const worker = path.resolve('tests/unit/store/helpers/worker.ts');

/** A worker process (see worker.ts) with its output collected. */
export interface Worker {
  child: ChildProcess;
  /** Resolves when the worker prints `line`; rejects if it exits first. */
  said(line: string): Promise<void>;
  /** Resolves when the worker has exited (and been reaped, so its pid is gone). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts `worker.ts ACTION ...args` under tsx. */
export function startWorker(...args: string[]): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiting: Array<{ line: string; resolve: () => void; reject: (error: Error) => void }> = [];
  const settle = () => {
    const lines = stdout.split('\n');
    for (const w of waiting.splice(0)) {
      if (lines.includes(w.line)) w.resolve();
      else waiting.push(w);
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    settle();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => {
      for (const w of waiting.splice(0)) w.reject(new Error(`worker exited (${code ?? signal}) before saying ${w.line}: ${stderr}`));
      resolve({ code, signal, stderr });
    }),
  );
  return {
    child,
    exited,
    said: (line) =>
      new Promise<void>((resolve, reject) => {
        waiting.push({ line, resolve, reject });
        settle();
      }),
  };
}

/** Kills a worker with SIGKILL (no cleanup runs, as in a crash) and waits until it is gone. */
export async function crash(worker: Worker): Promise<void> {
  worker.child.kill('SIGKILL');
  await worker.exited;
}
