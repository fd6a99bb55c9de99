/**
 * The table of `loupe` commands. It drives the global usage, each command's --help, option
 * validation and --from-file (parse.ts): a command is described once, here.
 */
import { augmentPresetNames } from '../../shared/augment';
import { importKinds, splitNames } from '../../shared/types';
import { backendChoices, labelSorts } from '../../shared/train';
import { valueIssueKinds } from '../../shared/regression';

/** Every option any command takes, with how node:util parseArgs reads it. */
export const optionTypes = {
  project: { type: 'string', short: 'p' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'from-file': { type: 'string' },
  root: { type: 'string' },
  kind: { type: 'string' },
  to: { type: 'string' },
  create: { type: 'boolean' },
  format: { type: 'string' },
  out: { type: 'string' },
  hardlink: { type: 'boolean' },
  port: { type: 'string' },
  ratios: { type: 'string' },
  lock: { type: 'string', multiple: true },
  seed: { type: 'string' },
  'dry-run': { type: 'boolean' },
  image: { type: 'string' },
  n: { type: 'string' },
  preset: { type: 'string' },
  mode: { type: 'string' },
  backbone: { type: 'string' },
  folds: { type: 'string' },
  arch: { type: 'string' },
  backend: { type: 'string' },
  epochs: { type: 'string' },
  lr: { type: 'string' },
  'batch-size': { type: 'string' },
  schedule: { type: 'string' },
  resume: { type: 'string' },
  limit: { type: 'string' },
  offset: { type: 'string' },
  sort: { type: 'string' },
  split: { type: 'string' },
  run: { type: 'string' },
  'min-per-split': { type: 'string' },
  'budget-trials': { type: 'string' },
  'budget-minutes': { type: 'string' },
  'min-budget': { type: 'string' },
  'max-budget': { type: 'string' },
  eta: { type: 'string' },
  runs: { type: 'string' },
  seeds: { type: 'string' },
  error: { type: 'string' },
  accuracy: { type: 'string' },
  human: { type: 'string' },
  clear: { type: 'boolean' },
  compare: { type: 'string' },
  tta: { type: 'boolean' },
  quantiles: { type: 'string' },
  width: { type: 'string' },
  edges: { type: 'string' },
  prefix: { type: 'string' },
} as const satisfies Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

type OptionTypes = typeof optionTypes;
/** The name of an option, as written after `--`. */
export type OptionName = keyof OptionTypes;

/** Parsed option values: strings, booleans, or lists for options given more than once. */
export type Options = {
  -readonly [K in OptionName]?: OptionTypes[K] extends { multiple: true }
    ? string[]
    : OptionTypes[K]['type'] extends 'boolean'
      ? boolean
      : string;
};

/** How one command documents and checks one of its options. */
export interface OptionDoc {
  /** The value's placeholder in usage (string options). */
  arg?: string;
  help: string;
  required?: boolean;
  /** The values it accepts, checked before the command runs. */
  choices?: readonly string[];
}

/** --backend of the commands that train a network (full runs, the LR finder, the sanity check). */
const backendOption: OptionDoc = {
  arg: 'NAME',
  help: "full: the TF.js backend (default auto: the first that works; a software WebGPU adapter never). A named one is forced: it runs or the command fails saying why. webgpu uses dawn.node; LOUPE_WEBGPU_SOFTWARE=1 lets it use the SwiftShader software adapter (slow, for testing)",
  choices: backendChoices,
};

/** One `loupe` command. */
export interface CommandSpec {
  name: string;
  /** Positional part of the usage line, e.g. `<path>...`. */
  args: string;
  /** How many positionals it takes: [min, max]. */
  positionals: readonly [number, number];
  /** existing: the project must exist; create: made when missing; optional: --project may be left out. */
  project: 'existing' | 'create' | 'optional';
  summary: string;
  options: Partial<Record<OptionName, OptionDoc>>;
  /** Takes many image paths, so also reads them with --from-file. */
  takesPaths?: boolean;
  /** More lines for --help. */
  notes?: string[];
}

const project: OptionDoc = { arg: 'P', help: 'the project file (.loupe)', required: true };
const dryRun: OptionDoc = { help: 'show what would change, change nothing' };
const fromFile: OptionDoc = { arg: 'F', help: 'read image paths from F, one a line (- for standard input)' };
/** The kinds `loupe issues` lists (a confusion cell needs two classes, which the app picks). */
export const cliIssueKinds = ['loss', 'label', 'confused'] as const;

const specs: CommandSpec[] = [
  {
    name: 'import',
    args: '<folder|csv>',
    positionals: [1, 1],
    project: 'create',
    summary: 'Import a folder or CSV into a project (created when missing); re-importing updates it.',
    options: {
      project,
      kind: { arg: 'KIND', help: 'how the source is laid out (detected when left out)', choices: importKinds },
      root: {
        arg: 'DIR',
        help: "the folder image paths are kept relative to (a CSV's own folder when left out); CSV rows outside it are skipped",
      },
    },
  },
  { name: 'stats', args: '', positionals: [0, 0], project: 'existing', summary: 'Images per class and split.', options: { project } },
  {
    name: 'relabel',
    args: '<path>...',
    positionals: [0, Infinity],
    project: 'existing',
    takesPaths: true,
    summary: 'Give images a class.',
    options: {
      to: { arg: 'CLASS', help: 'the class to give them', required: true },
      project,
      create: { help: 'create the class when it does not exist' },
      'from-file': fromFile,
    },
  },
  {
    name: 'remove',
    args: '<path>...',
    positionals: [0, Infinity],
    project: 'existing',
    takesPaths: true,
    summary: 'Exclude images from the dataset (the files are not touched).',
    options: { project, 'from-file': fromFile },
  },
  {
    name: 'restore',
    args: '<path>...',
    positionals: [0, Infinity],
    project: 'existing',
    takesPaths: true,
    summary: 'Bring removed images back.',
    options: { project, 'from-file': fromFile },
  },
  { name: 'undo', args: '', positionals: [0, 0], project: 'existing', summary: 'Undo the last change.', options: { project } },
  { name: 'redo', args: '', positionals: [0, 0], project: 'existing', summary: 'Redo the last undone change.', options: { project } },
  {
    name: 'export',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Write the cleaned dataset: labels.csv, or split/class folders; and manifest.json.',
    options: {
      format: { arg: 'FORMAT', help: 'csv or folders', required: true, choices: ['csv', 'folders'] },
      out: { arg: 'DIR', help: 'the folder to write', required: true },
      project,
      hardlink: { help: 'hard-link files instead of copying them' },
    },
  },
  { name: 'classes', args: '', positionals: [0, 0], project: 'existing', summary: 'Classes with counts per split.', options: { project } },
  {
    name: 'rename',
    args: '<class> <new name>',
    positionals: [2, 2],
    project: 'existing',
    summary: 'Rename a class.',
    options: { project },
  },
  {
    name: 'merge',
    args: '<class> <into class>',
    positionals: [2, 2],
    project: 'existing',
    summary: 'Move every image of a class into another and retire the first.',
    options: { project, 'dry-run': dryRun },
  },
  {
    name: 'delete-class',
    args: '<class>',
    positionals: [1, 1],
    project: 'existing',
    summary: 'Delete a class; its images become unlabelled.',
    options: { project },
  },
  {
    name: 'split',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Reassign train/valid/test, keeping duplicates together.',
    options: {
      ratios: { arg: 'T,V,T', help: 'train,valid,test percentages (default 80,10,10)' },
      lock: { arg: 'SPLIT', help: 'keep this split as it is (repeat, or train,valid)' },
      seed: { arg: 'N', help: 'random seed (default 1)' },
      project,
      'dry-run': dryRun,
    },
  },
  { name: 'versions', args: '', positionals: [0, 0], project: 'existing', summary: 'The change log, newest first.', options: { project } },
  {
    name: 'diff',
    args: '<from version> <to version>',
    positionals: [2, 2],
    project: 'existing',
    summary: 'What changed between two versions.',
    options: { project },
  },
  {
    name: 'serve',
    args: '',
    positionals: [0, 0],
    project: 'optional',
    summary: 'Serve the app on 127.0.0.1 and print its address (with its token).',
    options: {
      project: { ...project, required: false, help: 'the project to open (created when missing)' },
      port: { arg: 'N', help: 'the port (default: any free one)' },
    },
  },
  {
    name: 'train',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Train a model and record the run.',
    options: {
      project,
      mode: { arg: 'MODE', help: 'quick (a head on a frozen backbone, default) or full (a network trained end to end)', choices: ['quick', 'full'] },
      backbone: { arg: 'NAME', help: 'quick: default, baseline, a known backbone name or a model file' },
      folds: { arg: 'N', help: 'quick: cross-validation folds (default 5); full: K >= 2 trains K fold networks first, so every train image gets an out-of-sample prediction (default 0: off)' },
      arch: { arg: 'ARCH', help: 'full: the network (default small-cnn)', choices: ['small-cnn', 'resnet-small'] },
      epochs: { arg: 'N', help: 'most epochs (quick default 60, full default 10; early stopping may end sooner)' },
      lr: { arg: 'X', help: 'learning rate (quick default 0.003, full default 0.0003)' },
      'batch-size': { arg: 'N', help: 'images per batch (full default 64)' },
      schedule: { arg: 'NAME', help: 'full: learning-rate schedule (default constant)', choices: ['constant', 'one-cycle', 'cosine'] },
      preset: { arg: 'NAME', help: 'full: augmentation preset of the train images (default light)', choices: augmentPresetNames },
      seed: { arg: 'N', help: 'the seed of weights, batch order and augmentation (default 42)' },
      resume: { arg: 'RUN', help: 'full: continue this cancelled or failed run from its last checkpoint (other options are the run\'s own)' },
      backend: backendOption,
    },
    notes: [
      'Ctrl-C cancels between batches; a full run keeps its last checkpoint and resumes with --resume RUN (a k-fold full run: only in its final phase).',
      "A full run prints first how long it will take: this machine's rate from earlier full runs of the same network and input, x images x epochs x (folds + 1).",
    ],
  },
  {
    name: 'lr-find',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Find a learning rate for a full run: sweep it up from 1e-7 until the loss diverges.',
    options: {
      project,
      arch: { arg: 'ARCH', help: 'the network (default small-cnn)', choices: ['small-cnn', 'resnet-small'] },
      'batch-size': { arg: 'N', help: 'images per batch (default 64)' },
      seed: { arg: 'N', help: 'the seed of weights, batch order and augmentation (default 42)' },
      backend: backendOption,
    },
    notes: ['Prints the rate at the steepest fall of the smoothed loss, and its minimum / 10; --json adds every point.', "The run's model is not touched: the sweep trains its own copy."],
  },
  {
    name: 'sanity',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Check that a full run can overfit one batch (1 image, then 8): exit 1 and name the likely causes when not.',
    options: {
      project,
      arch: { arg: 'ARCH', help: 'the network (default small-cnn)', choices: ['small-cnn', 'resnet-small'] },
      lr: { arg: 'X', help: "Adam's learning rate (default 0.0003, a full run's)" },
      seed: { arg: 'N', help: 'the seed of the weights (default 42)' },
      backend: backendOption,
    },
    notes: ['100 Adam steps with augmentation and weight decay off; passes when the loss falls below 0.05 (or to 2% of its start).'],
  },
  {
    name: 'issues',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: "The latest run's review queue, worst first.",
    options: {
      project,
      kind: {
        arg: 'KIND',
        help: 'the queue: worst losses, likely label errors, or the most-confused pair; on a regression project, the largest out-of-sample errors (residual) or likely wrong values (target)',
        required: true,
        choices: [...cliIssueKinds, ...valueIssueKinds],
      },
      limit: { arg: 'N', help: 'how many rows (default 20; no upper cap: fetched in pages of 2000)' },
      offset: { arg: 'N', help: 'skip the first N rows (default 0): page the queue with --offset and --limit' },
      sort: { arg: 'SIGNAL', help: 'label errors: the fused queue (default) or one signal alone', choices: labelSorts },
      split: { arg: 'SPLIT', help: 'residual and target: only the images of this split', choices: splitNames },
    },
    notes: ['--kind has no default: name the queue you want.', 'The whole queue: --limit larger than its total (printed as "N images").'],
  },
  {
    name: 'predict',
    args: '<image|folder>...',
    positionals: [1, Infinity],
    project: 'existing',
    summary: "Classify images with a full run's model: the top 3 classes of each.",
    options: {
      run: { arg: 'N', help: 'the full run whose model classifies them (loupe train prints its number)', required: true },
      project,
      out: { arg: 'CSV', help: 'also write path,predicted,probability rows to this file' },
      tta: { help: 'test-time augmentation: average over the image, its horizontal flip and 5 crops at 90% (7 passes each)' },
    },
    notes: ['A folder stands for its image files (not its sub-folders). Paths are as given, not relative to the project root.'],
  },
  {
    name: 'health',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Data health: duplicate groups, leakage across splits, label conflicts, image quality flags, class balance.',
    options: {
      project,
      'min-per-split': { arg: 'N', help: 'report classes with fewer images than this in a split (default 10)' },
    },
    notes: [
      'Recomputes first when the data changed since the last check (features of images that lack them, then every check).',
      '--json prints duplicates, quality (a count per check) and balance, with every named threshold the checks use.',
    ],
  },
  {
    name: 'fix-leakage',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Put every duplicate group that crosses splits into one split (or remove its extra copies), as one undoable change.',
    options: {
      project,
      mode: { arg: 'MODE', help: 'move (default): move the copies into the split of the locked or larger part; remove: exclude the extra copies', choices: ['move', 'remove'] },
      lock: { arg: 'SPLIT', help: 'members in this split never move (repeat, or train,valid)' },
      'dry-run': dryRun,
    },
    notes: ['Lists every image that moves. loupe undo brings the change back; the files are never touched.'],
  },
  {
    name: 'goal',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: "Set or show the project's goal (an error or accuracy to reach), which diagnoses measure against.",
    options: {
      project,
      error: { arg: 'X', help: 'the error to stay under: a fraction (0.05) or a percentage (5%)' },
      accuracy: { arg: 'X', help: 'the accuracy to reach, instead of --error' },
      human: { arg: 'X', help: 'human-level error (or accuracy, with --accuracy) on this task, when known' },
      clear: { help: 'remove the goal' },
    },
  },
  {
    name: 'diagnose',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Bias/variance diagnosis of a run: goal, train, k-fold, valid and test errors, the gaps, a verdict and next steps.',
    options: { project, run: { arg: 'N', help: 'the run (default: the latest finished run)' } },
  },
  {
    name: 'search',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Hyperparameter search with successive halving (ASHA): trials train briefly first, only the most promising train longer.',
    options: {
      project,
      'budget-trials': { arg: 'N', help: 'how many trials to sample (default 24)' },
      'budget-minutes': { arg: 'M', help: 'stop starting trials after M minutes' },
      'min-budget': { arg: 'E', help: 'epochs of the first rung (default 2)' },
      'max-budget': { arg: 'E', help: 'epochs of the last rung (default 18)' },
      eta: { arg: 'K', help: 'keep the best 1/K at each rung (default 3)' },
      run: { arg: 'N', help: "search around run N's config (default: the default quick config)" },
      mode: { arg: 'MODE', help: 'quick (default) or full, when no --run is given', choices: ['quick', 'full'] },
      seed: { arg: 'S', help: 'seed of the sampled configurations (default 1)' },
    },
    notes: ['Each rung of each trial is a run (a child of the search). --json prints every trial with its rungs, and the best.'],
  },
  {
    name: 'ensemble',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: "An ensemble run: the average of runs' out-of-sample probabilities, scored like any run.",
    options: {
      project,
      runs: { arg: 'A,B,…', help: 'the finished runs to combine' },
      run: { arg: 'N', help: "with --seeds: train K-1 more seeds of run N's config and combine them with it" },
      seeds: { arg: 'K', help: 'how many seeds, with --run' },
      folds: { arg: 'N', help: "the k fold heads of quick run N: test and unlabelled images averaged over the heads (none saw them), train and valid kept out-of-fold" },
    },
  },
  {
    name: 'report',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Write a self-contained HTML report of a run (config, curves, metrics, confusion matrix, diagnosis, worst errors).',
    options: {
      project,
      run: { arg: 'N', help: 'the run', required: true },
      out: { arg: 'FILE', help: 'the HTML file to write', required: true },
      compare: { arg: 'M', help: 'also compare with run M on today\'s labels' },
    },
  },
  {
    name: 'augment-preview',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Write augmentations of one image as PNG files.',
    options: {
      project,
      image: { arg: 'PATH', help: 'the image, relative to the project root', required: true },
      out: { arg: 'DIR', help: 'the folder to write', required: true },
      n: { arg: 'N', help: 'how many (1 to 64, default 12)' },
      seed: { arg: 'S', help: 'random seed (default 0)' },
      preset: { arg: 'PRESET', help: 'augmentation preset (default standard)', choices: augmentPresetNames },
    },
  },
  {
    name: 'bin',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Turn numeric values into classes (one undoable change; the values are kept).',
    options: {
      project,
      quantiles: { arg: 'K', help: 'K classes of (about) equal counts (equal values share a class)' },
      width: { arg: 'K', help: 'K classes of equal width between the smallest and largest value' },
      edges: { arg: 'A,B,…', help: 'inner edges, ascending: 0,12,35,55 gives < 0, 0–12, 12–35, 35–55, ≥ 55' },
      prefix: { arg: 'NAME', help: 'what class names start with (default value): pm25 gives "pm25 35–55"' },
      'dry-run': dryRun,
    },
    notes: ['Give exactly one of --quantiles, --width, --edges. Classes that would hold no image are left out.', 'loupe undo, or loupe unbin, makes the project a regression project again.'],
  },
  {
    name: 'unbin',
    args: '',
    positionals: [0, 0],
    project: 'existing',
    summary: 'Back to numeric values: clear the class of every image that has a value (one undoable change).',
    options: { project },
    notes: ['Classes left labelling no image are hidden; loupe undo brings them back.'],
  },
];

/** Every command by name. */
export const commands: ReadonlyMap<string, CommandSpec> = new Map(specs.map((s) => [s.name, s]));

function optionUsage(name: OptionName, doc: OptionDoc): string {
  const value = doc.choices ? doc.choices.join('|') : doc.arg;
  const text = value ? `--${name} ${value}` : `--${name}`;
  return doc.required ? text : `[${text}]`;
}

/** `loupe relabel <path>... --to CLASS --project P [--create] [--from-file F]`. */
export function usageLine(spec: CommandSpec): string {
  const options = (Object.entries(spec.options) as [OptionName, OptionDoc][]).map(([name, doc]) => optionUsage(name, doc));
  return ['loupe', spec.name, spec.args, ...options].filter((part) => part.length > 0).join(' ');
}

/** The list of every command. */
export function globalUsage(): string {
  return [
    'Usage: loupe <command> [options]',
    '',
    'Commands:',
    ...specs.map((spec) => `  ${usageLine(spec).slice('loupe '.length)}`),
    '',
    'Every command takes --json for machine-readable output. Paths are relative to the project root.',
    "Paths that start with '-' go after --, e.g. loupe remove --project P -- -a.png.",
    'Run loupe <command> --help for one command.',
  ].join('\n');
}

/** One command's --help. */
export function commandHelp(spec: CommandSpec): string {
  const rows: [string, string][] = (Object.entries(spec.options) as [OptionName, OptionDoc][]).map(([name, doc]) => {
    const short = 'short' in optionTypes[name] ? `-${(optionTypes[name] as { short: string }).short}, ` : '';
    const value = doc.choices ? doc.choices.join('|') : doc.arg;
    return [`${short}--${name}${value ? ` ${value}` : ''}`, doc.help];
  });
  rows.push(['--json', 'machine-readable output'], ['-h, --help', 'this help']);
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    `Usage: ${usageLine(spec)}`,
    '',
    spec.summary,
    ...(spec.takesPaths ? ["Paths are relative to the project root; paths that start with '-' go after --."] : []),
    ...(spec.notes ?? []),
    '',
    'Options:',
    ...rows.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`),
  ].join('\n');
}
