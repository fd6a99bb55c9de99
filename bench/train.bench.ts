/**
 * Training speed of the full model's small networks (small CNN, small ResNet; 28x28x1, 10 classes,
 * batch 64, Adam) on synthetic data: TF.js wasm with Loupe's kernels, TF.js cpu (a few small steps:
 * it is ~1 img/s), TF.js WebGPU on dawn.node (a small batch and two steps; on a software adapter
 * such as SwiftShader the row is flagged: a correctness path, not a GPU figure), and PyTorch with
 * the same thread count where `import torch` works. Images/s and ratios, plus the slowest wasm
 * kernels of one step. Nothing is asserted about time.
 * Options: --steps N (wasm, torch; default 10), --cpu-batch N (default 8), --webgpu-batch N
 * (default 8), --threads N (wasm's threaded build and torch; default 1), --no-cpu, --no-webgpu, --no-torch.
 * WebGPU uses the SwiftShader software adapter where no hardware one is found (the bench opts in).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';
import { buildNet, netSpec, type ArchitectureName, type Net } from '../src/main/model/archSpec';
import { selectBackend } from '../src/main/model/backend';
import { useThreadedWasm } from '../src/main/model/kernels/wasmThreads';
import { benchDir } from './fixtures';
import { fashionMnistDir, fashionMnistFolders } from './fashionMnist';

const shape = { inputShape: [28, 28, 1] as [number, number, number], classes: 10 };
const batch = 64;
type Arch = 'cnn' | 'resnet';
const architectures = new Map<Arch, ArchitectureName>([
  ['cnn', 'small-cnn'],
  ['resnet', 'resnet-small'],
]);
const build = (tf: typeof Tf, arch: Arch): Net => buildNet(tf, netSpec(architectures.get(arch)!, shape.inputShape, shape.classes), 1);

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

function syntheticBatch(tf: typeof Tf, size: number): { xs: Tf.Tensor4D; ys: Tf.Tensor2D } {
  return tf.tidy(() => ({
    xs: tf.randomUniform([size, ...shape.inputShape]) as Tf.Tensor4D,
    ys: tf.oneHot(tf.tensor1d(Array.from({ length: size }, (_, i) => i % shape.classes), 'int32'), shape.classes) as Tf.Tensor2D,
  }));
}

/** Images per second over `steps` timed steps after `warmup` untimed ones, and the last loss. */
async function tfjsSpeed(tf: typeof Tf, arch: Arch, size: number, warmup: number, steps: number) {
  const net = build(tf, arch);
  const { xs, ys } = syntheticBatch(tf, size);
  const optimizer = tf.train.adam(1e-3);
  const step = async () => {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(ys, net.apply(xs, true)) as Tf.Scalar,
      true,
      net.trainable,
    );
    const value = (await loss!.data())[0]!;
    loss!.dispose();
    return value;
  };
  for (let i = 0; i < warmup; i++) await step();
  const start = performance.now();
  let loss = NaN;
  for (let i = 0; i < steps; i++) loss = await step();
  const seconds = (performance.now() - start) / 1000;
  let slowest = '';
  if (tf.getBackend() === 'wasm') {
    const profile = await tf.profile(() => void step());
    const byKernel = new Map<string, number>();
    for (const k of profile.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + ms);
    }
    slowest = [...byKernel.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([name, ms]) => `${name} ${ms.toFixed(0)}ms`)
      .join(', ');
  }
  tf.dispose([xs, ys]);
  optimizer.dispose();
  net.dispose();
  return { imagesPerSecond: (size * steps) / seconds, loss, slowest };
}

