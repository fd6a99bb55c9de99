/**
 * The backbone registry: the pinned default (downloaded on first use), the image baseline, and
 * models users import (.onnx, or a TF.js model.json with its weight files). Resolving a name gives a
 * BackboneSpec, plain data the training process can load. Runs in the main process; loads no model.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveInside, safeSegment } from '../util/paths';
import { LoupeError } from '../../shared/errors';
import type { BackboneInfo } from '../../shared/train';
import { downloadFile, hashFile } from './download';

/** Everything the training process needs to turn images into vectors. */
export interface BackboneSpec {
  name: string;
  /** Cache identity: the name and the weights' checksum, so new weights invalidate old embeddings. */
  key: string;
  kind: 'onnx' | 'tfjs' | 'baseline';
  /** The .onnx file or the TF.js model.json; null for the baseline. */
  file: string | null;
  /** Square input side in pixels; an ONNX model's own fixed input size wins. */
  inputSize: number;
  /** Per-channel normalisation on the 0..1 scale: (x - mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
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
  sha256: string;
  inputSize: number;
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

/** Every backbone Loupe knows, with whether its weights are here. */
export function listBackbones(): BackboneInfo[] {
  return [
    {
      name: 'default',
      kind: 'onnx',
      description: `${defaultBackbone.description}; downloaded on first use`,
      isAvailable: fs.existsSync(defaultBackboneFile()),
      file: defaultBackboneFile(),
    },
    {
      name: 'baseline',
      kind: 'baseline',
      description: 'Image baseline: small thumbnail, colour statistics, edge histograms (no download; a pretrained backbone does better)',
      isAvailable: true,
      file: null,
    },
    ...readRegistry().map((e) => ({
      name: e.name,
      kind: e.kind,
      description: `Imported ${e.kind === 'onnx' ? 'ONNX' : 'TF.js'} model`,
      isAvailable: fs.existsSync(e.file),
      file: e.file,
    })),
  ];
}

/** Copies a model file (and a TF.js model's weight files) into the cache and registers it under `name`. */
export async function importBackbone(file: string, name?: string): Promise<BackboneInfo> {
  const source = path.resolve(file);
  if (!fs.existsSync(source)) throw new LoupeError('NOT_FOUND', `No model file at ${source}.`, { file: source });
  const kind = kindOfFile(source);
  const finalName = (name ?? path.basename(source).replace(/\.(onnx|json)$/i, '')).trim();
  if (finalName === 'default' || finalName === 'baseline') {
    throw new LoupeError('CONFLICT', `"${finalName}" is a built-in backbone name; choose another.`);
  }
  const folder = safeSegment(finalName.replace(/[^\w.-]+/g, '_'));
  if (/^\.+$/.test(folder)) throw new LoupeError('VALIDATION', `"${finalName}" cannot name a backbone; choose another name.`);
  const dir = path.join(cacheDir(), 'backbones', 'imported', folder);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, path.basename(source));
  fs.copyFileSync(source, target);
  if (kind === 'tfjs') {
    const manifest = JSON.parse(fs.readFileSync(source, 'utf8')) as { weightsManifest?: Array<{ paths: string[] }> };
    for (const group of manifest.weightsManifest ?? []) {
      for (const p of group.paths) {
        // Weight files sit beside model.json: a path that climbs out of either folder is refused.
        const from = resolveInside(path.dirname(source), p.split(path.sep).join('/'));
        const to = resolveInside(dir, p.split(path.sep).join('/'));
        if (!from || !to) throw new LoupeError('VALIDATION', `${source} names a weight file outside its folder: ${p}`);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.copyFileSync(from, to);
      }
    }
  }
  const entry: RegistryEntry = { name: finalName, kind, file: target, sha256: await hashFile(target), inputSize: 224 };
  const registry = readRegistry().filter((e) => e.name !== finalName);
  registry.push(entry);
  fs.mkdirSync(path.dirname(registryFile()), { recursive: true });
  fs.writeFileSync(registryFile(), JSON.stringify(registry, null, 2));
  return { name: finalName, kind, description: `Imported ${kind === 'onnx' ? 'ONNX' : 'TF.js'} model`, isAvailable: true, file: target };
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
    return {
      spec: {
        name: defaultBackbone.name,
        key: `${defaultBackbone.name}@${defaultBackbone.sha256.slice(0, 16)}`,
        kind: 'onnx',
        file,
        inputSize: defaultBackbone.inputSize,
        mean: defaultBackbone.mean,
        std: defaultBackbone.std,
      },
      note: null,
    };
  }
  const entry = readRegistry().find((e) => e.name === name);
  if (entry) return { spec: specOfFile(entry.name, entry.kind, entry.file, entry.sha256, entry.inputSize), note: null };
  if (fs.existsSync(name)) {
    const file = path.resolve(name);
    return { spec: specOfFile(path.basename(file), kindOfFile(file), file, await hashFile(file), 224), note: null };
  }
  const known = listBackbones().map((b) => b.name);
  throw new LoupeError('NOT_FOUND', `Unknown backbone "${name}". Known: ${known.join(', ')}; or give a .onnx or model.json file.`, { name, known });
}

function specOfFile(name: string, kind: 'onnx' | 'tfjs', file: string, sha256: string, inputSize: number): BackboneSpec {
  return { name, key: `${name}@${sha256.slice(0, 16)}`, kind, file, inputSize, mean: imagenetMean, std: imagenetStd };
}

function kindOfFile(file: string): 'onnx' | 'tfjs' {
  if (/\.onnx$/i.test(file)) return 'onnx';
  if (/\.json$/i.test(file)) return 'tfjs';
  throw new LoupeError('VALIDATION', `${path.basename(file)} is not a model Loupe reads: give a .onnx file or a TF.js model.json.`);
}
