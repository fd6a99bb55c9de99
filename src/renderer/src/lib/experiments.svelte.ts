/**
 * The experiments area's state (src/shared/experiments.ts): the project goal, the shown run's
 * diagnosis, every run's role/baselines/ensemble members (merged into the runs table by run id),
 * the hyperparameter searches (the space being edited, the open search's live trials), the ensemble
 * job, the comparison checked against today's labels and the run report. Each fetch keeps only its
 * newest answer (a request counter, as the other stores do); `experiments:search` and
 * `runs:changed` events refetch what they touch.
 */
import {
  defaultSearchSpaces,
  type ChangeFilter,
  type CheckedComparison,
  type Diagnosis,
  type EnsembleSource,
  type GoalMetric,
  type ProjectGoal,
  type RescoredRun,
  type RunExperimentInfo,
  type RunReport,
  type SearchDetail,
  type SearchSpace,
  type SearchSummary,
} from '../../../shared/experiments';
import { assertNever } from '../../../shared/assertNever';
import { augmentPresetNames, type AugmentPresetName } from '../../../shared/augment';
import { headKinds, type TrainConfig, type TrainConfigInput } from '../../../shared/train';
import type { JobId } from '../../../shared/types';
import type { AppState } from './app.svelte.js';

/** One log-uniform range of the space editor; `isOn` false leaves the field at the base config's value. */
export interface RangeField {
  isOn: boolean;
  min: number;
  max: number;
}

/** One list of choices of the space editor (numbers typed as "128, 256, 512"). */
export interface ListField {
  isOn: boolean;
  text: string;
}

/** The space editor's fields, for both modes (each mode sends only its own). */
export interface SpaceForm {
  learningRate: RangeField;
  weightDecay: RangeField;
  head: { isOn: boolean; values: Array<(typeof headKinds)[number]> };
  hidden: ListField;
  views: ListField;
  augment: { isOn: boolean; values: AugmentPresetName[] };
  arch: { isOn: boolean; values: Array<'small-cnn' | 'resnet-small'> };
  batchSize: ListField;
}

/** The search form: the space, the budget (trials and/or minutes), ASHA and the seed. */
export interface SearchForm {
  space: SpaceForm;
  trials: number;
  /** 0: no time limit. */
  minutes: number;
  minBudget: number;
  maxBudget: number;
  eta: number;
  seed: number;
}

const range = (r: { min: number; max: number } | undefined, fallback: { min: number; max: number }): RangeField => ({ isOn: r !== undefined, ...(r ?? fallback) });
const list = (values: readonly number[] | undefined, fallback: readonly number[]): ListField => ({ isOn: values !== undefined, text: (values ?? fallback).join(', ') });

/** The editor's fields for a mode's default space (fields of the other mode start off). */
export function spaceFormFor(mode: 'quick' | 'full'): SpaceForm {
  const s = defaultSearchSpaces[mode];
  const q = defaultSearchSpaces.quick;
  const f = defaultSearchSpaces.full;
  return {
    learningRate: range(s.learningRate, { min: 1e-4, max: 1e-2 }),
    weightDecay: range(s.weightDecay, { min: 1e-6, max: 1e-2 }),
    head: { isOn: s.head !== undefined, values: [...(s.head ?? q.head ?? headKinds)] },
    hidden: list(s.hidden, q.hidden ?? [128, 256, 512]),
    views: list(s.views, q.views ?? [0, 2, 4]),
    augment: { isOn: s.augment !== undefined, values: [...(s.augment ?? f.augment ?? augmentPresetNames)] },
    arch: { isOn: s.arch !== undefined, values: [...(s.arch ?? ['small-cnn', 'resnet-small'])] },
    batchSize: list(s.batchSize, f.batchSize ?? [32, 64, 128]),
  };
}

/** The search form's starting values: a small budget that finishes in minutes. */
export function defaultSearchForm(mode: 'quick' | 'full'): SearchForm {
  return { space: spaceFormFor(mode), trials: 12, minutes: 0, minBudget: 2, maxBudget: 18, eta: 3, seed: 1 };
}

/** Numbers from "128, 256 512" (empty items dropped); NaN when an item is not a number. */
export function parseList(text: string): number[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
}

/** The fields each mode's search varies (the contract refuses the others). */
export const spaceFieldsOf: Record<'quick' | 'full', ReadonlyArray<keyof SpaceForm>> = {
  quick: ['learningRate', 'weightDecay', 'head', 'hidden', 'views'],
  full: ['learningRate', 'weightDecay', 'augment', 'arch', 'batchSize'],
};

