import { messageOf } from '../common/errors.js';
import { quote, show } from '../common/visible-text.js';
import {
  assertValidKind,
  dependencyProblem,
  isPlainDependency,
  isValidNamespace,
  NAME_RULE,
  nameProblem,
} from '../entry/entry-id.js';
import type { Expansion } from './expansion-meter.js';
import type { YamlPath, YamlPathTarget } from './source-map.js';
import { YamlGuard, type GuardProblem } from './yaml-guard.js';
import { displayTag, RefusedNumber, RefusedTag, type YamlReadLimits } from './yaml-reader.js';

/** A problem found in a document, before it has a position. */
export interface PathProblem {
  readonly document: number;
  readonly path: YamlPath;
  readonly target: YamlPathTarget;
  readonly message: string;
  readonly entryId?: string;
}

/** An entry whose id is known, checked for duplicates whatever else is wrong with it. */
export interface Declaration {
  readonly document: number;
  readonly index: number;
  readonly id: string;
}

/**
 * An entry that passed every check of its document, waiting for its position and createEntry: the
 * very object that declared it (one object per entry, not two).
 */
export interface Draft extends Declaration {
  readonly kind: string;
  readonly meta: Record<string, unknown>;
  readonly data: unknown;
}

/** A declaration, filled in as a draft when its entry passes. */
interface Drafting {
  readonly document: number;
  readonly index: number;
  readonly id: string;
  kind: string;
  meta: Record<string, unknown>;
  data: unknown;
}

export interface Analysis {
  readonly declarations: Declaration[];
  readonly drafts: Draft[];
  readonly problems: PathProblem[];
}

const NO_PROBLEMS: readonly GuardProblem[] = [];

const TOP_LEVEL_KEYS = new Set(['namespace', 'meta', 'entries']);
const ENTRY_KEYS = new Set(['name', 'kind', 'meta', 'data']);

/** The meta of an entry or file that has none; never handed out to be changed. */
const EMPTY: Record<string, unknown> = Object.freeze({});