// The same networks in PyTorch (NCHW), one thread, synthetic data.
const torchScript = String.raw`
import json, sys, time, torch, torch.nn as nn, torch.nn.functional as F
arch, batch, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
class Cnn(nn.Module):
    def __init__(s):
        super().__init__(); s.c1 = nn.Conv2d(1, 32, 3, padding=1); s.c2 = nn.Conv2d(32, 64, 3, padding=1)
        s.d1 = nn.Linear(7 * 7 * 64, 128); s.d2 = nn.Linear(128, 10)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x)), 2); x = F.max_pool2d(F.relu(s.c2(x)), 2)
        return s.d2(F.relu(s.d1(x.flatten(1))))
class Block(nn.Module):
    def __init__(s, i, o, st):
        super().__init__(); s.c1 = nn.Conv2d(i, o, 3, st, 1, bias=False); s.b1 = nn.BatchNorm2d(o, eps=1e-3)
        s.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); s.b2 = nn.BatchNorm2d(o, eps=1e-3)
        s.sc = nn.Sequential(nn.Conv2d(i, o, 1, st, bias=False), nn.BatchNorm2d(o, eps=1e-3)) if st != 1 or i != o else nn.Identity()
    def forward(s, x): return F.relu(s.b2(s.c2(F.relu(s.b1(s.c1(x))))) + s.sc(x))
class ResNet(nn.Module):
    def __init__(s):
        super().__init__(); s.c = nn.Conv2d(1, 16, 3, 1, 1, bias=False); s.b = nn.BatchNorm2d(16, eps=1e-3)
        s.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2)); s.fc = nn.Linear(64, 10)
    def forward(s, x): return s.fc(s.blocks(F.relu(s.b(s.c(x)))).mean((2, 3)))
net = Cnn() if arch == 'cnn' else ResNet()
opt = torch.optim.Adam(net.parameters(), 1e-3)
x = torch.rand(batch, 1, 28, 28); y = torch.arange(batch) % 10
def step():
    opt.zero_grad(); loss = F.cross_entropy(net(x), y); loss.backward(); opt.step(); return loss.item()
for _ in range(2): step()
t = time.perf_counter()
for _ in range(steps): loss = step()
seconds = time.perf_counter() - t
blas = [p.strip() for p in torch.__config__.show().replace(',', '\n').splitlines() if 'BLAS' in p]
print(json.dumps({'imagesPerSecond': batch * steps / seconds, 'loss': loss, 'version': torch.__version__, 'blas': blas}))
`;

function findTorchPython(): string | null {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status === 0) return python;
  }
  return null;
}

/** The BLAS library Debian's alternatives point libblas at (torch's BLAS_INFO says only "generic"). */
function systemBlas(): string {
  for (const lib of ['/usr/lib/x86_64-linux-gnu/libblas.so.3', '/usr/lib/aarch64-linux-gnu/libblas.so.3']) {
    try {
      return fs.realpathSync(lib);
    } catch {
      // not this architecture
    }
  }
  return 'unknown';
}