/** The space the editor describes for a mode: only fields switched on, only the mode's fields. */
export function spaceFromForm(form: SpaceForm, mode: 'quick' | 'full'): SearchSpace {
  const space: SearchSpace = {};
  for (const field of spaceFieldsOf[mode]) {
    switch (field) {
      case 'learningRate':
      case 'weightDecay': {
        const r = form[field];
        if (r.isOn) space[field] = { min: Number(r.min), max: Number(r.max) };
        break;
      }
      case 'head':
        if (form.head.isOn) space.head = [...form.head.values];
        break;
      case 'augment':
        if (form.augment.isOn) space.augment = [...form.augment.values];
        break;
      case 'arch':
        if (form.arch.isOn) space.arch = [...form.arch.values];
        break;
      case 'hidden':
      case 'views':
      case 'batchSize':
        if (form[field].isOn) space[field] = parseList(form[field].text);
        break;
      default:
        assertNever(field, 'space field');
    }
  }
  return space;
}

/** Holds the experiments area's data; TrainState owns one and forwards its lifecycle. */
export class ExperimentsState {
  readonly app: AppState;

  goal = $state.raw<ProjectGoal | null>(null);
  isGoalLoaded = $state(false);
  /** The diagnosis of `diagnosisRunId` (null while loading or when the run has none). */
  diagnosis = $state.raw<Diagnosis | null>(null);
  diagnosisRunId = $state<number | null>(null);
  diagnosisError = $state<string | null>(null);
  /** Role, search, ensemble members and baselines by run id. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- built whole and published through $state.raw, never mutated
  info = $state.raw<ReadonlyMap<number, RunExperimentInfo>>(new Map());
  searches = $state.raw<SearchSummary[]>([]);
  /** The search the Experiments view shows (null: the newest). */
  pickedSearchId = $state<number | null>(null);
  search = $state.raw<SearchDetail | null>(null);
  /** The search form; its base config is the train form's unless a run's config was given. */
  form = $state<SearchForm>(defaultSearchForm('quick'));
  /** A run's config the next search starts from (a diagnosis step "search around this run"), or null for the train form's. */
  baseRun = $state.raw<{ runId: number; config: TrainConfig } | null>(null);
  isStartingSearch = $state(false);
  searchError = $state<string | null>(null);
  /** The ensemble job this UI started, and its run. */
  ensembleJobId = $state<JobId | null>(null);
  ensembleRunId = $state<number | null>(null);
  ensembleError = $state<string | null>(null);
  /** Two runs compared on today's labels, with the changed-predictions list's filter and order. */
  checked = $state.raw<CheckedComparison | null>(null);
  changeFilter = $state<ChangeFilter>('all');
  changeSort = $state<'confidenceChange' | 'imageId'>('confidenceChange');
  /** The older run of a comparison re-scored on today's labels (asked for from the warning). */
  rescored = $state.raw<RescoredRun | null>(null);
  /** The last report written: of a run, or of a comparison with `compareTo`. */
  report = $state.raw<{ runId: number; compareTo: number | null; report: RunReport } | null>(null);
  isWritingReport = $state(false);

  readonly shownSearchId = $derived(this.pickedSearchId ?? this.searches[0]?.id ?? null);
  readonly ensembleJob = $derived.by(() => (this.ensembleJobId ? (this.app.jobs[this.ensembleJobId] ?? null) : null));

  private goalRequest = 0;
  private diagnosisRequest = 0;
  private infoRequest = 0;
  private searchesRequest = 0;
  private searchRequest = 0;
  private checkedRequest = 0;
  private rescoreRequest = 0;
  private readonly unsubscribers: Array<() => void> = [];

  constructor(app: AppState) {
    this.app = app;
  }

  /** Subscribes to the search and run events. */
  start(): void {
    this.unsubscribers.push(
      this.app.api.on('experiments:search', ({ searchId }) => {
        void this.loadSearches();
        if (searchId === this.shownSearchId) void this.loadSearch(searchId);
      }),
      this.app.api.on('runs:changed', ({ runId, status }) => {
        void this.loadInfo();
        if (status !== 'running' && runId === this.diagnosisRunId) void this.loadDiagnosis(runId);
      }),
    );
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
  }

