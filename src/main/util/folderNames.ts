/**
 * Folder names made from free text (class names): safe on every common file system, length-limited,
 * and distinct even where case or Unicode normal form does not count. A name that must change to be
 * unique gets a stable suffix, `~` and 8 hex digits of its SHA-256, so the same class gets the same
 * folder whichever other classes exist.
 */
import { createHash } from 'node:crypto';
import { safeSegment } from './paths';

/** Folder names are kept to this many UTF-8 bytes (file systems allow 255; paths add up). */
export const maxFolderBytes = 100;

// Names Windows reserves for devices, with or without an extension.
const reservedOnWindows = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;

/** `name` as a folder on any file system, before length limits and uniqueness. */
function portable(name: string): string {
  let segment = safeSegment(name);
  // Windows drops trailing dots and spaces; a leading dot hides the folder (and import skips it).
  segment = segment.replace(/[. ]+$/, (tail) => '_'.repeat(tail.length)).replace(/^\./, '_');
  if (reservedOnWindows.test(segment)) segment = `_${segment}`;
  return segment;
}

/** The longest prefix of `text` that fits `bytes` of UTF-8, cut between code points. */
function cutToBytes(text: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const ch of text) {
    used += Buffer.byteLength(ch);
    if (used > bytes) break;
    out += ch;
  }
  return out;
}

function suffixed(base: string, name: string, hexDigits: number, maxBytes: number): string {
  const suffix = `~${createHash('sha256').update(name).digest('hex').slice(0, hexDigits)}`;
  return cutToBytes(base, maxBytes - suffix.length) + suffix;
}

const foldKey = (segment: string): string => segment.normalize('NFC').toLowerCase();

/**
 * One folder name per distinct name. Names that are already portable and short are placed first,
 * so they keep their own spelling; a name that was changed, cut, or collides takes the suffix.
 */
export function uniqueFolderNames(names: Iterable<string>, maxBytes = maxFolderBytes): Map<string, string> {
  const distinct = [...new Set(names)].sort();
  const base = new Map(distinct.map((name) => [name, portable(name)]));
  const isKept = (name: string): boolean => base.get(name) === name && Buffer.byteLength(name) <= maxBytes;
  const ordered = [...distinct.filter(isKept), ...distinct.filter((n) => !isKept(n))];
  const taken = new Set<string>();
  const out = new Map<string, string>();
  for (const name of ordered) {
    const portableName = base.get(name)!;
    let segment = Buffer.byteLength(portableName) <= maxBytes ? portableName : suffixed(portableName, name, 8, maxBytes);
    // More hex digits only on a clash of suffixes, which is all but impossible.
    for (let digits = 8; taken.has(foldKey(segment)); digits++) segment = suffixed(portableName, name, digits, maxBytes);
    taken.add(foldKey(segment));
    out.set(name, segment);
  }
  return out;
}
