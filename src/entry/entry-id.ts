import { KindlingError } from '../common/errors.js';
import { quote, show } from '../common/visible-text.js';

// The grammar of entry ids, kinds, group names and dependency references, in one place:
//
//   id         = namespace ":" name
//   namespace  = word *("." word)              word  = (letter / "_") *(letter / digit / "_" / "-")
//                (not "ns" or "group": those start dependency references)
//   name       = (letter / digit / "_") *(letter / digit / "_" / "." / "-" / "/" / "@")
//   group      = name
//   kind       = kword *("." kword)            kword = lower *(lower / digit / "_" / "-")
//   dependency = name / id / "ns:" namespace / "group:" group
//
// letter, digit and lower are ASCII only. Anything else (white space, controls, bidirectional and
// zero-width characters, lone surrogates, look-alike letters of other scripts) can hide or forge
// text where ids are printed, so it is refused rather than escaped.

/** The two halves of an entry id `namespace:name`. */
export interface EntryId {
  readonly namespace: string;
  readonly name: string;
}

const NAMESPACE = /^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*$/;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_./@-]*$/;
const KIND = /^[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*$/;

/** The grammars of namespaces, names and kinds, as regex sources (for the registry file's JSON Schema). */
export const ID_GRAMMAR = Object.freeze({ namespace: NAMESPACE.source, name: NAME.source, kind: KIND.source });

/** Namespaces that would read as a dependency selector (`ns:app`, `group:web`) in `depends_on`. */
const RESERVED_NAMESPACES: ReadonlySet<string> = new Set(['ns', 'group']);

/** What a name may contain, for messages. */
export const NAME_RULE = 'a name is ASCII letters, digits and _ . - / @, and starts with a letter, a digit or _';
const NAMESPACE_RULE =
  'dotted words such as "app.http": ASCII letters, digits, _ and -, each word starting with a letter or _';

/** Why one character is not allowed in a name, in words. */
function describeCharacter(ch: string): string {
  const code = ch.codePointAt(0) as number;
  const at = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `a control character (${at})`;
  if (
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    code === 0x200e ||
    code === 0x200f ||
    code === 0x061c
  ) {
    return `a bidirectional control (${at}), which reorders the text around it`;
  }
  if ((code >= 0x200b && code <= 0x200d) || code === 0x2060 || code === 0xfeff || code === 0x00ad) {
    return `an invisible character (${at})`;
  }
  if (code >= 0xd800 && code <= 0xdfff) return `a lone surrogate (${at}), half of a character`;
  if (/\s/u.test(ch)) return `white space (${at})`;
  if (code === 0x3a) return '":"';
  if (code > 0x7e) return `a character outside ASCII (${at})`;
  return quote(ch);
}

/** The first character of `name` that the grammar refuses, described, or undefined when all pass. */
function firstRefused(text: string, allowed: RegExp): string | undefined {
  for (const ch of text) {
    if (!allowed.test(ch)) return describeCharacter(ch);
  }
  return undefined;
}

const NAME_CHARACTER = /^[A-Za-z0-9_./@-]$/;

/**
 * Why `name` is not a valid entry (or group) name, or undefined when it is.
 *
 * @example
 * nameProblem('hello'); // undefined
 * nameProblem('a\u200bb'); // 'it contains an invisible character (U+200B)'
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (NAME.test(name)) return undefined;
  const refused = firstRefused(name, NAME_CHARACTER);
  if (refused !== undefined) return `it contains ${refused}`;
  return `it starts with ${quote(name[0] as string)}`;
}

/** Whether `name` is a valid entry (or group) name. */
export function isValidName(name: string): boolean {
  return NAME.test(name);
}

/** Why `namespace` is not valid, or undefined when it is. */
function namespaceProblem(namespace: string): string | undefined {
  if (RESERVED_NAMESPACES.has(namespace)) {
    return `"${namespace}" is reserved (depends_on reads "${namespace}:..." as a ${namespace === 'ns' ? 'namespace' : 'group'} reference)`;
  }
  return NAMESPACE.test(namespace) ? undefined : `it must be ${NAMESPACE_RULE}`;
}

/** Why `id` is not a valid entry id (a phrase after "entry id X"), or undefined when it is. */
function idProblem(id: string): string | undefined {
  const colon = id.indexOf(':');
  if (colon < 0) return 'has no namespace (expected "namespace:name")';
  const namespace = id.slice(0, colon);
  const badNamespace = namespaceProblem(namespace);
  if (badNamespace !== undefined) return `has an invalid namespace ${quote(namespace)}: ${badNamespace}`;
  const name = id.slice(colon + 1);
  const badName = nameProblem(name);
  if (badName !== undefined) return `has an invalid name ${quote(name)}: ${badName} (${NAME_RULE})`;
  return undefined;
}

/**
 * Splits an id at its `:` and checks both halves against the grammar above.
 *
 * @example
 * parseEntryId('app.http:server'); // { namespace: 'app.http', name: 'server' }
 */
export function parseEntryId(id: string): EntryId {
  if (typeof id !== 'string' || id.length === 0) {
    const got = typeof id === 'string' ? '' : `, got ${show(id)}`;
    throw new KindlingError('INVALID', `entry id is required (expected "namespace:name")${got}`);
  }
  const problem = idProblem(id);
  if (problem !== undefined) {
    throw new KindlingError('INVALID', `entry id ${quote(id)} ${problem}`, { details: { entryId: id } });
  }
  const colon = id.indexOf(':');
  return { namespace: id.slice(0, colon), name: id.slice(colon + 1) };
}

/** Joins a namespace and a name into an id, checking the result. */
export function formatEntryId(namespace: string, name: string): string {
  const id = `${namespace}:${name}`;
  parseEntryId(id);
  return id;
}

/** Whether `namespace` is a valid dotted namespace (and not a reserved one). */
export function isValidNamespace(namespace: string): boolean {
  return NAMESPACE.test(namespace) && !RESERVED_NAMESPACES.has(namespace);
}

/**
 * Resolves a reference to an entry: `ns:name` stays as it is, a bare `name` takes `namespace`.
 */
export function resolveEntryRef(ref: string, namespace: string): string {
  return ref.includes(':') ? ref : `${namespace}:${ref}`;
}

/**
 * Why `ref` is not a valid `meta.depends_on` reference of the entry `entryId` (a phrase after the
 * reference), or undefined when it is: a name, an id, `ns:<namespace>` or `group:<group>` that
 * follows the grammar and does not name the entry itself.
 */
export function dependencyProblem(ref: unknown, entryId: string): string | undefined {
  if (typeof ref !== 'string') return 'is not a reference (a name, an id, "ns:<namespace>" or "group:<group>")';
  if (ref.length === 0) return 'is empty';
  const colon = ref.indexOf(':');
  if (colon < 0) {
    const bad = nameProblem(ref);
    if (bad !== undefined) return `is not a valid name: ${bad} (${NAME_RULE})`;
    return `${entryId.slice(0, entryId.indexOf(':') + 1)}${ref}` === entryId ? 'names the entry itself' : undefined;
  }
  const head = ref.slice(0, colon);
  const rest = ref.slice(colon + 1);
  if (head === 'group') {
    const bad = nameProblem(rest);
    return bad === undefined ? undefined : `does not name a group: ${bad} (${NAME_RULE})`;
  }
  if (head === 'ns')
    return NAMESPACE.test(rest) ? undefined : `does not name a namespace: it must be ${NAMESPACE_RULE}`;
  const problem = idProblem(ref);
  if (problem !== undefined) return `is not an entry id: it ${problem}`;
  return ref === entryId ? 'names the entry itself' : undefined;
}

// What each ASCII character may be in a plain reference (see `plainReferenceShape`).
const SEGMENT_START = 1; // [A-Za-z_]: the first character of a namespace segment
const SEGMENT_REST = 2; // [A-Za-z0-9_-]: the rest of a namespace segment
const NAME_START = 4; // [A-Za-z0-9_]: the first character of a name
const NAME_REST = 8; // [A-Za-z0-9_./@-]: the rest of a name
const REFERENCE_CHARS: Uint8Array = (() => {
  const table = new Uint8Array(128);
  const mark = (chars: string, bits: number): void => {
    for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = (table[chars.charCodeAt(i)] ?? 0) | bits;
  };
  mark('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_', SEGMENT_START | SEGMENT_REST | NAME_START | NAME_REST);
  mark('0123456789', SEGMENT_REST | NAME_START | NAME_REST);
  mark('-', SEGMENT_REST | NAME_REST);
  mark('./@', NAME_REST);
  return table;
})();

/** Whether the character `code` is one of the class `bits` names (only ASCII characters are). */
function charIs(code: number, bits: number): boolean {
  return code < 128 && ((REFERENCE_CHARS[code] ?? 0) & bits) !== 0;
}

/**
 * Whether `ref` is a bare name or `namespace:name` (which covers `group:<group>`) by its characters:
 * `^(?:[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*:)?[A-Za-z0-9_][A-Za-z0-9_./@-]*$`, that
 * is {@link NAMESPACE} and a colon, optionally, then {@link NAME}; read in one pass without a regular
 * expression (this runs for every reference of every entry loaded). Change it with those two.
 */
function plainReferenceShape(ref: string): boolean {
  let at = 0;
  const colon = ref.indexOf(':');
  if (colon >= 0) {
    // The namespace: one or more segments joined by single dots.
    let segmentStart = true;
    for (let i = 0; i < colon; i++) {
      const code = ref.charCodeAt(i);
      if (segmentStart) {
        if (!charIs(code, SEGMENT_START)) return false;
        segmentStart = false;
      } else if (code === 0x2e) {
        segmentStart = true;
      } else if (!charIs(code, SEGMENT_REST)) {
        return false;
      }
    }
    if (segmentStart) return false;
    at = colon + 1;
  }
  if (at >= ref.length || !charIs(ref.charCodeAt(at), NAME_START)) return false;
  for (let i = at + 1; i < ref.length; i++) if (!charIs(ref.charCodeAt(i), NAME_REST)) return false;
  return true;
}

/**
 * A quick yes for the common `depends_on` reference: a bare name or an id (or `group:<group>`)
 * that follows the grammar and is not the entry itself. A no means "ask {@link dependencyProblem}".
 */
export function isPlainDependency(ref: unknown, entryId: string): boolean {
  if (typeof ref !== 'string' || !plainReferenceShape(ref) || ref.startsWith('ns:') || ref === entryId) return false;
  // A bare name that is the entry's own name names the entry itself.
  return !(entryId.endsWith(ref) && entryId.charCodeAt(entryId.length - ref.length - 1) === 0x3a && !ref.includes(':'));
}

/**
 * Checks one `meta.depends_on` reference of the entry `entryId` (see {@link dependencyProblem}) and
 * resolves it: a bare name takes the entry's namespace; `ns:name`, `ns:<namespace>` and
 * `group:<group>` stay as they are. Throws `INVALID` for a reference it refuses.
 *
 * @example
 * parseDependency('db', 'app:api'); // 'app:db'
 * parseDependency('group:web', 'app:api'); // 'group:web'
 */
export function parseDependency(ref: unknown, entryId: string): string {
  const problem = dependencyProblem(ref, entryId);
  if (problem !== undefined) {
    throw new KindlingError('INVALID', `depends_on ${show(ref)} of entry ${entryId} ${problem}`, {
      details: { entryId },
    });
  }
  const text = ref as string;
  return text.includes(':') ? text : `${entryId.slice(0, entryId.indexOf(':') + 1)}${text}`;
}

/** Checks a kind: dotted lowercase segments such as `http.service` or `function.lua.bc`. */
export function assertValidKind(kind: unknown, entryId?: string): asserts kind is string {
  if (typeof kind !== 'string' || !KIND.test(kind)) {
    const where = entryId === undefined ? '' : ` of entry ${entryId}`;
    throw new KindlingError(
      'INVALID',
      `kind${where} must be dotted lowercase segments such as "http.service", got ${show(kind)} (ASCII a-z, digits, _ and -, each segment starting with a letter)`,
      { details: entryId === undefined ? { kind } : { entryId, kind } },
    );
  }
}