function torchSpeed(python: string, arch: Arch, steps: number, threads: number): { imagesPerSecond: number; loss: number; version: string; blas: string[] } {
  const script = path.join(os.tmpdir(), `loupe-train-bench-${process.pid}.py`);
  fs.writeFileSync(script, torchScript);
  try {
    const run = spawnSync(python, [script, arch, String(batch), String(steps), String(threads)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`torch ${arch} failed: ${run.stderr.trim().split('\n').at(-1)}`);
    return JSON.parse(run.stdout.trim().split('\n').at(-1)!);
  } finally {
    fs.rmSync(script, { force: true });
  }
}

/** Runs the bench. */
export async function trainBench(args: string[]): Promise<void> {
  const steps = option(args, '--steps', 10);
  const cpuBatch = option(args, '--cpu-batch', 8);
  const threads = option(args, '--threads', 1);
  const { tf, report } = await selectBackend({}, { order: ['wasm'] });
  const gotThreads = threads > 1 ? await useThreadedWasm(tf, threads) : 1;
  console.log(
    `backend: ${report.name} (Loupe kernels registered), ${gotThreads} thread(s), batch ${batch}, ${steps} timed steps after 2 warm-up;` +
      ` ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}`,
  );
  const results: Record<string, Partial<Record<'wasm' | 'cpu' | 'webgpu' | 'torch', number>>> = {};
  const webgpuBatch = option(args, '--webgpu-batch', 8);
  const webgpu = args.includes('--no-webgpu') ? null : await selectBackend({}, { choice: 'webgpu', software: true }).catch((error: unknown) => error as Error);
  if (webgpu instanceof Error) console.log(`webgpu: not available (${webgpu.message})`);
  const gpu = webgpu && !(webgpu instanceof Error) ? webgpu.report.device : null;
  for (const arch of ['cnn', 'resnet'] as const) {
    await tf.setBackend('wasm');
    const wasm = await tfjsSpeed(tf, arch, batch, 2, steps);
    results[arch] = { wasm: wasm.imagesPerSecond };
    console.log(`${arch} wasm: ${wasm.imagesPerSecond.toFixed(1)} img/s (loss ${wasm.loss.toFixed(3)}); slowest kernels of a step: ${wasm.slowest}`);
    if (!args.includes('--no-cpu')) {
      await tf.setBackend('cpu');
      const cpu = await tfjsSpeed(tf, arch, cpuBatch, 0, 1);
      results[arch].cpu = cpu.imagesPerSecond;
      console.log(`${arch} tfjs cpu: ${cpu.imagesPerSecond.toFixed(2)} img/s (batch ${cpuBatch}, 1 step)`);
    }
    if (gpu) {
      await tf.setBackend('webgpu');
      const started = performance.now();
      const run = await tfjsSpeed(tf, arch, webgpuBatch, 1, 2);
      results[arch].webgpu = run.imagesPerSecond;
      const flag = gpu.software ? ' [SOFTWARE adapter: correctness only, not a GPU speed]' : '';
      console.log(
        `${arch} webgpu on ${gpu.label}${flag}: ${run.imagesPerSecond.toFixed(2)} img/s (batch ${webgpuBatch}, 2 steps after 1 warm-up; ${((performance.now() - started) / 1000).toFixed(0)} s with shader compiles)`,
      );
    }
  }
  const python = args.includes('--no-torch') ? null : findTorchPython();
  if (python) {
    for (const arch of ['cnn', 'resnet'] as const) {
      const torch = torchSpeed(python, arch, steps, gotThreads);
      results[arch]!.torch = torch.imagesPerSecond;
      if (arch === 'cnn') console.log(`torch ${torch.version} (${python}); ${torch.blas.join('; ')}; libblas -> ${systemBlas()}`);
      console.log(`${arch} torch (${gotThreads} thread(s)): ${torch.imagesPerSecond.toFixed(1)} img/s (loss ${torch.loss.toFixed(3)})`);
    }
  } else {
    console.log('torch: not installed (apt-get install python3-torch libopenblas0-pthread), no peer figures');
  }
  for (const [arch, r] of Object.entries(results)) {
    const ratios = [
      r.cpu ? `wasm/cpu ${(r.wasm! / r.cpu).toFixed(0)}x` : null,
      r.webgpu ? `webgpu/wasm ${(r.webgpu / r.wasm!).toFixed(2)}${gpu?.software ? ' (software adapter)' : ''}` : null,
      r.torch ? `wasm/torch ${(r.wasm! / r.torch).toFixed(2)}` : null,
    ].filter(Boolean);
    console.log(`${arch} ratios: ${ratios.join(', ') || 'no peers'}`);
  }
  if (!args.includes('--no-fashion')) await fashionRun(option(args, '--epochs', 5));
}

/**
 * The small CNN as a user runs it, on the Fashion-MNIST 6,000/1,000 folder (28x28x1, batch 64):
 * `loupe import`, then `loupe train --mode full --arch small-cnn --epochs N` twice: with the
 * defaults (Adam 3e-4, constant, light augmentation), and with the practitioner's recipe (the LR
 * finder first, then one-cycle with its peak at the geometric mean of the finder's two suggestions,
 * no augmentation for so short a schedule). Test accuracy and the wall time of each training command.
 */
async function fashionRun(epochs: number): Promise<void> {
  if (!fs.existsSync(fashionMnistDir)) {
    console.log(`fashion-mnist: ${fashionMnistDir} is missing (apt-get install dataset-fashion-mnist), no accuracy figure`);
    return;
  }
  const { dir } = await fashionMnistFolders(6000, 1000);
  const bin = path.resolve(import.meta.dirname, '../bin/loupe.mjs');
  const project = path.join(benchDir, 'fashion-full.loupe');
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(project + suffix, { force: true });
  const loupe = (args: string[]) =>
    execFileSync(process.execPath, [bin, ...args, '--project', project, '--json'], {
      env: { ...process.env, LOUPE_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 * 1024 * 1024,
    }).toString();
  const last = <T>(out: string) => JSON.parse(out.trim().split('\n').at(-1)!) as T;
  loupe(['import', dir]);
  const train = (label: string, extra: string[]) => {
    const started = performance.now();
    const result = last<{ metrics?: { test?: { accuracy: number } | null } }>(loupe(['train', '--mode', 'full', '--arch', 'small-cnn', '--epochs', String(epochs), ...extra]));
    const seconds = (performance.now() - started) / 1000;
    const accuracy = result.metrics?.test?.accuracy;
    console.log(
      `fashion-mnist 6,000/1,000, small-cnn, ${epochs} epochs, ${label}: test accuracy ${accuracy === undefined ? 'n/a' : accuracy.toFixed(4)}` +
        ` (goal 0.88), ${seconds.toFixed(0)} s for loupe train (process start and predictions included)`,
    );
  };
  train('defaults (Adam 3e-4, constant, light augmentation)', []);
  const found = last<{ suggestion: { steepest: number; minimumOver10: number } | null }>(loupe(['lr-find']));
  if (!found.suggestion) {
    console.log('LR finder: no suggestion, recipe run skipped');
    return;
  }
  const peak = Math.sqrt(found.suggestion.steepest * found.suggestion.minimumOver10);
  console.log(`LR finder: steepest ${found.suggestion.steepest.toExponential(1)}, minimum/10 ${found.suggestion.minimumOver10.toExponential(1)}; one-cycle peak ${peak.toExponential(1)}`);
  train(`LR finder + one-cycle to ${peak.toExponential(1)}, no augmentation`, ['--lr', String(peak), '--schedule', 'one-cycle', '--preset', 'none']);
}
