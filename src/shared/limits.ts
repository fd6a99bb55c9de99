/**
 * How long the strings in a request may be, and the zod helpers every request schema uses for them,
 * so a name, a path or a piece of free text has one limit and one message everywhere.
 */
import { z } from 'zod';

/** Longest accepted strings, in characters. */
export const textLimits = {
  /** A class name (also a given or predicted class in a filter). */
  className: 200,
  /** A file or folder path, absolute or relative to the project root (Linux's PATH_MAX). */
  path: 4096,
  /** A short name that is not a class: a backbone, a request name. */
  name: 200,
  /** Free text such as a search. */
  freeText: 500,
  /** An id minted by Loupe (a job id). */
  id: 100,
} as const;

/** A kind of bounded string. */
export type TextKind = keyof typeof textLimits;

/** A string of at most the kind's length; `what` names it in the message ("class name: at most 200 characters"). */
export function boundedText(kind: TextKind, what: string) {
  const max = textLimits[kind];
  return z.string({ error: `${what} must be text` }).max(max, `${what}: at most ${max} characters`);
}

/** A trimmed, non-empty string of at most the kind's length. */
export function requiredText(kind: TextKind, what: string) {
  return boundedText(kind, what).trim().min(1, `${what} is required`);
}

/** A required class name. */
export const className = (what = 'class name') => requiredText('className', what);
/** A required path (a project file, an import source, an output folder, a model file). */
export const filePath = (what: string) => requiredText('path', what);
/** Optional free text. */
export const freeText = (what: string) => boundedText('freeText', what);
