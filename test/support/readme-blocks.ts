import ts from 'typescript';

/**
 * The code blocks of a Markdown file (the README), with what the executable-README test needs:
 * where each block starts, its language, and the `<!-- snippet: ... -->` markers written on the
 * lines right above it.
 *
 * Markers (one or more lines directly above a fence, visible in the README source only):
 * - `<!-- snippet: run -->`: a TypeScript block that runs as a program (exit 0);
 *   `<!-- snippet: run, prints: first line | second line -->` also checks what it prints.
 * - `<!-- snippet: prelude: declare const bus: DefaultEventBus; -->`: code put before the block,
 *   for a fragment that uses names it does not declare (it may hold `import` lines of its own).
 * - `<!-- snippet: vitest -->`: a TypeScript block that is a test file, run with vitest.
 * - `<!-- snippet: app running -->`: a CLI block whose commands talk to a running app.
 * - `<!-- snippet: exit 1 -->`: the exit code a CLI block's commands end with, when the exit-code
 *   table does not decide it.
 * - `<!-- snippet: files test/fixtures/x -->`: a folder copied over the example before a CLI block
 *   runs (the edits its transcript shows the result of).
 * - `<!-- snippet: skip: reason -->`: a block that is only read, reported as skipped with the reason.
 */
export interface CodeBlock {
  /** The fence's info string's first word (`ts`, `sh`, `console`, ...), `''` for none. */
  readonly lang: string;
  /** 1-based line in the Markdown of the block's first line of code. */
  readonly line: number;
  readonly code: string;
  readonly markers: readonly Marker[];
}

export interface Marker {
  /** `run`, `prelude`, `vitest`, `app`, `exit`... (the marker's first word). */
  readonly name: string;
  /** What follows the name (after a `:` or a space), trimmed. */
  readonly value: string;
  /** The marker's line in the Markdown. */
  readonly line: number;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/;
const MARKER = /^\s*<!--\s*snippet:\s*([\s\S]*?)\s*-->\s*$/;

/** Every fenced code block of `markdown`, in order. An unclosed fence is an error naming its line. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent = '', fence = '', lang = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    if (j === lines.length) throw new Error(`README line ${i + 1}: a code fence that is never closed`);
    blocks.push({
      lang: lang.toLowerCase(),
      line: i + 2,
      code: `${body.join('\n')}\n`,
      markers: markersAbove(lines, i),
    });
    i = j;
  }
  return blocks;
}

function markersAbove(lines: readonly string[], fenceIndex: number): Marker[] {
  const markers: Marker[] = [];
  let end = fenceIndex - 1;
  while (end >= 0 && lines[end]!.trimEnd().endsWith('-->')) {
    // A marker may span lines: from `<!-- snippet:` down to `-->`.
    let start = end;
    while (start > 0 && !lines[start]!.includes('<!--')) start--;
    const match = MARKER.exec(lines.slice(start, end + 1).join('\n'));
    if (!match) break;
    const found = splitMarker(match[1]!).map((part) => {
      const name = /^[\w-]+/.exec(part)?.[0] ?? '';
      return { name, value: part.slice(name.length).replace(/^\s*:?\s*/, ''), line: start + 1 };
    });
    markers.unshift(...found);
    end = start - 1;
  }
  return markers;
}

/** `run, prints: a | b` is two markers; a `prelude:` takes the rest of the comment (code has commas). */
function splitMarker(text: string): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest !== '') {
    if (/^prelude\b/.test(rest)) return [...parts, rest];
    const comma = rest.indexOf(',');
    if (comma < 0) return [...parts, rest.trim()];
    parts.push(rest.slice(0, comma).trim());
    rest = rest.slice(comma + 1).trim();
  }
  return parts;
}

export function marker(block: CodeBlock, name: string): Marker | undefined {
  return block.markers.find((m) => m.name === name);
}

/** One name an `import` line brings in. */
export interface ImportedName {
  readonly module: string;
  /** The name as the module exports it (`default` for a default import, `*` for a namespace). */
  readonly imported: string;
  readonly local: string;
  readonly typeOnly: boolean;
  /** Where it was imported (README line), for a conflict message. */
  readonly line: number;
}

const parse = (code: string): ts.SourceFile =>
  ts.createSourceFile('block.ts', code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);

/** The names a TypeScript source imports. */
export function importsOf(code: string, line = 0): ImportedName[] {
  const names: ImportedName[] = [];
  for (const statement of parse(code).statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const module = statement.moduleSpecifier.text;
    const clause = statement.importClause;
    if (!clause) continue;
    const clauseTypeOnly = clause.isTypeOnly;
    if (clause.name)
      names.push({ module, imported: 'default', local: clause.name.text, typeOnly: clauseTypeOnly, line });
    const bindings = clause.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings))
      names.push({ module, imported: '*', local: bindings.name.text, typeOnly: clauseTypeOnly, line });
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) {
        names.push({
          module,
          imported: (element.propertyName ?? element.name).text,
          local: element.name.text,
          typeOnly: clauseTypeOnly || element.isTypeOnly,
          line,
        });
      }
    }
  }
  return names;
}