function hasOwn(value: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(value, key);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A composed value in a message; a refused number or tag reads as written (its refusal comes with it). */
function describe(value: unknown): string {
  if (value instanceof RefusedNumber) return value.text;
  if (value instanceof RefusedTag) return `a value tagged ${displayTag(value.tag)}`;
  return show(value);
}

/**
 * Checks every document of a file against the registry format and drafts the entries of the good ones.
 * `guarded`: the reader already refused everything the guard looks for (the subset reader does), so
 * the documents are not walked again.
 */
export function analyse(
  documents: readonly unknown[],
  limits: YamlReadLimits,
  expansion: Expansion,
  guarded = false,
): Analysis {
  const guard = new YamlGuard(limits, expansion);
  const analysis: Analysis = { declarations: [], drafts: [], problems: [] };
  documents.forEach((document, index) => {
    const found = guarded ? NO_PROBLEMS : guard.inspect(document);
    for (const problem of found) analysis.problems.push({ document: index, ...problem });
    analyseDocument(document, index, found.length === 0 ? guard : undefined, analysis);
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
    problems.push(
      entryId === undefined
        ? { document: index, path, target, message }
        : { document: index, path, target, message, entryId },
    );
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
      problem(
        [key],
        `unknown key ${quote(key)} (a registry document has namespace, meta and entries; x-* keys are free)`,
        'key',
      );
    }
  }

  const namespaceValue = document['namespace'];
  let namespace: string | undefined;
  if (namespaceValue === undefined) {
    problem([], 'namespace is required (dotted words such as "app.http")');
  } else if (typeof namespaceValue !== 'string' || !isValidNamespace(namespaceValue)) {
    problem(
      ['namespace'],
      `namespace must be dotted words such as "app.http", got ${describe(namespaceValue)} (ASCII letters, digits, _ and -, each word starting with a letter or _; "ns" and "group" are reserved)`,
    );
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

  for (let i = 0; i < list.length; i++) {
    const item: unknown = list[i];
    if (!isPlainObject(item)) {
      problem(['entries', i], `an entry must be a mapping with name and kind, got ${describe(item)}`);
      continue;
    }
    const failures = problems.length;
    const name = checkName(item, i, problem);
    let id: string | undefined;
    let declaration: Drafting | undefined;
    if (name !== undefined && namespace !== undefined) {
      // Both halves passed the grammar (isValidNamespace, checkName), so the id does: no second parse.
      id = `${namespace}:${name}`;
      declaration = { document: index, index: i, id, kind: '', meta: EMPTY, data: undefined };
      declarations.push(declaration);
    }

    const kind = item['kind'];
    if (kind === undefined) {
      problem(['entries', i], `${labelOf(id, i)} has no kind`, 'value', id);
    } else if (!(kind instanceof RefusedTag || kind instanceof RefusedNumber)) {
      // A refused tag or number is reported by the guard already.
      try {
        assertValidKind(kind, id);
      } catch (error) {
        problem(['entries', i, 'kind'], messageOf(error), 'value', id);
      }
    }

    const ownMetaValue = item['meta'];
    let ownMeta: Record<string, unknown> = EMPTY;
    if (isPlainObject(ownMetaValue)) ownMeta = ownMetaValue;
    else if (ownMetaValue !== undefined && ownMetaValue !== null) {
      problem(
        ['entries', i, 'meta'],
        `meta of ${labelOf(id, i)} must be a mapping, got ${describe(ownMetaValue)}`,
        'value',
        id,
      );
    }

    // Most entries have no inline fields: the list is made only for one that does.
    let inline: string[] | undefined;
    const itemKeys = Object.keys(item);
    for (let k = 0; k < itemKeys.length; k++) {
      const key = itemKeys[k] as string;
      if (!ENTRY_KEYS.has(key)) (inline ??= []).push(key);
    }
    const hasData = hasOwn(item, 'data');
    if (hasData && inline !== undefined) {
      problem(
        ['entries', i, inline[0] as string],
        `${labelOf(id, i)} has both data and inline fields (${inline.join(', ')}); move them under data`,
        'key',
        id,
      );
    }

    // Entry keys win over the file's meta; references take the file's namespace. The values read are
    // never changed in place (an alias may share them); the entry freezes them as they are.
    let meta = fileMeta === EMPTY ? ownMeta : ownMeta === EMPTY ? fileMeta : undefined;
    const own = hasOwn(ownMeta, 'depends_on');
    if ((own || hasOwn(fileMeta, 'depends_on')) && namespace !== undefined) {
      const value = own ? ownMeta['depends_on'] : fileMeta['depends_on'];
      const resolved = resolveDependsOn(value, { namespace, own, item: i, problem, id });
      if (resolved !== undefined) meta = mergeMeta(fileMeta, ownMeta, resolved);
    }
    meta ??= mergeMeta(fileMeta, ownMeta, undefined);

    if (problems.length > failures || guard === undefined || declaration === undefined || typeof kind !== 'string')
      continue;
    declaration.kind = kind;
    declaration.meta = meta;
    declaration.data = hasData
      ? item['data']
      : inline !== undefined
        ? Object.fromEntries(inline.map((key) => [key, item[key]]))
        : undefined;
    drafts.push(declaration);
  }
}

/**
 * `{ ...fileMeta, ...ownMeta }`, then `depends_on` set to `dependsOn` when given: the same keys in the
 * same order, built key by key (object spread costs microseconds per entry here). A `__proto__` key
 * stays an own key, as spread makes it.
 */
function mergeMeta(
  fileMeta: Record<string, unknown>,
  ownMeta: Record<string, unknown>,
  dependsOn: string | string[] | undefined,
): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  copyInto(meta, fileMeta);
  copyInto(meta, ownMeta);
  if (dependsOn !== undefined) meta['depends_on'] = dependsOn;
  return meta;
}

function copyInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  const keys = Object.keys(source);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === '__proto__') {
      Object.defineProperty(target, key, { value: source[key], writable: true, enumerable: true, configurable: true });
    } else {
      target[key] = source[key];
    }
  }
}

