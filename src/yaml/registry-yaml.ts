import { resolve } from 'node:path';
import { messageOf } from '../common/errors.js';
import { FileBoundary } from '../common/file-boundary.js';
import { createEntry, createOwnedEntry, MAX_ENTRY_DEPTH, setEntrySource, type Entry } from '../entry/entry.js';
import { entrySource, FileOrigin } from './entry-origin.js';
import {
  forgetFile,
  keepOnlyFiles,
  lastCleanLoad,
  recallFile,
  rememberedRead,
  rememberedText,
  rememberFile,
  setLastLoad,
  type Declared,
  type RegistryYamlCache,
} from './registry-yaml-cache.js';
import { collectFiles, compare, readAll, tooLarge } from './registry-files.js';
import { analyse, entriesOf, type Analysis, type Declaration } from './registry-format.js';
import { limitsOf, type RegistryReadLimits, type RegistryYamlOptions } from './registry-yaml-limits.js';
import { RegistryYamlError, type RegistryYamlProblem } from './registry-yaml-problem.js';
import type { YamlPosition } from './source-map.js';
import { readProblems, withoutByteOrderMark } from './text-problems.js';
import { readYamlFast, YamlReadFailure, type DetailedRead, type YamlReadError } from './yaml-reader.js';
import { readYamlSubset } from './yaml-subset.js';

export { RegistryYamlError, type RegistryYamlProblem } from './registry-yaml-problem.js';
export { RegistryYamlCache } from './registry-yaml-cache.js';
export {
  DEFAULT_MAX_ALIAS_NODES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_EXPANDED_BYTES,
  DEFAULT_MAX_FILE_BYTES,
  type RegistryYamlLimits,
  type RegistryYamlOptions,
} from './registry-yaml-limits.js';

/** What {@link loadRegistryYaml} returns: every entry of every file, and the files read. */
export interface LoadedRegistry {
  /** Entries ordered by file path, then by their order in the file. */
  readonly entries: readonly Entry[];
  /** The files read, sorted; a directory contributes every `.yaml` / `.yml` file under it. */
  readonly files: readonly string[];
  /**
   * Each file's entries, in the order of {@link files}. With a `cache`, a file whose text did not
   * change since the last load gives the very array it gave then: a caller that compares by
   * identity looks only at the files that changed.
   */
  readonly fileEntries: ReadonlyMap<string, readonly Entry[]>;
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
  const entries = parseRegistryFile(text, file, { limits, declared: new Map(), problems });
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
  const texts = await readTexts(files, options, { maxBytes: limits.maxFileBytes, boundary }, problems);
  const cache = options.cache;
  if (cache !== undefined && problems.length === 0) {
    const changes = loadChanges(cache, files, texts, limits);
    if (changes !== undefined) return changes;
  }
  const declared = new Map<string, Declared>();
  const entries: Entry[] = [];
  const fileEntries = new Map<string, readonly Entry[]>();
  files.forEach((file, i) => {
    const text = texts[i];
    if (text === undefined) {
      // Unreadable now: read it again next time, whatever a watch says.
      if (cache !== undefined) forgetFile(cache, file);
      return;
    }
    // A file whose text is what it was, none of whose ids a file before it declares now, reads as before.
    const recalled = cache === undefined ? undefined : recallFile(cache, file, text, limits);
    if (recalled !== undefined && recalled.declared.every(([id]) => !declared.has(id))) {
      for (const [id, at] of recalled.declared) declared.set(id, at);
      for (const entry of recalled.entries) entries.push(entry);
      fileEntries.set(file, recalled.entries);
      return;
    }
    const before = problems.length;
    const read = parseRegistryFile(text, file, { limits, declared, problems });
    for (const entry of read) entries.push(entry);
    fileEntries.set(file, read);
    // A file with a problem is forgotten, so that it is read again until it reads clean.
    if (cache !== undefined && problems.length === before)
      rememberFile(cache, file, { text, limits, entries: read }, declared);
    else if (cache !== undefined) forgetFile(cache, file);
  });
  if (cache !== undefined) {
    keepOnlyFiles(cache, new Set(files));
    setLastLoad(cache, problems.length === 0 ? { files, declared } : undefined);
  }
  if (problems.length > 0) {
    // By file, keeping each file's own order (by position).
    const order = new Map([...new Set(problems.map((p) => p.file))].sort(compare).map((file, i) => [file, i]));
    problems.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0));
    throw new RegistryYamlError(problems);
  }
  return { entries, files, fileEntries };
}

/**
 * A load of the very files the cache's last clean load read, of which only some texts changed:
 * those files are read, each on its own, and their ids checked against what the others declare, so
 * that a save of one file of many costs that file. `undefined` when that does not settle it (a file
 * that no longer reads, a changed file with a problem, an id that two files declare): the whole load
 * then runs as without a cache and reports every problem.
 */
