/**
 * The regression review queues: the largest out-of-sample residuals and the likely target errors,
 * their rows, the focused row, and the decisions a person makes on it: type the value it should have
 * (set), keep it as it is (marked reviewed), or remove the image; each one undoable change. Kept and
 * removed rows leave the list at once, so the next one takes the focus; a row given a new value stays,
 * shown as fixed, and the focus moves on. The run the first page came from is pinned for later pages
 * until another run finishes, as the classification queues do.
 */
import type { QueueSource } from '../../../shared/train';
import { assertNever } from '../../../shared/assertNever';
import { LoupeError } from '../../../shared/errors';
import type { ValueIssueKind, ValueIssueRow } from '../../../shared/regression';
import type { ChangeResult, ImageId } from '../../../shared/types';
import type { AppState } from './app.svelte.js';
import { keepFixed } from './valueQueue';

/** Decisions on one row of a regression queue. */
export type ValueDecision = { kind: 'set'; value: number } | { kind: 'keep' } | { kind: 'remove' };

/** Rows fetched per page: a session's worth of decisions before the next page. */
const pageSize = 100;

/** Holds one regression queue and acts on its rows. */
export class ValueReviewState {
  readonly app: AppState;

  kind = $state<ValueIssueKind>('target');
  rows = $state.raw<ValueIssueRow[]>([]);
  total = $state(0);
  runId = $state<number | null>(null);
  /** The typical out-of-sample error the scores are measured against, and how 'target' scores were computed. */
  typicalError = $state<number | null>(null);
  method = $state('');
  source = $state.raw<QueueSource | null>(null);
  cursor = $state(0);
  /** Decisions made since the queue opened (set, keep, remove), for the progress line. */
  decided = $state(0);
  isLoading = $state(false);
  /** True once a queue has been answered (so an empty list means "nothing to review"). */
  isLoaded = $state(false);

  readonly current = $derived(this.rows[this.cursor] ?? null);

  private request = 0;
  /** Values this session set, by image: rows the core stops listing stay shown as fixed. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- read only by load(), never by a view
  private fixes = new Map<ImageId, number>();
  private pinnedRunId: number | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(app: AppState) {
    this.app = app;
  }

  /** A finished run may be a newer regression run: the next page asks the core again. */
  private followRuns(): void {
    this.unsubscribe ??= this.app.api.on('runs:changed', ({ status }) => {
      if (status !== 'done') return;
      this.pinnedRunId = null;
      this.fixes.clear();
    });
  }

  /** Stops following the runs. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Opens a queue. */
  select(kind: ValueIssueKind): void {
    this.kind = kind;
    this.cursor = 0;
    this.rows = [];
    this.decided = 0;
    this.fixes.clear();
    this.isLoaded = false;
  }

  /** Back to a fresh queue for another project; a reply still in flight from the last one is dropped. */
  reset(): void {
    this.request += 1;
    this.isLoading = false;
    this.select('target');
    this.runId = null;
    this.source = null;
    this.typicalError = null;
    this.method = '';
    this.total = 0;
    this.pinnedRunId = null;
  }

  /** Refetches the open queue. */
  async load(): Promise<void> {
    if (!this.app.project) return;
    this.followRuns();
    const request = ++this.request;
    const kind = this.kind;
    this.isLoading = true;
    try {
      const page = await this.app.api.call('review:values', { kind, runId: this.pinnedRunId ?? undefined, limit: pageSize });
      if (request !== this.request) return;
      // The page knows the value of every row it lists; the fixes only matter for the rows it left out.
      for (const row of page.rows) this.fixes.delete(row.imageId);
      this.rows = keepFixed(page.rows, this.rows, this.fixes);
      this.total = page.total;
      this.runId = page.runId;
      this.typicalError = page.typicalError;
      this.method = page.method;
      if (page.source) this.source = page.source;
      if (page.runId !== null) this.pinnedRunId = page.runId;
      this.cursor = Math.min(this.cursor, Math.max(0, this.rows.length - 1));
      this.isLoaded = true;
    } catch (error) {
      if (request !== this.request) return;
      this.rows = [];
      this.total = 0;
      this.isLoaded = true;
      // No regression run yet is a state the view explains, not an error.
      if (error instanceof LoupeError && error.code === 'NOT_FOUND') this.runId = null;
      else this.app.toastError(error);
    } finally {
      if (request === this.request) this.isLoading = false;
    }
  }

  move(delta: number): void {
    if (this.rows.length === 0) return;
    this.cursor = Math.max(0, Math.min(this.rows.length - 1, this.cursor + delta));
  }

  /**
   * Applies a decision to a row. Keep and remove take the row out of the list (the focus stays at
   * its place: the next row); a new value stays on the row, shown as fixed, and the focus moves to the next row.
   */
  async decide(row: ValueIssueRow, decision: ValueDecision): Promise<void> {
    const index = this.rows.findIndex((r) => r.imageId === row.imageId);
    if (index < 0) return;
    // A page still in flight was read before this decision: drop it (the edit's dataset:changed reloads).
    this.request += 1;
    this.decided += 1;
    if (decision.kind === 'set') {
      this.rows = this.rows.map((r) => (r.imageId === row.imageId ? { ...r, value: decision.value } : r));
      this.fixes.set(row.imageId, decision.value);
      this.cursor = Math.min(index + 1, this.rows.length - 1);
    } else {
      // The row leaves at once, so a second key press acts on the next row, not on this one again.
      this.rows = this.rows.filter((r) => r.imageId !== row.imageId);
      this.total = Math.max(0, this.total - 1);
      if (index < this.cursor) this.cursor -= 1;
      this.cursor = Math.min(this.cursor, Math.max(0, this.rows.length - 1));
    }
    try {
      const result = await this.apply(row.imageId, decision);
      if (result.changed > 0) this.app.toast('info', `${result.description} · Ctrl+Z to undo`);
      else this.app.toast('info', result.description);
    } catch (error) {
      this.app.toastError(error);
      this.fixes.delete(row.imageId);
      this.decided = Math.max(0, this.decided - 1);
      // Not decided after all: the queue as the core sees it, the row's value as it was.
      this.rows = this.rows.map((r) => (r.imageId === row.imageId ? row : r));
      await this.load();
    }
    // The dataset:changed event bumps the version, which makes the view refetch.
  }

  /** Undoes the last edit (of any kind) and refetches the queue. */
  async undo(): Promise<void> {
    try {
      const result = await this.app.api.call('changes:undo', {});
      // changes:undo says "Undid: …" (or "Nothing to undo") itself.
      this.app.toast('info', result.description);
      if (result.changed > 0) this.decided = Math.max(0, this.decided - 1);
      await this.load();
    } catch (error) {
      this.app.toastError(error);
    }
  }

  private apply(id: ImageId, decision: ValueDecision): Promise<ChangeResult> {
    const ids = [id];
    switch (decision.kind) {
      case 'set':
        return this.app.api.call('images:setValue', { ids, value: decision.value });
      case 'keep':
        return this.app.api.call('images:review', { ids, reviewed: true });
      case 'remove':
        return this.app.api.call('images:remove', { ids });
      default:
        return assertNever(decision, 'decision');
    }
  }
}
