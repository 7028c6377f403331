import { readdir, realpath, stat } from 'node:fs/promises';
import { findInvalidUtf8, type Utf8Position } from '../common/utf8.js';
import { extname, join, resolve } from 'node:path';
import { KindlingError, messageOf } from '../common/errors.js';
import { FileBoundary } from '../common/file-boundary.js';
import { FileAccessError } from '../common/file-access-error.js';
import { readBoundedFile } from '../common/read-bounded-file.js';
import { assertValidKind, dependencyProblem, isPlainDependency, isValidNamespace, NAME_RULE, nameProblem, parseEntryId } from '../entry/entry-id.js';
import { createEntry, setEntrySource, type Entry, type EntrySource } from '../entry/entry.js';
import { escapeInvisible, quote, show } from '../common/visible-text.js';
import { positionAt, type Expansion } from './expansion-meter.js';
import type { YamlPath, YamlPathTarget, YamlPosition } from './source-map.js';
import { YamlGuard } from './yaml-guard.js';
import {
  readYamlDetailed,
  readYamlFast,
  RefusedNumber,
  refusedNumberMessage,
  displayTag,
  RefusedTag,
  refusedTagMessage,
  YamlReadFailure,
  type DetailedRead,
  type YamlReadError,
  type YamlReadLimits,
} from './yaml-reader.js';

/** What {@link loadRegistryYaml} returns: every entry of every file, and the files read. */
export interface LoadedRegistry {
  /** Entries ordered by file path, then by their order in the file. */
  readonly entries: readonly Entry[];
  /** The files read, sorted; a directory contributes every `.yaml` / `.yml` file under it. */
  readonly files: readonly string[];
}

/** One problem of a registry file, with the 1-based line and column it concerns. */
export interface RegistryYamlProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** The id of the entry concerned, when it is known. */
  readonly entryId?: string;
}

/**
 * Limits of registry YAML ({@link loadRegistryYaml}, {@link parseRegistryYaml}); the defaults suit
 * any real registry. An app sets them in its boot manifest, under `allow.yaml`.
 */
export interface RegistryYamlLimits {
  /** Largest file accepted, in bytes. Default 16 MiB. */
  readonly maxFileBytes?: number;
  /** Deepest nesting of maps and lists in a document (its root collection is level 1). Default 64. */
  readonly maxDepth?: number;
  /**
   * Most nodes that aliases and merge keys (and the file-level meta copied into each entry) may add to
   * one file, counted with repetition. Default 1,000,000.
   */
  readonly maxAliasNodes?: number;
  /**
   * Most characters of strings (keys and values) one file may hold once every alias, merge key and
   * copy of the file-level meta is expanded, counted as string length (one per UTF-16 code unit: one
   * byte for ASCII text). Default four times `maxFileBytes` (64 MiB with its default): a file
   * without aliases never composes more text than it holds, so this leaves room for generous sharing
   * while every entry's JSON stays far below what one JavaScript string can hold.
   */
  readonly maxExpandedBytes?: number;
}

/** Options of {@link loadRegistryYaml} and {@link parseRegistryYaml}: the limits, and where the files must be. */
export interface RegistryYamlOptions extends RegistryYamlLimits {
  /**
   * Where the files must be (for {@link loadRegistryYaml}): a directory, or a {@link FileBoundary}
   * that opts more directories in. Every path given, found in a directory or reached through a
   * symbolic link must resolve inside it, or it is refused without being read. Unset, files are read
   * wherever they are (for paths the caller trusts); the CLI and `Application` always set it to the
   * app's root.
   */
  readonly root?: string | FileBoundary;
}

/** The default of {@link RegistryYamlOptions.maxFileBytes}: 16 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;
/** The default of {@link RegistryYamlOptions.maxDepth}. */
export const DEFAULT_MAX_DEPTH = 64;
/** The default of {@link RegistryYamlOptions.maxAliasNodes}. */
export const DEFAULT_MAX_ALIAS_NODES = 1_000_000;
/** {@link RegistryYamlOptions.maxExpandedBytes} is this many times `maxFileBytes` unless given. */
const EXPANDED_BYTES_PER_FILE_BYTE = 4;
/** The default of {@link RegistryYamlOptions.maxExpandedBytes} with the default `maxFileBytes`: 64 MiB. */
export const DEFAULT_MAX_EXPANDED_BYTES = EXPANDED_BYTES_PER_FILE_BYTE * DEFAULT_MAX_FILE_BYTES;

