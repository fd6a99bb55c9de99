/**
 * Gradient parity between TF.js backends: the same small network, the same seeded weights and
 * inputs, a few Adam steps at batch 4, read back as plain arrays so that a test can compare a
 * backend (WebGPU on dawn.node, WebGPU in a hidden Electron window, wasm) against the cpu backend.
 * Host-agnostic: it receives a `tf`, and its result is plain numbers (JSON- and clone-safe), so a
 * host in another process or window can run it and post the result back.
 *
 * Weights and inputs come from a small seeded PRNG in plain JS (not tf.random*), so every backend
 * and every copy of TF.js starts from exactly the same numbers.
 */
import type * as Tf from '@tensorflow/tfjs';
import { buildNet, netSpec, resnetSmallSpec, weightSpecs, type ArchitectureName, type NamedWeights, type NetSpec } from '../model/archSpec';
import { classifier, crossEntropy, type ImageBatch } from './netBatch';

/** One parity case: which network, at what size, for how many steps. */
export interface ParityCase {
  arch: ArchitectureName;
  /** [height, width, channels]: tiny, since software WebGPU is slow (shader compiles dominate). */
  inputShape: [number, number, number];
  classes: number;
  batchSize: number;
  steps: number;
  learningRate: number;
  /** L2 on kernels, so the weight-decay term's gradient is compared too. */
  weightDecay: number;
  seed: number;
  /** ResNet widths (the three blocks); the built-in default is [16, 32, 64]. */
  widths?: [number, number, number];
}

/** The two parity cases the issue names: the small CNN and a 3-block ResNet (narrow), both at batch 4. */
export const parityCases = {
  'small-cnn': { arch: 'small-cnn', inputShape: [12, 12, 1], classes: 3, batchSize: 4, steps: 3, learningRate: 1e-3, weightDecay: 1e-4, seed: 7 },
  'resnet-small': { arch: 'resnet-small', inputShape: [8, 8, 3], classes: 3, batchSize: 4, steps: 3, learningRate: 1e-3, weightDecay: 1e-4, seed: 11, widths: [4, 8, 8] },
} as const satisfies Record<ArchitectureName, ParityCase>;

/** What one backend computed, as plain arrays keyed by weight name. */
export interface ParityResult {
  arch: ArchitectureName;
  /** tf.getBackend() while it ran. */
  backend: string;
  /** Training-mode logits of the first batch at the initial weights, row-major [batch, classes]. */
  logits: number[];
  /** Gradient of the first batch's loss for each trainable weight, at the initial weights. */
  gradients: Record<string, number[]>;
  /** The loss of each Adam step. */
  losses: number[];
  /** Every weight (moving statistics included) after the steps. */
  weights: Record<string, number[]>;
  /** Inference-mode logits of the first batch after the steps (moving statistics in use). */
  evalLogits: number[];
  /** tf.memory().numTensors before the first step and after each step: must not grow. */
  tensorsAfterStep: number[];
}

/** The network spec of a case. */
export function paritySpec(c: ParityCase): NetSpec {
  return c.arch === 'resnet-small' && c.widths ? resnetSmallSpec(c.inputShape, c.classes, c.widths) : netSpec(c.arch, c.inputShape, c.classes);
}

/** A seeded PRNG (mulberry32): uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws from a uniform source (Box-Muller). */
function normal(next: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/** The case's initial weights: He-normal kernels, small random biases and BN affine terms (so their gradients are not trivially equal), moving stats at their defaults. */
export function parityWeights(c: ParityCase): NamedWeights {
  const gauss = normal(prng(c.seed));
  const weights: NamedWeights = new Map();
  for (const w of weightSpecs(paritySpec(c)).weights) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const fanIn = w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    for (let i = 0; i < size; i++) {
      if (w.init === 'he') data[i] = gauss() * Math.sqrt(2 / fanIn);
      else if (w.name.endsWith('/moving_variance')) data[i] = 1;
      else if (w.name.endsWith('/moving_mean')) data[i] = 0;
      else data[i] = (w.init === 'ones' ? 1 : 0) + 0.1 * gauss();
    }
    weights.set(w.name, { shape: w.shape, data });
  }
  return weights;
}

/** The case's batches: one per step, uniform [0, 1) pixels and labels spread over the classes. */
export function parityBatches(c: ParityCase): Array<{ x: Float32Array; y: Int32Array }> {
  const next = prng(c.seed * 7919 + 1);
  const [h, w, ch] = c.inputShape;
  return Array.from({ length: c.steps }, (_, step) => ({
    x: Float32Array.from({ length: c.batchSize * h * w * ch }, () => next()),
    y: Int32Array.from({ length: c.batchSize }, (_, i) => (i + step) % c.classes),
  }));
}

const plain = async (t: Tf.Tensor): Promise<number[]> => Array.from(await t.data());

