import { FORBIDDEN_KEYS } from '../common/deep-freeze.js';
import { KindlingError, describeThrown } from '../common/errors.js';
import {
  assertValidKind,
  dependencyProblem,
  isPlainDependency,
  isValidName,
  NAME_RULE,
  nameProblem,
  parseEntryId,
} from './entry-id.js';
import { escapeInvisible, quote, show } from '../common/visible-text.js';

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
/**
 * What is known of a canonical entry once its config was decoded: its estimated size (as the plain
 * number would say) and the config, with the class it was decoded with. Kept in the entry's
 * {@link Canonical} memo, which it replaces.
 */
interface EntryMemo {
  bytes: number;
  readonly configClass: object;
  readonly config: object;
}

/** A base class whose constructor gives back the object it is handed (see {@link Canonical}). */
class Stamp {
  constructor(target: object) {
    // The stamping idiom: the subclass's private field lands on `target`, not on a new object.
    return target;
  }
}

/**
 * Marks every entry {@link createEntry} produced and holds what is known of it: its estimated JSON
 * size ({@link jsonBytes} of its parts) once known, or -1 until something asks for it, or an
 * {@link EntryMemo}. The mark is a private field stamped onto the entry object itself before it is
 * frozen (a subclass of {@link Stamp} "constructed" on it): no code outside this class can read,
 * copy or forge it, and a spread, `structuredClone` or JSON copy does not carry it.
 *
 * A WeakMap did this before. V8 made each insert into a WeakMap holding one key per live entry
 * dearer as the registry grew: a one-entry batch cost about 7 µs more at 100,000 entries than at
 * 10,000, most of it in that insert. A field costs the same at any size.
 */
class Canonical extends Stamp {
  #memo: number | EntryMemo;

  private constructor(entry: object, memo: number | EntryMemo) {
    super(entry);
    this.#memo = memo;
  }

  /** Marks `entry` (not yet frozen) as canonical, with what is known of it. */
  static mark(entry: object, memo: number | EntryMemo): void {
    new Canonical(entry, memo);
  }

  static has(entry: object): boolean {
    return #memo in entry;
  }

  /** What is known of a canonical entry; `undefined` for any other object. */
  static memoOf(entry: object): number | EntryMemo | undefined {
    return #memo in entry ? entry.#memo : undefined;
  }

  /** Replaces what is known of an entry {@link has} says is canonical. */
  static remember(entry: object, memo: number | EntryMemo): void {
    (entry as Canonical).#memo = memo;
  }
}

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

/** How deep `meta` and `data` may nest (the field itself is level 1). */
export const MAX_ENTRY_DEPTH = 64;
const MAX_DEPTH = MAX_ENTRY_DEPTH;

