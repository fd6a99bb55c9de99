/**
 * Finding the images of a source and what it says about them: a folder with one sub-folder per
 * class, the same under train/ valid/ test/, a CSV of path,label[,split] or a CSV of path,value.
 */
import { parse } from 'csv-parse/sync';
import fs from 'node:fs/promises';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import type { ImportKind, SplitName } from '../../shared/types';

/** File extensions import reads; other files in the tree are skipped. */
export const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

/** One image a source names. */
export interface ScannedImage {
  file: string;
  label: string | null;
  value: number | null;
  split: SplitName | null;
}

/** A scanned source. */
export interface ScanResult {
  kind: ImportKind;
  /** The folder the source's paths are relative to (the folder itself, or the CSV's folder). */
  base: string;
  images: ScannedImage[];
  /** Files skipped because their extension is not an image's. */
  skipped: number;
  /** CSV rows that could not be used, with the reason. */
  problems: { row: number; reason: string }[];
}

const splitAliases: Record<string, SplitName> = {
  train: 'train',
  training: 'train',
  valid: 'valid',
  val: 'valid',
  validation: 'valid',
  dev: 'valid',
  test: 'test',
  testing: 'test',
};

/** Scans a source, detecting its kind unless one is given. */
export async function scanSource(source: string, kind?: ImportKind): Promise<ScanResult> {
  const absolute = path.resolve(source);
  const stat = await fs.stat(absolute).catch(() => null);
  if (!stat) throw new LoupeError('NOT_FOUND', `Nothing at ${absolute}.`, { source: absolute });
  if (stat.isFile()) {
    if (kind === 'folders' || kind === 'split-folders') {
      throw new LoupeError('VALIDATION', `${absolute} is a file; "${kind}" needs a folder.`);
    }
    return scanCsv(absolute, kind);
  }
  if (kind === 'csv-labels' || kind === 'csv-values') {
    throw new LoupeError('VALIDATION', `${absolute} is a folder; "${kind}" needs a CSV file.`);
  }
  const entries = await fs.readdir(absolute, { withFileTypes: true });
  const splitDirs = entries.filter((e) => e.isDirectory() && splitAliases[e.name.toLowerCase()]);
  const useSplits = kind === 'split-folders' || (kind === undefined && splitDirs.length > 0);
  const images: ScannedImage[] = [];
  let skipped = 0;
  const roots = useSplits
    ? splitDirs.map((d) => ({ dir: path.join(absolute, d.name), split: splitAliases[d.name.toLowerCase()]! }))
    : [{ dir: absolute, split: null }];
  for (const root of roots) {
    for (const file of await walk(root.dir)) {
      if (!imageExtensions.has(path.extname(file).toLowerCase())) {
        skipped++;
        continue;
      }
      // The class is the first folder below the (split) root; files directly in it have none.
      const parts = path.relative(root.dir, file).split(path.sep);
      images.push({ file, label: parts.length > 1 ? parts[0]! : null, value: null, split: root.split });
    }
  }
  images.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { kind: useSplits ? 'split-folders' : 'folders', base: absolute, images, skipped, problems: [] };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

async function scanCsv(file: string, kind?: ImportKind): Promise<ScanResult> {
  const text = await fs.readFile(file, 'utf8');
  let rows: string[][];
  try {
    rows = parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: true }) as string[][];
  } catch (error) {
    throw new LoupeError('VALIDATION', `${file} is not a readable CSV: ${(error as Error).message}`);
  }
  const base = path.dirname(file);
  // A first row whose path is not an image file name is a header, whatever its words.
  const hasHeader = rows.length > 0 && !imageExtensions.has(path.extname(rows[0]![0] ?? '').toLowerCase());
  const body = hasHeader ? rows.slice(1) : rows;
  const firstRow = hasHeader ? 2 : 1;
  const second = body.map((r) => r[1] ?? '');
  const numeric = second.length > 0 && second.every((v) => v !== '' && Number.isFinite(Number(v)));
  // A few distinct integers (digits 0-9) are class ids, not a regression target.
  const fewIntegers = numeric && second.every((v) => Number.isInteger(Number(v))) && new Set(second).size <= 20;
  const header = hasHeader ? (rows[0]![1] ?? '') : '';
  const headerSaysValue = /^(value|target|y|score|age)$/i.test(header);
  const headerSaysLabel = /^(label|class|category|y_class)$/i.test(header);
  const resolvedKind: ImportKind =
    kind ?? (headerSaysValue || (numeric && !fewIntegers && !headerSaysLabel) ? 'csv-values' : 'csv-labels');
  const images: ScannedImage[] = [];
  const problems: ScanResult['problems'] = [];
  body.forEach((row, index) => {
    const rowNumber = index + firstRow;
    const [rawPath, second, rawSplit] = row;
    if (!rawPath) return problems.push({ row: rowNumber, reason: 'empty path' });
    let split: SplitName | null = null;
    if (rawSplit) {
      split = splitAliases[rawSplit.toLowerCase()] ?? null;
      if (!split) return problems.push({ row: rowNumber, reason: `unknown split "${rawSplit}"` });
    }
    const target = path.resolve(base, rawPath);
    if (resolvedKind === 'csv-values') {
      const value = Number(second);
      if (second === undefined || second === '' || !Number.isFinite(value)) {
        return problems.push({ row: rowNumber, reason: `"${second ?? ''}" is not a number` });
      }
      images.push({ file: target, label: null, value, split });
    } else {
      images.push({ file: target, label: second ? second : null, value: null, split });
    }
    return undefined;
  });
  return { kind: resolvedKind, base, images, skipped: 0, problems };
}
