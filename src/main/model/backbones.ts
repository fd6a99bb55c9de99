/**
 * The backbone registry: the pinned default (downloaded on first use), the image baseline, and
 * models users import (.onnx, or a TF.js model.json with its weight files) with the preprocessing
 * they declare (input scaling, size, colour order, resize kernel). It lives in the cache folder
 * (backbones/registry.json, with the measured embedding rates in backbones/rates.json), not in a
 * project. Resolving a name gives a BackboneSpec, plain data the training process can load; its key
 * hashes every file of the model and the preprocessing, so the embedding cache can never serve
 * vectors of other weights or other inputs. Runs in the main process; loads no model.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { safeSegment } from '../util/paths';
import { LoupeError } from '../../shared/errors';
import type { BackboneInfo, BackbonePreprocessing, ColourMode, ModelFileFacts, PreprocessingInput, ResizeKernel, ScalingPreset } from '../../shared/train';
import type { Db } from '../store/db';
import { downloadFile } from './download';
import { countEmbeddings } from './embeddingCache';
import { inspectModelFile, modelFiles, modelSha256, type InspectedModel } from './modelFiles';

/** Everything the training process needs to turn images into vectors. */
export interface BackboneSpec {
  name: string;
  /** Cache identity: the name and one hash of every model file and the preprocessing. */
  key: string;
  kind: 'onnx' | 'tfjs' | 'baseline';
  /** The .onnx file or the TF.js model.json; null for the baseline. */
  file: string | null;
  /** Square input side in pixels; an ONNX model's own fixed input size wins. */
  inputSize: number;
  /** Per-channel normalisation on the 0..1 scale: (x - mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Channel order fed (default rgb; grey feeds one channel). */
  colour?: ColourMode;
  /** Resize kernel to the input size (default bilinear). */
  resize?: ResizeKernel;
  /** The preset mean and std came from, for display. */
  scaling?: ScalingPreset;
}


/** A pinned download. */
export interface PinnedModel {
  name: string;
  description: string;
  url: string;
  sha256: string;
  bytes: number;
  fileName: string;
  inputSize: number;
  mean: [number, number, number];
  std: [number, number, number];
}

const imagenetMean: [number, number, number] = [0.485, 0.456, 0.406];
const imagenetStd: [number, number, number] = [0.229, 0.224, 0.225];

/** Mean and std of each scaling preset, on the 0..1 scale. */
export const scalingValues: Record<Exclude<ScalingPreset, 'custom'>, { mean: [number, number, number]; std: [number, number, number] }> = {
  imagenet: { mean: imagenetMean, std: imagenetStd },
  unit: { mean: [0, 0, 0], std: [1, 1, 1] },
  symmetric: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
};

/**
 * The default backbone: ResNet-18 v2 (ImageNet-1k) from the ONNX model zoo, pinned to a commit.
 * The checksum is the Git LFS object id published in that commit's pointer file
 * (validated/vision/classification/resnet/model/resnet18-v2-7.onnx, size 46,806,737 bytes).
 * Its only graph output is the 1000-class logit vector, a full-rank linear map of the 512-d pooled
 * features, so a linear head on it is as expressive as one on the features.
 */
export const defaultBackbone: PinnedModel = {
  name: 'resnet18-v2',
  description: 'ResNet-18 v2, ImageNet-1k (ONNX model zoo), 47 MB',
  url: 'https://github.com/onnx/models/raw/2a67a85e670e61bf9819e9df6dae3771974552ff/validated/vision/classification/resnet/model/resnet18-v2-7.onnx',
  sha256: '3b4d048057854022232aa20bf68262e31718ab7119a17f920b8a2dc1433f824b',
  bytes: 46_806_737,
  fileName: 'resnet18-v2-7.onnx',
  inputSize: 224,
  mean: imagenetMean,
  std: imagenetStd,
};

/**
 * The image baseline, used when no pretrained backbone is available: a 16x16 grey thumbnail,
 * per-channel colour mean and spread, and a 4x4 grid of 8-bin gradient-orientation histograms
 * (see baseline.ts). A pretrained backbone does better on natural images.
 */