/**
 * Runs a case on `tf`'s current backend: gradients and logits at the initial weights, then
 * `steps` Adam steps (the engine's own minimize call, the full run's loss with L2), then the
 * weights and inference logits. Frees everything it made.
 */
export async function runParity(tf: typeof Tf, c: ParityCase): Promise<ParityResult> {
  const spec = paritySpec(c);
  const net = buildNet(tf, spec, c.seed);
  const optimizer = tf.train.adam(c.learningRate);
  const batches = parityBatches(c);
  const [h, w, ch] = c.inputShape;
  const toTensors = (b: { x: Float32Array; y: Int32Array }): ImageBatch => ({
    x: tf.tensor4d(b.x, [c.batchSize, h, w, ch]),
    labels: tf.tensor1d(b.y, 'int32'),
  });
  const release = (b: ImageBatch) => {
    b.x.dispose();
    b.labels.dispose();
  };
  try {
    net.writeWeights(parityWeights(c));
    const model = classifier(tf, net, { weightDecay: c.weightDecay });
    const names = weightSpecs(spec).weights.filter((s) => s.trainable).map((s) => s.name);

    // Logits and gradients at the initial weights. The forward pass in training mode moves the BN
    // statistics, so put them back before the steps.
    const first = toTensors(batches[0]!);
    const logitsTensor = tf.tidy(() => net.apply(first.x, true));
    const logits = await plain(logitsTensor);
    logitsTensor.dispose();
    const { grads, value } = tf.variableGrads(() => model.loss(first), net.trainable);
    value.dispose();
    const gradients: Record<string, number[]> = {};
    for (const [i, v] of net.trainable.entries()) {
      gradients[names[i]!] = await plain(grads[v.name]!);
    }
    tf.dispose(Object.values(grads));
    release(first);
    net.writeWeights(parityWeights(c));

    const tensorsAfterStep = [tf.memory().numTensors];
    const losses: number[] = [];
    for (const b of batches) {
      const batch = toTensors(b);
      const loss = optimizer.minimize(() => model.loss(batch), true, net.trainable)!;
      losses.push((await loss.data())[0]!);
      loss.dispose();
      release(batch);
      tensorsAfterStep.push(tf.memory().numTensors);
    }

    const weights: Record<string, number[]> = {};
    for (const [name, v] of await net.readWeights()) weights[name] = Array.from(v.data);
    const evalBatch = toTensors(batches[0]!);
    const evalTensor = tf.tidy(() => net.apply(evalBatch.x, false));
    const evalLogits = await plain(evalTensor);
    evalTensor.dispose();
    // The inference loss path too (what validation uses), so it is known to run on this backend.
    tf.tidy(() => crossEntropy(tf, net, evalBatch, false)).dispose();
    release(evalBatch);
    return { arch: c.arch, backend: tf.getBackend(), logits, gradients, losses, weights, evalLogits, tensorsAfterStep };
  } finally {
    optimizer.dispose();
    net.dispose();
  }
}

/** How far one array is from the reference: the largest absolute difference, and that over the reference's largest magnitude. */
export interface ParityDiff {
  /** "logits", "losses", "evalLogits", "gradients/<weight>" or "weights/<weight>". */
  field: string;
  maxAbs: number;
  /** maxAbs / max |reference| (the reference's scale), so tiny gradients are judged at their own scale. */
  relative: number;
}

/** Every array of `actual` against `reference`, worst (by relative difference) first; missing or mis-sized arrays are Infinity. */
export function compareParity(actual: ParityResult, reference: ParityResult): ParityDiff[] {
  const diffs: ParityDiff[] = [];
  const one = (field: string, a: number[] | undefined, r: number[] | undefined) => {
    if (!a || !r || a.length !== r.length) {
      diffs.push({ field, maxAbs: Number.POSITIVE_INFINITY, relative: Number.POSITIVE_INFINITY });
      return;
    }
    let maxAbs = 0;
    let scale = 0;
    for (let i = 0; i < r.length; i++) {
      const d = Math.abs(a[i]! - r[i]!);
      maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(maxAbs, d);
      scale = Math.max(scale, Math.abs(r[i]!));
    }
    diffs.push({ field, maxAbs, relative: maxAbs / Math.max(scale, 1e-12) });
  };
  one('logits', actual.logits, reference.logits);
  one('losses', actual.losses, reference.losses);
  one('evalLogits', actual.evalLogits, reference.evalLogits);
  for (const name of Object.keys(reference.gradients)) one(`gradients/${name}`, actual.gradients[name], reference.gradients[name]);
  for (const name of Object.keys(reference.weights)) one(`weights/${name}`, actual.weights[name], reference.weights[name]);
  return diffs.sort((a, b) => b.relative - a.relative);
}
