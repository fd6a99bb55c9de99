/**
 * The "Turn into classes" dialog's checks and the histogram's labels and markers: what the dialog
 * refuses is what the request schema refuses, in the schema's words, and nothing invalid is sent.
 */
import { describe, expect, it } from 'vitest';
import { binLabels, binPosition, binRequest, edgeDecimals, parseEdges, type BinDraft } from '../../../src/renderer/src/lib/binning';
import { regressionRequestSchemas } from '../../../src/shared/regression';

const draft = (fields: Partial<BinDraft>): BinDraft => ({ method: 'quantile', k: 4, edgesText: '', prefix: 'pm25', ...fields });
const errorOf = (fields: Partial<BinDraft>) => {
  const request = binRequest(draft(fields));
  return request.ok ? null : request.error;
};

describe('binRequest', () => {
  it('builds the request for quantile and equal-width bins, and one the schema accepts', () => {
    for (const method of ['quantile', 'width'] as const) {
      const request = binRequest(draft({ method, k: 5 }));
      expect(request).toEqual({ ok: true, input: { bins: { method, k: 5 }, prefix: 'pm25' } });
      if (request.ok) expect(regressionRequestSchemas['dataset:bin'].safeParse(request.input).success).toBe(true);
    }
  });

  it('reads typed edges separated by commas, semicolons or spaces', () => {
    const request = binRequest(draft({ method: 'edges', edgesText: ' 0, 12 35;55 ' }));
    expect(request).toEqual({ ok: true, input: { bins: { method: 'edges', edges: [0, 12, 35, 55] }, prefix: 'pm25' } });
  });

  it("refuses edges that are not ascending with the schema's message", () => {
    expect(errorOf({ method: 'edges', edgesText: '0, 35, 12' })).toBe('edges must be strictly ascending');
    expect(errorOf({ method: 'edges', edgesText: '5, 5' })).toBe('edges must be strictly ascending');
    expect(errorOf({ method: 'edges', edgesText: '' })).toBe('type at least one edge');
  });

  it('names the text that is not a number', () => {
    expect(errorOf({ method: 'edges', edgesText: '0, twelve, 35' })).toMatch(/^"twelve" is not a number/);
    expect(parseEdges('1, 2x')).toEqual({ ok: false, error: expect.stringMatching(/^"2x" is not a number/) });
  });

  it('refuses a bin count the schema refuses, and an empty or fractional one', () => {
    expect(errorOf({ k: 1 })).toBe('at least 2 bins');
    expect(errorOf({ k: 51 })).toBe('at most 50 bins');
    expect(errorOf({ k: null })).toBe('type the number of bins');
    expect(errorOf({ k: 2.5 })).toBe('the number of bins must be a whole number');
  });

  it('falls back to the default prefix when the field is cleared, and refuses one too long for a class name', () => {
    const request = binRequest(draft({ prefix: '  ' }));
    expect(request.ok && request.input.prefix).toBe('value');
    expect(errorOf({ prefix: 'x'.repeat(201) })).toMatch(/class name prefix: at most 200 characters/);
  });
});

describe('histogram labels and markers', () => {
  it('labels bins with as many decimals as tell neighbouring edges apart', () => {
    expect(binLabels([0, 2.5, 5])).toEqual(['0–2.5', '2.5–5']);
    expect(binLabels([1000, 1000 + 10 / 3, 1000 + 20 / 3])).toEqual(['1000–1003.3', '1003.3–1006.7']);
    expect(edgeDecimals([0, 0.05, 0.1])).toBe(3);
    expect(edgeDecimals([0, 50, 100])).toBe(0);
    expect(binLabels([7])).toEqual([]);
  });

  it('places a value along the bins, and nowhere outside them', () => {
    const edges = [0, 10, 20, 40];
    expect(binPosition(edges, 0)).toBe(0);
    expect(binPosition(edges, 5)).toBe(0.5);
    expect(binPosition(edges, 10)).toBe(1);
    expect(binPosition(edges, 30)).toBe(2.5);
    expect(binPosition(edges, 40)).toBe(3);
    expect(binPosition(edges, -1)).toBeNull();
    expect(binPosition(edges, 41)).toBeNull();
    expect(binPosition(edges, Number.NaN)).toBeNull();
    expect(binPosition([3], 3)).toBeNull();
  });
});
