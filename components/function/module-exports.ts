import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, parse } from 'es-module-lexer';
import { KindlingError, readBoundedFile } from 'kindling';
import type { FileBoundary } from 'kindling';

/** What a module exports, as read without running it. */
export interface ModuleExports {
  /** The names it exports, itself or through the `export * from` modules that could be followed. */
  readonly names: ReadonlySet<string>;
  /** Why it may export more than {@link names} shows (a re-export that could not be followed, CommonJS). */
  readonly unknown: readonly string[];
}

/** A module's text and where it is (its real path: relative re-exports resolve against it). */
export interface ModuleSource {
  readonly realPath: string;
  readonly text: string;
}

/**
 * Reads what a module exports with a lexer, without running it: its own exports, and those of the
 * modules it re-exports everything from (`export * from './x.js'`), followed when they are
 * relative and inside `boundary` (regular files of at most its `maxModuleBytes`). Throws `INVALID`
 * with the module's own line and column when the lexer finds a syntax error.
 *
 * @example
 * const { names } = await readModuleExports({ realPath, text }, boundary);
 * if (!names.has('handler')) throw new Error('no export "handler"');
 */
export async function readModuleExports(module: ModuleSource, boundary: FileBoundary): Promise<ModuleExports> {
  await init();
  const names = new Set<string>();
  const unknown: string[] = [];
  const visited = new Set<string>();
  const visit = async (current: ModuleSource, starOnly: boolean): Promise<void> => {
    if (visited.has(current.realPath)) return;
    visited.add(current.realPath);
    const [, exports, , hasModuleSyntax] = lex(current);
    if (!hasModuleSyntax && extname(current.realPath) !== '.mjs') {
      // Node loads a file without import or export as CommonJS: its named exports only show when it runs.
      unknown.push(`${current.realPath} has no import or export statement, so Node loads it as CommonJS`);
      if (!starOnly) names.add('default');
      return;
    }
    for (const item of exports) {
      if (item.type !== 'reexport-all') {
        // `export *` never passes on a default export.
        if (!starOnly || item.name !== 'default') names.add(item.name);
        continue;
      }
      const target = reexportPath(item.from, current.realPath);
      if (target === undefined) {
        unknown.push(`${current.realPath} re-exports everything from "${item.from}", which is not a relative path`);
        continue;
      }
      let next: ModuleSource;
      try {
        const file = await readBoundedFile(target, { maxBytes: boundary.maxModuleBytes, limitName: 'allow.moduleBytes', boundary });
        next = { realPath: file.realPath, text: file.bytes.toString('utf8') };
      } catch (error) {
        unknown.push(`${current.realPath} re-exports everything from "${item.from}", which was not read: ${(error as Error).message}`);
        continue;
      }
      await visit(next, true);
    }
  };
  await visit(module, false);
  return { names, unknown };
}

/** The position of the first syntax error the lexer finds in `text`, if any. */
export async function findSyntaxError(text: string): Promise<{ line: number; column: number } | undefined> {
  await init();
  try {
    parse(text);
    return undefined;
  } catch (error) {
    return positionAt(text, (error as { idx?: number }).idx ?? 0);
  }
}

function lex(module: ModuleSource): ReturnType<typeof parse> {
  try {
    return parse(module.text);
  } catch (error) {
    const at = positionAt(module.text, (error as { idx?: number }).idx ?? 0);
    throw new KindlingError('INVALID', `syntax error at ${module.realPath}:${at.line}:${at.column} (found by reading the module, which did not run)`, {
      details: { file: module.realPath, line: at.line, column: at.column },
    });
  }
}

/** The file a re-export names, when it is a relative (or absolute) path; undefined for packages. */
function reexportPath(specifier: string, from: string): string | undefined {
  if (specifier.startsWith('./') || specifier.startsWith('../')) return resolve(dirname(from), specifier);
  if (isAbsolute(specifier)) return specifier;
  if (specifier.startsWith('file:')) {
    try {
      return fileURLToPath(specifier);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** 1-based line and column (in UTF-16 code units) of an offset. */
function positionAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset));
  const lastNewline = before.lastIndexOf('\n');
  let line = 1;
  for (let i = before.indexOf('\n'); i !== -1; i = before.indexOf('\n', i + 1)) line += 1;
  return { line, column: offset - lastNewline };
}
