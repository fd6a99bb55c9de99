import fs from 'node:fs';
import path from 'node:path';

/**
 * `file` relative to `root` with forward slashes, or null when it lies outside root. Compares path
 * segments, so `..name.png` is inside and `../name.png` is not. Text only: see `realInside`.
 */
export function relativeInside(root: string, file: string): string | null {
  const rel = path.relative(root, file);
  if (rel === '' || path.isAbsolute(rel)) return null;
  const parts = rel.split(path.sep);
  if (parts[0] === '..') return null;
  return parts.join('/');
}

/** Where a path really leads, or why it cannot be used. */
export type Containment =
  | { inside: true; real: string }
  | { inside: false; cause: 'outside'; real: string }
  | { inside: false; cause: 'missing'; real: null };

/**
 * The real path (links resolved) of a stored image path, or null unless the file exists and really
 * lies inside the real root: what every reader of image files opens, so no link leads out of the root.
 */
export function realFileInside(root: string, stored: string): string | null {
  const file = resolveInside(root, stored);
  if (file === null) return null;
  const where = realInside(root, file);
  return where.inside ? where.real : null;
}

/**
 * Whether `file`, with every symbolic link resolved, lies inside the real path of `root`: the check
 * behind `realFileInside`. Path text alone is fooled by links that leave the root. Import resolves the root once
 * and calls `contain` for each file.
 */
export function realInside(root: string, file: string): Containment {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return null;
    }
  };
  return contain(real(root), real(file));
}

/** The containment of an already-resolved real path in an already-resolved real root (the root itself counts). */
export function contain(realRoot: string | null, real: string | null): Containment {
  if (real === null || realRoot === null) return { inside: false, cause: 'missing', real: null };
  const isInside = real === realRoot || relativeInside(realRoot, real) !== null;
  return isInside ? { inside: true, real } : { inside: false, cause: 'outside', real };
}

/** The absolute path of a stored (root-relative, forward-slash) image path; null if it escapes root. */
export function resolveInside(root: string, stored: string): string | null {
  const absolute = path.resolve(root, ...stored.split('/'));
  return relativeInside(root, absolute) === null ? null : absolute;
}

/** A single safe path segment made from free text (a class name): no separators, no '.' or '..', no control characters. */
export function safeSegment(text: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = text.replace(/[/\\\x00-\x1f<>:"|?*]/g, '_').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? `_${cleaned}_` : cleaned;
}
