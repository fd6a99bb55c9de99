/**
 * The Health view's state: the latest health report, the health job's progress, the leakage plan
 * (mode, locked splits, the preview) and its one-batch fix, and the duplicate-group queue with its
 * decisions (keep, remove others, move together), each one undoable call. Replies are guarded by a
 * request counter, as the other stores do: a slower, older answer never overwrites a newer one.
 */
import { getContext, setContext } from 'svelte';
import type { DuplicateGroup, GroupView, HealthFilter, HealthReport, LeakageMode, LeakagePlan, ListedGroup } from '../../../shared/health';
import { defaultLockedSplits } from '../../../shared/health';
import type { ChangeResult, ImageId, JobInfo, SplitName } from '../../../shared/types';
import { splitNames } from '../../../shared/types';
import { assertNever } from '../../../shared/assertNever';
import type { AppState } from './app.svelte.js';
import { defaultFilter, filterToParams } from './gallery.svelte.js';
import { writeRoute } from './route';

/** The kind of job `health:run` starts (jobs:update events). */
export const healthJobKind = 'health';

/** Groups per `health:groups` page. */
const groupPageSize = 50;

/** A decision on one duplicate group. */
export type GroupDecision = { kind: 'keep' } | { kind: 'removeOthers'; keep: ImageId } | { kind: 'moveTogether'; split: SplitName };

/** The split a group should move into: the server's home split for the locked splits (the one leakage rule), train when no member has a split. */
export function targetSplit(group: ListedGroup): SplitName {
  return group.home ?? 'train';
}

/** The split locks both views start with (Splits' rebalance, Health's leakage repair): a held-out test set. */
export function defaultLocks(): Record<SplitName, boolean> {
  return { train: defaultLockedSplits.includes('train'), valid: defaultLockedSplits.includes('valid'), test: defaultLockedSplits.includes('test') };
}

/** The member a "remove others" keeps by default: a locked one, else the first in train, else the first. */
export function defaultKeep(group: DuplicateGroup): ImageId {
  const member = group.members.find((m) => m.locked) ?? group.members.find((m) => m.split === 'train') ?? group.members[0]!;
  return member.imageId;
}

/** One decision Health can undo, with the dataset version it left. */
type UndoEntry = ({ kind: 'change' } | { kind: 'dismissal'; key: string }) & { version: number };

/** Holds the report, the leakage repair and the duplicate queue. */
export class HealthState {
  readonly app: AppState;

  report = $state.raw<HealthReport | null>(null);
  isLoading = $state(false);
  minPerSplit = $state(10);

  mode = $state<LeakageMode>('move');
  locked = $state<Record<SplitName, boolean>>(defaultLocks());
  /** The preview of the fix; null until asked for, and dropped when the data or the options change. */
  plan = $state.raw<LeakagePlan | null>(null);
  isFixing = $state(false);
  /** The last change made here, for the Undo button next to it. */
  lastChange = $state.raw<ChangeResult | null>(null);

  /** The open queue of groups, or null for the list of checks. */
  queue = $state<GroupView | null>(null);
  groups = $state.raw<ListedGroup[]>([]);
  groupTotal = $state(0);
  isGroupsLoaded = $state(false);
  cursor = $state(0);
  /** The member "remove others" keeps, per group key (the default until a person picks one). */
  keepChoice = $state.raw<Record<string, ImageId>>({});
  /** The split "move together" uses, per group key (the default until a person picks one). */
  moveChoice = $state.raw<Record<string, SplitName>>({});

  readonly currentGroup = $derived(this.groups[this.cursor] ?? null);
  readonly lockedSplits = $derived(splitNames.filter((split) => this.locked[split]));

  // What Z undoes, newest last: a dataset change (changes:undo) or a dismissal ("keep"), which is
  // not a change to the dataset and is undone by un-dismissing the group. Each entry holds the
  // dataset version it left; once the data moved on elsewhere (a Gallery edit), changes:undo would
  // undo that edit instead, so the entries are stale and Undo here is no longer offered.
  private undoStack = $state.raw<UndoEntry[]>([]);
  private projectFile: string | null = null;
  private reportRequest = 0;
  private planRequest = 0;
  private groupsRequest = 0;
  private unsubscribe: (() => void) | null = null;

