/**
 * Per-image quality checks with thresholds fit to the dataset: robust z-scores (median and MAD) of
 * brightness, entropy, sharpness (log variance of the Laplacian), aspect ratio and pixel count, so
 * a dataset of night photos is not "all dark"; fixed cuts only where a fixed meaning exists (a
 * tiny short side, a flat image, a grey image in a colour dataset, an unreadable file). Every flag
 * carries the reason in words.
 */
import type { HealthThreshold, ImageFlag, QualityCheck, QualityCheckSummary, QualitySummary } from '../../shared/health';
import { qualityChecks } from '../../shared/health';
import type { ImageId } from '../../shared/types';
import type { HealthRow } from '../store/health';
import { flatContrastMax } from './duplicates';

/** Robust z-score beyond which an image is an outlier of its dataset (about 1 in 4,000 of a normal distribution). */
export const robustZ = 3.5;
/** Dark or bright also needs this many grey levels from the median: a very uniform dataset has a tiny spread. */
export const brightnessGapMin = 25;
/** Low information also needs this many bits of entropy under the median. */
export const entropyGapMin = 0.75;
/** Blurry also needs this factor less detail than the median. */
export const sharpnessFactorMin = 2;
/** Short sides under this many pixels are tiny (too small to show what a class looks like at most input sizes). */
export const tinySide = 32;
/** An aspect ratio is odd only when it is also this factor away from the dataset's median (a dataset of near-squares has a tiny spread). */
export const aspectFactorMin = 1.5;
/** A size is odd only when its pixel count is also this factor away from the dataset's median. */
export const sizeFactorMin = 4;
/** Colourfulness (Hasler-Süsstrunk) under which an image is grey; JPEG chroma noise on grey stays under it. */
export const greyColourMax = 4;
/** A dataset is colour when more than this share of its images is not grey. */
export const colourDatasetShare = 0.5;

/** The constants above, for the report. */
export function qualityThresholds(): HealthThreshold[] {
  return [
    { name: 'robustZ', value: robustZ, description: 'Robust z-score (median and MAD of this dataset) beyond which brightness, entropy, sharpness, aspect or size is flagged.' },
    { name: 'brightnessGapMin', value: brightnessGapMin, description: 'Dark or bright images also differ from the median brightness by at least this many grey levels.' },
    { name: 'entropyGapMin', value: entropyGapMin, description: 'Low-information images also have at least this many bits less entropy than the median.' },
    { name: 'sharpnessFactorMin', value: sharpnessFactorMin, description: 'Blurry images also have at least this factor less detail than the median.' },
    { name: 'tinySide', value: tinySide, description: 'Short sides under this many pixels are tiny.' },
    { name: 'aspectFactorMin', value: aspectFactorMin, description: 'An odd aspect ratio must also be this factor away from the median aspect.' },
    { name: 'sizeFactorMin', value: sizeFactorMin, description: 'An odd size must also be this factor away from the median pixel count.' },
    { name: 'greyColourMax', value: greyColourMax, description: 'Colourfulness under which an image counts as grey (flagged only in a colour dataset).' },
    { name: 'colourDatasetShare', value: colourDatasetShare, description: 'A dataset is a colour dataset when more than this share of its images has colour.' },
  ];
}

interface Fit {
  median: number;
  sigma: number;
  sorted: Float64Array;
}

function fit(values: number[]): Fit {
  const sorted = Float64Array.from(values).sort();
  const median = quantile(sorted, 0.5);
  const deviations = Float64Array.from(values, (v) => Math.abs(v - median)).sort();
  // A spread of zero (every image the same size) would flag any difference at all.
  const sigma = Math.max(1.4826 * quantile(deviations, 0.5), 1e-3 * Math.abs(median), 1e-6);
  return { median, sigma, sorted };
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Share (0-100) of the dataset strictly above (side 'above') or below a value. */
function percentBeyond(f: Fit, value: number, side: 'above' | 'below'): number {
  let lo = 0;
  let hi = f.sorted.length;
  // First index with sorted[i] > value (above) or >= value (below).
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (side === 'above' ? f.sorted[mid]! <= value : f.sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  const count = side === 'above' ? f.sorted.length - lo : lo;
  return (100 * count) / Math.max(1, f.sorted.length);
}

const pct = (p: number) => (p >= 99.5 ? `${Math.min(99.9, Math.floor(p * 10) / 10)}%` : `${Math.floor(p)}%`);
const num = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));

/** What the checks found: per-image flags and the summary. */
export interface QualityResult {
  flags: Map<ImageId, ImageFlag[]>;
  summary: QualitySummary;
}

