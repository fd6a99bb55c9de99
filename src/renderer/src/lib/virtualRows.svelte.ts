/**
 * A rune wrapper around @tanstack/virtual-core's Virtualizer for fixed-height rows in a scroll
 * container. Read `items` and `totalSize` in markup; call `attach(element)` from an effect.
 */
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from '@tanstack/virtual-core';
import type { VirtualItem } from '@tanstack/virtual-core';

/** Options a caller can change while the list is shown. */
export interface VirtualRowsOptions {
  count: number;
  rowHeight: number;
  overscan?: number;
}

/** Fixed-height row virtualization whose visible rows are reactive state. */
export class VirtualRows {
  /** The rows to render, with their offsets. */
  items = $state.raw<VirtualItem[]>([]);
  /** Height of the whole list in pixels. */
  totalSize = $state(0);

  private readonly virtualizer: Virtualizer<HTMLElement, HTMLElement>;
  private element: HTMLElement | null = null;
  private options: VirtualRowsOptions;

  constructor(options: VirtualRowsOptions) {
    this.options = options;
    this.virtualizer = new Virtualizer<HTMLElement, HTMLElement>(this.buildOptions());
  }

  /** Connects the virtualizer to its scroll container; returns the cleanup. */
  attach(element: HTMLElement): () => void {
    this.element = element;
    this.virtualizer._willUpdate();
    const unmount = this.virtualizer._didMount();
    this.sync();
    return () => {
      unmount();
      this.element = null;
    };
  }

  /** Updates row count or height (for example when columns or the filter change). */
  update(options: VirtualRowsOptions): void {
    this.options = options;
    this.virtualizer.setOptions(this.buildOptions());
    this.virtualizer._willUpdate();
    this.sync();
  }

  /** Scrolls so that a row is visible. */
  scrollToRow(index: number): void {
    this.virtualizer.scrollToIndex(index, { align: 'auto' });
  }

  /** Jumps back to the top (after a filter change). */
  scrollToTop(): void {
    this.virtualizer.scrollToOffset(0);
  }

  private buildOptions() {
    return {
      count: this.options.count,
      getScrollElement: () => this.element,
      estimateSize: () => this.options.rowHeight,
      overscan: this.options.overscan ?? 3,
      scrollToFn: elementScroll,
      observeElementRect,
      observeElementOffset,
      onChange: () => this.sync(),
    };
  }

  private sync(): void {
    this.items = this.virtualizer.getVirtualItems();
    this.totalSize = this.virtualizer.getTotalSize();
  }
}