/**
 * The import pool: every name imported by any of the blocks, by local name. A name imported from two
 * different places is an error (a fragment could not know which one it means).
 */
export function importPool(blocks: readonly CodeBlock[]): Map<string, ImportedName> {
  const pool = new Map<string, ImportedName>();
  for (const block of blocks) {
    for (const name of importsOf(block.code, block.line)) {
      const known = pool.get(name.local);
      if (known && (known.module !== name.module || known.imported !== name.imported)) {
        throw new Error(
          `README line ${name.line} imports ${name.local} from '${name.module}', line ${known.line} from '${known.module}'`,
        );
      }
      // A value import wins over a type-only one: the fragment may use the name as a value.
      if (!known || (known.typeOnly && !name.typeOnly)) pool.set(name.local, name);
    }
  }
  return pool;
}

/** The identifiers a source refers to, leaving out property names and the names it declares. */
export function referencedNames(code: string): Set<string> {
  const used = new Set<string>();
  const declared = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) {
      const parent = node.parent;
      const isPropertyName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isQualifiedName(parent) && parent.right === node) ||
        ((ts.isPropertyAssignment(parent) ||
          ts.isMethodDeclaration(parent) ||
          ts.isPropertyDeclaration(parent) ||
          ts.isPropertySignature(parent) ||
          ts.isMethodSignature(parent)) &&
          parent.name === node) ||
        (ts.isBindingElement(parent) && parent.propertyName === node);
      const isDeclaration =
        (ts.isVariableDeclaration(parent) ||
          ts.isFunctionDeclaration(parent) ||
          ts.isClassDeclaration(parent) ||
          ts.isInterfaceDeclaration(parent) ||
          ts.isTypeAliasDeclaration(parent) ||
          ts.isParameter(parent) ||
          ts.isBindingElement(parent) ||
          ts.isImportSpecifier(parent) ||
          ts.isImportClause(parent) ||
          ts.isNamespaceImport(parent) ||
          ts.isEnumDeclaration(parent) ||
          ts.isTypeParameterDeclaration(parent)) &&
        (parent as { name?: ts.Node }).name === node;
      if (isDeclaration) declared.add(node.text);
      else if (!isPropertyName) used.add(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(parse(code));
  for (const name of declared) used.delete(name);
  return used;
}

/** `import` lines for the pool names `code` refers to and does not import itself, grouped by module. */
export function importsFor(code: string, pool: ReadonlyMap<string, ImportedName>): string {
  const own = new Set(importsOf(code).map((name) => name.local));
  const byModule = new Map<string, string[]>();
  for (const name of [...referencedNames(code)].sort()) {
    const found = pool.get(name);
    if (!found || own.has(name)) continue;
    const list = byModule.get(found.module) ?? [];
    if (found.imported === '*') {
      byModule.set(`${found.module}\0*${name}`, []);
      continue;
    }
    const prefix = found.typeOnly ? 'type ' : '';
    list.push(found.imported === found.local ? `${prefix}${name}` : `${prefix}${found.imported} as ${name}`);
    byModule.set(found.module, list);
  }
  const lines: string[] = [];
  for (const [key, list] of [...byModule].sort(([a], [b]) => a.localeCompare(b))) {
    const [module, namespace] = key.split('\0*');
    if (namespace !== undefined) lines.push(`import * as ${namespace} from '${module}';`);
    else lines.push(`import { ${list.join(', ')} } from '${module}';`);
  }
  return lines.join('\n');
}

/**
 * A TypeScript block as the module file the test compiles: its own code when it imports what it
 * needs; otherwise the pool's imports for the names it uses, then its `prelude` marker, then the
 * block. Returns the text and how many lines come before the block's first line (to map a
 * compiler error back to the README).
 */
export function moduleSource(
  block: CodeBlock,
  pool: ReadonlyMap<string, ImportedName>,
): { text: string; offset: number } {
  const prelude = marker(block, 'prelude')?.value ?? '';
  const head: string[] = [];
  if (importsOf(block.code).length === 0) {
    // The prelude's own imports count as the block's: importsFor leaves out what the source imports.
    const needed = importsFor(`${prelude}\n${block.code}`, pool);
    if (needed !== '') head.push(needed);
  }
  if (prelude !== '') head.push(prelude);
  head.push('export {};');
  const text = `${head.join('\n')}\n${block.code}`;
  return { text, offset: head.join('\n').split('\n').length };
}

/** A compiler diagnostic line (`src/readme/l119.ts(12,5): error TS2304: ...`), parsed. */
export const DIAGNOSTIC = /^(?<file>[^()\s]+)\((?<line>\d+),(?<column>\d+)\): (?<message>.*)$/;