  constructor(app: AppState) {
    this.app = app;
  }

  /** True while the newest decision made here can still be undone from here (the data has not moved on since). */
  get canUndo(): boolean {
    return this.undoStack.at(-1)?.version === this.app.version;
  }

  /** The health job running now, if any. */
  get job(): JobInfo | null {
    return this.app.activeJobs.find((job) => job.kind === healthJobKind) ?? null;
  }

  /** Listens for new results (health:changed) and loads the report. */
  start(): void {
    this.unsubscribe = this.app.api.on('health:changed', () => {
      void this.load();
      if (this.queue) void this.loadGroups();
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Refetches the report. */
  async load(): Promise<void> {
    if (!this.app.project) return;
    this.ensureProject();
    // The field is being typed in (cleared, or not a whole number yet): keep the last report.
    const minPerSplit = this.minPerSplit as number | null;
    if (typeof minPerSplit !== 'number' || !Number.isInteger(minPerSplit) || minPerSplit < 1) return;
    const request = ++this.reportRequest;
    this.isLoading = true;
    try {
      const report = await this.app.api.call('health:report', { minPerSplit });
      if (request !== this.reportRequest) return;
      this.report = report;
    } catch (error) {
      if (request === this.reportRequest) this.app.toastError(error);
    } finally {
      if (request === this.reportRequest) this.isLoading = false;
    }
  }

  /** Forgets what belonged to another project: its report, queue, choices and undo. */
  private ensureProject(): void {
    const file = this.app.project?.file ?? null;
    if (file === this.projectFile) return;
    this.projectFile = file;
    this.report = null;
    this.undoStack = [];
    this.lastChange = null;
    this.keepChoice = {};
    this.moveChoice = {};
    this.dropPlan();
    this.queue = null;
    this.groups = [];
  }

  /** Starts the health job (features for images that lack them, then every check). */
  async run(): Promise<void> {
    try {
      await this.app.api.call('health:run', {});
    } catch (error) {
      this.app.toastError(error);
    }
  }

  /** Drops the preview: it describes data or options that changed. */
  dropPlan(): void {
    this.planRequest++;
    this.plan = null;
  }

  /** What the fix would do, with the images that move. */
  async previewPlan(): Promise<void> {
    const request = ++this.planRequest;
    try {
      const plan = await this.app.api.call('health:leakagePlan', { mode: this.mode, locked: this.lockedSplits });
      if (request === this.planRequest) this.plan = plan;
    } catch (error) {
      if (request === this.planRequest) this.app.toastError(error);
    }
  }

  /** Fixes every leaking group in one undoable batch. */
  async fixLeakage(): Promise<void> {
    this.isFixing = true;
    try {
      const result = await this.app.api.call('health:fixLeakage', { mode: this.mode, locked: this.lockedSplits });
      if (result.changed > 0) this.pushUndo({ kind: 'change', version: result.version });
      this.noteChange(result);
      this.dropPlan();
      await this.load();
    } catch (error) {
      this.app.toastError(error);
    } finally {
      this.isFixing = false;
    }
  }

  /**
   * Undoes the last decision made here and refetches. Nothing made here (or only decisions the data
   * has moved on from since) means nothing to undo here; the entry is dropped only once undone.
   */
  async undo(): Promise<void> {
    const last = this.undoStack.at(-1);
    if (!last) return;
    if (!this.canUndo) {
      this.undoStack = [];
      this.lastChange = null;
      this.app.toast('info', 'Nothing to undo here: the data changed elsewhere since');
      return;
    }
    try {
      const result =
        last.kind === 'dismissal'
          ? await this.app.api.call('health:resolveGroup', { group: last.key, action: 'undismiss' })
          : await this.app.api.call('changes:undo', {});
      // The entry below is now the newest edit, at the version the undo left.
      const rest = this.undoStack.slice(0, -1);
      const below = rest.at(-1);
      this.undoStack = below ? [...rest.slice(0, -1), { ...below, version: result.version }] : rest;
      this.app.version = Math.max(this.app.version, result.version);
      // changes:undo says "Undid: …" itself; un-dismissing says what it did.
      this.app.toast('info', last.kind === 'dismissal' ? `Undone: ${result.description}` : result.description);
      if (this.undoStack.length === 0) this.lastChange = null;
      this.dropPlan();
      await Promise.all([this.load(), this.queue ? this.loadGroups() : Promise.resolve()]);
    } catch (error) {
      this.app.toastError(error);
    }
  }

  /** Opens a queue of groups (or closes it with null). */
  openQueue(view: GroupView | null): void {
    this.ensureProject();
    this.queue = view;
    this.groups = [];
    this.groupTotal = 0;
    this.cursor = 0;
    this.isGroupsLoaded = false;
    if (view) void this.loadGroups();
  }

  /** Refetches the open queue's first page. */
  async loadGroups(): Promise<void> {
    const view = this.queue;
    if (!view) return;
    const request = ++this.groupsRequest;
    try {
      const page = await this.app.api.call('health:groups', { view, offset: 0, limit: groupPageSize, locked: this.lockedSplits });
      if (request !== this.groupsRequest || view !== this.queue) return;
      this.groups = page.rows;
      this.groupTotal = page.total;
      this.cursor = Math.min(this.cursor, Math.max(0, page.rows.length - 1));
      this.isGroupsLoaded = true;
    } catch (error) {
      if (request === this.groupsRequest) {
        this.app.toastError(error);
        this.isGroupsLoaded = true;
      }
    }
  }

  move(delta: number): void {
    if (this.groups.length === 0) return;
    this.cursor = Math.max(0, Math.min(this.groups.length - 1, this.cursor + delta));
  }

  /** The member "remove others" keeps in a group. */
  keepOf(group: DuplicateGroup): ImageId {
    const chosen = this.keepChoice[group.key];
    return chosen !== undefined && group.members.some((m) => m.imageId === chosen) ? chosen : defaultKeep(group);
  }

  /** Picks the member "remove others" keeps. */
  chooseKeep(group: DuplicateGroup, id: ImageId): void {
    this.keepChoice = { ...this.keepChoice, [group.key]: id };
  }

  /** The split "move together" puts a group in. */
  moveTargetOf(group: ListedGroup): SplitName {
    return this.moveChoice[group.key] ?? targetSplit(group);
  }

  /** Picks the split "move together" uses. */
  chooseMoveTarget(group: DuplicateGroup, split: SplitName): void {
    this.moveChoice = { ...this.moveChoice, [group.key]: split };
  }

  /** Moves the keep choice to the previous or next member of the focused group. */
  moveKeep(delta: number): void {
    const group = this.currentGroup;
    if (!group) return;
    const index = group.members.findIndex((m) => m.imageId === this.keepOf(group));
    const next = group.members[Math.max(0, Math.min(group.members.length - 1, index + delta))];
    if (next) this.chooseKeep(group, next.imageId);
  }

  /** Decides one group: it leaves the list at once (the next takes the focus); one undoable call. */
  async decide(group: DuplicateGroup, decision: GroupDecision): Promise<void> {
    const index = this.groups.findIndex((g) => g.key === group.key);
    if (index < 0) return;
    this.groups = this.groups.filter((g) => g.key !== group.key);
    this.groupTotal = Math.max(0, this.groupTotal - 1);
    if (index < this.cursor) this.cursor -= 1;
    this.cursor = Math.min(this.cursor, Math.max(0, this.groups.length - 1));
    try {
      const result = await this.app.api.call('health:resolveGroup', { group: group.key, locked: this.lockedSplits, ...this.requestOf(decision) });
      if (decision.kind === 'keep') this.pushUndo({ kind: 'dismissal', key: group.key, version: result.version });
      else if (result.changed > 0) this.pushUndo({ kind: 'change', version: result.version });
      this.noteChange(result);
      await this.load();
    } catch (error) {
      this.app.toastError(error);
      await this.loadGroups();
    }
  }

  /** Opens the Gallery filtered to one check. */
  openGallery(filter: HealthFilter): void {
    writeRoute('gallery', filterToParams({ ...defaultFilter(), health: filter }));
    this.app.view = 'gallery';
  }

  private pushUndo(entry: UndoEntry): void {
    this.undoStack = [...this.undoStack, entry];
  }

  private noteChange(result: ChangeResult): void {
    this.lastChange = result;
    this.app.version = Math.max(this.app.version, result.version);
    this.app.toast('info', result.changed > 0 ? `${result.description} · Ctrl+Z to undo` : result.description);
  }

  private requestOf(decision: GroupDecision): { action: 'keep' } | { action: 'removeOthers'; keep: ImageId } | { action: 'moveTogether'; split: SplitName } {
    switch (decision.kind) {
      case 'keep':
        return { action: 'keep' };
      case 'removeOthers':
        return { action: 'removeOthers', keep: decision.keep };
      case 'moveTogether':
        return { action: 'moveTogether', split: decision.split };
      default:
        return assertNever(decision, 'group decision');
    }
  }
}

const key = Symbol('loupe.health');

/** Called once by the root component: the state outlives the Health view, so its undo and queue survive a visit elsewhere. */
export function provideHealth(health: HealthState): void {
  setContext(key, health);
}

/** The health state, from any component under the root. */
export function useHealth(): HealthState {
  const health = getContext<HealthState | undefined>(key);
  if (!health) throw new Error('useHealth() called outside the app');
  return health;
}

/** What one check means to a person: its name, why it matters, what to do about it. */
export interface CheckText {
  label: string;
  why: string;
  todo: string;
}

/** The words for every gallery health filter (and so every check the Health view lists). */
export const checkTexts: Record<HealthFilter, CheckText> = {
  exactDuplicate: {
    label: 'Exact duplicates',
    why: 'The same image twice counts twice in training and in the metrics.',
    todo: 'Keep one of each group and remove the others.',
  },
  nearDuplicate: {
    label: 'Near duplicates',
    why: 'Re-saves, crops and small edits of one image teach little new and can hide in other splits.',
    todo: 'Look at each group: keep one, or keep them all if they really differ.',
  },
  leakage: {
    label: 'Across splits (leakage)',
    why: 'A copy in valid or test that the model saw in train makes the scores look better than they are.',
    todo: 'Fix leakage: move each group into one split, or remove the extra copies.',
  },
  labelConflict: {
    label: 'Label conflicts',
    why: 'The same image under two classes: at least one label is wrong, and the model is told both.',
    todo: 'Decide the class: keep the right copy and remove the others.',
  },
  dark: { label: 'Dark', why: 'Images far darker than the rest are often failed captures.', todo: 'Look at them: remove the failures, keep real dark scenes.' },
  bright: { label: 'Bright', why: 'Overexposed images lose their detail.', todo: 'Look at them: remove the washed-out ones.' },
  lowInfo: { label: 'Low information', why: 'Flat or near-blank images carry little to learn from.', todo: 'Remove blanks and placeholders.' },
  blurry: { label: 'Blurry', why: 'Much less fine detail than the rest: motion blur or focus failures.', todo: 'Remove the ones where the object cannot be told apart.' },
  tiny: { label: 'Tiny', why: 'Too few pixels to show the object at the model input size.', todo: 'Remove them, or find larger originals.' },
  oddAspect: { label: 'Odd aspect', why: 'Far wider or taller than the rest: resizing squashes them.', todo: 'Check for banners, strips and crops gone wrong.' },
  oddSize: { label: 'Odd size', why: 'A pixel count far from the rest often means another source or a thumbnail.', todo: 'Check where they came from.' },
  grayscale: { label: 'Grayscale', why: 'Grey images in a colour dataset can teach the model that colour does not matter, or that grey means a class.', todo: 'Check whether a class is mostly grey.' },
  unreadable: { label: 'Unreadable', why: 'Files that cannot be decoded are left out of training.', todo: 'Re-export or remove them.' },
};

/** Short labels for the gallery's health filter. */
export const healthFilterLabels: Record<HealthFilter, string> = Object.fromEntries(
  Object.entries(checkTexts).map(([filter, text]) => [filter, text.label]),
) as Record<HealthFilter, string>;
