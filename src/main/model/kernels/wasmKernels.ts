/**
 * Loupe's own kernels for the tfjs wasm backend, the ones that make CPU training of a CNN work and
 * run at a useful speed: Conv2DBackpropFilter and the depthwise backprops (absent from tfjs 4.22's
 * wasm backend, tfjs issue 8474), a faster Conv2DBackpropInput, and a BatchMatMul that never takes
 * the slow transposed paths, Sum/Mean over leading axes without a transpose, a MaxPoolGrad in JS
 * (the stock one is slow), and Identity/Cast without copies. Call once after importing '@tensorflow/tfjs-backend-wasm'; again is a no-op.
 */
import type * as Tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterKernel, conv2dBackpropInputKernel } from './conv2dGrad';
import { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from './depthwiseGrad';
import { castKernel, identityKernel } from './identity';
import { batchMatMulKernel } from './matMul';
import { maxPoolGradKernel } from './pool';
import { leadingReduceKernel } from './reduce';
import type { SingleKernel, StockKernels } from './wasmMemory';

/** The kernels Loupe registers for the wasm backend. */
export const wasmKernelNames = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'BatchMatMul',
  'Sum',
  'Mean',
  'MaxPoolGrad',
  'Identity',
  'Cast',
] as const;

// On the function itself, so a second copy of this module (tests, bundles) still sees it.
const loupeMark = Symbol.for('loupe.wasmKernel');

function isLoupeKernel(config: Tf.KernelConfig | undefined): boolean {
  return config != null && (config.kernelFunc as unknown as Record<symbol, unknown>)[loupeMark] === true;
}

function stockKernel(tf: typeof Tf, name: string): SingleKernel {
  const config = tf.getKernel(name, 'wasm');
  if (!config) throw new Error(`The tfjs wasm backend has no ${name} kernel: import '@tensorflow/tfjs-backend-wasm' first`);
  return config.kernelFunc as unknown as SingleKernel;
}

/** Registers Loupe's wasm kernels (replacing stock ones where tfjs has them) and returns their names. */
export function registerWasmKernels(tf: typeof Tf): readonly string[] {
  if (isLoupeKernel(tf.getKernel('BatchMatMul', 'wasm'))) return wasmKernelNames;
  // Setups of the stock kernels that Loupe's replacements still call (their wasm function bindings).
  const stockSetups = new Map(wasmKernelNames.map((name) => [name, tf.getKernel(name, 'wasm')?.setupFunc]));
  const stock: StockKernels = {
    batchMatMul: stockKernel(tf, 'BatchMatMul'),
    transpose: stockKernel(tf, 'Transpose'),
    conv2d: stockKernel(tf, 'Conv2D'),
  };
  const kernels: Record<(typeof wasmKernelNames)[number], SingleKernel> = {
    Conv2DBackpropFilter: conv2dBackpropFilterKernel(tf, stock),
    Conv2DBackpropInput: conv2dBackpropInputKernel(tf, stock),
    DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilterKernel(tf),
    DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInputKernel(tf),
    BatchMatMul: batchMatMulKernel(stock),
    Sum: leadingReduceKernel(tf, stockKernel(tf, 'Sum'), false),
    Mean: leadingReduceKernel(tf, stockKernel(tf, 'Mean'), true),
    MaxPoolGrad: maxPoolGradKernel(tf, stockKernel(tf, 'MaxPoolGrad')),
    Identity: identityKernel(stockKernel(tf, 'Identity')),
    Cast: castKernel(stockKernel(tf, 'Cast')),
  };
  for (const kernelName of wasmKernelNames) {
    const kernelFunc = kernels[kernelName];
    Object.defineProperty(kernelFunc, loupeMark, { value: true });
    // registerKernel would overwrite too, but with a warning on every start.
    if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: kernelFunc as unknown as Tf.KernelFunc,
      // When the backend initialises after this, the engine runs setups of registered configs only.
      ...(stockSetups.get(kernelName) ? { setupFunc: stockSetups.get(kernelName) } : {}),
    });
  }
  return wasmKernelNames;
}
