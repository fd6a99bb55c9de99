/**
 * Finding the images of a source and what it says about them: a folder with one sub-folder per
 * class, the same under train/ valid/ test/, a CSV of path,label[,split] or a CSV of path,value.
 */
import { parse } from 'csv-parse/sync';
import fs from 'node:fs/promises';
import path from 'node:path';
import { LoupeError } from '../../shared/errors';
import { textLimits } from '../../shared/limits';
import { restoreCell } from '../util/csvCells';
import type { ImportKind, SkippedEntry, SplitName } from '../../shared/types';
import { contain, relativeInside } from '../util/paths';

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
  /** The folder every image must really lie in: the one given, else `base`. */
  root: string;
  /** Images whose real path lies inside `root`. */
  images: ScannedImage[];
  /** Files in a folder source skipped because their extension is not an image's. */
  skipped: number;
  /** Links and CSV rows left out, with the reason. */
  refused: SkippedEntry[];
}

// Null prototype: a folder or split cell named "constructor" or "__proto__" is no alias.
const splitAliases: Record<string, SplitName> = Object.assign(Object.create(null) as Record<string, SplitName>, {
  train: 'train',
  training: 'train',
  valid: 'valid',
  val: 'valid',
  validation: 'valid',
  dev: 'valid',
  test: 'test',
  testing: 'test',
});

/**
 * Scans a source, detecting its kind unless one is given. Only files whose real path (links
 * resolved) lies inside `root` (default: the folder, or the CSV's folder) are images; the others are
 * refused with the reason, never followed out.
 */
export async function scanSource(source: string, kind?: ImportKind, root?: string | null): Promise<ScanResult> {
  const absolute = path.resolve(source);
  const stat = await fs.stat(absolute).catch(() => null);
  if (!stat) throw new LoupeError('NOT_FOUND', `Nothing at ${absolute}.`, { source: absolute });
  if (stat.isFile()) {
    if (kind === 'folders' || kind === 'split-folders') {
      throw new LoupeError('VALIDATION', `${absolute} is a file; "${kind}" needs a folder.`);
    }
    return scanCsv(absolute, kind, root ? path.resolve(root) : path.dirname(absolute));
  }
  if (kind === 'csv-labels' || kind === 'csv-values') {
    throw new LoupeError('VALIDATION', `${absolute} is a folder; "${kind}" needs a CSV file.`);
  }
  const entries = await fs.readdir(absolute, { withFileTypes: true });
  const splitDirs = entries.filter((e) => e.isDirectory() && splitAliases[e.name.toLowerCase()]);
  const useSplits = kind === 'split-folders' || (kind === undefined && splitDirs.length > 0);
  const within = root ? path.resolve(root) : absolute;
  const walker: Walker = {
    realRoot: await fs.realpath(within).catch(() => within),
    visited: new Set(),
    refused: [],
  };
  const images: ScannedImage[] = [];
  let skipped = 0;
  const splitRoots = useSplits
    ? splitDirs.map((d) => ({ dir: path.join(absolute, d.name), split: splitAliases[d.name.toLowerCase()]! }))
    : [{ dir: absolute, split: null }];
  for (const splitRoot of splitRoots) {
    for (const { file, real } of await walk(walker, splitRoot.dir, await fs.realpath(splitRoot.dir))) {
      if (!imageExtensions.has(path.extname(file).toLowerCase())) {
        skipped++;
        continue;
      }
      if (!contain(walker.realRoot, real).inside) {
        walker.refused.push({ path: file, cause: 'outside-root', reason: `lies outside the project root ${within}` });
        continue;
      }
      // The class is the first folder below the (split) root; files directly in it have none.
      const parts = path.relative(splitRoot.dir, file).split(path.sep);
      const label = parts.length > 1 ? parts[0]! : null;
      if (label !== null && label.length > textLimits.className) {
        const reason = `class folder name longer than ${textLimits.className} characters (a class name's limit); rename the folder`;
        walker.refused.push({ path: file, cause: 'name-too-long', reason });
        continue;
      }
      images.push({ file, label, value: null, split: splitRoot.split });
    }
  }
  images.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  walker.refused.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const scannedKind = useSplits ? 'split-folders' : 'folders';
  return { kind: scannedKind, base: absolute, root: within, images, skipped, refused: walker.refused };
}

interface Walker {
  realRoot: string;
  /** Real folders already walked: a link back to one would loop or count its files twice. */
  visited: Set<string>;
  refused: SkippedEntry[];
}

