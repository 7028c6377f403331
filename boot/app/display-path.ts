import { relative, sep } from 'node:path';

/**
 * A path as the app's log lines show it: relative to the working directory when it is under it,
 * absolute otherwise (a `../../` chain says less than the path itself).
 */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

/**
 * `text` with every absolute path under the working directory made relative: for messages built
 * deep down from the absolute paths the loader was given (a refusal's `file:line:col`).
 */
export function relativePathsIn(text: string): string {
  const cwd = process.cwd();
  // At the file system's root every path is "under" it: nothing reads better shortened.
  return cwd === '/' ? text : text.split(`${cwd}${sep}`).join('');
}