/** A refusal deep inside a value; each level it passes on the way up adds its key to `path`. */
class CopyRefusal extends Error {
  readonly path: (string | number)[] = [];
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * What a throw while reading a value (a getter, a Proxy trap, the stack running out) becomes: a
 * refusal at the part being read.
 */
function asRefusal(error: unknown, key: string | number): CopyRefusal {
  const refusal =
    error instanceof CopyRefusal ? error : new CopyRefusal(`could not be read (${describeThrown(error)})`);
  refusal.path.unshift(key);
  return refusal;
}

/** The refusal of a part that is neither a plain object, a list, a string, a boolean nor null. */
function notJson(value: unknown): CopyRefusal {
  if (typeof value === 'number')
    return new CopyRefusal(`is ${String(value)}, which JSON cannot store (it would become null)`);
  if (value === undefined) return new CopyRefusal('is undefined, which JSON cannot store (it would become null)');
  return new CopyRefusal(`is a ${typeof value}, which JSON cannot store`);
}

/**
 * Copies a JSON value into a deep-frozen copy in one pass, refusing `__proto__`-style keys, nesting
 * deeper than {@link MAX_DEPTH} and anything JSON (the journal, the admin socket, NATS) cannot store
 * as it is: NaN, ±Infinity, undefined in a list, bigints, functions, symbols, and objects other than
 * plain ones and lists. A key whose value is undefined is left out, as JSON
 * would. The path to a refused part is collected only on the way back up from a refusal
 * ({@link CopyRefusal}), so the common case keeps no path at all.
 */
function frozenCopy(value: unknown, depth: number): unknown {
  const type = typeof value;
  if (type === 'string' || type === 'boolean') return value;
  if (type === 'number') {
    // NaN and ±Infinity would be stored as null and the entry would never match its file again;
    // -0 becomes 0, as it would after a round trip through JSON (a restart).
    if ((value as number) - (value as number) === 0) return value === 0 ? 0 : value;
    throw notJson(value);
  }
  if (type !== 'object') throw notJson(value);
  if (value === null) return null;
  return copyObject(value as object, depth);
}

/** The frozen copy of a list or plain object, for {@link frozenCopy}. */
function copyObject(value: object, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new CopyRefusal(`is nested more than ${MAX_DEPTH} levels deep`);
  if (Array.isArray(value)) {
    const length = value.length;
    const out = new Array<unknown>(length);
    for (let i = 0; i < length; i++) {
      try {
        out[i] = frozenCopy(value[i], depth + 1);
      } catch (error) {
        throw asRefusal(error, i);
      }
    }
    return Object.freeze(out);
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    throw new CopyRefusal(
      `is ${typeof name === 'string' && name !== '' ? `a ${escapeInvisible(name)}` : 'an object'}, not a plain object or a list (JSON cannot store it as it is)`,
    );
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    try {
      if (FORBIDDEN_KEYS.has(key)) throw new CopyRefusal('is a forbidden key');
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) out[key] = frozenCopy(item, depth + 1);
    } catch (error) {
      throw asRefusal(error, key);
    }
  }
  return Object.freeze(out);
}

/** A path under an entry as it reads in a message: `data.routes[0]["a b"]`. */
function formatPath(path: readonly (string | number)[]): string {
  return path
    .map((part, i) =>
      typeof part === 'number'
        ? `[${part}]`
        : /^[A-Za-z_$][\w$-]*$/.test(part)
          ? i === 0
            ? part
            : `.${part}`
          : `[${quote(part)}]`,
    )
    .join('');
}

/** The refusal of an entry's `field`: its message names the path, `details.path` holds it for `locate`. */
function refuse(entryId: string, path: readonly (string | number)[], reason: string): KindlingError {
  return new KindlingError('INVALID', `entry ${entryId}: ${formatPath(path)} ${reason}`, {
    details: { entryId, path: [...path], reason },
  });
}

/** The frozen copy of an entry's `meta` or `data`. */
function copyField(entryId: string, value: unknown, field: 'meta' | 'data'): unknown {
  if (value === undefined) return undefined;
  try {
    return frozenCopy(value, 1);
  } catch (error) {
    const refusal = asRefusal(error, field);
    throw refuse(entryId, refusal.path, refusal.reason);
  }
}

/**
 * Checks `meta.depends_on` (a reference or a list of them) and `meta.groups` (a group name or a
 * list of them) against the grammar; most entries pass {@link isPlainDependency} at once.
 */