/** Files under `dir` (whose real path is `realDir`), each with its real path; links are resolved and judged here. */
async function walk(walker: Walker, dir: string, realDir: string): Promise<{ file: string; real: string }[]> {
  walker.visited.add(realDir);
  const out: { file: string; real: string }[] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    // Hidden folders (.git, caches, an export's staging) and macOS's AppleDouble "._x.png" files are
    // not images; other names may start with a dot ("..name.png" is a file like any other).
    if (entry.name.startsWith('._') || (entry.name.startsWith('.') && !entry.isFile() && !entry.isSymbolicLink())) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      // A link met earlier may already have led here: each real folder is read once.
      const real = path.join(realDir, entry.name);
      if (walker.visited.has(real)) {
        walker.refused.push({ path: full, cause: 'repeated-folder', reason: `${real}, a folder already scanned through a link` });
      } else out.push(...(await walk(walker, full, real)));
    } else if (entry.isFile()) out.push({ file: full, real: path.join(realDir, entry.name) });
    else if (entry.isSymbolicLink()) {
      const target = contain(walker.realRoot, await fs.realpath(full).catch(() => null));
      if (!target.inside) {
        walker.refused.push(
          target.cause === 'missing'
            ? { path: full, cause: 'broken-link', reason: 'symbolic link to nothing' }
            : { path: full, cause: 'outside-root', reason: `symbolic link to ${target.real}, outside the project root` },
        );
        continue;
      }
      const stat = await fs.stat(target.real);
      if (stat.isFile()) out.push({ file: full, real: target.real });
      else if (!stat.isDirectory()) continue;
      else if (walker.visited.has(target.real)) {
        walker.refused.push({ path: full, cause: 'repeated-folder', reason: `symbolic link to ${target.real}, a folder already scanned` });
      } else out.push(...(await walk(walker, full, target.real)));
    }
  }
  return out;
}

async function scanCsv(file: string, kind: ImportKind | undefined, root: string): Promise<ScanResult> {
  const text = await fs.readFile(file, 'utf8');
  let rows: string[][];
  try {
    // restoreCell undoes the formula guard of Loupe's CSV export (src/main/util/csvCells.ts).
    rows = (parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: true }) as string[][]).map((r) => r.map(restoreCell));
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
  const named: { row: number; path: string; image: ScannedImage }[] = [];
  const refused: SkippedEntry[] = [];
  const problem = (row: number, rawPath: string | undefined, reason: string) =>
    refused.push({ path: rawPath ?? '', row, cause: 'bad-row', reason });
  body.forEach((row, index) => {
    const rowNumber = index + firstRow;
    const [rawPath, second, rawSplit] = row;
    if (!rawPath) return problem(rowNumber, rawPath, 'empty path');
    let split: SplitName | null = null;
    if (rawSplit) {
      split = splitAliases[rawSplit.toLowerCase()] ?? null;
      if (!split) return problem(rowNumber, rawPath, `unknown split "${rawSplit}"`);
    }
    const target = path.resolve(base, rawPath);
    if (resolvedKind === 'csv-values') {
      const value = Number(second);
      if (second === undefined || second === '' || !Number.isFinite(value)) {
        return problem(rowNumber, rawPath, `"${second ?? ''}" is not a number`);
      }
      named.push({ row: rowNumber, path: rawPath, image: { file: target, label: null, value, split } });
    } else {
      if (second && second.length > textLimits.className) {
        const reason = `label longer than ${textLimits.className} characters (a class name's limit)`;
        return void refused.push({ path: rawPath, row: rowNumber, cause: 'name-too-long', reason });
      }
      named.push({ row: rowNumber, path: rawPath, image: { file: target, label: second ? second : null, value: null, split } });
    }
    return undefined;
  });
  // A row must name an image file that really lies in the root, like a file found in a folder.
  const images: ScannedImage[] = [];
  const realRoot = await fs.realpath(root).catch(() => root);
  const reals: (string | null)[] = [];
  // Several at a time: each realpath is a few system calls, and CSVs run to many thousand rows.
  for (let i = 0; i < named.length; i += 256) {
    const batch = named.slice(i, i + 256).map((entry) => fs.realpath(entry.image.file).catch(() => null));
    reals.push(...(await Promise.all(batch)));
  }
  for (const [index, entry] of named.entries()) {
    const where = contain(realRoot, reals[index] ?? null);
    // A missing file is judged by its path text; import records it as unreadable ("file not found").
    const isOutside = where.inside ? false : where.cause === 'outside' || relativeInside(root, entry.image.file) === null;
    if (isOutside) {
      const reason = `names a file outside ${root}; import from a CSV inside the images' folder, or choose a root that holds them`;
      refused.push({ path: entry.path, row: entry.row, cause: 'outside-root', reason });
    } else if (!imageExtensions.has(path.extname(entry.image.file).toLowerCase())) {
      const reason = `not an image file name (import reads ${[...imageExtensions].join(' ')})`;
      refused.push({ path: entry.path, row: entry.row, cause: 'not-an-image', reason });
    } else images.push(entry.image);
  }
  refused.sort((a, b) => (a.row ?? 0) - (b.row ?? 0));
  return { kind: resolvedKind, base, root, images, skipped: 0, refused };
}
