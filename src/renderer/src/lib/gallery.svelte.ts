/**
 * The gallery's data: a filter, the total it matches, and pages of `images:page` fetched lazily
 * for the rows on screen. Pages are cached by offset; a filter change drops them, a dataset change
 * keeps the old ones on screen only until the fresh ones arrive.
 */
import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import type { LoupeApi } from '../../../shared/contract';
import type { ImageFilter, ImageSort, ImageStatus, ImageSummary, SplitName } from '../../../shared/types';
import { imageSorts, imageStatuses, splitNames } from '../../../shared/types';
import { healthFilters, type HealthFilter } from '../../../shared/health';

/** Images per `images:page` request. */
export const pageSize = 200;

/** The filter as the gallery's selects hold it ('' means all). */
export interface GalleryFilter {
  className: string;
  split: SplitName | '';
  status: ImageStatus;
  reviewed: '' | 'yes' | 'no';
  search: string;
  /** Class the latest run predicted ('' means any). */
  predicted: string;
  /** A health check, or duplicate/leakage membership ('' means any). */
  health: HealthFilter | '';
  /** Numeric targets within [valueMin, valueMax] (null: that end open). */
  valueMin: number | null;
  valueMax: number | null;
  /** Absolute residual of the latest regression run at least this (null: any). */
  residualMin: number | null;
  sort: ImageSort;
  seed: number;
}

/** The filter a fresh gallery shows. */
export function defaultFilter(): GalleryFilter {
  return {
    className: '',
    split: '',
    status: 'active',
    reviewed: '',
    search: '',
    predicted: '',
    health: '',
    valueMin: null,
    valueMax: null,
    residualMin: null,
    sort: 'id',
    seed: 1,
  };
}