/** Runs every quality check over the rows (active and unreadable images). */
export function checkQuality(rows: HealthRow[]): QualityResult {
  const flags = new Map<ImageId, ImageFlag[]>();
  const add = (id: ImageId, flag: ImageFlag) => {
    const list = flags.get(id);
    if (list) list.push(flag);
    else flags.set(id, [flag]);
  };
  const measured = rows.filter((r) => r.status === 'active' && r.brightness !== null);
  const sized = rows.filter((r) => r.status === 'active' && r.width && r.height);
  const checks = new Map<QualityCheck, QualityCheckSummary>();
  const set = (check: QualityCheck, threshold: number | null, rule: string) => checks.set(check, { check, count: 0, threshold, rule });

  // Brightness: both tails.
  const bright = fit(measured.map((r) => r.brightness!));
  const darkCut = bright.median - Math.max(robustZ * bright.sigma, brightnessGapMin);
  const brightCut = bright.median + Math.max(robustZ * bright.sigma, brightnessGapMin);
  set('dark', darkCut, `mean brightness under ${num(darkCut)} of 255 (median ${num(bright.median)})`);
  set('bright', brightCut, `mean brightness over ${num(brightCut)} of 255 (median ${num(bright.median)})`);
  // Entropy (low information) and contrast (flat).
  const entropy = fit(measured.map((r) => r.entropy!));
  const entropyCut = entropy.median - Math.max(robustZ * entropy.sigma, entropyGapMin);
  set('lowInfo', entropyCut, `entropy under ${num(entropyCut)} bits (median ${num(entropy.median)}), or a grey spread under ${flatContrastMax} levels (flat)`);
  // Sharpness on a log scale: variance of the Laplacian spans orders of magnitude.
  const sharp = fit(measured.map((r) => Math.log1p(r.sharpness!)));
  const blurCut = sharp.median - Math.max(robustZ * sharp.sigma, Math.log(sharpnessFactorMin));
  set('blurry', Math.expm1(blurCut), `detail (variance of the Laplacian at 64x64) under ${num(Math.expm1(blurCut))} (median ${num(Math.expm1(sharp.median))})`);
  for (const r of measured) {
    const b = r.brightness!;
    if (b < darkCut) add(r.id, { check: 'dark', value: b, reason: `darker than ${pct(percentBeyond(bright, b, 'above'))} of this dataset (mean brightness ${num(b)}, cut ${num(darkCut)})` });
    if (b > brightCut) add(r.id, { check: 'bright', value: b, reason: `brighter than ${pct(percentBeyond(bright, b, 'below'))} of this dataset (mean brightness ${num(b)}, cut ${num(brightCut)})` });
    if (r.contrast! < flatContrastMax) add(r.id, { check: 'lowInfo', value: r.entropy!, reason: `nearly flat: grey levels spread by ${num(r.contrast!)}, under ${flatContrastMax}` });
    else if (r.entropy! < entropyCut) add(r.id, { check: 'lowInfo', value: r.entropy!, reason: `less information than ${pct(percentBeyond(entropy, r.entropy!, 'above'))} of this dataset (entropy ${num(r.entropy!)} bits, cut ${num(entropyCut)})` });
    const s = Math.log1p(r.sharpness!);
    if (s < blurCut && r.contrast! >= flatContrastMax) add(r.id, { check: 'blurry', value: r.sharpness!, reason: `blurrier than ${pct(percentBeyond(sharp, s, 'above'))} of this dataset (detail ${num(r.sharpness!)}, cut ${num(Math.expm1(blurCut))})` });
  }
  // Geometry.
  set('tiny', tinySide, `short side under ${tinySide} px`);
  const aspect = fit(sized.map((r) => Math.log(r.width! / r.height!)));
  const aspectBand = Math.max(robustZ * aspect.sigma, Math.log(aspectFactorMin));
  set('oddAspect', Math.exp(aspectBand), `aspect ratio more than ${num(Math.exp(aspectBand))}x away from the median ${num(Math.exp(aspect.median))}:1`);
  const size = fit(sized.map((r) => Math.log(r.width! * r.height!)));
  const sizeBand = Math.max(robustZ * size.sigma, Math.log(sizeFactorMin));
  set('oddSize', Math.exp(sizeBand), `pixel count more than ${num(Math.exp(sizeBand))}x away from the median ${Math.round(Math.exp(size.median)).toLocaleString('en')}`);
  for (const r of sized) {
    const short = Math.min(r.width!, r.height!);
    if (short < tinySide) add(r.id, { check: 'tiny', value: short, reason: `short side ${short} px, under ${tinySide} px` });
    const a = Math.log(r.width! / r.height!);
    if (Math.abs(a - aspect.median) > aspectBand) {
      add(r.id, { check: 'oddAspect', value: r.width! / r.height!, reason: `aspect ${num(r.width! / r.height!)}:1 where this dataset's median is ${num(Math.exp(aspect.median))}:1 (${r.width}x${r.height})` });
    }
    const p = Math.log(r.width! * r.height!);
    if (Math.abs(p - size.median) > sizeBand) {
      const side = p > size.median ? 'above' : 'below';
      add(r.id, { check: 'oddSize', value: r.width! * r.height!, reason: `${r.width}x${r.height} is ${p > size.median ? 'larger' : 'smaller'} than ${pct(percentBeyond(size, p, side === 'above' ? 'below' : 'above'))} of this dataset` });
    }
  }
  // Grey images in a colour dataset.
  const coloured = measured.filter((r) => r.colourfulness! >= greyColourMax).length;
  const colourDataset = measured.length > 0 && coloured / measured.length > colourDatasetShare;
  set('grayscale', colourDataset ? greyColourMax : null, colourDataset ? `colourfulness under ${greyColourMax} in a colour dataset (${Math.round((100 * coloured) / measured.length)}% of images have colour)` : 'off: this is not a colour dataset');
  if (colourDataset) {
    for (const r of measured) if (r.colourfulness! < greyColourMax) add(r.id, { check: 'grayscale', value: r.colourfulness!, reason: `grey (colourfulness ${num(r.colourfulness!)}) in a colour dataset` });
  }
  set('unreadable', null, 'the file could not be decoded');
  for (const r of rows) if (r.status === 'unreadable') add(r.id, { check: 'unreadable', value: null, reason: 'could not be decoded (see the image for why)' });

  for (const list of flags.values()) for (const f of list) checks.get(f.check)!.count++;
  const ordered = qualityChecks.map((c) => checks.get(c)!);
  const counts = Object.fromEntries(ordered.map((c) => [c.check, c.count])) as Record<QualityCheck, number>;
  return { flags, summary: { counts, checks: ordered, colourDataset } };
}
