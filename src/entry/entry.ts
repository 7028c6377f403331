import { FORBIDDEN_KEYS } from '../common/deep-freeze.js';
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

const MAX_DEPTH = 64;

/** A refusal deep inside a value; each level it passes on the way up adds its key to `path`. */
class CopyRefusal extends Error {
  readonly path: (string | number)[] = [];
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * Copies a JSON-like value into a deep-frozen copy in one pass, refusing `__proto__`-style keys and
 * nesting deeper than {@link MAX_DEPTH}. The path to a refused part is collected only on the way
 * back up from a refusal ({@link CopyRefusal}), so the common case keeps no path at all.
 */
function frozenCopy(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth > MAX_DEPTH) throw new CopyRefusal(`is nested more than ${MAX_DEPTH} levels deep`);
  if (Array.isArray(value)) {
    const length = value.length;
    const out = new Array<unknown>(length);
    for (let i = 0; i < length; i++) {
      try {
        out[i] = frozenCopy(value[i], depth + 1);
      } catch (error) {
        if (error instanceof CopyRefusal) error.path.unshift(i);
        throw error;
      }
    }
    return Object.freeze(out);
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    try {
      if (FORBIDDEN_KEYS.has(key)) throw new CopyRefusal('is a forbidden key');
      out[key] = frozenCopy((value as Record<string, unknown>)[key], depth + 1);
    } catch (error) {
      if (error instanceof CopyRefusal) error.path.unshift(key);
      throw error;
    }
  }
  return Object.freeze(out);
}

/** The frozen copy of an entry's `meta` or `data`; a refusal becomes a message naming its path. */
function copyField(value: unknown, field: 'meta' | 'data'): unknown {
  try {
    return frozenCopy(value, 1);
  } catch (error) {
    if (!(error instanceof CopyRefusal)) throw error;
    throw new Error(`${formatPath([field, ...error.path])} ${error.reason}`);
  }
}

function formatPath(path: readonly (string | number)[]): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
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
  // (Entries it produced are frozen: most inputs are not, and skip the WeakSet lookup.)
  if (Object.isFrozen(input) && CANONICAL.has(input)) return input as Entry<D>;
  parseEntryId(input.id);
  assertValidKind(input.kind, input.id);
  const meta = input.meta ?? {};
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new KindlingError('INVALID', `meta of entry ${input.id} must be an object`, {
      details: { entryId: input.id },
    });
  }
  let entry: Entry<D>;
  try {
    entry = {
      id: input.id,
      kind: input.kind,
      meta: copyField(meta, 'meta') as EntryMeta,
      data: copyField(input.data, 'data') as D,
    };
  } catch (error) {
    throw new KindlingError('INVALID', `entry ${input.id}: ${(error as Error).message}`, {
      details: { entryId: input.id },
    });
  }
  setEntrySource(entry, getEntrySource(input));
  CANONICAL.add(entry);
  return Object.freeze(entry);
}
