/**
 * The training side of fine-tuning (model/finetuneNet.ts builds the net): the schedule that keeps
 * the backbone frozen for the first epochs, and discriminative learning rates once it is unfrozen.
 * The rates are one mechanism: an optimizer the engine drives as any other, holding one Adam per
 * variable group, each stepping at the engine's rate times its group's multiplier (scaling
 * gradients would not do: Adam's step does not depend on the gradient's scale). No second loop.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { FinetuneNet, VariableGroup } from '../model/finetuneNet';
import type { Callback, Trainable } from './engine';

/** A named tensor, as optimizers' weights come (tfjs-core's NamedTensor, not re-exported by tfjs). */
type NamedTensor = { name: string; tensor: Tf.Tensor };

/** Freezes the backbone for epochs 1..frozenEpochs and unfreezes it after (a resumed fit included). */
export function freezeSchedule(net: FinetuneNet, frozenEpochs: number, onChange?: (frozen: boolean, epoch: number) => void): Callback {
  return {
    beforeEpoch: (state) => {
      const frozen = state.epoch <= frozenEpochs;
      if (frozen !== net.frozen) onChange?.(frozen, state.epoch);
      net.frozen = frozen;
    },
  };
}

/** A Trainable whose variables are read from the net at each step (they change when it unfreezes). */
export function liveTrainable<B>(base: Trainable<B>, net: FinetuneNet): Trainable<B> {
  return {
    get trainable() {
      return net.trainable;
    },
    loss: (batch) => base.loss(batch),
    sizeOf: (batch) => base.sizeOf(batch),
  };
}

/**
 * Adam per variable group at `learningRate x group.rate`; setting `learningRate` (the engine's
 * schedules do, before each step) sets every group's. Its weights are the groups' Adam weights,
 * named `group<i>:<name>`, so checkpoints and resume keep each group's moments.
 */
export function groupedAdam(tf: typeof Tf, groups: VariableGroup[], learningRate: number): Tf.Optimizer {
  class GroupedAdam extends tf.Optimizer {
    static className = 'LoupeGroupedAdam';
    private readonly inner = groups.map((g) => tf.train.adam(learningRate * g.rate));
    private readonly groupOf = new Map<string, number>();
    private rate = learningRate;

    constructor() {
      super();
      groups.forEach((g, i) => g.variables.forEach((v) => this.groupOf.set(v.name, i)));
    }

    get learningRate(): number {
      return this.rate;
    }

    set learningRate(rate: number) {
      this.rate = rate;
      this.inner.forEach((o, i) => ((o as unknown as { learningRate: number }).learningRate = rate * groups[i]!.rate));
    }

    applyGradients(gradients: Tf.NamedTensorMap | NamedTensor[]): void {
      const parts: Tf.NamedTensorMap[] = groups.map(() => ({}));
      const entries = Array.isArray(gradients) ? gradients.map((g) => [g.name, g.tensor] as const) : Object.entries(gradients);
      for (const [name, gradient] of entries) {
        const i = this.groupOf.get(name);
        if (i === undefined) throw new Error(`fine-tuning: variable ${name} is in no group`);
        parts[i]![name] = gradient;
      }
      parts.forEach((part, i) => {
        if (Object.keys(part).length > 0) this.inner[i]!.applyGradients(part as Parameters<Tf.AdamOptimizer["applyGradients"]>[0]);
      });
      this.incrementIterations();
    }

    getConfig(): Tf.serialization.ConfigDict {
      return { learningRate: this.rate, groups: groups.map((g) => g.rate) };
    }

    override async getWeights(): Promise<NamedTensor[]> {
      const out: NamedTensor[] = [];
      for (const [i, o] of this.inner.entries()) for (const w of await o.getWeights()) out.push({ name: `group${i}:${w.name}`, tensor: w.tensor });
      return out;
    }

    override async setWeights(values: NamedTensor[]): Promise<void> {
      for (const [i, o] of this.inner.entries()) {
        const prefix = `group${i}:`;
        const own = values.filter((v) => v.name.startsWith(prefix)).map((v) => ({ name: v.name.slice(prefix.length), tensor: v.tensor }));
        if (own.length > 0) await o.setWeights(own);
      }
    }

    override dispose(): void {
      this.inner.forEach((o) => o.dispose());
      super.dispose();
    }
  }
  return new GroupedAdam();
}
