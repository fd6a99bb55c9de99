/**
 * The checks' input (toolsInput.ts) with what the network predicts: the train images' labels are
 * class indexes, or on a regression project their values in the user's units (classes []), and the
 * target says which. The LR finder and the sanity check train on the target's loss; "show a batch"
 * shows each image's label.
 */
import { z } from 'zod';
import { checkLabels, classificationTarget, netTarget, netTargetSchema, type NetTarget, type NetTargetSpec } from './netBatch';
import { toolInputSchema } from './toolsInput';

/** The input of kinds 'lrFind', 'sanity' and 'showBatch'. */
export const netToolInputSchema = toolInputSchema.extend({
  /** The classes of a classification target (two at least); [] for a value. */
  classes: z.array(z.string()),
  /** The train split's labelled images; label: the class index, or the value (checked against the target by toolTarget). */
  items: z.array(toolInputSchema.shape.items.element.extend({ label: z.number().finite() })).min(1),
  /** What the network predicts; absent: classes. */
  target: netTargetSchema.optional(),
});
/** The checks' input. */
export type NetToolInput = z.output<typeof netToolInputSchema>;

/** What the input's network predicts, as plain data (classes unless it says). */
export function toolTargetSpec(input: Pick<NetToolInput, 'target'>): NetTargetSpec {
  return input.target ?? classificationTarget;
}

/** How "show a batch" names an image's label: its class, or its value as the project holds it (the batch's label is a float32 copy). */
export function shownLabels(input: NetToolInput): (id: number, label: number) => string {
  if (toolTargetSpec(input).task === 'classification') return (_id, label) => input.classes[label]!;
  const values = new Map(input.items.map((i) => [i.id, i.label]));
  return (id, label) => String(values.get(id) ?? label);
}

/** The input's target, its labels checked (VALIDATION), a value standardised by the train images' values as a run's final network is. */
export function toolTarget(input: NetToolInput): NetTarget {
  const spec = toolTargetSpec(input);
  const labels = input.items.map((i) => i.label);
  checkLabels(spec, input.classes.length, labels);
  return netTarget(spec, input.classes.length, labels);
}