function checkReferences(entryId: string, meta: Readonly<Record<string, unknown>>): void {
  const dependsOn = meta['depends_on'];
  if (dependsOn !== undefined) {
    const single = typeof dependsOn === 'string';
    const list: unknown = single ? [dependsOn] : dependsOn;
    if (!Array.isArray(list))
      throw refuse(entryId, ['meta', 'depends_on'], 'must be a reference or a list of references');
    for (let i = 0; i < list.length; i++) {
      const ref: unknown = list[i];
      if (isPlainDependency(ref, entryId)) continue;
      const problem = dependencyProblem(ref, entryId);
      if (problem !== undefined)
        throw refuse(entryId, single ? ['meta', 'depends_on'] : ['meta', 'depends_on', i], `${show(ref)} ${problem}`);
    }
  }
  const groups = meta['groups'];
  if (groups !== undefined) {
    const single = typeof groups === 'string';
    const list: unknown = single ? [groups] : groups;
    if (!Array.isArray(list)) throw refuse(entryId, ['meta', 'groups'], 'must be a group name or a list of them');
    for (let i = 0; i < list.length; i++) {
      const group: unknown = list[i];
      if (typeof group === 'string' && isValidName(group)) continue;
      const path = single ? ['meta', 'groups'] : ['meta', 'groups', i];
      if (typeof group !== 'string') throw refuse(entryId, path, `must be a group name, got ${show(group)}`);
      throw refuse(entryId, path, `${quote(group)} is not a group name: ${nameProblem(group) ?? ''} (${NAME_RULE})`);
    }
  }
}

/**
 * Checks an entry as a user wrote it and returns a deep-frozen copy (keeping its source, if any).
 * Refuses (`INVALID`, with `details.entryId` and, for a part of it, `details.path`) an id or kind
 * outside the grammar, a meta that is not an object, a `depends_on` or `groups` outside the
 * grammar or naming the entry itself, `__proto__`-style keys, and anything JSON cannot store as it
 * is: NaN, ±Infinity, bigints, functions, symbols, undefined in a list, objects other than plain
 * objects and lists.
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
  let id: string;
  let kind: string;
  let rawMeta: unknown;
  let data: unknown;
  let source: EntrySource | undefined;
  try {
    // An entry this function already produced is checked and frozen: share it instead of copying.
    // (Entries it produced are frozen: most inputs are not, and skip the check of the mark.)
    if (Object.isFrozen(input) && Canonical.has(input)) return input as Entry<D>;
    ({ id, kind, meta: rawMeta, data } = input);
    source = getEntrySource(input);
  } catch (error) {
    throw new KindlingError('INVALID', `the entry could not be read (${describeThrown(error)})`);
  }
  parseEntryId(id);
  assertValidKind(kind, id);
  const meta = rawMeta ?? {};
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new KindlingError('INVALID', `meta of entry ${id} must be an object`, {
      details: { entryId: id, path: ['meta'] },
    });
  }
  const entry: Entry<D> = {
    id,
    kind,
    meta: copyField(id, meta, 'meta') as EntryMeta,
    data: copyField(id, data, 'data') as D,
  };
  checkReferences(id, entry.meta);
  setEntrySource(entry, source);
  Canonical.mark(entry, -1);
  return Object.freeze(entry);
}

/** What the in-place walk throws (one instance, no stack per throw) at anything it does not take as it is. */
const NOT_OWNED = new Error('not owned');

/**
 * Freezes a value in place (children first, so a frozen object is one already checked whole) and
 * returns its {@link jsonBytes}; throws {@link NOT_OWNED} at anything {@link frozenCopy} would
 * refuse or change other than -0, which becomes 0 here too.
 */
function freezeOwned(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'boolean':
      return 5;
    case 'number':
      if (value - value !== 0) throw NOT_OWNED;
      return 8;
    case 'object':
      break;
    default:
      throw NOT_OWNED;
  }
  if (value === null) return 4;
  if (Object.isFrozen(value)) return jsonBytes(value, Infinity);
  if (depth > MAX_DEPTH) throw NOT_OWNED;
  let total = 2;
  if (Array.isArray(value)) {
    const length = value.length;
    total += length;
    for (let i = 0; i < length; i++) {
      const item: unknown = value[i];
      if (item === 0 && 1 / item < 0) value[i] = 0;
      total += freezeOwned(item, depth + 1);
    }
  } else {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) throw NOT_OWNED;
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (FORBIDDEN_KEYS.has(key)) throw NOT_OWNED;
      const item = record[key];
      if (item === 0 && 1 / item < 0) record[key] = 0;
      total += key.length + 4 + freezeOwned(item, depth + 1);
    }
  }
  Object.freeze(value);
  return total;
}