export const baselineSpec: BackboneSpec = {
  name: 'baseline',
  key: 'baseline-v1',
  kind: 'baseline',
  file: null,
  inputSize: 32,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

/** The folder downloaded and imported models live in: LOUPE_CACHE_DIR, else XDG_CACHE_HOME/loupe, else ~/.cache/loupe. */
export function cacheDir(): string {
  if (process.env.LOUPE_CACHE_DIR) return process.env.LOUPE_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'loupe');
}

interface RegistryEntry {
  name: string;
  kind: 'onnx' | 'tfjs';
  file: string;
  /** modelSha256 of every file at import. */
  sha256: string;
  inputSize: number;
  /** Absent in registries written before preprocessing was declared: those got ImageNet, rgb, lanczos3. */
  preprocessing?: BackbonePreprocessing;
  fromFile?: ModelFileFacts;
}

function registryFile(): string {
  return path.join(cacheDir(), 'backbones', 'registry.json');
}

function readRegistry(): RegistryEntry[] {
  try {
    return JSON.parse(fs.readFileSync(registryFile(), 'utf8')) as RegistryEntry[];
  } catch {
    return [];
  }
}

/** The default backbone's file in the cache. */
export function defaultBackboneFile(): string {
  return path.join(cacheDir(), 'backbones', defaultBackbone.fileName);
}

/** The default backbone's preprocessing: the ONNX model zoo's ResNet pipeline. */
export const defaultPreprocessing: BackbonePreprocessing = {
  scaling: 'imagenet',
  mean: defaultBackbone.mean,
  std: defaultBackbone.std,
  inputSize: defaultBackbone.inputSize,
  colour: 'rgb',
  resize: 'bilinear',
};

/** The cache key of a model: its name, and one hash over every file and the preprocessing. */
export function backboneKey(name: string, filesSha256: string, preprocessing: BackbonePreprocessing): string {
  const { scaling, mean, std, inputSize, colour, resize } = preprocessing;
  const hash = crypto.createHash('sha256').update(filesSha256).update(JSON.stringify({ scaling, mean, std, inputSize, colour, resize })).digest('hex');
  return `${name}@${hash.slice(0, 16)}`;
}

function specOf(name: string, kind: 'onnx' | 'tfjs', file: string, filesSha256: string, p: BackbonePreprocessing): BackboneSpec {
  return { name, key: backboneKey(name, filesSha256, p), kind, file, inputSize: p.inputSize, mean: p.mean, std: p.std, colour: p.colour, resize: p.resize, scaling: p.scaling };
}

function defaultSpec(): BackboneSpec {
  // The download was checked against the pinned checksum: it stands for the file.
  return specOf(defaultBackbone.name, 'onnx', defaultBackboneFile(), defaultBackbone.sha256, defaultPreprocessing);
}

function preprocessingOf(entry: RegistryEntry): BackbonePreprocessing {
  return entry.preprocessing ?? { scaling: 'imagenet', mean: imagenetMean, std: imagenetStd, inputSize: entry.inputSize, colour: 'rgb', resize: 'lanczos3' };
}

// The weights are hashed as they are now, not as they were at import: a file changed in place gets a new key.
function registeredSpec(entry: RegistryEntry): BackboneSpec {
  const files = modelFiles(entry.file);
  const sha = files.every((f) => fs.existsSync(f)) ? modelSha256(files) : entry.sha256;
  return specOf(entry.name, entry.kind, entry.file, sha, preprocessingOf(entry));
}

/** Which engine embeds with a backbone kind, as rates record it: onnxruntime-node, tfjs-<backend>, or baseline. */
export function engineOf(kind: BackboneSpec['kind'], tfBackend: string | null): string {
  if (kind === 'tfjs') return `tfjs-${tfBackend ?? 'unknown'}`;
  return kind === 'onnx' ? 'onnxruntime-node' : 'baseline';
}

