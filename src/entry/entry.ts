import { deepFreeze, FORBIDDEN_KEYS } from '../common/deep-freeze.js';
import { KindlingError } from '../common/errors.js';
import { assertValidKind, parseEntryId } from './entry-id.js';

/** Attributes of an entry: `depends_on`, `groups`, `source`, and anything a component reads. */
export type EntryMeta = Readonly<Record<string, unknown>>;

/**
 * One declared part of an application. Stored entries are deep-frozen: readers never see a change
 * in place.
 */
export interface Entry<D = unknown> {
  readonly id: string;
  readonly kind: string;
  readonly meta: EntryMeta;
  readonly data: D;
}

/** Where an entry was declared, for error messages. */
export interface EntrySource {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Finds the position of a path under the entry (`['data', 'routes', 0]`), when known. */
  readonly locate?: (path: readonly (string | number)[]) => { line: number; column: number } | undefined;
}

const SOURCE = Symbol.for('kindling.entry.source');
const CANONICAL = new WeakSet<object>();

/** The declaration site of an entry, when it came from a file. */
export function getEntrySource(entry: object): EntrySource | undefined {
  return (entry as { [SOURCE]?: EntrySource })[SOURCE];
}

/** Attaches a declaration site to an entry object (a hidden, non-enumerable property). */
export function setEntrySource<T extends object>(entry: T, source: EntrySource | undefined): T {
  if (source !== undefined && !Object.isFrozen(entry)) {
    Object.defineProperty(entry, SOURCE, { value: source, enumerable: false });
  }
  return entry;
}

/** `file:line:col` of an entry, or of a path under it when the source can locate it. */
export function formatEntryLocation(entry: object, path?: readonly (string | number)[]): string | undefined {
  const source = getEntrySource(entry);
  if (source === undefined) return undefined;
  const at = path === undefined ? undefined : source.locate?.(path);
  return `${source.file}:${at?.line ?? source.line}:${at?.column ?? source.column}`;
}

function checkKeys(value: unknown, where: string, depth: number): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth > 64) throw new KindlingError('INVALID', `${where} is nested more than 64 levels deep`);
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkKeys(item, `${where}[${i}]`, depth + 1));
    return;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) {
      throw new KindlingError('INVALID', `${where} has a forbidden key "${key}"`);
    }
    checkKeys((value as Record<string, unknown>)[key], `${where}.${key}`, depth + 1);
  }
}

function copyJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = copyJson(item);
  return out;
}

/**
 * Checks an entry as a user wrote it and returns a deep-frozen copy (keeping its source, if any).
 * Refuses a bad id, a bad kind, a meta that is not an object and `__proto__`-style keys.
 *
 * @example
 * const entry = createEntry({ id: 'app:hello', kind: 'function.js', data: { file: 'hello.js' } });
 */
export function createEntry<D = unknown>(input: {
  id: string;
  kind: string;
  meta?: Record<string, unknown> | EntryMeta | undefined;
  data?: D;
}): Entry<D> {
  // An entry this function already produced is checked and frozen: share it instead of copying.
  if (CANONICAL.has(input)) return input as Entry<D>;
  parseEntryId(input.id);
  assertValidKind(input.kind, input.id);
  const meta = input.meta ?? {};
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new KindlingError('INVALID', `meta of entry ${input.id} must be an object`, {
      details: { entryId: input.id },
    });
  }
  try {
    checkKeys(meta, 'meta', 0);
    checkKeys(input.data, 'data', 0);
  } catch (error) {
    throw new KindlingError('INVALID', `entry ${input.id}: ${(error as Error).message}`, {
      details: { entryId: input.id },
    });
  }
  const entry = {
    id: input.id,
    kind: input.kind,
    meta: copyJson(meta) as EntryMeta,
    data: copyJson(input.data) as D,
  };
  setEntrySource(entry, getEntrySource(input));
  CANONICAL.add(entry);
  return deepFreeze(entry);
}
