import path from 'node:path';

/** `file` relative to `root` with forward slashes, or null when it lies outside root. */
export function relativeInside(root: string, file: string): string | null {
  const rel = path.relative(root, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

/** The absolute path of a stored (root-relative, forward-slash) image path; null if it escapes root. */
export function resolveInside(root: string, stored: string): string | null {
  const absolute = path.resolve(root, ...stored.split('/'));
  return relativeInside(root, absolute) === null ? null : absolute;
}