/** How a message names entry `i` (0-based) of the list: by its id once known. */
function labelOf(id: string | undefined, i: number): string {
  return id === undefined ? `entry ${i + 1}` : `entry ${id}`;
}

type Report = (path: YamlPath, message: string, target?: YamlPathTarget, entryId?: string) => void;

function checkName(item: Record<string, unknown>, i: number, problem: Report): string | undefined {
  const name = item['name'];
  if (name === undefined) {
    problem(['entries', i], 'entry has no name');
    return undefined;
  }
  if (typeof name !== 'string') {
    const hint = typeof name === 'number' || typeof name === 'boolean' ? ` (quote it: "${String(name)}")` : '';
    problem(['entries', i, 'name'], `name must be a string, got ${describe(name)}${hint}`);
    return undefined;
  }
  if (name.length === 0) {
    problem(['entries', i, 'name'], 'name must not be empty');
    return undefined;
  }
  if (name.includes(':')) {
    problem(['entries', i, 'name'], `name ${quote(name)} must not contain ":" (the namespace comes from the file)`);
    return undefined;
  }
  const bad = nameProblem(name);
  if (bad !== undefined) {
    problem(['entries', i, 'name'], `name ${quote(name)} is not valid: ${bad} (${NAME_RULE})`);
    return undefined;
  }
  return name;
}

/** Where a `depends_on` is read: the entry's namespace, whose list it comes from, its index and id, and where problems go. */
interface DependsOnScope {
  readonly namespace: string;
  /** Whether the entry's own meta holds it (else the file's meta). */
  readonly own: boolean;
  /** The entry's index in the list. */
  readonly item: number;
  readonly problem: Report;
  readonly id: string | undefined;
}

/** Where the `depends_on` of a scope sits in the document, and its item `ref` when given. */
function dependsOnPath(scope: DependsOnScope, ref?: number): YamlPath {
  const where: YamlPath = scope.own ? ['entries', scope.item, 'meta', 'depends_on'] : ['meta', 'depends_on'];
  return ref === undefined ? where : [...where, ref];
}

function resolveDependsOn(value: unknown, scope: DependsOnScope): string | string[] | undefined {
  if (typeof value === 'string') return resolveReference(value, scope, undefined);
  if (!Array.isArray(value)) {
    scope.problem(
      dependsOnPath(scope),
      `meta.depends_on of ${labelOf(scope.id, scope.item)} must be a name or a list of names, got ${describe(value)}`,
      'value',
      scope.id,
    );
    return undefined;
  }
  const out: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const resolved = resolveReference(value[i], scope, i);
    if (resolved !== undefined) out.push(resolved);
  }
  return out.length === value.length ? out : undefined;
}

/** One reference of a `depends_on` (item `at` of the list, or the whole value), resolved or reported. */
function resolveReference(ref: unknown, scope: DependsOnScope, at: number | undefined): string | undefined {
  const { namespace, problem, id } = scope;
  // Before the entry's own name is known to be valid, a reference is checked against a stand-in id
  // (no reference can name it), so that its other problems are still reported.
  const self = id ?? `${namespace}:`;
  // Most references are plain names or ids: resolved without building a path or a message.
  if (isPlainDependency(ref, self))
    return (ref as string).includes(':') ? (ref as string) : `${namespace}:${ref as string}`;
  const label = labelOf(id, scope.item);
  if (typeof ref !== 'string') {
    problem(dependsOnPath(scope, at), `meta.depends_on of ${label} must list names, got ${describe(ref)}`, 'value', id);
    return undefined;
  }
  const bad = dependencyProblem(ref, self);
  if (bad !== undefined) {
    problem(dependsOnPath(scope, at), `meta.depends_on of ${label}: ${quote(ref)} ${bad}`, 'value', id);
    return undefined;
  }
  return ref.includes(':') ? ref : `${namespace}:${ref}`;
}

/** The `entries` list of a registry document, when it has one. */
export function entriesOf(document: unknown): unknown[] | undefined {
  if (!isPlainObject(document)) return undefined;
  const list = document['entries'];
  return Array.isArray(list) ? list : undefined;
}
