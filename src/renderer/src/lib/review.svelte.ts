/**
 * The review queue: which queue is open (and, for likely label errors, its order), its rows, the
 * focused row, and the decisions a person makes on it (accept, relabel, keep, remove, undo). Decided
 * rows leave the list at once, so the next one takes the focus; the core filters them out of later
 * pages. It also holds what a person needs to judge the queue: the estimated number of wrong labels,
 * how likely the rows after the focus are to be wrong (so they know when to stop), which run feeds the
 * queue and why, and the focused row's nearest images on demand. The run the first page came from
 * is pinned for later pages (relabelling moves the core's ranking of runs, and the queue must not
 * switch run mid-review) until the person picks a source or another run finishes.
 */
import type { MergePreview } from '../../../shared/curation';
import type {
  CalibrationReport,
  ConfusedPair,
  IssueKind,
  IssueRow,
  LabelSignal,
  LabelSort,
  NeighbourRef,
  NoiseEstimate,
  QueueSource,
} from '../../../shared/train';
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
/** How many rows after the focus the expected precision covers ("the next 50 are ..."). */
export const precisionWindow = 50;
/** How many nearest images the neighbour strip shows. */
export const neighbourCount = 10;

/** What to expect from the rows ahead: how many there are, how many wrong labels among them, and the share. */
export interface Ahead {
  count: number;
  expectedWrong: number;
  precision: number;
}

/**
 * The expected share of wrong labels among the `window` rows from `from` on: the mean of their
 * estimated probabilities of a wrong label (the core's per-row share of the noise estimate). Null when
 * those rows carry no such estimate (a queue without signals).
 */
export function expectedAhead(rows: readonly IssueRow[], from: number, window = precisionWindow): Ahead | null {
  const ahead = rows.slice(Math.max(0, from), Math.max(0, from) + window);
  if (ahead.length === 0 || ahead.some((r) => !r.signals)) return null;
  const expectedWrong = ahead.reduce((sum, r) => sum + r.signals!.pWrong, 0);
  return { count: ahead.length, expectedWrong, precision: expectedWrong / ahead.length };
}

/** Holds one review queue and acts on its rows. */
export class ReviewState {
  readonly app: AppState;

  target = $state.raw<QueueTarget>({ kind: 'label' });
  rows = $state.raw<IssueRow[]>([]);
  total = $state(0);
  /** The order of the label-error queue: every signal fused (the default) or one alone. */
  sort = $state<LabelSort>('fused');
  /** The estimate of wrong labels and the precision of the first rows, for the label-error queue. */
  estimate = $state.raw<NoiseEstimate | null>(null);
  /** The temperature scaling applied to the run's probabilities before the signals. */
  calibration = $state.raw<CalibrationReport | null>(null);
  /** The signals the queue's run has (the others cannot order it). */
  available = $state.raw<LabelSignal[]>([]);
  /** Which run feeds the queues when none is picked, the candidates, and why. */
  source = $state.raw<QueueSource | null>(null);
  runId = $state<number | null>(null);
  /** The row whose nearest images are shown, and those images (empty while loading or without embeddings). */
  neighboursOf = $state<ImageId | null>(null);
  neighbours = $state.raw<NeighbourRef[]>([]);
  isLoadingNeighbours = $state(false);
  cursor = $state(0);
  pairs = $state.raw<ConfusedPair[]>([]);
  isLoading = $state(false);
  /** True once a queue has been answered (so an empty list means "nothing to review"). */
  isLoaded = $state(false);

  readonly current = $derived(this.rows[this.cursor] ?? null);
  /** How likely the rows from the focused one on are to be wrong; it moves as the person works down the queue. */
  readonly ahead = $derived(this.target.kind === 'label' ? expectedAhead(this.rows, this.cursor) : null);

  private request = 0;
  private neighbourRequest = 0;
  /** The default source's run, as the first page of this review gave it (null: ask the core). */
  private pinnedRunId: number | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(app: AppState) {
    this.app = app;
  }

  /** A finished run may rank better: the next page asks the core for the source again. */
  private followRuns(): void {
    this.unsubscribe ??= this.app.api.on('runs:changed', ({ status }) => {
      if (status === 'done') this.pinnedRunId = null;
    });
  }

  /** Stops following the runs (the runs:changed listener). */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Opens a queue. */
  select(target: QueueTarget): void {
    this.target = target;
    this.cursor = 0;
    this.rows = [];
    this.isLoaded = false;
  }

  /** Orders the label-error queue by every signal fused, or by one alone. */
  sortBy(sort: LabelSort): void {
    this.sort = sort;
    this.cursor = 0;
    this.rows = [];
    this.isLoaded = false;
  }

  /** Back to a fresh label queue for another project; a reply still in flight from the last one is dropped. */
  reset(): void {
    this.request += 1;
    this.isLoading = false;
    this.select({ kind: 'label' });
    this.sort = 'fused';
    this.pairs = [];
    this.runId = null;
    this.source = null;
    this.pinnedRunId = null;
    this.closeNeighbours();
  }

  /** Refetches the open queue (and the pairs for the confused queue). */
  async load(): Promise<void> {
    if (!this.app.project) return;
    this.followRuns();
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
        runId: open.runId ?? this.pinnedRunId ?? undefined,
        given: open.given,
        predicted: open.predicted,
        sort: open.kind === 'label' ? this.sort : undefined,
        limit: pageSize,
        window: precisionWindow,
      });
      if (request !== this.request) return;
      this.rows = page.rows;
      this.total = page.total;
      this.estimate = page.estimate;
      this.calibration = page.calibration ?? null;
      this.available = page.available ?? [];
      // A queue opened on a picked run has no default source; keep the last one for the chooser.
      if (page.source) this.source = page.source;
      if (page.source && open.runId === undefined) this.pinnedRunId = page.source.runId;
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

  /** Makes a run feed the queues (null: back to the best by out-of-sample quality), then refetches. */
  async setSource(runId: number | null): Promise<void> {
    try {
      this.source = await this.app.api.call('review:setSource', { runId });
      this.pinnedRunId = null;
      // The queue follows the default source again, even if it was opened on a picked run; the view refetches.
      this.select({ ...this.target, runId: undefined });
    } catch (error) {
      this.app.toastError(error);
    }
  }

  /** Shows a row's nearest images (by its run's embeddings), or hides them when they are shown. */
  async toggleNeighbours(row: IssueRow): Promise<void> {
    if (this.neighboursOf === row.imageId) {
      this.closeNeighbours();
      return;
    }
    const request = ++this.neighbourRequest;
    this.neighboursOf = row.imageId;
    this.neighbours = [];
    this.isLoadingNeighbours = true;
    try {
      const found = await this.app.api.call('review:neighbours', { runId: this.runId ?? undefined, imageId: row.imageId, k: neighbourCount });
      if (request === this.neighbourRequest) this.neighbours = found;
    } catch (error) {
      if (request === this.neighbourRequest) {
        this.app.toastError(error);
        this.neighboursOf = null;
      }
    } finally {
      if (request === this.neighbourRequest) this.isLoadingNeighbours = false;
    }
  }

  closeNeighbours(): void {
    this.neighbourRequest += 1;
    this.neighboursOf = null;
    this.neighbours = [];
    this.isLoadingNeighbours = false;
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
    if (this.neighboursOf === row.imageId) this.closeNeighbours();
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
      // changes:undo says "Undid: …" (or "Nothing to undo") itself.
      this.app.toast('info', result.description);
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
