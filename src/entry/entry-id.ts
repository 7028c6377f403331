import { KindlingError } from '../common/errors.js';

/** The two halves of an entry id `namespace:name`. */
export interface EntryId {
  readonly namespace: string;
  readonly name: string;
}

const NAMESPACE = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/;
const KIND = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;

/**
 * Splits an id at its first `:` and checks both halves: the namespace is dotted
 * (`app.http`), the name is non-empty and has no white space.
 *
 * @example
 * parseEntryId('app.http:server'); // { namespace: 'app.http', name: 'server' }
 */
export function parseEntryId(id: string): EntryId {
  if (typeof id !== 'string' || id.length === 0) {
    throw new KindlingError('INVALID', 'entry id is required (expected "namespace:name")');
  }
  const colon = id.indexOf(':');
  if (colon < 0) {
    throw new KindlingError('INVALID', `entry id "${id}" has no namespace (expected "namespace:name")`, {
      details: { entryId: id },
    });
  }
  const namespace = id.slice(0, colon);
  const name = id.slice(colon + 1);
  if (!NAMESPACE.test(namespace)) {
    throw new KindlingError(
      'INVALID',
      `entry id "${id}" has an invalid namespace "${namespace}" (dotted words such as "app.http")`,
      { details: { entryId: id } },
    );
  }
  if (name.length === 0 || /\s/.test(name)) {
    throw new KindlingError('INVALID', `entry id "${id}" has an empty name or one with white space`, {
      details: { entryId: id },
    });
  }
  return { namespace, name };
}

/** Joins a namespace and a name into an id, checking the result. */
export function formatEntryId(namespace: string, name: string): string {
  const id = `${namespace}:${name}`;
  parseEntryId(id);
  return id;
}

/** Whether `namespace` is a valid dotted namespace. */
export function isValidNamespace(namespace: string): boolean {
  return NAMESPACE.test(namespace);
}

/**
 * Resolves a reference to an entry: `ns:name` stays as it is, a bare `name` takes `namespace`.
 */
export function resolveEntryRef(ref: string, namespace: string): string {
  return ref.includes(':') ? ref : `${namespace}:${ref}`;
}

/** Checks a kind: dotted lowercase segments such as `http.service` or `function.lua.bc`. */
export function assertValidKind(kind: unknown, entryId?: string): asserts kind is string {
  if (typeof kind !== 'string' || !KIND.test(kind)) {
    const where = entryId === undefined ? '' : ` of entry ${entryId}`;
    throw new KindlingError(
      'INVALID',
      `kind${where} must be dotted lowercase segments such as "http.service", got ${JSON.stringify(kind)}`,
      { details: entryId === undefined ? { kind } : { entryId, kind } },
    );
  }
}
