/**
 * The gallery's selection and keyboard focus. The selected ids live in one Set replaced on each
 * change (`$state.raw`), so that "select all" on 100,000 images is one assignment, not 100,000
 * reactive insertions.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- each Set is built, then published whole through `$state.raw` and never mutated after */
import type { ImageId } from '../../../shared/types';

/** Selected image ids, the focused cell and the anchor of a shift-range. */
export class Selection {
  ids = $state.raw<ReadonlySet<ImageId>>(new Set());
  /** Position of the focused cell in the filtered order; null before the first click or key. */
  focus = $state<number | null>(null);
  /** Where a shift-click or shift-arrow range starts. */
  anchor = $state<number | null>(null);

  readonly size = $derived(this.ids.size);

  has(id: ImageId): boolean {
    return this.ids.has(id);
  }

  /** Selects exactly these ids. */
  set(ids: Iterable<ImageId>): void {
    this.ids = new Set(ids);
  }

  /** Adds or takes away one id. */
  toggle(id: ImageId): void {
    const next = new Set(this.ids);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    this.ids = next;
  }

  /** Adds ids to the selection. */
  add(ids: Iterable<ImageId>): void {
    const next = new Set(this.ids);
    for (const id of ids) next.add(id);
    this.ids = next;
  }

  clear(): void {
    if (this.ids.size > 0) this.ids = new Set();
  }

  /** Forgets focus and anchor too (after a filter change: positions mean other images now). */
  reset(): void {
    this.clear();
    this.focus = null;
    this.anchor = null;
  }
}
