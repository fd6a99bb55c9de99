/**
 * The edits a person makes from the gallery and the large view: relabel, set a value, remove,
 * restore, review, undo, redo, revert. Each one is a single request that the core records as one undoable batch;
 * its reply's description becomes the toast, so that what happened is always said.
 */
import type { ClassSummary } from '../../../shared/curation';
import type { ChangeResult, ImageId } from '../../../shared/types';
import type { AppState } from './app.svelte.js';
import { hasCommandKey, isTypingTarget } from './shortcuts';

/** The class list (kept fresh with the dataset version) and the edit actions. */
export class Curation {
  /** Classes in the core's list order: keys 1-9 pick the first nine. */
  classes = $state.raw<ClassSummary[]>([]);
  /** Edits waiting or on their way. */
  pending = $state(0);

  private readonly app: AppState;
  private classesRequest = 0;
  // Edits run one after another in the order they were asked for: fast key presses are neither
  // lost nor reordered.
  private tail: Promise<unknown> = Promise.resolve();
  private toastId: number | null = null;

  constructor(app: AppState) {
    this.app = app;
  }

  /** Refetches the class list; call from an effect that reads the dataset version. */
  async refreshClasses(): Promise<void> {
    const request = ++this.classesRequest;
    try {
      const classes = await this.app.api.call('classes:list', {});
      if (request === this.classesRequest) this.classes = classes;
    } catch (error) {
      if (request === this.classesRequest) this.app.toastError(error);
    }
  }

  relabel(ids: ImageId[], className: string): Promise<ChangeResult | null> {
    return this.run(() => this.app.api.call('images:relabel', { ids, className }));
  }

  /** Sets the numeric target of the images (one value for all of them). */
  setValue(ids: ImageId[], value: number): Promise<ChangeResult | null> {
    return this.run(() => this.app.api.call('images:setValue', { ids, value }));
  }

  remove(ids: ImageId[]): Promise<ChangeResult | null> {
    return this.run(() => this.app.api.call('images:remove', { ids }));
  }

  restore(ids: ImageId[]): Promise<ChangeResult | null> {
    return this.run(() => this.app.api.call('images:restore', { ids }));
  }

  review(ids: ImageId[], reviewed: boolean): Promise<ChangeResult | null> {
    return this.run(() => this.app.api.call('images:review', { ids, reviewed }));
  }

  undo(): Promise<ChangeResult | null> {
    return this.run(() => this.app.api.call('changes:undo', {}));
  }

  redo(): Promise<ChangeResult | null> {
    return this.run(() => this.app.api.call('changes:redo', {}));
  }

  revert(changeId: number): Promise<ChangeResult | null> {
    return this.run(() => this.app.api.call('changes:revert', { changeId }));
  }

  // One edit toast at a time: a quick run of edits replaces its toast instead of stacking them.
  private say(message: string): void {
    if (this.toastId !== null) this.app.dismissToast(this.toastId);
    this.app.toast('info', message);
    this.toastId = this.app.toasts.at(-1)?.id ?? null;
  }

  private run(request: () => Promise<ChangeResult>): Promise<ChangeResult | null> {
    this.pending += 1;
    const next = this.tail.then(async () => {
      try {
        const result = await request();
        this.app.version = Math.max(this.app.version, result.version);
        this.say(result.description);
        return result;
      } catch (error) {
        this.app.toastError(error);
        return null;
      } finally {
        this.pending -= 1;
      }
    });
    this.tail = next;
    return next;
  }
}

/**
 * A window keydown handler for views without shortcuts of their own: Ctrl/⌘+Z undoes the newest
 * change, Ctrl/⌘+Shift+Z or Ctrl/⌘+Y redoes it; never while a field takes the keys or `isBlocked()`
 * (a dialog is open).
 */
export function undoKeys(curation: Curation, isBlocked: () => boolean): (event: KeyboardEvent) => void {
  return (event) => {
    if (event.defaultPrevented || !hasCommandKey(event) || isTypingTarget(event.target) || isBlocked()) return;
    const key = event.key.toLowerCase();
    if (key === 'z') {
      event.preventDefault();
      void (event.shiftKey ? curation.redo() : curation.undo());
    } else if (key === 'y') {
      event.preventDefault();
      void curation.redo();
    }
  };
}