  /** Forgets the previous project's data and loads the new one's. */
  reset(hasProject: boolean): void {
    for (const counter of ['goalRequest', 'diagnosisRequest', 'infoRequest', 'searchesRequest', 'searchRequest', 'checkedRequest', 'rescoreRequest'] as const) this[counter] += 1;
    this.goal = null;
    this.isGoalLoaded = false;
    this.diagnosis = null;
    this.diagnosisRunId = null;
    this.diagnosisError = null;
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- as above
    this.info = new Map();
    this.searches = [];
    this.pickedSearchId = null;
    this.search = null;
    this.baseRun = null;
    this.searchError = null;
    this.ensembleJobId = null;
    this.ensembleRunId = null;
    this.ensembleError = null;
    this.checked = null;
    this.rescored = null;
    this.report = null;
    if (hasProject) {
      void this.loadGoal();
      void this.loadInfo();
      void this.loadSearches();
    }
  }

  /** Loads the project's goal. */
  async loadGoal(): Promise<void> {
    const request = ++this.goalRequest;
    try {
      const goal = await this.app.api.call('experiments:goal', {});
      if (request !== this.goalRequest) return;
      this.goal = goal;
      this.isGoalLoaded = true;
    } catch (error) {
      if (request === this.goalRequest) this.app.toastError(error);
    }
  }

  /** Sets the goal (fractions; target null clears it), then re-diagnoses the shown run. */
  async setGoal(metric: GoalMetric, target: number | null, human: number | null): Promise<boolean> {
    const request = ++this.goalRequest;
    try {
      const goal = await this.app.api.call('experiments:setGoal', { metric, target, human });
      if (request === this.goalRequest) {
        this.goal = goal;
        this.isGoalLoaded = true;
      }
      if (this.diagnosisRunId !== null) void this.loadDiagnosis(this.diagnosisRunId);
      return true;
    } catch (error) {
      if (request === this.goalRequest) this.app.toastError(error);
      return false;
    }
  }

  /** Diagnoses a run (null forgets the shown diagnosis). */
  async loadDiagnosis(runId: number | null): Promise<void> {
    const request = ++this.diagnosisRequest;
    if (runId !== this.diagnosisRunId) {
      this.diagnosis = null;
      this.diagnosisError = null;
    }
    this.diagnosisRunId = runId;
    if (runId === null) return;
    try {
      const diagnosis = await this.app.api.call('experiments:diagnose', { runId });
      if (request !== this.diagnosisRequest) return;
      this.diagnosis = diagnosis;
      this.diagnosisError = null;
    } catch (error) {
      if (request !== this.diagnosisRequest) return;
      this.diagnosis = null;
      this.diagnosisError = error instanceof Error ? error.message : String(error);
    }
  }

  /** Reloads every run's role, search, members and baselines. */
  async loadInfo(): Promise<void> {
    if (!this.app.project) return;
    const request = ++this.infoRequest;
    try {
      const rows = await this.app.api.call('experiments:runs', {});
      // eslint-disable-next-line svelte/prefer-svelte-reactivity -- as above
      if (request === this.infoRequest) this.info = new Map(rows.map((row) => [row.runId, row]));
    } catch (error) {
      if (request === this.infoRequest) this.app.toastError(error);
    }
  }

  /** Computes a finished run's baselines when it has none yet (older runs), then reloads the table's data. */
  async computeBaselines(runId: number): Promise<void> {
    try {
      await this.app.api.call('experiments:baselines', { runId });
      await this.loadInfo();
    } catch (error) {
      this.app.toastError(error);
    }
  }

  /** Reloads the searches list (and the shown search). */
  async loadSearches(): Promise<void> {
    if (!this.app.project) return;
    const request = ++this.searchesRequest;
    try {
      const searches = await this.app.api.call('experiments:searches', {});
      if (request !== this.searchesRequest) return;
      this.searches = [...searches].sort((a, b) => b.id - a.id);
      if (this.shownSearchId !== null && this.search?.id !== this.shownSearchId) void this.loadSearch(this.shownSearchId);
    } catch (error) {
      if (request === this.searchesRequest) this.app.toastError(error);
    }
  }

  /** Loads one search with its trials. */
  async loadSearch(id: number | null): Promise<void> {
    const request = ++this.searchRequest;
    if (id === null) {
      this.search = null;
      return;
    }
    try {
      const search = await this.app.api.call('experiments:search', { id });
      if (request === this.searchRequest) this.search = search;
    } catch (error) {
      if (request === this.searchRequest) this.app.toastError(error);
    }
  }

  /** Shows one search. */
  pickSearch(id: number | null): void {
    this.pickedSearchId = id;
    void this.loadSearch(this.shownSearchId);
  }

