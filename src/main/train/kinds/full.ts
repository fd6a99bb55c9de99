/** Kind 'full': a full-model run, trained end to end (train/full.ts). */
import { fullInputSchema, runFull } from '../full';
import { localSources } from '../localSources';
import { defineKind } from './types';

export const fullKind = defineKind({
  name: 'full',
  input: fullInputSchema,
  run: (input, ctx) => runFull(input, ctx, localSources),
  backend: (input) => input.config.backend,
});
