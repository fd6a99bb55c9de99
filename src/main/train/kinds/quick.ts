/** Kind 'quick': the quick model's k-fold heads and final head on embeddings (train/quick.ts), for classes or values. */
import { z } from 'zod';
import { quickConfigSchema, type BackendReport } from '../../../shared/train';
import { runQuick, type QuickInput, type QuickOutput } from '../quick';
import { defineKind } from './types';

/** What the kind answers. */
export interface QuickAnswer {
  result: QuickOutput;
  report: BackendReport;
}

const matrix = z.object({ data: z.instanceof(Float32Array), rows: z.number().int().min(0), dim: z.number().int().min(0) });

const base = {
  x: matrix,
  split: z.instanceof(Int8Array),
  views: z.object({ x: matrix, owner: z.instanceof(Int32Array) }),
  config: quickConfigSchema,
};

export const quickKind = defineKind({
  name: 'quick',
  // Told apart by `task` (absent: classification), so a bad input's error names its field.
  input: z.discriminatedUnion('task', [
    z.object({ ...base, task: z.literal('regression'), values: z.instanceof(Float64Array) }),
    z.object({ ...base, task: z.literal('classification').optional(), classes: z.array(z.string()), given: z.instanceof(Int32Array) }),
  ]) satisfies z.ZodType<QuickInput>,
  async run(task, ctx): Promise<QuickAnswer> {
    const { tf, report } = await ctx.tf();
    ctx.log(`TF.js backend: ${report.name}`);
    const result = await runQuick(tf, task, {
      onCurve: (point) => ctx.curve([point]),
      onPhase: (phase, index, total) => {
        ctx.progress(`training ${phase}`, index, total);
        ctx.log(`training ${phase}`);
      },
      signal: ctx.signal,
    });
    return { result, report };
  },
});
