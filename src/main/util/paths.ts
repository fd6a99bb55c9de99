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

/** The deepest folder that contains every one of `folders`. */
export function commonAncestor(folders: string[]): string {
  let common = path.resolve(folders[0]!);
  for (const folder of folders.slice(1)) {
    const absolute = path.resolve(folder);
    while (common !== path.dirname(common) && relativeInside(common, absolute) === null && common !== absolute) {
      common = path.dirname(common);
    }
  }
  return common;
}

/** A single safe path segment made from free text (a class name): no separators, no '.' or '..', no control characters. */
export function safeSegment(text: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = text.replace(/[/\\\x00-\x1f<>:"|?*]/g, '_').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? `_${cleaned}_` : cleaned;
}