function loadChanges(
  cache: RegistryYamlCache,
  files: readonly string[],
  texts: readonly (string | undefined)[],
  limits: RegistryReadLimits,
): LoadedRegistry | undefined {
  const last = lastCleanLoad(cache);
  if (last === undefined || last.files.length !== files.length || last.files.some((file, i) => file !== files[i]))
    return undefined;
  const changed = new Map<string, string>();
  for (let i = 0; i < files.length; i++) {
    const file = files[i] as string;
    const text = texts[i];
    if (text === undefined) return undefined;
    if (recallFile(cache, file, text, limits) === undefined) changed.set(file, text);
  }
  const reads: { file: string; text: string; entries: Entry[]; declared: Map<string, Declared> }[] = [];
  const claimed = new Set<string>();
  for (const [file, text] of changed) {
    const problems: RegistryYamlProblem[] = [];
    const declared = new Map<string, Declared>();
    const entries = parseRegistryFile(text, file, { limits, declared, problems });
    if (problems.length > 0) return undefined;
    for (const id of declared.keys()) {
      // Declared by a file that did not change, or by another changed file: which one is first, and
      // so which is the duplicate, is the whole load's to say.
      const owner = last.declared.get(id);
      if (claimed.has(id) || (owner !== undefined && !changed.has(owner.file))) return undefined;
      claimed.add(id);
    }
    reads.push({ file, text, entries, declared });
  }
  // Settled: the changed files' ids of before give way to their ids of now.
  for (const { file } of reads) {
    for (const [id] of rememberedRead(cache, file)?.declared ?? [])
      if (last.declared.get(id)?.file === file) last.declared.delete(id);
  }
  for (const { file, text, entries, declared } of reads) {
    for (const [id, at] of declared) last.declared.set(id, at);
    rememberFile(cache, file, { text, limits, entries }, declared);
  }
  const entries: Entry[] = [];
  const fileEntries = new Map<string, readonly Entry[]>();
  for (const file of files) {
    const list = rememberedRead(cache, file)?.entries ?? [];
    fileEntries.set(file, list);
    for (const entry of list) entries.push(entry);
  }
  return { entries, files, fileEntries };
}

/**
 * The text of each file: read, or, for a file the cache remembers and `options.changedFiles` does
 * not name, the text it had (unread: the caller's watcher says it did not change).
 */
async function readTexts(
  files: readonly string[],
  options: RegistryYamlOptions,
  { maxBytes, boundary }: { maxBytes: number; boundary: FileBoundary | undefined },
  problems: RegistryYamlProblem[],
): Promise<(string | undefined)[]> {
  const { cache, changedFiles } = options;
  if (cache === undefined || changedFiles === undefined) return readAll(files, maxBytes, boundary, problems);
  const changed = new Set(changedFiles.map((file) => resolve(file)));
  const texts = files.map((file) => (changed.has(resolve(file)) ? undefined : rememberedText(cache, file)));
  const unread = files.filter((_, i) => texts[i] === undefined);
  const read = await readAll(unread, maxBytes, boundary, problems);
  let next = 0;
  return texts.map((text) => text ?? read[next++]);
}

/**
 * Parses one file's text into entries, appending its problems (already positioned) to `problems`.
 * The fast read is tried first; only a file with problems is read again with positions for every node.
 */
function parseRegistryFile(
  rawText: string,
  file: string,
  {
    limits,
    declared,
    problems,
  }: { limits: RegistryReadLimits; declared: Map<string, Declared>; problems: RegistryYamlProblem[] },
): Entry[] {
  const { text, problems: marks } = withoutByteOrderMark(rawText);
  if (marks.length > 0) {
    for (const mark of marks) problems.push({ file, ...mark });
    return [];
  }
  const origin = new FileOrigin(file, text, limits);
  let fastError: YamlReadError | undefined;
  let positions: ((entry: Declaration) => YamlPosition) | undefined;
  let analysis: Analysis | undefined;
  try {
    // Most registry files are plain enough for the subset reader; js-yaml reads the rest.
    const fast = readYamlSubset(text, limits) ?? readYamlFast(text, limits);
    analysis = analyse(fast.documents, limits, fast.expansion, fast.guarded === true);
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

  // A draft is the object that declared it: a duplicate is known by that object.
  const duplicates = new Set<Declaration>();
  for (const entry of analysis.declarations) {
    const at = positions(entry);
    const first = declared.get(entry.id);
    if (first !== undefined) {
      duplicates.add(entry);
      fileProblems.push({
        file,
        ...at,
        entryId: entry.id,
        message: `duplicate entry id "${entry.id}" (first declared at ${first.file}:${first.line}:${first.column})`,
      });
    } else {
      declared.set(entry.id, { file, line: at.line, column: at.column });
    }
  }

  const entries: Entry[] = [];
  // The composed documents are this function's alone: entries freeze them in place instead of
  // copying them, when the depth limit already keeps them within what an entry may nest.
  const owned = limits.maxDepth <= MAX_ENTRY_DEPTH;
  for (const draft of analysis.drafts) {
    if (duplicates.size > 0 && duplicates.has(draft)) continue;
    const at = positions(draft);
    const source = entrySource(origin, draft.document, draft.index, at);
    try {
      // createOwnedEntry reads the draft's four fields; createEntry gets an object of its own to carry the source.
      entries.push(
        owned
          ? createOwnedEntry(draft, source)
          : createEntry(setEntrySource({ id: draft.id, kind: draft.kind, meta: draft.meta, data: draft.data }, source)),
      );
    } catch (error) {
      // createEntry names the part it refused (details.path): point at it, not only at the entry.
      const path = (error as { details?: { path?: unknown } }).details?.path;
      const found = Array.isArray(path)
        ? origin.locateInEntry(draft.document, draft.index, path as (string | number)[])
        : undefined;
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
  const { sourceMap } = detailed;
  const out: RegistryYamlProblem[] = [];
  for (const problem of analysis.problems) {
    const at = sourceMap.locate(problem.document, problem.path, problem.target) ?? { line: 1, column: 1 };
    out.push(withEntryId({ file, line: at.line, column: at.column, message: problem.message }, problem.entryId));
  }
  for (const problem of readProblems(detailed)) out.push({ file, ...problem });
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