/**
 * Every problem of a registry load at once (code `INVALID`); the message lists each as
 * `file:line:col: message`.
 */
export class RegistryYamlError extends KindlingError {
  readonly problems: RegistryYamlProblem[];

  constructor(problems: readonly RegistryYamlProblem[]) {
    // A message never hides its cause: invisible and control characters (from keys, values, the
    // parser's own words or a file name) are shown escaped.
    const visible = problems.map((p) => ({ ...p, message: escapeInvisible(p.message) }));
    super('INVALID', formatProblems(visible), { details: { problems: visible } });
    this.problems = visible;
  }
}

function formatProblems(problems: readonly RegistryYamlProblem[]): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const lines = problems.map((p) => `  ${escapeInvisible(p.file)}:${p.line}:${p.column}: ${p.message}`);
  return `invalid registry YAML (${count}):\n${lines.join('\n')}`;
}

/**
 * Reads one registry file's text (every document of it) into entries, or throws a
 * {@link RegistryYamlError} listing every problem of the text.
 *
 * @example
 * const entries = parseRegistryYaml('namespace: app\nentries:\n  - { name: hello, kind: function.js }\n', 'app.yaml');
 */
export function parseRegistryYaml(text: string, file: string, options: RegistryYamlOptions = {}): Entry[] {
  const limits = limitsOf(options);
  const problems: RegistryYamlProblem[] = [];
  const size = Buffer.byteLength(text, 'utf8');
  if (size > limits.maxFileBytes) {
    throw new RegistryYamlError([tooLarge(file, size, limits.maxFileBytes)]);
  }
  const entries = parseRegistryFile(text, file, limits, new Map(), problems);
  if (problems.length > 0) throw new RegistryYamlError(problems);
  return entries;
}

/**
 * Loads registry YAML from files and directories (recursively, `.yaml` and `.yml`, in sorted order) and
 * returns every entry; when anything is wrong, throws one {@link RegistryYamlError} that lists every
 * problem of every file with `file:line:col`. A file named explicitly is read whatever its extension.
 * Only regular files are read (a FIFO, a device or a socket is refused unread), and with a `root`,
 * only files inside it.
 *
 * @example
 * const { entries, files } = await loadRegistryYaml(['registry/', 'extra/tools.yml']);
 * await registry.apply(entries.map((entry) => ({ op: 'create', entry })));
 */
export async function loadRegistryYaml(
  paths: string | readonly string[],
  options: RegistryYamlOptions = {},
): Promise<LoadedRegistry> {
  const limits = limitsOf(options);
  const problems: RegistryYamlProblem[] = [];
  const boundary = typeof options.root === 'string' ? new FileBoundary(options.root) : options.root;
  const files = await collectFiles(typeof paths === 'string' ? [paths] : paths, boundary, problems);
  const texts = await readAll(files, limits.maxFileBytes, boundary, problems);
  const declared = new Map<string, Declared>();
  const entries: Entry[] = [];
  files.forEach((file, i) => {
    const text = texts[i];
    if (text === undefined) return;
    for (const entry of parseRegistryFile(text, file, limits, declared, problems)) entries.push(entry);
  });
  if (problems.length > 0) {
    // By file, keeping each file's own order (by position).
    const order = new Map([...new Set(problems.map((p) => p.file))].sort(compare).map((file, i) => [file, i]));
    problems.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0));
    throw new RegistryYamlError(problems);
  }
  return { entries, files };
}

// ---------------------------------------------------------------------------------------------
// Files and directories

