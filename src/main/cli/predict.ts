/**
 * `loupe predict --run N --project P <image|folder>... [--out preds.csv] [--tta] [--json]`: classify
 * images on this machine with a full run's model (runs:predict). A folder stands for its image files.
 * --tta averages each image's probabilities over the test-time views (ttaViews).
 * Paths are as given (relative to the current folder), not relative to the project root.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import { ttaViews, type ModelPrediction } from '../../shared/train';
import type { Core } from '../core';
import { imageExtensions } from '../dataset/scan';
import { neutraliseCell } from '../util/csvCells';
import type { Options } from './commands';

type Print = (json: unknown, text: string) => void;

// runs:predict takes at most this many files per request.
const requestSize = 1000;

/** The images the arguments name: files as they are, folders as their image files (sorted, not recursive). */
export async function imagesOf(args: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    const stat = await fs.stat(arg).catch(() => null);
    if (stat?.isDirectory()) {
      const names = (await fs.readdir(arg, { withFileTypes: true }))
        .filter((e) => e.isFile() && imageExtensions.has(path.extname(e.name).toLowerCase()))
        .map((e) => path.join(arg, e.name))
        .sort();
      if (names.length === 0) throw new LoupeError('VALIDATION', `${arg} holds no image files (${[...imageExtensions].join(' ')}); name images or a folder of them.`, { folder: arg });
      out.push(...names);
    } else {
      // A missing or unreadable file is answered with its error, like any image that cannot be read.
      out.push(arg);
    }
  }
  return out;
}

/** path,predicted,probability,error rows, spreadsheet-safe. */
export function predictionsCsv(predictions: readonly ModelPrediction[]): string {
  const cell = (text: string) => {
    const safe = neutraliseCell(text);
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const rows = predictions.map((p) => [cell(p.name), cell(p.predicted), p.error ? '' : String(p.probability), cell(p.error ?? '')].join(','));
  return ['path,predicted,probability,error', ...rows].join('\n') + '\n';
}

/** Runs `loupe predict`; exits 1 when no image could be read. */
export async function predictCommand(core: Core, options: Pick<Options, 'run' | 'out' | 'json' | 'tta'>, args: readonly string[], print: Print): Promise<number> {
  const id = Number(options.run);
  if (!Number.isInteger(id) || id < 1) throw new LoupeError('VALIDATION', `--run takes a run number (loupe train prints it), not "${options.run}"`);
  const files = await imagesOf(args);
  const predictions: ModelPrediction[] = [];
  for (let start = 0; start < files.length; start += requestSize) {
    predictions.push(...(await core.call('runs:predict', { id, files: files.slice(start, start + requestSize), images: [], tta: options.tta === true })));
  }
  if (options.out) await fs.writeFile(options.out, predictionsCsv(predictions));
  const failed = predictions.filter((p) => p.error !== null).length;
  const width = Math.max(4, ...predictions.map((p) => p.name.length));
  const line = (p: ModelPrediction) =>
    p.error ? `${p.name.padEnd(width)}  error: ${p.error}` : `${p.name.padEnd(width)}  ${p.top.map((t) => `${t.name} ${(t.probability * 100).toFixed(1)}%`).join('  ')}`;
  const tta = options.tta ? [...ttaViews] : null;
  print(
    { run: id, predictions, failed, out: options.out ?? null, tta },
    [
      ...predictions.map(line),
      `${predictions.length - failed} of ${predictions.length} image(s) classified with run ${id}${tta ? ` (test-time augmentation: mean over ${tta.join(', ')})` : ''}${options.out ? `; written to ${options.out}` : ''}`,
    ].join('\n'),
  );
  return predictions.length > 0 && failed === predictions.length ? 1 : 0;
}
