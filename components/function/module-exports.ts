import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'acorn';
import type { Identifier, Literal, ModuleDeclaration, Pattern, Program } from 'acorn';
import { KindlingError, messageOf, quote, readBoundedFile } from 'kindling';
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

/** Where a syntax error is in a module's text: 1-based line and column, in UTF-16 units. */
export interface SyntaxErrorPosition {
  readonly line: number;
  readonly column: number;
}

/** A text that is not valid JavaScript: where the parser stopped, and what it found there. */
interface ParseFailure extends SyntaxErrorPosition {
  readonly offset: number;
  /** Such as `Unexpected token`. */
  readonly reason: string;
}

/** How a module's text reads: as an ES module, or as a script (CommonJS), or not at all. */
type Parsed =
  | { readonly kind: 'module' | 'script'; readonly program: Program }
  | { readonly kind: 'error'; readonly error: ParseFailure };

/**
 * Reads what a module exports with a JavaScript parser, without running it: its own exports, and
 * those of the modules it re-exports everything from (`export * from './x.js'`), followed when they
 * are relative and inside `boundary` (regular files of at most its `maxModuleBytes`). Throws
 * `INVALID` with the module's own line and column when it is not valid JavaScript.
 *
 * @example
 * const { names } = await readModuleExports({ realPath, text }, boundary);
 * if (!names.has('handler')) throw new Error('no export "handler"');
 */
export async function readModuleExports(module: ModuleSource, boundary: FileBoundary): Promise<ModuleExports> {
  const names = new Set<string>();
  const unknown: string[] = [];
  const visited = new Set<string>();
  const visit = async (current: ModuleSource, starOnly: boolean): Promise<void> => {
    if (visited.has(current.realPath)) return;
    visited.add(current.realPath);
    const parsed = parseSource(current.text, current.realPath);
    if (parsed.kind === 'error') {
      const { line, column, reason } = parsed.error;
      throw new KindlingError(
        'INVALID',
        `syntax error at ${current.realPath}:${line}:${column} (found by reading the module, which did not run)`,
        {
          details: { file: current.realPath, line, column, reason },
        },
      );
    }
    const declarations = parsed.program.body.filter(isModuleDeclaration);
    if (parsed.kind === 'script' || (declarations.length === 0 && isScript(current))) {
      // Node loads a file without import or export as CommonJS: its named exports only show when it runs.
      unknown.push(`${current.realPath} has no import or export statement, so Node loads it as CommonJS`);
      if (!starOnly) names.add('default');
      return;
    }
    const add = (name: string): void => {
      // `export *` never passes on a default export.
      if (!starOnly || name !== 'default') names.add(name);
    };
    for (const declaration of declarations) {
      if (declaration.type === 'ExportDefaultDeclaration') add('default');
      else if (declaration.type === 'ExportNamedDeclaration') {
        for (const specifier of declaration.specifiers) add(nameOf(specifier.exported));
        const declared = declaration.declaration;
        if (declared?.type === 'VariableDeclaration')
          for (const item of declared.declarations) bindingNames(item.id, add);
        else if (declared !== undefined && declared !== null) add(declared.id.name);
      } else if (declaration.type === 'ExportAllDeclaration') {
        if (declaration.exported !== undefined && declaration.exported !== null) {
          add(nameOf(declaration.exported));
          continue;
        }
        const from = String(declaration.source.value);
        const target = reexportPath(from, current.realPath);
        if (target === undefined) {
          unknown.push(`${current.realPath} re-exports everything from ${quote(from)}, which is not a relative path`);
          continue;
        }
        let next: ModuleSource;
        try {
          const file = await readBoundedFile(target, {
            maxBytes: boundary.maxModuleBytes,
            limitName: 'allow.moduleBytes',
            boundary,
          });
          next = { realPath: file.realPath, text: file.bytes.toString('utf8') };
        } catch (error) {
          unknown.push(
            `${current.realPath} re-exports everything from ${quote(from)}, which was not read: ${messageOf(error)}`,
          );
          continue;
        }
        await visit(next, true);
      }
    }
  };
  await visit(module, false);
  return { names, unknown };
}

