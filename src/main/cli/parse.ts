/** Reading `loupe` arguments against the command table: every mistake is one VALIDATION error that names the fix. */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { LoupeError } from '../../shared/errors';
import { commandHelp, commands, globalUsage, optionTypes, usageLine, type CommandSpec, type OptionDoc, type OptionName, type Options } from './commands';

/** What the command line asked for. */
export type Parsed =
  | { kind: 'help'; text: string }
  | { kind: 'run'; spec: CommandSpec; options: Options; args: string[] };

/**
 * Reads argv against the table. Every mistake is a VALIDATION error whose message names the fix;
 * nothing here throws anything else.
 */
export function parseCommandLine(argv: string[]): Parsed {
  // Non-strict, with tokens: the checks below name the exact argument and the fix, which the
  // strict parser's errors do not.
  const { values, positionals, tokens } = parseArgs({ args: argv, options: optionTypes, allowPositionals: true, strict: false, tokens: true });
  const options = values as Options;
  const [name, ...args] = positionals;
  if (name === undefined) {
    if (options.help === true) return { kind: 'help', text: globalUsage() };
    throw new LoupeError('VALIDATION', 'Name a command: loupe <command> [options]. Run loupe --help for the list.');
  }
  const spec = commands.get(name);
  if (!spec) throw new LoupeError('VALIDATION', `Unknown command "${name}". Run loupe --help for the list.`);
  if (options.help === true) return { kind: 'help', text: commandHelp(spec) };
  const seeHelp = `(see loupe ${spec.name} --help)`;
  const common = new Set<string>(['json', 'help']);
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const raw = argv[token.index] ?? token.rawName;
    if (!Object.hasOwn(optionTypes, token.name)) {
      const dash = spec.positionals[1] > 0 ? `; paths that start with '-' go after --: loupe ${spec.name} -- ${raw}` : '';
      throw new LoupeError('VALIDATION', `unknown option ${raw}${dash} ${seeHelp}`, { option: raw });
    }
    const optionName = token.name as OptionName;
    if (!common.has(optionName) && !Object.hasOwn(spec.options, optionName)) {
      throw new LoupeError('VALIDATION', `${spec.name} does not take --${optionName} ${seeHelp}`, { option: optionName });
    }
    const type = optionTypes[optionName].type;
    // As the strict parser does: `--to --create` is a forgotten value, not the class "--create".
    const forgotten = token.inlineValue === false && token.value !== undefined && token.value.length > 1 && token.value.startsWith('-');
    if (type === 'string' && (token.value === undefined || forgotten)) {
      const arg = spec.options[optionName]?.arg ?? 'VALUE';
      const hint = forgotten ? ` (to pass a value that starts with '-', write --${optionName}=${token.value})` : '';
      throw new LoupeError('VALIDATION', `--${optionName} needs a value: --${optionName} ${arg}${hint} ${seeHelp}`, { option: optionName });
    }
    if (type === 'boolean' && token.value !== undefined) {
      throw new LoupeError('VALIDATION', `--${optionName} takes no value: write --${optionName} alone ${seeHelp}`, { option: optionName });
    }
  }
  for (const [optionName, doc] of Object.entries(spec.options) as [OptionName, OptionDoc][]) {
    const value = options[optionName];
    if (doc.required && value === undefined) {
      throw new LoupeError('VALIDATION', `${spec.name} needs --${optionName}${doc.arg ? ` ${doc.arg}` : ''}: ${usageLine(spec)}`, {
        option: optionName,
      });
    }
    if (doc.choices && typeof value === 'string' && !doc.choices.includes(value)) {
      throw new LoupeError('VALIDATION', `--${optionName} must be one of ${doc.choices.join(', ')} (got "${value}")`, {
        option: optionName,
        choices: doc.choices,
      });
    }
  }
  const [min, max] = spec.positionals;
  if (args.length > max) {
    const what = max === 0 ? 'no arguments' : `${max} argument${max === 1 ? '' : 's'}`;
    throw new LoupeError('VALIDATION', `${spec.name} takes ${what}, not "${args.slice(max).join(' ')}": ${usageLine(spec)}`);
  }
  if (args.length < min) throw new LoupeError('VALIDATION', `${spec.name} needs ${spec.args}: ${usageLine(spec)}`);
  return { kind: 'run', spec, options, args };
}

/**
 * The image paths a command names: its arguments, then the lines of --from-file (standard input
 * for `-`). Blank lines are skipped; a path named twice counts once later, by id.
 */
export async function pathsOf(spec: CommandSpec, options: Options, args: string[]): Promise<string[]> {
  const paths = [...args];
  const file = options['from-file'];
  if (file !== undefined) {
    let text: string;
    try {
      text = file === '-' ? await readStdin() : await fs.promises.readFile(file, 'utf8');
    } catch (error) {
      throw new LoupeError('IO', `Cannot read the paths in ${file}: ${(error as Error).message}`, { file });
    }
    for (const line of text.split('\n')) {
      const entry = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (entry.length > 0) paths.push(entry);
    }
    if (paths.length === 0) throw new LoupeError('VALIDATION', `${file === '-' ? 'Standard input' : file} names no image paths (one a line).`);
  }
  if (paths.length === 0) {
    throw new LoupeError(
      'VALIDATION',
      `Name at least one image path (relative to the project root), or --from-file F: ${usageLine(spec)}`,
    );
  }
  return paths;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
