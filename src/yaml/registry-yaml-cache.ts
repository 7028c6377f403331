import type { Entry } from '../entry/entry.js';
import type { YamlReadLimits } from './yaml-reader.js';

/** The limits a file was read under (registry-yaml-limits' RegistryReadLimits). */
type RegistryReadLimits = YamlReadLimits & { readonly maxFileBytes: number };

/** Where an entry id was declared: its file and the position of its item. */
export interface Declared {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** What one file read into, kept for as long as its text stays the same. */
export interface FileRead {
  readonly text: string;
  readonly limits: string;
  readonly entries: readonly Entry[];
  readonly declared: readonly (readonly [string, Declared])[];
}

/**
 * What each registry file read into, so that the next {@link loadRegistryYaml} with the same cache
 * reads again only the files whose text changed: a watcher that reloads after one file of many was
 * saved pays for that file, not for the whole registry. A file is remembered only when it read
 * without a problem; one whose ids another file now declares first is read again, so that every
 * problem is reported as a load without the cache reports it. After a load that read clean, the next
 * load of the same files reads only the changed ones and checks their ids against where the others
 * declared theirs, falling back to the whole load when that cannot settle it. The cache holds each
 * file's text and its entries (which the registry holds anyway); files no longer loaded are forgotten.
 *
 * @example
 * const cache = new RegistryYamlCache();
 * await loadRegistryYaml('registry/', { cache }); // reads every file
 * await loadRegistryYaml('registry/', { cache }); // reads only the files that changed
 */
export class RegistryYamlCache {
  /** How many files the cache remembers. */
  get size(): number {
    return filesOf(this).size;
  }
}

/** A load that read every file clean: its files in order, and where each id was declared. */
export interface CleanLoad {
  readonly files: readonly string[];
  readonly declared: Map<string, Declared>;
}

/** What a cache holds, out of its public shape. */
interface Store {
  readonly files: Map<string, FileRead>;
  /** The last load, when it read clean: a next load of the same files need only look at what changed. */
  last: CleanLoad | undefined;
}

const stores = new WeakMap<RegistryYamlCache, Store>();

function storeOf(cache: RegistryYamlCache): Store {
  let store = stores.get(cache);
  if (store === undefined) stores.set(cache, (store = { files: new Map<string, FileRead>(), last: undefined }));
  return store;
}

function filesOf(cache: RegistryYamlCache): Map<string, FileRead> {
  return storeOf(cache).files;
}

/** The last load with this cache, if it read clean. */
export function lastCleanLoad(cache: RegistryYamlCache): CleanLoad | undefined {
  return storeOf(cache).last;
}

/** Records the outcome of a load: clean (its files and declared ids), or not (`undefined`). */
export function setLastLoad(cache: RegistryYamlCache, load: CleanLoad | undefined): void {
  storeOf(cache).last = load;
}

/** What `file` read into last, whatever its text is now. */
export function rememberedRead(cache: RegistryYamlCache, file: string): FileRead | undefined {
  return filesOf(cache).get(file);
}

/** What `file` read into when its text and the limits were the same, if `cache` remembers it. */
export function recallFile(
  cache: RegistryYamlCache,
  file: string,
  text: string,
  limits: RegistryReadLimits,
): FileRead | undefined {
  const read = filesOf(cache).get(file);
  return read !== undefined && read.text === text && read.limits === keyOf(limits) ? read : undefined;
}

/** The text `file` had when `cache` remembered it. */
export function rememberedText(cache: RegistryYamlCache, file: string): string | undefined {
  return filesOf(cache).get(file)?.text;
}

/** Remembers a file that read without a problem, with where each of its ids was declared. */
export function rememberFile(
  cache: RegistryYamlCache,
  file: string,
  read: { readonly text: string; readonly limits: RegistryReadLimits; readonly entries: readonly Entry[] },
  declared: ReadonlyMap<string, Declared>,
): void {
  const positions = read.entries.map((entry) => [entry.id, declared.get(entry.id) as Declared] as const);
  filesOf(cache).set(file, { text: read.text, limits: keyOf(read.limits), entries: read.entries, declared: positions });
}

/** Forgets `file`: the next load reads it. */
export function forgetFile(cache: RegistryYamlCache, file: string): void {
  filesOf(cache).delete(file);
}

/** Forgets what is not in `files` (files removed, or that no longer read). */
export function keepOnlyFiles(cache: RegistryYamlCache, files: ReadonlySet<string>): void {
  const remembered = filesOf(cache);
  for (const file of remembered.keys()) if (!files.has(file)) remembered.delete(file);
}

function keyOf(limits: RegistryReadLimits): string {
  return `${limits.maxFileBytes}/${limits.maxDepth}/${limits.maxAliasNodes}/${limits.maxExpandedBytes}`;
}
