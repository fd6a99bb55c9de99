/** Kind 'quick': the quick model's k-fold heads and final head on embeddings (train/quick.ts). */
import { z } from 'zod';
import { quickConfigSchema, type BackendReport } from '../../../shared/train';
import { runQuick, type QuickResult, type QuickTask } from '../quick';
import { defineKind } from './types';

/** What the kind answers. */
export interface QuickAnswer {
  result: QuickResult;
  report: BackendReport;
}

const matrix = z.object({ data: z.instanceof(Float32Array), rows: z.number().int().min(0), dim: z.number().int().min(0) });

export const quickKind = defineKind({
  name: 'quick',
  input: z.object({
    classes: z.array(z.string()),
    x: matrix,
    given: z.instanceof(Int32Array),
    split: z.instanceof(Int8Array),
    views: z.object({ x: matrix, owner: z.instanceof(Int32Array) }),
    config: quickConfigSchema,
  }) satisfies z.ZodType<QuickTask>,
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
