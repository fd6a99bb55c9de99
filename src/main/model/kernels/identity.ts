/**
 * Identity and same-dtype Cast without a copy. The stock wasm kernels copy the tensor, and the engine
 * runs Identity for every tensor a gradient saves (it clones them), so a training step copies most
 * of its activations once more for nothing: about a tenth of a small ResNet's step. Tensors are
 * immutable, so the output can share the input's memory with one more reference, as the wasm
 * Reshape and the cpu backend's Identity do.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { KernelArgs, SingleKernel } from './wasmMemory';

interface RefCounted {
  incRef(dataId: Tf.DataId): void;
}

function shared(args: KernelArgs): Tf.TensorInfo {
  const x = args.inputs.x!;
  (args.backend as RefCounted).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Identity: inputs {x}; strings go to the stock kernel. */
export function identityKernel(stock: SingleKernel): SingleKernel {
  return (args: KernelArgs) => (args.inputs.x!.dtype === 'string' ? stock(args) : shared(args));
}

/** Cast: inputs {x}, attrs {dtype}; a real conversion goes to the stock kernel. */
export function castKernel(stock: SingleKernel): SingleKernel {
  return (args: KernelArgs) => {
    const x = args.inputs.x!;
    return x.dtype !== 'string' && args.attrs?.dtype === x.dtype ? shared(args) : stock(args);
  };
}
