import { describe, expect, it } from 'vitest';
import { covarianceRows, nearestNeighbours, nearestNeighboursAsync, normaliseRows } from '../../../src/main/analysis/knn';
import { neighboursKind } from '../../../src/main/train/kinds/neighbours';
import type { KindContext } from '../../../src/main/train/kinds/types';
import { seededRandom } from '../../../src/main/train/folds';

/** n points per cluster around `clusters` random centres in dim dimensions. */
function clustered(clusters: number, perCluster: number, dim: number, noise: number, seed: number): { data: Float32Array; cluster: number[] } {
  const random = seededRandom(seed);
  const centres = Array.from({ length: clusters }, () => Array.from({ length: dim }, () => random() * 2 - 1));
  const data = new Float32Array(clusters * perCluster * dim);
  const cluster: number[] = [];
  for (let c = 0; c < clusters; c++) {
    for (let i = 0; i < perCluster; i++) {
      const row = cluster.length;
      for (let d = 0; d < dim; d++) data[row * dim + d] = centres[c]![d]! + (random() * 2 - 1) * noise;
      cluster.push(c);
    }
  }
  return { data, cluster };
}

describe('nearest neighbours', () => {
  it('finds each point its own cluster’s points, nearest first, itself excluded', () => {
    const { data, cluster } = clustered(4, 12, 8, 0.1, 3);
    const n = cluster.length;
    const found = nearestNeighbours({ data, n, dim: 8, k: 5, group: null });
    for (let i = 0; i < n; i++) {
      const list = [...found.index.subarray(i * 5, i * 5 + 5)];
      expect(list).not.toContain(i);
      expect(list.every((j) => cluster[j] === cluster[i])).toBe(true);
      const sims = [...found.similarity.subarray(i * 5, i * 5 + 5)];
      expect(sims).toEqual([...sims].sort((a, b) => b - a));
      expect(sims[0]).toBeLessThanOrEqual(1 + 1e-6);
    }
  });

  it('matches a brute-force cosine search on standardised rows (small dim: no reduction)', () => {
    const random = seededRandom(11);
    const n = 30;
    const dim = 6;
    const data = Float32Array.from({ length: n * dim }, () => random());
    const { x } = normaliseRows(data, n, dim);
    const found = nearestNeighbours({ data, n, dim, k: 3, group: null });
    for (let i = 0; i < n; i++) {
      const sims = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let d = 0; d < dim; d++) s += x[i * dim + d]! * x[j * dim + d]!;
        return { j, s };
      }).filter((e) => e.j !== i);
      sims.sort((a, b) => b.s - a.s);
      expect([...found.index.subarray(i * 3, i * 3 + 3)]).toEqual(sims.slice(0, 3).map((e) => e.j));
    }
  });

  it('reduces long vectors to 64 half-whitened components and still finds cluster mates; async gives the same answer', async () => {
    const { data, cluster } = clustered(5, 30, 200, 0.3, 5);
    const n = cluster.length;
    const reduced = normaliseRows(data, n, 200);
    expect(reduced.dim).toBe(64);
    const sync = nearestNeighbours({ data, n, dim: 200, k: 10, group: null });
    let same = 0;
    for (let i = 0; i < n * 10; i++) if (cluster[sync.index[i]!] === cluster[Math.floor(i / 10)]) same++;
    expect(same / (n * 10)).toBeGreaterThan(0.95);
    const async = await nearestNeighboursAsync({ data, n, dim: 200, k: 10, group: null });
    expect([...async.index]).toEqual([...sync.index]);
  });

  it('leaves -1 where fewer than k other rows exist', () => {
    const found = nearestNeighbours({ data: Float32Array.of(1, 0, 0, 1), n: 2, dim: 2, k: 3, group: null });
    expect([...found.index.subarray(0, 3)]).toEqual([1, -1, -1]);
  });

  it('matches a brute-force search on every row count around the four-row blocks', () => {
    const random = seededRandom(21);
    for (const n of [5, 6, 7, 8, 9, 13]) {
      const dim = 5;
      const data = Float32Array.from({ length: n * dim }, () => random());
      const { x } = normaliseRows(data, n, dim);
      const found = nearestNeighbours({ data, n, dim, k: 3, group: null });
      for (let i = 0; i < n; i++) {
        const sims = Array.from({ length: n }, (_, j) => {
          let s = 0;
          for (let d = 0; d < dim; d++) s += x[i * dim + d]! * x[j * dim + d]!;
          return { j, s };
        }).filter((e) => e.j !== i);
        sims.sort((a, b) => b.s - a.s);
        expect([...found.similarity.subarray(i * 3, i * 3 + 3)].map((v) => v.toFixed(5))).toEqual(sims.slice(0, 3).map((e) => e.s.toFixed(5)));
      }
    }
  });

  it('searches each group among itself only: a test row never neighbours a train row', () => {
    // Two clusters; the test rows (group 1) sit in the same clusters as the train rows (group 0).
    const { data, cluster } = clustered(2, 20, 8, 0.1, 7);
    const n = cluster.length;
    const group = Int32Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 1 : 0));
    const found = nearestNeighbours({ data, n, dim: 8, k: 4, group });
    const mixed = nearestNeighbours({ data, n, dim: 8, k: 4, group: null });
    let crossesWithout = 0;
    for (let i = 0; i < n; i++) {
      const list = [...found.index.subarray(i * 4, i * 4 + 4)];
      expect(list.every((j) => j >= 0 && group[j] === group[i])).toBe(true);
      expect(list.every((j) => cluster[j] === cluster[i])).toBe(true);
      crossesWithout += [...mixed.index.subarray(i * 4, i * 4 + 4)].filter((j) => group[j] !== group[i]).length;
    }
    // Without groups the same data mixes them (so the check above means something).
    expect(crossesWithout).toBeGreaterThan(0);
  });

  it('fits the components on a spread sample of a large set and still finds cluster mates', () => {
    const n = covarianceRows + 808;
    const { data, cluster } = clustered(3, Math.ceil(n / 3), 80, 0.4, 9);
    const rows = cluster.length;
    // Three groups keep the search short; the components are fitted on all rows.
    const group = Int32Array.from({ length: rows }, (_, i) => i % 3);
    const found = nearestNeighbours({ data, n: rows, dim: 80, k: 5, group });
    let same = 0;
    for (let i = 0; i < rows * 5; i++) if (cluster[found.index[i]!] === cluster[Math.floor(i / 5)]) same++;
    expect(same / (rows * 5)).toBeGreaterThan(0.99);
  });

  it("kind 'neighbours' answers the same search, reports progress and stops when cancelled", async () => {
    const { data, cluster } = clustered(3, 700, 16, 0.2, 13);
    const n = cluster.length;
    const steps: number[] = [];
    const controller = new AbortController();
    const ctx: KindContext = {
      tf: () => Promise.reject(new Error('no tf needed')),
      signal: controller.signal,
      progress: (_step, current) => steps.push(current),
      log: () => {},
      curve: () => {},
      emit: () => {},
    };
    const group = Int32Array.from({ length: n }, (_, i) => i % 2);
    const input = neighboursKind.input.parse({ data, n, dim: 16, k: 6, group });
    const answer = await neighboursKind.run(input, ctx);
    expect([...answer.index]).toEqual([...nearestNeighbours({ data, n, dim: 16, k: 6, group }).index]);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    controller.abort();
    await expect(neighboursKind.run(input, ctx)).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(() => neighboursKind.input.parse({ data: [1, 2], n: 1, dim: 2, k: 3, group: null })).toThrow();
  });
});
