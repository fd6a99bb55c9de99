/**
 * Kind 'neighbours': the exact k nearest neighbours of a run's embedding vectors (analysis/knn.ts:
 * standardised, reduced to half-whitened principal components, cosine; within each row's group
 * when groups are given). Quadratic in the rows, so it runs here and never on the core's thread;
 * it yields between slices, so other requests of the process go on meanwhile, and it stops on cancel.
 */
import { z } from 'zod';
import { nearestNeighboursAsync, type Neighbours } from '../../analysis/knn';
import { defineKind } from './types';

/** What the kind answers: row-major n × k neighbour indexes (-1: none) and their similarities. */
export type NeighboursAnswer = Neighbours;

export const neighboursKind = defineKind({
  name: 'neighbours',
  input: z.object({
    data: z.instanceof(Float32Array),
    n: z.number().int().min(0),
    dim: z.number().int().min(1),
    k: z.number().int().min(1),
    group: z.instanceof(Int32Array).nullable(),
  }),
  async run(query, ctx): Promise<NeighboursAnswer> {
    return nearestNeighboursAsync(query, { signal: ctx.signal, onProgress: (done, total) => ctx.progress('neighbours', done, total) });
  },
});