interface RateEntry {
  name: string;
  key: string;
  imagesPerSecond: number;
  engine: string;
  measuredAt: number;
}

function ratesFile(): string {
  return path.join(cacheDir(), 'backbones', 'rates.json');
}

function readRates(): RateEntry[] {
  try {
    const rates = JSON.parse(fs.readFileSync(ratesFile(), 'utf8')) as unknown;
    return Array.isArray(rates) ? (rates as RateEntry[]) : [];
  } catch {
    return [];
  }
}

/** Records how fast a backbone embedded on this machine (the Train view shows it and estimates a cold run from it). */
export function recordEmbedRate(spec: BackboneSpec, imagesPerSecond: number, engine: string): void {
  if (!(imagesPerSecond > 0) || !Number.isFinite(imagesPerSecond)) return;
  const rates = readRates().filter((r) => r.key !== spec.key);
  rates.push({ name: spec.name, key: spec.key, imagesPerSecond, engine, measuredAt: Date.now() });
  fs.mkdirSync(path.dirname(ratesFile()), { recursive: true });
  // Keep the latest few hundred: a machine's history, not a log.
  fs.writeFileSync(ratesFile(), JSON.stringify(rates.slice(-200), null, 2));
}

// By exact key first; else the latest rate of the same name (other weights of the same network run as fast).
function rateOf(rates: readonly RateEntry[], spec: BackboneSpec): BackboneInfo['rate'] {
  const byKey = new Map(rates.map((r) => [r.key, r]));
  const hit = byKey.get(spec.key) ?? rates.filter((r) => r.name === spec.name).at(-1);
  return hit ? { imagesPerSecond: hit.imagesPerSecond, engine: hit.engine, measuredAt: hit.measuredAt } : null;
}

/** ", about 40 s at 9.5 images/s (tfjs-wasm)" from the last measured rate, or '' before the first. */
export function embedEstimate(spec: BackboneSpec, vectors: number): string {
  const rate = rateOf(readRates(), spec);
  if (!rate || vectors === 0) return '';
  return `, about ${Math.ceil(vectors / rate.imagesPerSecond)} s at ${rate.imagesPerSecond.toFixed(1)} images/s (${rate.engine})`;
}

const engineOfKind = (kind: BackboneSpec['kind']): BackboneInfo['engine'] => (kind === 'onnx' ? 'onnxruntime-node' : kind);

/** Every backbone Loupe knows, with whether its weights are here, its preprocessing, its last rate and (given a project) its cached vectors. */
export function listBackbones(db: Db | null = null): BackboneInfo[] {
  const rates = readRates();
  const cached = (spec: BackboneSpec) => (db ? countEmbeddings(db, spec.key) : null);
  const fallback = defaultSpec();
  const infos: BackboneInfo[] = [
    {
      name: 'default',
      kind: 'onnx',
      description: `${defaultBackbone.description}; downloaded on first use`,
      isAvailable: fs.existsSync(defaultBackboneFile()),
      file: defaultBackboneFile(),
      preprocessing: defaultPreprocessing,
      fromFile: null,
      engine: 'onnxruntime-node',
      rate: rateOf(rates, fallback),
      cachedVectors: cached(fallback),
    },
    {
      name: 'baseline',
      kind: 'baseline',
      description: 'Image baseline: small thumbnail, colour statistics, edge histograms (no download; a pretrained backbone does better)',
      isAvailable: true,
      file: null,
      preprocessing: null,
      fromFile: null,
      engine: 'baseline',
      rate: rateOf(rates, baselineSpec),
      cachedVectors: cached(baselineSpec),
    },
  ];
  for (const e of readRegistry()) {
    const isAvailable = fs.existsSync(e.file);
    const spec = isAvailable ? registeredSpec(e) : null;
    infos.push({
      name: e.name,
      kind: e.kind,
      description: describe(e.kind, e.fromFile?.format),
      isAvailable,
      file: e.file,
      preprocessing: preprocessingOf(e),
      fromFile: e.fromFile ?? null,
      engine: engineOfKind(e.kind),
      rate: spec ? rateOf(rates, spec) : null,
      cachedVectors: spec ? cached(spec) : null,
    });
  }
  return infos;
}