/** A finite number from a URL parameter, else null. */
function numberParam(params: URLSearchParams, name: string): number | null {
  const text = params.get(name);
  if (text === null || text.trim() === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

const oneOf = <T extends string>(list: readonly T[], value: string | null): T | undefined =>
  (list as readonly string[]).includes(value ?? '') ? (value as T) : undefined;

/** The filter from URL parameters (`class`, `split`, `status`, `reviewed`, `q`, `predicted`, `health`, `vmin`, `vmax`, `rmin`, `sort`, `seed`). */
export function filterFromParams(params: URLSearchParams): GalleryFilter {
  const filter = defaultFilter();
  filter.className = params.get('class') ?? '';
  filter.split = oneOf(splitNames, params.get('split')) ?? '';
  filter.status = oneOf(imageStatuses, params.get('status')) ?? 'active';
  filter.reviewed = oneOf(['yes', 'no'] as const, params.get('reviewed')) ?? '';
  filter.search = params.get('q') ?? '';
  filter.predicted = params.get('predicted') ?? '';
  filter.health = oneOf(healthFilters, params.get('health')) ?? '';
  filter.valueMin = numberParam(params, 'vmin');
  filter.valueMax = numberParam(params, 'vmax');
  const residualMin = numberParam(params, 'rmin');
  filter.residualMin = residualMin !== null && residualMin >= 0 ? residualMin : null;
  filter.sort = oneOf(imageSorts, params.get('sort')) ?? 'id';
  const seed = Number(params.get('seed'));
  filter.seed = Number.isInteger(seed) && params.has('seed') ? seed : 1;
  return filter;
}

/** The filter as URL parameters, leaving defaults out. */
export function filterToParams(filter: GalleryFilter): URLSearchParams {
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a value written to the URL, not state
  const params = new URLSearchParams();
  if (filter.className) params.set('class', filter.className);
  if (filter.split) params.set('split', filter.split);
  if (filter.status !== 'active') params.set('status', filter.status);
  if (filter.reviewed) params.set('reviewed', filter.reviewed);
  if (filter.search.trim()) params.set('q', filter.search.trim());
  if (filter.predicted) params.set('predicted', filter.predicted);
  if (filter.health) params.set('health', filter.health);
  if (filter.valueMin !== null) params.set('vmin', String(filter.valueMin));
  if (filter.valueMax !== null) params.set('vmax', String(filter.valueMax));
  if (filter.residualMin !== null) params.set('rmin', String(filter.residualMin));
  if (filter.sort !== 'id') params.set('sort', filter.sort);
  if (filter.sort === 'random') params.set('seed', String(filter.seed));
  return params;
}

/** Lazily paged, cached access to the images a filter matches. */
export class GalleryState {
  filter = $state<GalleryFilter>(defaultFilter());
  /** Images the filter matches; null until the first page answers. */
  total = $state<number | null>(null);

  private readonly api: LoupeApi;
  private readonly onError: (error: unknown) => void;
  // Reactive maps: a cell re-renders when the page holding it lands. Cleared, never replaced,
  // so that readers keep tracking the same map.
  private readonly pages = new SvelteMap<number, ImageSummary[]>();
  private readonly stale = new SvelteMap<number, ImageSummary[]>();
  private readonly inFlight = new SvelteSet<number>();
  // Offsets whose fetch failed in this generation; not retried until the filter or data changes.
  private readonly failed = new SvelteSet<number>();
  private generation = 0;
  // The positions the grid last asked for: refetched when the data changes under them.
  private shown: { first: number; last: number } | null = null;
  private version = -1;
  private filterKey = '';

  constructor(api: LoupeApi, onError: (error: unknown) => void, initial?: GalleryFilter) {
    this.api = api;
    this.onError = onError;
    if (initial) this.filter = initial;
  }

  /** The filter in the contract's shape. */
  get requestFilter(): ImageFilter {
    const filter: ImageFilter = { status: this.filter.status };
    if (this.filter.className) filter.className = this.filter.className;
    if (this.filter.split) filter.split = this.filter.split;
    if (this.filter.reviewed) filter.reviewed = this.filter.reviewed === 'yes';
    const search = this.filter.search.trim();
    if (search) filter.search = search;
    if (this.filter.predicted) filter.predicted = this.filter.predicted;
    if (this.filter.health) filter.health = this.filter.health;
    if (this.filter.valueMin !== null) filter.valueMin = this.filter.valueMin;
    if (this.filter.valueMax !== null) filter.valueMax = this.filter.valueMax;
    if (this.filter.residualMin !== null) filter.residualMin = this.filter.residualMin;
    return filter;
  }

  /** Filter plus order: what decides which image sits at which position. */
  get requestKey(): string {
    const { sort, seed } = this.filter;
    return JSON.stringify({ filter: this.requestFilter, sort, seed: sort === 'random' ? seed : 0 });
  }

  /** Every id the filter matches, for "select all"; null when the filter changed while they were fetched. */
  async allIds(): Promise<ImageSummary['id'][] | null> {
    const key = this.requestKey;
    const { ids } = await this.api.call('images:ids', { filter: this.requestFilter });
    return key === this.requestKey ? ids : null;
  }

  /** True while any page is being fetched. */
  get isLoading(): boolean {
    return this.inFlight.size > 0;
  }

  /**
   * Points the cache at the current filter and dataset version. Call from an effect that reads
   * both; returns true when the filter changed (the grid should scroll to the top).
   */
  sync(version: number): boolean {
    const key = this.requestKey;
    const isNewFilter = key !== this.filterKey;
    if (!isNewFilter && version === this.version) return false;
    this.filterKey = key;
    this.version = version;
    this.reload(isNewFilter);
    return isNewFilter;
  }

  /**
   * Refetches the pages for the same filter and data, keeping the rows on screen until the fresh
   * ones arrive: for answers that change without a new dataset version (new health results).
   */
  refresh(): void {
    // Not synced yet, or a new filter that sync is about to load anyway.
    if (this.version < 0 || this.requestKey !== this.filterKey) return;
    this.reload(false);
  }

  /** Starts a new generation of pages: page 0 and, for the same filter, the rows on screen. */
  private reload(isNewFilter: boolean): void {
    this.generation += 1;
    this.inFlight.clear();
    this.failed.clear();
    if (isNewFilter) {
      this.stale.clear();
      this.total = null;
    } else {
      // Same filter, newer data: keep showing what we had until the fresh page arrives.
      for (const [offset, rows] of this.pages) this.stale.set(offset, rows);
    }
    this.pages.clear();
    void this.fetchPage(0);
    // Same filter, newer data: the rows on screen refetch now, not when the grid next scrolls.
    if (!isNewFilter && this.shown) this.ensure(this.shown.first, this.shown.last);
  }

  /** Tries again the pages whose fetch failed (after a reconnect, say). */
  retryFailed(): void {
    if (this.failed.size === 0) return;
    this.failed.clear();
    if (this.shown) this.ensure(this.shown.first, this.shown.last);
  }

  /** The image at a position in the filtered order, or undefined while its page loads. */
  get(index: number): ImageSummary | undefined {
    const offset = Math.floor(index / pageSize) * pageSize;
    const page = this.pages.get(offset) ?? this.stale.get(offset);
    return page?.[index - offset];
  }

  /** Makes sure the pages covering [first, last] are loaded or on their way. */
  ensure(first: number, last: number): void {
    if (last < first) return;
    this.shown = { first, last };
    const start = Math.floor(first / pageSize) * pageSize;
    for (let offset = start; offset <= last; offset += pageSize) {
      if (!this.pages.has(offset) && !this.inFlight.has(offset) && !this.failed.has(offset)) void this.fetchPage(offset);
    }
  }

  /** Loads the image at an index (for the viewer stepping past loaded pages). */
  async load(index: number): Promise<ImageSummary | undefined> {
    const offset = Math.floor(index / pageSize) * pageSize;
    if (!this.pages.has(offset)) await this.fetchPage(offset);
    return this.get(index);
  }

  /**
   * The ids at positions first..last (inclusive), loading the pages they sit on (a shift-click
   * range); null when the filter or the data changed meanwhile, so the range no longer means the same.
   */
  async idsBetween(first: number, last: number): Promise<ImageSummary['id'][] | null> {
    const generation = this.generation;
    const start = Math.floor(first / pageSize) * pageSize;
    const waits: Promise<void>[] = [];
    for (let offset = start; offset <= last; offset += pageSize) {
      if (!this.pages.has(offset)) waits.push(this.fetchPage(offset));
    }
    await Promise.all(waits);
    if (generation !== this.generation) return null;
    const ids: ImageSummary['id'][] = [];
    for (let i = first; i <= last; i++) {
      const image = this.get(i);
      if (image) ids.push(image.id);
    }
    return ids;
  }

  private async fetchPage(offset: number): Promise<void> {
    const generation = this.generation;
    this.inFlight.add(offset);
    try {
      const { sort, seed } = this.filter;
      const page = await this.api.call('images:page', { filter: this.requestFilter, sort, seed, offset, limit: pageSize });
      if (generation !== this.generation) return;
      this.pages.set(offset, page.rows);
      this.stale.delete(offset);
      if (offset === 0 || this.total !== page.total) this.total = page.total;
    } catch (error) {
      if (generation === this.generation) {
        this.failed.add(offset);
        this.onError(error);
      }
    } finally {
      if (generation === this.generation) this.inFlight.delete(offset);
    }
  }
}
