import { isUtf8 } from 'node:buffer';
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { messageOf } from '../common/errors.js';
import { FileAccessError } from '../common/file-access-error.js';
import type { FileBoundary } from '../common/file-boundary.js';
import { readBoundedFile } from '../common/read-bounded-file.js';
import { findInvalidUtf8, type Utf8Position } from '../common/utf8.js';
import type { RegistryYamlProblem } from './registry-yaml-problem.js';

/**
 * Every YAML file that `paths` names: a file as given, a directory walked recursively for `.yaml` and
 * `.yml` files (symbolic links followed inside the boundary, never twice), in sorted order. What
 * cannot be read is added to `problems`, and the rest is still collected.
 */
export async function collectFiles(
  paths: readonly string[],
  boundary: FileBoundary | undefined,
  problems: RegistryYamlProblem[],
): Promise<string[]> {
  const found = new Map<string, string>();
  const visited = new Set<string>();
  const add = (file: string): void => {
    const key = resolve(file);
    if (!found.has(key)) found.set(key, file);
  };
  /** The real path of a directory or file given, when it may be read (inside the boundary). */
  const admit = async (path: string): Promise<string | undefined> => {
    try {
      return boundary === undefined ? await realpath(path) : await boundary.resolve(path);
    } catch (error) {
      problems.push(fileProblem(path, describeAccess(error, 'path')));
      return undefined;
    }
  };
  const walk = async (dir: string, real: string): Promise<void> => {
    if (visited.has(real)) return; // a symbolic link back up the tree
    visited.add(real);
    let children;
    try {
      children = (await readdir(dir, { withFileTypes: true })).sort((a, b) => compare(a.name, b.name));
    } catch (error) {
      problems.push(fileProblem(dir, describeFsError(error)));
      return;
    }
    for (const child of children) {
      const path = join(dir, child.name);
      const yaml = YAML_EXTENSIONS.has(extname(child.name).toLowerCase());
      if (child.isDirectory()) {
        await walk(path, join(real, child.name));
      } else if (child.isSymbolicLink()) {
        // stat follows the link without opening its target; a directory is walked only inside the boundary.
        const target = await stat(path).catch(() => undefined);
        if (target?.isDirectory()) {
          const realDir = await admit(path);
          if (realDir !== undefined) await walk(path, realDir);
        } else if (yaml && target !== undefined) {
          // (A dangling link, such as an editor's lock file, names nothing to read.)
          add(path);
        }
      } else if (yaml) {
        // Whatever carries a YAML name is read or refused with its reason (a FIFO, a socket), never skipped.
        add(path);
      }
    }
  };
  for (const path of paths) {
    const real = await admit(path);
    if (real === undefined) continue;
    const info = await stat(real).catch(() => undefined);
    if (info?.isDirectory() === true) await walk(path, real);
    else add(path);
  }
  return [...found.values()].sort(compare);
}

const YAML_EXTENSIONS = new Set(['.yaml', '.yml']);

/** Plain code-unit order: the same on every platform and locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The text of each file (`undefined` where it could not be read, its problem added to `problems`),
 * read eight at a time.
 */
export async function readAll(
  files: readonly string[],
  maxBytes: number,
  boundary: FileBoundary | undefined,
  problems: RegistryYamlProblem[],
): Promise<(string | undefined)[]> {
  const texts: (string | undefined)[] = new Array<string | undefined>(files.length);
  const failures: (RegistryYamlProblem | undefined)[] = new Array<RegistryYamlProblem | undefined>(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next;
      next += 1;
      const file = files[i] as string;
      try {
        texts[i] = await readText(file, maxBytes, boundary);
      } catch (error) {
        failures[i] =
          error instanceof InvalidUtf8
            ? {
                file,
                line: error.at.line,
                column: error.at.column,
                message: 'the file is not valid UTF-8 here (registry YAML must be UTF-8)',
              }
            : fileProblem(file, describeAccess(error, 'file'));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker));
  for (const failure of failures) if (failure !== undefined) problems.push(failure);
  return texts;
}

class InvalidUtf8 extends Error {
  constructor(readonly at: Utf8Position) {
    super('invalid UTF-8');
  }
}

/**
 * A registry file's text: only a regular file of at most `maxBytes`, inside the boundary, is read
 * (see readBoundedFile), and its bytes must be UTF-8.
 */
async function readText(file: string, maxBytes: number, boundary: FileBoundary | undefined): Promise<string> {
  const { bytes } = await readBoundedFile(file, {
    maxBytes,
    limitName: 'maxFileBytes',
    ...(boundary === undefined ? {} : { boundary }),
  });
  // The engine's validator answers the common case at memory speed; ours finds where it fails.
  const bad = isUtf8(bytes) ? undefined : findInvalidUtf8(bytes);
  if (bad !== undefined) throw new InvalidUtf8(bad);
  return bytes.toString('utf8');
}

/** A refused or unreadable path, in the words of a registry problem ("file is a FIFO ..."). */
function describeAccess(error: unknown, noun: 'file' | 'path'): string {
  if (!(error instanceof FileAccessError)) return describeFsError(error);
  if (error.reason === 'not-found') return 'no such file or directory';
  return `${noun} ${error.problem}`;
}

function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return `cannot read: ${messageOf(error)}`;
}

export function fileProblem(file: string, message: string): RegistryYamlProblem {
  return { file, line: 1, column: 1, message };
}

/** A text larger than `maxFileBytes`. */
export function tooLarge(file: string, size: number, maxBytes: number): RegistryYamlProblem {
  return fileProblem(file, `file is ${size} bytes, more than the limit of ${maxBytes} (maxFileBytes)`);
}
