/**
 * The review queue: which queue is open, its rows, the focused row, and the decisions a person makes
 * on it (accept, relabel, keep, remove, undo). Decided rows leave the list at once, so the next one
 * takes the focus; the core filters them out of later pages.
 */
import type { MergePreview } from '../../../shared/curation';
import type { ConfusedPair, IssueKind, IssueRow } from '../../../shared/train';
import type { ImageId } from '../../../shared/types';
import type { AppState } from './app.svelte.js';

/** A queue and, for a cell or a pair, its two classes. */
export interface QueueTarget {
  kind: IssueKind;
  given?: string;
  predicted?: string;
  runId?: number;
}

/** Decisions on one row. */
export type Decision = { kind: 'accept' } | { kind: 'relabel'; className: string } | { kind: 'keep' } | { kind: 'remove' };

const pageSize = 100;

/** Holds one review queue and acts on its rows. */
export class ReviewState {
  readonly app: AppState;

  target = $state.raw<QueueTarget>({ kind: 'label' });
  rows = $state.raw<IssueRow[]>([]);
  total = $state(0);
  /** Confident learning's estimate of wrong labels, for the label-error queue. */
  estimate = $state.raw<{ noiseRate: number; labels: number } | null>(null);
  runId = $state<number | null>(null);
  cursor = $state(0);
  pairs = $state.raw<ConfusedPair[]>([]);
  isLoading = $state(false);
  /** True once a queue has been answered (so an empty list means "nothing to review"). */
  isLoaded = $state(false);

  readonly current = $derived(this.rows[this.cursor] ?? null);

  private request = 0;

  constructor(app: AppState) {
    this.app = app;
  }

  /** Opens a queue. */
  select(target: QueueTarget): void {
    this.target = target;
    this.cursor = 0;
    this.rows = [];
    this.isLoaded = false;
  }

  reset(): void {
    this.select({ kind: 'label' });
    this.pairs = [];
    this.runId = null;
  }

  /** Refetches the open queue (and the pairs for the confused queue). */
  async load(): Promise<void> {
    if (!this.app.project) return;
    const request = ++this.request;
    const target = this.target;
    this.isLoading = true;
    try {
      if (target.kind === 'confused') {
        const pairs = await this.app.api.call('review:pairs', { runId: target.runId, limit: 50 });
        if (request !== this.request) return;
        this.pairs = pairs;
        if (!target.given || !target.predicted) {
          const first = pairs[0];
          if (!first) {
            this.rows = [];
            this.total = 0;
            this.isLoaded = true;
            return;
          }
          this.target = { ...target, given: first.a, predicted: first.b };
        }
      }
      const open = this.target;
      const page = await this.app.api.call('review:queue', {
        kind: open.kind,
        runId: open.runId,
        given: open.given,
        predicted: open.predicted,
        limit: pageSize,
      });
      if (request !== this.request) return;
      this.rows = page.rows;
      this.total = page.total;
      this.estimate = page.estimate;
      this.runId = page.runId;
      this.cursor = Math.min(this.cursor, Math.max(0, page.rows.length - 1));
      this.isLoaded = true;
    } catch (error) {
      if (request === this.request) {
        this.app.toastError(error);
        this.rows = [];
        this.isLoaded = true;
      }
    } finally {
      if (request === this.request) this.isLoading = false;
    }
  }

  move(delta: number): void {
    if (this.rows.length === 0) return;
    this.cursor = Math.max(0, Math.min(this.rows.length - 1, this.cursor + delta));
  }

  /** Applies a decision to a row; the row leaves the list and the focus stays where it was (the next row). */
  async decide(row: IssueRow, decision: Decision): Promise<void> {
    const index = this.rows.findIndex((r) => r.imageId === row.imageId);
    if (index < 0) return;
    // The row leaves at once, so a second key press acts on the next row, not on this one again.
    this.rows = this.rows.filter((r) => r.imageId !== row.imageId);
    this.total = Math.max(0, this.total - 1);
    if (index < this.cursor) this.cursor -= 1;
    this.cursor = Math.min(this.cursor, Math.max(0, this.rows.length - 1));
    try {
      const result = await this.apply([row.imageId], row, decision);
      this.app.toast('info', result.changed > 0 ? `${result.description} · Ctrl+Z to undo` : result.description);
    } catch (error) {
      this.app.toastError(error);
      // Not decided after all: the queue as the core sees it.
      await this.load();
    }
    // The dataset:changed event also bumps the version, which makes the view refetch.
  }

  /** Undoes the last edit (of any kind) and refetches the queue. */
  async undo(): Promise<void> {
    try {
      const result = await this.app.api.call('changes:undo', {});
      this.app.toast('info', `Undone: ${result.description}`);
      await this.load();
    } catch (error) {
      this.app.toastError(error);
    }
  }

  /** What merging one class into another would do. */
  async previewMerge(from: string, into: string): Promise<MergePreview | null> {
    try {
      return await this.app.api.call('classes:previewMerge', { from, into });
    } catch (error) {
      this.app.toastError(error);
      return null;
    }
  }

  /** Merges two classes, then reopens the confused queue on the next pair. */
  async merge(from: string, into: string): Promise<void> {
    try {
      const result = await this.app.api.call('classes:merge', { from, into });
      this.app.toast('info', result.description);
      this.select({ kind: 'confused', runId: this.target.runId });
      await this.load();
    } catch (error) {
      this.app.toastError(error);
    }
  }

  private apply(ids: ImageId[], row: IssueRow, decision: Decision) {
    switch (decision.kind) {
      case 'accept':
        return this.app.api.call('images:relabel', { ids, className: row.predicted });
      case 'relabel':
        return this.app.api.call('images:relabel', { ids, className: decision.className });
      case 'keep':
        return this.app.api.call('images:review', { ids, reviewed: true });
      case 'remove':
        return this.app.api.call('images:remove', { ids });
      default: {
        const never: never = decision;
        throw new Error(`unknown decision ${String(never)}`);
      }
    }
  }
}