/**
 * {@link createEntry} for values the caller owns outright (the YAML loader's freshly composed
 * documents, which nothing else holds): the same checks and the same result, but `meta` and `data`
 * are frozen in place instead of copied, and the entry's estimated size is known at once. Parts
 * may be shared (a YAML alias, the file-level meta); they are frozen too. Anything unusual goes
 * the copying way, which refuses it with its exact message. Not for values a user may still hold.
 */
export function createOwnedEntry(
  input: { id: string; kind: string; meta: Record<string, unknown>; data: unknown },
  source: EntrySource | undefined,
): Entry {
  const { id, kind, meta, data } = input;
  parseEntryId(id);
  assertValidKind(kind, id);
  let bytes: number;
  try {
    bytes = 32 + id.length + kind.length + freezeOwned(meta, 1) + (data === undefined ? 4 : freezeOwned(data, 1));
  } catch (error) {
    if (error !== NOT_OWNED) throw error;
    return createEntry(setEntrySource({ id, kind, meta, data }, source));
  }
  const entry: Entry = { id, kind, meta, data };
  checkReferences(id, meta);
  setEntrySource(entry, source);
  Canonical.mark(entry, bytes);
  return Object.freeze(entry);
}

/**
 * The estimated JSON size of an entry {@link createEntry} produced, once known; undefined for any
 * other object or when it has not been computed yet.
 */
export function knownEntryBytes(entry: object): number | undefined {
  const memo = Canonical.memoOf(entry);
  const known = typeof memo === 'object' ? memo.bytes : memo;
  return known === undefined || known < 0 ? undefined : known;
}

/** Records the estimated JSON size of an entry {@link createEntry} produced (others are ignored). */
export function rememberEntryBytes(entry: object, bytes: number): void {
  const memo = Canonical.memoOf(entry);
  if (typeof memo === 'object') memo.bytes = bytes;
  else if (memo !== undefined) Canonical.remember(entry, bytes);
}

/**
 * Keeps the config decoded from an entry {@link createEntry} produced (deep-frozen, so it cannot go
 * stale), with its class; other entries are ignored. See `entryConfig`.
 */
export function keepEntryConfig(entry: object, configClass: object, config: object): void {
  const memo = Canonical.memoOf(entry);
  if (memo === undefined) return;
  Canonical.remember(entry, { bytes: typeof memo === 'object' ? memo.bytes : memo, configClass, config });
}

/** The config kept for `entry` by {@link keepEntryConfig}, when it was decoded with `configClass`. */
export function keptEntryConfig(entry: object, configClass: object): object | undefined {
  const memo = Canonical.memoOf(entry);
  return typeof memo === 'object' && memo.configClass === configClass ? memo.config : undefined;
}

/** Whether `entry` is one {@link createEntry} produced: checked and deep-frozen. */
export function isCanonicalEntry(entry: object): boolean {
  return Canonical.has(entry);
}

/**
 * About how many bytes `JSON.stringify(value)` would take (strings counted in UTF-16 units, no
 * escapes), without building the string. Stops counting once past `cap`, so a huge or cyclic value
 * costs at most O(cap).
 */
export function jsonBytes(value: unknown, cap: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && total <= cap) {
    const item = stack.pop();
    switch (typeof item) {
      case 'string':
        total += item.length + 2;
        break;
      case 'number':
      case 'bigint':
        total += 8;
        break;
      case 'boolean':
        total += 5;
        break;
      case 'object':
        if (item === null) {
          total += 4;
        } else if (Array.isArray(item)) {
          total += 2 + item.length;
          for (const element of item) stack.push(element);
        } else {
          total += 2;
          for (const key of Object.keys(item)) {
            total += key.length + 4;
            stack.push((item as Record<string, unknown>)[key]);
          }
        }
        break;
      default:
        total += 4;
    }
  }
  return total;
}
