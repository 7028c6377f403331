// One shape for every problem a command reports — a manifest's, the registry YAML's, a listener's
// refusal — so that each is printed once, in file order, and carried whole in `--json`.

import { isAbsolute } from 'node:path';
import { displayPath, relativePathsIn } from './display-path.js';

/** A problem a command found, at its position when known. */
export interface Problem {
  /** The file, relative to the current directory when it lies below it (absolute otherwise). */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** The error code (`INVALID`, `NOT_FOUND`, `CONFLICT`, ...). */
  readonly code: string;
  /** The entry the problem is about, when it is about one. */
  readonly entryId?: string;
  /** What is wrong, without the position. */
  readonly message: string;
}

/**
 * A position at the start of a message: `file:line:col: `. The file may hold colons but no white
 * space (a message that only mentions a position later, after words, has none of its own).
 */
const LEADING_POSITION = /^(\S+?):(\d+):(\d+): ([\s\S]*)$/;

/**
 * A problem from a line that may start with `file:line:col: ` (the form every message of the
 * registry, the YAML reader and the listeners uses), or from its parts when they are known apart.
 */
export function problemOf(
  text: string,
  code: string,
  extra: { file?: string; line?: number; column?: number; entryId?: string } = {},
): Problem {
  const match = LEADING_POSITION.exec(text);
  const entryId = extra.entryId === undefined ? {} : { entryId: extra.entryId };
  if (match !== null) {
    const [, file, line, column, message] = match as unknown as [string, string, string, string, string];
    return { file: shownPath(file), line: Number(line), column: Number(column), code, ...entryId, message };
  }
  // The position is shown in front: " at <the same position>" inside the message only repeats it.
  if (extra.file !== undefined && extra.line !== undefined)
    text = text.replace(` at ${extra.file}:${extra.line}:${extra.column ?? 1}`, '');
  const at =
    extra.file === undefined
      ? {}
      : {
          file: shownPath(extra.file),
          ...(extra.line === undefined ? {} : { line: extra.line }),
          ...(extra.column === undefined ? {} : { column: extra.column }),
        };
  return { ...at, code, ...entryId, message: text };
}

/**
 * `problems` once each, ordered by file, then line and column; problems without a position come
 * last, in the order they were found.
 */
export function orderProblems(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  const unique = problems.filter((problem) => {
    const key = `${problem.file ?? ''}\0${problem.line ?? ''}\0${problem.column ?? ''}\0${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const placed = unique.filter((problem) => problem.file !== undefined);
  const unplaced = unique.filter((problem) => problem.file === undefined);
  placed.sort(
    (a, b) =>
      compareText(a.file as string, b.file as string) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      compareText(a.message, b.message),
  );
  return [...placed, ...unplaced];
}

/** One problem as a line: `file:line:col: message`, or the message alone. */
export function formatProblem(problem: Problem): string {
  if (problem.file === undefined) return relativeInText(problem.message);
  const at = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}:${problem.column ?? 1}`;
  return `${at}: ${relativeInText(problem.message)}`;
}

/** A path as the CLI and the log show it: relative to the current directory when below it. */
export function shownPath(path: string): string {
  return isAbsolute(path) ? displayPath(path) : path;
}

/** `text` with the current directory's absolute prefix taken off the paths it names. */
export const relativeInText = relativePathsIn;

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
