/**
 * The gallery's data: a filter, the total it matches, and pages of `images:page` fetched lazily
 * for the rows on screen. Pages are cached by offset; a filter change drops them, a dataset change
 * keeps the old ones on screen only until the fresh ones arrive.
 */
import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import type { LoupeApi } from '../../../shared/contract';
import type { ImageFilter, ImageStatus, ImageSummary, SplitName } from '../../../shared/types';

/** Images per `images:page` request. */
export const pageSize = 200;

/** The filter as the gallery's selects hold it ('' means all). */
export interface GalleryFilter {
  className: string;
  split: SplitName | '';
  status: ImageStatus;
}

/** Lazily paged, cached access to the images a filter matches. */
export class GalleryState {
  filter = $state<GalleryFilter>({ className: '', split: '', status: 'active' });
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
  private version = -1;
  private filterKey = '';

  constructor(api: LoupeApi, onError: (error: unknown) => void) {
    this.api = api;
    this.onError = onError;
  }

  /** The filter in the contract's shape. */
  get requestFilter(): ImageFilter {
    const filter: ImageFilter = { status: this.filter.status };
    if (this.filter.className) filter.className = this.filter.className;
    if (this.filter.split) filter.split = this.filter.split;
    return filter;
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
    const key = JSON.stringify(this.requestFilter);
    const isNewFilter = key !== this.filterKey;
    if (!isNewFilter && version === this.version) return false;
    this.filterKey = key;
    this.version = version;
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
    return isNewFilter;
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

  private async fetchPage(offset: number): Promise<void> {
    const generation = this.generation;
    this.inFlight.add(offset);
    try {
      const page = await this.api.call('images:page', { filter: this.requestFilter, offset, limit: pageSize });
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