/**
 * Where the first syntax error of a module's text is, if it is valid JavaScript neither as an ES
 * module nor as a script (how Node reads a CommonJS file). `path` tells `.mjs` and `.cjs` files.
 *
 * @example
 * findSyntaxError('export const a = () => ;'); // { line: 1, column: 24 }
 */
export function findSyntaxError(text: string, path = 'module.js'): SyntaxErrorPosition | undefined {
  const parsed = parseSource(text, path);
  return parsed.kind === 'error' ? { line: parsed.error.line, column: parsed.error.column } : undefined;
}

/**
 * Whether a module without import or export statements is one Node loads as CommonJS: not an
 * `.mjs` file, and valid as a script (one using `import.meta` or a top-level await is not).
 */
function isScript(module: ModuleSource): boolean {
  return extname(module.realPath) !== '.mjs' && !('offset' in tryParse(module.text, 'script'));
}

/**
 * Parses `text` as Node would load the file: an `.mjs` file as an ES module, a `.cjs` file as a
 * script, any other first as a module and then, when that fails, as a script. When both fail, the
 * error reported is the one the parser reached later in the file: the way of reading that got
 * further is the one the file is written in.
 */
function parseSource(text: string, path: string): Parsed {
  const extension = extname(path);
  const asModule = extension === '.cjs' ? undefined : tryParse(text, 'module');
  if (asModule !== undefined && !('offset' in asModule)) return { kind: 'module', program: asModule };
  const asScript = extension === '.mjs' ? undefined : tryParse(text, 'script');
  if (asScript !== undefined && !('offset' in asScript)) return { kind: 'script', program: asScript };
  const errors = [asModule, asScript].filter(
    (error): error is ParseFailure => error !== undefined && 'offset' in error,
  );
  return { kind: 'error', error: errors.reduce((a, b) => (b.offset > a.offset ? b : a)) };
}

function tryParse(text: string, sourceType: 'module' | 'script'): Program | ParseFailure {
  try {
    // A CommonJS module body runs inside a function: a top-level return is allowed there.
    return parse(text, {
      ecmaVersion: 'latest',
      sourceType,
      allowHashBang: true,
      allowReturnOutsideFunction: sourceType === 'script',
    });
  } catch (error) {
    const { pos, loc, message } = error as {
      pos?: unknown;
      loc?: { line?: unknown; column?: unknown };
      message?: unknown;
    };
    if (typeof pos !== 'number' || typeof loc?.line !== 'number' || typeof loc.column !== 'number') {
      // Not a parse error (none is expected; acorn reports a stack overflow as one): the start of the file.
      return { offset: 0, line: 1, column: 1, reason: String(message) };
    }
    // acorn's columns are 0-based; its message ends with the position, said again here.
    return {
      offset: pos,
      line: loc.line,
      column: loc.column + 1,
      reason: String(message).replace(/ \(\d+:\d+\)$/, ''),
    };
  }
}

function isModuleDeclaration(node: Program['body'][number]): node is ModuleDeclaration {
  return (
    node.type === 'ImportDeclaration' ||
    node.type === 'ExportNamedDeclaration' ||
    node.type === 'ExportDefaultDeclaration' ||
    node.type === 'ExportAllDeclaration'
  );
}

/** An exported name: an identifier, or a string (`export { a as "a b" }`). */
function nameOf(node: Identifier | Literal): string {
  return node.type === 'Identifier' ? node.name : String(node.value);
}

/** The names a declaration binds (`const { a, b: [c], ...d } = ...` binds a, c and d). */
function bindingNames(pattern: Pattern, add: (name: string) => void): void {
  switch (pattern.type) {
    case 'Identifier':
      add(pattern.name);
      return;
    case 'ObjectPattern':
      for (const property of pattern.properties)
        bindingNames(property.type === 'RestElement' ? property.argument : property.value, add);
      return;
    case 'ArrayPattern':
      for (const element of pattern.elements) if (element !== null) bindingNames(element, add);
      return;
    case 'RestElement':
      bindingNames(pattern.argument, add);
      return;
    case 'AssignmentPattern':
      bindingNames(pattern.left, add);
      return;
    case 'MemberExpression':
      // Not a binding: a declaration cannot have one (only an assignment can).
      return;
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