function describe(kind: 'onnx' | 'tfjs', format: ModelFileFacts['format'] | undefined): string {
  if (kind === 'onnx') return 'Imported ONNX model (runs on onnxruntime-node)';
  return `Imported TF.js ${format === 'graph-model' ? 'graph' : 'layers'} model (runs on TF.js; an ONNX export of it would run on onnxruntime-node, usually faster)`;
}

/**
 * The preprocessing a backbone gets: what the person declared, else what the model file implies,
 * else ImageNet mean/std, rgb, bilinear at the file's input size (224 when it does not say).
 * Contradictions with the file (another input size, grey for a colour input) are refused.
 */
export function resolvePreprocessing(declared: PreprocessingInput | undefined, facts: Pick<InspectedModel, 'inputSize' | 'channels' | 'scalingHint'>): BackbonePreprocessing {
  const d = declared ?? {};
  const scaling: ScalingPreset = d.scaling ?? (d.mean || d.std ? 'custom' : (facts.scalingHint?.scaling ?? 'imagenet'));
  let mean: [number, number, number];
  let std: [number, number, number];
  if (scaling === 'custom') {
    const hint = d.scaling === undefined && !d.mean && !d.std ? facts.scalingHint : null;
    mean = d.mean ?? hint?.mean ?? [0, 0, 0];
    std = d.std ?? hint?.std ?? [1, 1, 1];
    if (!hint && (!d.mean || !d.std)) {
      throw new LoupeError('VALIDATION', 'Custom scaling needs both mean and std (three numbers each, on the 0..1 scale), or pick a preset: imagenet, unit (0..1), symmetric (-1..1).');
    }
  } else {
    if (d.mean || d.std) throw new LoupeError('VALIDATION', `Mean and std are set by the ${scaling} preset: choose scaling "custom" to give your own.`);
    ({ mean, std } = scalingValues[scaling]);
  }
  if (std.some((v) => !(v > 0))) throw new LoupeError('VALIDATION', 'std values must be positive.');
  if (d.inputSize !== undefined && facts.inputSize !== null && d.inputSize !== facts.inputSize) {
    throw new LoupeError('VALIDATION', `The model file fixes its input at ${facts.inputSize} px; leave the size at ${facts.inputSize}.`);
  }
  const inputSize = d.inputSize ?? facts.inputSize ?? 224;
  const colour: ColourMode = d.colour ?? (facts.channels === 1 ? 'grey' : 'rgb');
  if (colour === 'grey' && facts.channels === 3) throw new LoupeError('VALIDATION', 'The model takes 3 colour channels: choose rgb or bgr, not grey.');
  if (colour !== 'grey' && facts.channels === 1) throw new LoupeError('VALIDATION', 'The model takes one grey channel: choose grey.');
  return { scaling, mean, std, inputSize, colour, resize: d.resize ?? 'bilinear' };
}

/** Options of importBackbone. */
export interface ImportBackboneOptions {
  preprocessing?: PreprocessingInput;
  /** Check the file and answer what would be stored; copy and register nothing. */
  dryRun?: boolean;
}

/**
 * Checks a model file (refusing one Loupe cannot use, with the reason), copies it and its weight
 * files into the cache, and registers it under `name` with its preprocessing.
 */