  /** Starts a search around `base` with the form's space and budget; false (with the reason in searchError) when refused. */
  async startSearch(base: TrainConfigInput, mode: 'quick' | 'full'): Promise<boolean> {
    const f = $state.snapshot(this.form);
    this.isStartingSearch = true;
    this.searchError = null;
    try {
      const { searchId } = await this.app.api.call('experiments:searchStart', {
        base: base as Record<string, unknown>,
        space: spaceFromForm(f.space, mode),
        asha: { minBudget: Number(f.minBudget), maxBudget: Number(f.maxBudget), eta: Number(f.eta) },
        trials: Number(f.trials),
        minutes: Number(f.minutes) > 0 ? Number(f.minutes) : null,
        seed: Number(f.seed),
      });
      this.pickedSearchId = searchId;
      await this.loadSearches();
      await this.loadSearch(searchId);
      return true;
    } catch (error) {
      this.searchError = error instanceof Error ? error.message : String(error);
      return false;
    } finally {
      this.isStartingSearch = false;
    }
  }

  /** The best trial's config of a search (epochs = its max budget), or null when it has none yet. */
  async bestConfig(id: number): Promise<TrainConfig | null> {
    try {
      return (await this.app.api.call('experiments:applyBest', { id })).config;
    } catch (error) {
      this.app.toastError(error);
      return null;
    }
  }

  /** Starts building an ensemble run; false when refused. */
  async buildEnsemble(source: EnsembleSource): Promise<boolean> {
    this.ensembleError = null;
    try {
      const { jobId, runId } = await this.app.api.call('experiments:ensemble', { source });
      this.ensembleJobId = jobId;
      this.ensembleRunId = runId;
      return true;
    } catch (error) {
      this.ensembleError = error instanceof Error ? error.message : String(error);
      return false;
    }
  }

  /** Compares two runs on today's labels with the current filter and order (a: the older). */
  async loadChecked(a: number, b: number): Promise<void> {
    const request = ++this.checkedRequest;
    try {
      const checked = await this.app.api.call('experiments:compare', { a: Math.min(a, b), b: Math.max(a, b), filter: this.changeFilter, sort: this.changeSort, limit: 200 });
      if (request !== this.checkedRequest) return;
      if (this.checked?.a !== checked.a || this.checked.b !== checked.b) this.rescored = null;
      this.checked = checked;
    } catch (error) {
      if (request === this.checkedRequest) this.app.toastError(error);
    }
  }

  /** Changes the changed-predictions filter or order and refetches the list. */
  async setChangeView(filter: ChangeFilter, sort: 'confidenceChange' | 'imageId'): Promise<void> {
    this.changeFilter = filter;
    this.changeSort = sort;
    if (this.checked) await this.loadChecked(this.checked.a, this.checked.b);
  }

  /** Re-scores a run's stored predictions on today's labels. */
  async rescore(runId: number): Promise<void> {
    const request = ++this.rescoreRequest;
    try {
      const rescored = await this.app.api.call('experiments:rescore', { runId });
      if (request === this.rescoreRequest) this.rescored = rescored;
    } catch (error) {
      if (request === this.rescoreRequest) this.app.toastError(error);
    }
  }

  /** Writes a run's self-contained HTML report next to the project file and says where. */
  async writeReport(runId: number, compareTo?: number): Promise<void> {
    const file = this.app.project?.file;
    if (!file) return;
    this.isWritingReport = true;
    try {
      const out = reportPath(file, runId, compareTo);
      const report = await this.app.api.call('experiments:report', { runId, out, ...(compareTo === undefined ? {} : { compareTo }) });
      this.report = { runId, compareTo: compareTo ?? null, report };
      this.app.toast('info', `Report written to ${report.out ?? out}`);
    } catch (error) {
      this.app.toastError(error);
    } finally {
      this.isWritingReport = false;
    }
  }
}

/** Where a run's report goes: next to the project file, named after the project and the run. */
export function reportPath(projectFile: string, runId: number, compareTo?: number): string {
  const cut = Math.max(projectFile.lastIndexOf('/'), projectFile.lastIndexOf('\\'));
  const folder = cut >= 0 ? projectFile.slice(0, cut) : '.';
  const separator = cut >= 0 ? projectFile[cut] : '/';
  const stem = projectFile.slice(cut + 1).replace(/\.loupe$/i, '');
  return `${folder}${separator}${stem}-run-${runId}${compareTo === undefined ? '' : `-vs-${compareTo}`}-report.html`;
}