async function collectFiles(paths: readonly string[], boundary: FileBoundary | undefined, problems: RegistryYamlProblem[]): Promise<string[]> {
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function readAll(
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
            ? { file, line: error.at.line, column: error.at.column, message: 'the file is not valid UTF-8 here (registry YAML must be UTF-8)' }
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
  const { bytes } = await readBoundedFile(file, { maxBytes, limitName: 'maxFileBytes', ...(boundary === undefined ? {} : { boundary }) });
  const bad = findInvalidUtf8(bytes);
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

function fileProblem(file: string, message: string): RegistryYamlProblem {
  return { file, line: 1, column: 1, message };
}

function tooLarge(file: string, size: number, maxBytes: number): RegistryYamlProblem {
  return fileProblem(file, `file is ${size} bytes, more than the limit of ${maxBytes} (maxFileBytes)`);
}

function limitsOf(options: RegistryYamlOptions): YamlReadLimits & { readonly maxFileBytes: number } {
  const positive = (value: number | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new KindlingError('INVALID', `${name} must be a positive integer, got ${String(value)}`);
    }
    return value;
  };
  const maxFileBytes = positive(options.maxFileBytes, DEFAULT_MAX_FILE_BYTES, 'maxFileBytes');
  return {
    maxFileBytes,
    maxDepth: positive(options.maxDepth, DEFAULT_MAX_DEPTH, 'maxDepth'),
    maxAliasNodes: positive(options.maxAliasNodes, DEFAULT_MAX_ALIAS_NODES, 'maxAliasNodes'),
    maxExpandedBytes: positive(options.maxExpandedBytes, EXPANDED_BYTES_PER_FILE_BYTE * maxFileBytes, 'maxExpandedBytes'),
  };
}

// ---------------------------------------------------------------------------------------------
// One file

/** Where an id was first declared, to point at both declarations of a duplicate. */
interface Declared {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A problem found in a document, before it has a position. */
interface PathProblem {
  readonly document: number;
  readonly path: YamlPath;
  readonly target: YamlPathTarget;
  readonly message: string;
  readonly entryId?: string;
}

/** An entry that passed every check of its document, waiting for its position and createEntry. */
interface Draft {
  readonly document: number;
  readonly index: number;
  readonly id: string;
  readonly kind: string;
  readonly meta: Record<string, unknown>;
  readonly data: unknown;
}

/** An entry whose id is known, checked for duplicates whatever else is wrong with it. */
interface Declaration {
  readonly document: number;
  readonly index: number;
  readonly id: string;
}

interface Analysis {
  readonly declarations: Declaration[];
  readonly drafts: Draft[];
  readonly problems: PathProblem[];
}

/**
 * Parses one file's text into entries, appending its problems (already positioned) to `problems`.
 * The fast read is tried first; only a file with problems is read again with positions for every node.
 */
function parseRegistryFile(
  rawText: string,
  file: string,
  limits: YamlReadLimits,
  declared: Map<string, Declared>,
  problems: RegistryYamlProblem[],
): Entry[] {
  // js-yaml drops a byte order mark before parsing; dropping it here keeps offsets aligned.
  const text = rawText.charCodeAt(0) === 0xfeff ? rawText.slice(1) : rawText;
  if (text.includes('\uFEFF')) {
    problems.push(...byteOrderMarks(file, text));
    return [];
  }
  const origin = new FileOrigin(file, text, limits);
  let fastError: YamlReadError | undefined;
  let positions: ((entry: Declaration) => YamlPosition) | undefined;
  let analysis: Analysis | undefined;
  try {
    const fast = readYamlFast(text, limits);
    analysis = analyse(fast.documents, limits, fast.expansion);
    if (analysis.problems.length === 0) {
      const starts = fast.documents.map((document) => {
        const list = entriesOf(document);
        const found = list === undefined ? undefined : fast.itemStarts.get(list);
        return found !== undefined && found.length === list?.length ? found : undefined;
      });
      if (analysis.declarations.every((entry) => starts[entry.document] !== undefined)) {
        positions = (entry) => starts[entry.document]?.[entry.index] as YamlPosition;
      }
    }
  } catch (thrown) {
    if (!(thrown instanceof YamlReadFailure)) throw thrown;
    fastError = thrown.error;
  }

  const fileProblems: RegistryYamlProblem[] = [];
  if (positions === undefined || analysis === undefined) {
    // The slow path: read again recording every node's position, and find every problem with it.
    const detailed = origin.detailed();
    const sourceMap = detailed.sourceMap;
    analysis = analyse(detailed.documents, limits, detailed.expansion);
    fileProblems.push(...positionedProblems(file, detailed, analysis, fastError));
    positions = (entry) => sourceMap.locate(entry.document, ['entries', entry.index]) ?? { line: 1, column: 1 };
  }

  const duplicates = new Set<string>();
  for (const entry of analysis.declarations) {
    const at = positions(entry);
    const first = declared.get(entry.id);
    if (first !== undefined) {
      duplicates.add(`${entry.document}:${entry.index}`);
      fileProblems.push({
        file,
        ...at,
        entryId: entry.id,
        message: `duplicate entry id "${entry.id}" (first declared at ${first.file}:${first.line}:${first.column})`,
      });
    } else {
      declared.set(entry.id, { file, ...at });
    }
  }

  const entries: Entry[] = [];
  for (const draft of analysis.drafts) {
    if (duplicates.has(`${draft.document}:${draft.index}`)) continue;
    const at = positions(draft);
    const source = entrySource(origin, draft.document, draft.index, at);
    try {
      entries.push(
        createEntry(setEntrySource({ id: draft.id, kind: draft.kind, meta: draft.meta, data: draft.data }, source)),
      );
    } catch (error) {
      // createEntry names the part it refused (details.path): point at it, not only at the entry.
      const path = (error as { details?: { path?: unknown } }).details?.path;
      const found = Array.isArray(path) ? origin.locateInEntry(draft.document, draft.index, path as (string | number)[]) : undefined;
      fileProblems.push({ file, ...(found ?? at), entryId: draft.id, message: messageOf(error) });
    }
  }
  fileProblems.sort((a, b) => a.line - b.line || a.column - b.column);
  // The same refusal can be found twice (a tag by the guard and by the source map): report it once.
  const reported = new Set<string>();
  for (const problem of fileProblems) {
    const key = `${problem.line}:${problem.column}:${problem.message}`;
    if (reported.has(key)) continue;
    reported.add(key);
    problems.push(problem);
  }
  return entries;
}

/** Every problem of a file read in detail, with its position. */
function positionedProblems(
  file: string,
  detailed: DetailedRead,
  analysis: Analysis,
  fastError: YamlReadError | undefined,
): RegistryYamlProblem[] {
  const { sourceMap, error } = detailed;
  const out: RegistryYamlProblem[] = [];
  for (const problem of analysis.problems) {
    const at = sourceMap.locate(problem.document, problem.path, problem.target) ?? { line: 1, column: 1 };
    out.push(withEntryId({ file, line: at.line, column: at.column, message: problem.message }, problem.entryId));
  }
  for (const { key, first, second } of sourceMap.duplicateKeys()) {
    out.push({ file, ...second, message: `duplicate key ${quote(key)} (first at line ${first.line}, column ${first.column})` });
  }
  // Also a tagged value (or a refused number) that a later duplicate key replaced, which the guard never saw.
  for (const { value, position } of sourceMap.findValues((v): v is RefusedTag | RefusedNumber => v instanceof RefusedTag || v instanceof RefusedNumber)) {
    out.push({ file, ...position, message: value instanceof RefusedTag ? refusedTagMessage(value) : refusedNumberMessage(value) });
  }
  if (error !== undefined) out.push({ file, ...error.position, message: error.message });
  // Both reads run the same parser with the same limits; should the detailed one accept what the fast
  // one refused, the refusal still stands.
  if (out.length === 0 && fastError !== undefined) {
    out.push({ file, ...fastError.position, message: fastError.message });
  }
  return out;
}

function withEntryId(problem: RegistryYamlProblem, entryId: string | undefined): RegistryYamlProblem {
  return entryId === undefined ? problem : { ...problem, entryId };
}

function entriesOf(document: unknown): unknown[] | undefined {
  if (!isPlainObject(document)) return undefined;
  const list = document['entries'];
  return Array.isArray(list) ? list : undefined;
}

/**
 * A file's text, kept so that positions can be computed when first asked for: the detailed read runs at
 * most once per file, whether for its problems or for the `locate` of its entries.
 */
class FileOrigin {
  private read: DetailedRead | undefined;

  constructor(
    readonly file: string,
    private readonly text: string,
    private readonly limits: YamlReadLimits,
  ) {}

  detailed(): DetailedRead {
    this.read ??= readYamlDetailed(this.text, this.limits);
    return this.read;
  }

  /**
   * Maps a path under an entry to the node that holds it in the file: `data` paths to the `data:`
   * mapping or, for inline fields, to the entry's own keys; `meta` paths to the entry's meta or, for a
   * key it inherits, to the file-level meta; `id`/`name` and `kind` to those fields.
   */
  locateInEntry(document: number, index: number, path: readonly (string | number)[]): YamlPosition | undefined {
    const map = this.detailed().sourceMap;
    const entry = ['entries', index] as const;
    const has = (at: YamlPath): boolean => map.has(document, at);
    const [head, ...rest] = path;
    let target: YamlPath;
    switch (head) {
      case 'data':
        target = has([...entry, 'data']) ? [...entry, 'data', ...rest] : [...entry, ...rest];
        break;
      case 'meta': {
        const key = rest[0];
        if (key !== undefined && has([...entry, 'meta', key])) target = [...entry, 'meta', ...rest];
        else if (key !== undefined && has(['meta', key])) target = ['meta', ...rest];
        else target = has([...entry, 'meta']) ? [...entry, 'meta'] : entry;
        break;
      }
      case 'id':
      case 'name':
        target = [...entry, 'name'];
        break;
      case 'kind':
        target = [...entry, 'kind'];
        break;
      default:
        target = entry;
    }
    return map.locate(document, target);
  }
}

/** Where an entry was declared; `locate` is computed on first use (see {@link FileOrigin}). */
function entrySource(origin: FileOrigin, document: number, index: number, at: YamlPosition): EntrySource {
  return {
    file: origin.file,
    line: at.line,
    column: at.column,
    locate: (path) => {
      const found = origin.locateInEntry(document, index, path);
      return found === undefined ? undefined : { line: found.line, column: found.column };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The format

const TOP_LEVEL_KEYS = new Set(['namespace', 'meta', 'entries']);
const ENTRY_KEYS = new Set(['name', 'kind', 'meta', 'data']);

/** The meta of an entry or file that has none; never handed out to be changed. */
const EMPTY: Record<string, unknown> = Object.freeze({});

function hasOwn(value: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(value, key);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A composed value in a message; a refused number or tag reads as written (its refusal comes with it). */
function describe(value: unknown): string {
  if (value instanceof RefusedNumber) return value.text;
  if (value instanceof RefusedTag) return `a value tagged ${displayTag(value.tag)}`;
  return show(value);
}

/** Checks every document of a file against the registry format and drafts the entries of the good ones. */
function analyse(documents: readonly unknown[], limits: YamlReadLimits, expansion: Expansion): Analysis {
  const guard = new YamlGuard(limits, expansion);
  const analysis: Analysis = { declarations: [], drafts: [], problems: [] };
  documents.forEach((document, index) => {
    const guarded = guard.inspect(document);
    for (const problem of guarded) analysis.problems.push({ document: index, ...problem });
    analyseDocument(document, index, guarded.length === 0 ? guard : undefined, analysis);
  });
  return analysis;
}

function analyseDocument(
  document: unknown,
  index: number,
  guard: YamlGuard | undefined,
  { declarations, drafts, problems }: Analysis,
): void {
  const problem = (path: YamlPath, message: string, target: YamlPathTarget = 'value', entryId?: string): void => {
    problems.push(entryId === undefined ? { document: index, path, target, message } : { document: index, path, target, message, entryId });
  };
  // A document with nothing in it (an empty file, `---` alone, only comments) declares nothing.
  if (document === null || document === undefined) return;
  if (!isPlainObject(document)) {
    problem([], `a registry document must be a mapping with namespace and entries, got ${describe(document)}`);
    return;
  }
  const keys = Object.keys(document);
  if (keys.length === 0) return;
  for (const key of keys) {
    if (!TOP_LEVEL_KEYS.has(key) && !key.startsWith('x-')) {
      problem([key], `unknown key ${quote(key)} (a registry document has namespace, meta and entries; x-* keys are free)`, 'key');
    }
  }

  const namespaceValue = document['namespace'];
  let namespace: string | undefined;
  if (namespaceValue === undefined) {
    problem([], 'namespace is required (dotted words such as "app.http")');
  } else if (typeof namespaceValue !== 'string' || !isValidNamespace(namespaceValue)) {
    problem(['namespace'], `namespace must be dotted words such as "app.http", got ${describe(namespaceValue)} (ASCII letters, digits, _ and -, each word starting with a letter or _; "ns" and "group" are reserved)`);
  } else {
    namespace = namespaceValue;
  }

  let fileMeta: Record<string, unknown> = EMPTY;
  const metaValue = document['meta'];
  if (isPlainObject(metaValue) && Object.keys(metaValue).length > 0) fileMeta = metaValue;
  else if (metaValue !== undefined && metaValue !== null) {
    problem(['meta'], `meta must be a mapping, got ${describe(metaValue)}`);
  }

  const list = document['entries'];
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) {
    problem(['entries'], `entries must be a list, got ${describe(list)}`);
    return;
  }
  if (guard !== undefined && fileMeta !== EMPTY) {
    const copies = guard.chargeCopies(fileMeta, list.length - 1, ['meta']);
    if (copies !== undefined) {
      problems.push({ document: index, ...copies });
      guard = undefined;
    }
  }

  list.forEach((item: unknown, i) => {
    const at: YamlPath = ['entries', i];
    if (!isPlainObject(item)) {
      problem(at, `an entry must be a mapping with name and kind, got ${describe(item)}`);
      return;
    }
    const failures = problems.length;
    const name = checkName(item, at, problem);
    let id: string | undefined;
    if (name !== undefined && namespace !== undefined) {
      try {
        parseEntryId(`${namespace}:${name}`);
        id = `${namespace}:${name}`;
        declarations.push({ document: index, index: i, id });
      } catch (error) {
        problem([...at, 'name'], messageOf(error));
      }
    }
    const label = (): string => (id === undefined ? `entry ${i + 1}` : `entry ${id}`);

    const kind = item['kind'];
    if (kind === undefined) {
      problem(at, `${label()} has no kind`, 'value', id);
    } else if (!(kind instanceof RefusedTag || kind instanceof RefusedNumber)) {
      // A refused tag or number is reported by the guard already.
      try {
        assertValidKind(kind, id);
      } catch (error) {
        problem([...at, 'kind'], messageOf(error), 'value', id);
      }
    }

    const ownMetaValue = item['meta'];
    let ownMeta: Record<string, unknown> = EMPTY;
    if (isPlainObject(ownMetaValue)) ownMeta = ownMetaValue;
    else if (ownMetaValue !== undefined && ownMetaValue !== null) {
      problem([...at, 'meta'], `meta of ${label()} must be a mapping, got ${describe(ownMetaValue)}`, 'value', id);
    }

    const inline: string[] = [];
    for (const key in item) if (hasOwn(item, key) && !ENTRY_KEYS.has(key)) inline.push(key);
    const hasData = hasOwn(item, 'data');
    if (hasData && inline.length > 0) {
      problem(
        [...at, inline[0] as string],
        `${label()} has both data and inline fields (${inline.join(', ')}); move them under data`,
        'key',
        id,
      );
    }

    // Entry keys win over the file's meta; references take the file's namespace. The values read are
    // never changed in place (an alias may share them): createEntry copies them.
    let meta = fileMeta === EMPTY ? ownMeta : ownMeta === EMPTY ? fileMeta : { ...fileMeta, ...ownMeta };
    if (hasOwn(meta, 'depends_on') && namespace !== undefined) {
      const where: YamlPath = hasOwn(ownMeta, 'depends_on') ? [...at, 'meta', 'depends_on'] : ['meta', 'depends_on'];
      const resolved = resolveDependsOn(meta['depends_on'], namespace, where, label, problem, id);
      if (resolved !== undefined) meta = { ...meta, depends_on: resolved };
    }

    if (problems.length > failures || guard === undefined || id === undefined || typeof kind !== 'string') return;
    const data = hasData ? item['data'] : inline.length > 0 ? Object.fromEntries(inline.map((key) => [key, item[key]])) : undefined;
    drafts.push({ document: index, index: i, id, kind, meta, data });
  });
}

type Report = (path: YamlPath, message: string, target?: YamlPathTarget, entryId?: string) => void;

function checkName(item: Record<string, unknown>, at: YamlPath, problem: Report): string | undefined {
  const name = item['name'];
  if (name === undefined) {
    problem(at, 'entry has no name');
    return undefined;
  }
  if (typeof name !== 'string') {
    const hint = typeof name === 'number' || typeof name === 'boolean' ? ` (quote it: "${String(name)}")` : '';
    problem([...at, 'name'], `name must be a string, got ${describe(name)}${hint}`);
    return undefined;
  }
  if (name.length === 0) {
    problem([...at, 'name'], 'name must not be empty');
    return undefined;
  }
  if (name.includes(':')) {
    problem([...at, 'name'], `name ${quote(name)} must not contain ":" (the namespace comes from the file)`);
    return undefined;
  }
  const bad = nameProblem(name);
  if (bad !== undefined) {
    problem([...at, 'name'], `name ${quote(name)} is not valid: ${bad} (${NAME_RULE})`);
    return undefined;
  }
  return name;
}

function resolveDependsOn(
  value: unknown,
  namespace: string,
  where: YamlPath,
  label: () => string,
  problem: Report,
  id: string | undefined,
): string | string[] | undefined {
  // Before the entry's own name is known to be valid, a reference is checked against a stand-in id
  // (no reference can name it), so that its other problems are still reported.
  const self = id ?? `${namespace}:`;
  const check = (ref: unknown, at: YamlPath): string | undefined => {
    if (typeof ref !== 'string') {
      problem(at, `meta.depends_on of ${label()} must list names, got ${describe(ref)}`, 'value', id);
      return undefined;
    }
    const bad = isPlainDependency(ref, self) ? undefined : dependencyProblem(ref, self);
    if (bad !== undefined) {
      problem(at, `meta.depends_on of ${label()}: ${quote(ref)} ${bad}`, 'value', id);
      return undefined;
    }
    return ref.includes(':') ? ref : `${namespace}:${ref}`;
  };
  if (typeof value === 'string') return check(value, where);
  if (!Array.isArray(value)) {
    problem(where, `meta.depends_on of ${label()} must be a name or a list of names, got ${describe(value)}`, 'value', id);
    return undefined;
  }
  const out: string[] = [];
  value.forEach((ref: unknown, i) => {
    const resolved = check(ref, [...where, i]);
    if (resolved !== undefined) out.push(resolved);
  });
  return out.length === value.length ? out : undefined;
}

/** Every byte order mark after the start of a text, refused: it would become an invisible part of a key or value. */
function byteOrderMarks(file: string, text: string): RegistryYamlProblem[] {
  const found: RegistryYamlProblem[] = [];
  let skipped = 0;
  for (let at = text.indexOf('\uFEFF'); at >= 0; at = text.indexOf('\uFEFF', at + 1)) {
    if (found.length === MAX_BOM_REPORTS) {
      skipped += 1;
      continue;
    }
    found.push({
      file,
      ...positionAt(text, at),
      message:
        'a byte order mark (U+FEFF) may only start the file; here it would become an invisible part of the text (files joined together?): remove it, or write "\\uFEFF" in a double-quoted string',
    });
  }
  if (skipped > 0) {
    const last = found[found.length - 1] as RegistryYamlProblem;
    found[found.length - 1] = { ...last, message: `${last.message} (and ${skipped} more after this one)` };
  }
  return found;
}

/** Byte order marks reported one by one before the rest are only counted. */
const MAX_BOM_REPORTS = 10;