export async function importBackbone(file: string, name?: string, options: ImportBackboneOptions = {}): Promise<BackboneInfo> {
  const source = path.resolve(file);
  if (!fs.existsSync(source)) throw new LoupeError('NOT_FOUND', `No model file at ${source}.`, { file: source });
  const facts = inspectModelFile(source);
  const finalName = (name ?? path.basename(source).replace(/\.(onnx|json)$/i, '')).trim();
  if (finalName === 'default' || finalName === 'baseline') {
    throw new LoupeError('CONFLICT', `"${finalName}" is a built-in backbone name; choose another.`);
  }
  const folder = safeSegment(finalName.replace(/[^\w.-]+/g, '_'));
  if (/^\.+$/.test(folder)) throw new LoupeError('VALIDATION', `"${finalName}" cannot name a backbone; choose another name.`);
  const preprocessing = resolvePreprocessing(options.preprocessing, facts);
  const fromFile: ModelFileFacts = { format: facts.format, inputSize: facts.inputSize, channels: facts.channels, notes: facts.notes };
  const info = (target: string): BackboneInfo => ({
    name: finalName,
    kind: facts.kind,
    description: describe(facts.kind, facts.format),
    isAvailable: true,
    file: target,
    preprocessing,
    fromFile,
    engine: engineOfKind(facts.kind),
    rate: null,
    cachedVectors: null,
  });
  if (options.dryRun) return info(source);

  // Copied beside the final folder first, then swapped in: a failed copy leaves the old import whole.
  const dir = path.join(cacheDir(), 'backbones', 'imported', folder);
  const staging = `${dir}.importing`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const base = path.dirname(source);
  for (const from of facts.files) {
    const to = path.join(staging, path.relative(base, from));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(staging, dir);
  const target = path.join(dir, path.basename(source));
  const entry: RegistryEntry = {
    name: finalName,
    kind: facts.kind,
    file: target,
    sha256: modelSha256(modelFiles(target)),
    inputSize: preprocessing.inputSize,
    preprocessing,
    fromFile,
  };
  const registry = readRegistry().filter((e) => e.name !== finalName);
  registry.push(entry);
  fs.mkdirSync(path.dirname(registryFile()), { recursive: true });
  fs.writeFileSync(registryFile(), JSON.stringify(registry, null, 2));
  return info(target);
}

/** What resolving a backbone name gave: the spec, and a note when it is not what was asked for. */
export interface ResolvedBackbone {
  spec: BackboneSpec;
  note: string | null;
}

/**
 * Resolves 'default', 'baseline', a registered name or a model file to a spec. 'default' downloads
 * the pinned model when it is not cached; when that fails (offline), the baseline is used and the
 * note says why. LOUPE_OFFLINE=1 skips the download attempt.
 */
export async function resolveBackbone(
  name: string,
  options: { onProgress?: (received: number, total: number | null) => void; signal?: AbortSignal } = {},
): Promise<ResolvedBackbone> {
  if (name === 'baseline') return { spec: baselineSpec, note: 'Image baseline chosen; a pretrained backbone would do better.' };
  if (name === 'default') {
    const file = defaultBackboneFile();
    if (!fs.existsSync(file)) {
      if (process.env.LOUPE_OFFLINE === '1') {
        return { spec: baselineSpec, note: 'Offline (LOUPE_OFFLINE=1): the image baseline was used; a pretrained backbone would do better.' };
      }
      try {
        await downloadFile({ url: defaultBackbone.url, sha256: defaultBackbone.sha256, dest: file, ...options, retries: 3, idleTimeoutMs: 15_000 });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        return {
          spec: baselineSpec,
          note: `The pretrained backbone could not be downloaded (${reason}); the image baseline was used. A pretrained backbone would do better: import one or retry online.`,
        };
      }
    }
    return { spec: defaultSpec(), note: null };
  }
  const entry = readRegistry().find((e) => e.name === name);
  if (entry) {
    if (!fs.existsSync(entry.file)) throw new LoupeError('NOT_FOUND', `The files of backbone "${name}" are gone from ${path.dirname(entry.file)}: import the model again.`, { name });
    return { spec: registeredSpec(entry), note: null };
  }
  if (fs.existsSync(name)) {
    const file = path.resolve(name);
    const facts = inspectModelFile(file);
    return { spec: specOf(path.basename(file), facts.kind, file, modelSha256(facts.files), resolvePreprocessing(undefined, facts)), note: null };
  }
  const known = listBackbones().map((b) => b.name);
  throw new LoupeError('NOT_FOUND', `Unknown backbone "${name}". Known: ${known.join(', ')}; or give a .onnx or model.json file.`, { name, known });
}
