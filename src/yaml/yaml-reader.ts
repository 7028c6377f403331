import * as jsyaml from 'js-yaml';
import { FAILSAFE_SCHEMA, loadAll, Type, YAMLException, type LoadOptions, type State } from 'js-yaml';
import {
  ExpansionMeter,
  ExpansionRefusal,
  positionAt,
  type Expansion,
  type ExpansionLimits,
} from './expansion-meter.js';
import { contentPosition, YamlSourceMap, type ParserState, type YamlPosition } from './source-map.js';

/** The limits every YAML read runs under. */
export interface YamlReadLimits extends ExpansionLimits {
  /** Deepest nesting of maps and lists (a document's root collection is level 1). */
  readonly maxDepth: number;
}

/** Load options js-yaml 4.3 understands but its type declarations do not list yet. */
interface LimitedLoadOptions extends LoadOptions {
  readonly maxDepth?: number;
  readonly maxTotalMergeKeys?: number;
}

/** A node carrying a tag other than the plain YAML ones; composed in place so every one is reported. */
export class RefusedTag {
  constructor(readonly tag: string) {}
}

/**
 * A number JSON cannot carry as written: `.inf`, `.nan`, or an integer past ±(2^53 − 1)
 * that a double would silently round. Composed in place of the number, so that every one is
 * reported at its position; as a mapping key it reads as the text written.
 */
export class RefusedNumber {
  constructor(
    readonly text: string,
    readonly reason: 'not finite' | 'inexact',
  ) {}

  get [Symbol.toStringTag](): string {
    return 'RefusedNumber';
  }

  toString(): string {
    return this.text;
  }
}

/** Why a {@link RefusedNumber} is refused; one message wherever it is found. */
export function refusedNumberMessage(number: RefusedNumber): string {
  return number.reason === 'not finite'
    ? `${number.text} is not a finite number, which JSON cannot store (it would become null); quote it if it is text`
    : `the integer ${number.text} is beyond ±9007199254740991 and would silently lose precision; quote it as a string`;
}

/** js-yaml's own scalar types, which its type declarations do not list. */
const CORE_TYPES = (jsyaml as unknown as { types: Record<'null' | 'bool' | 'int' | 'float', Type> }).types;

/** A copy of js-yaml's int or float type whose value becomes a {@link RefusedNumber} when JSON cannot carry it. */
function checkedNumberType(core: Type, kind: 'int' | 'float'): Type {
  return new Type(`tag:yaml.org,2002:${kind}`, {
    kind: 'scalar',
    resolve: (data: unknown) => core.resolve(data),
    construct: (data: unknown) => {
      const value = core.construct(data) as number;
      if (value - value !== 0) return new RefusedNumber(String(data), 'not finite');
      if (kind === 'int' && !Number.isSafeInteger(value)) return new RefusedNumber(String(data), 'inexact');
      return value;
    },
    predicate: core.predicate ?? undefined,
    represent: core.represent ?? undefined,
    defaultStyle: core.defaultStyle ?? undefined,
  });
}

const MERGE = new Type('tag:yaml.org,2002:merge', { kind: 'scalar', resolve: (data: unknown) => data === '<<' });

/**
 * Plain YAML only: maps, lists, strings, numbers, booleans, null and `<<` merge keys (js-yaml's core
 * schema, with numbers that JSON can carry).
 */
const STRICT_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [
    CORE_TYPES.null,
    CORE_TYPES.bool,
    checkedNumberType(CORE_TYPES.int, 'int'),
    checkedNumberType(CORE_TYPES.float, 'float'),
    MERGE,
  ],
});

/** The implicit types of the strict schema, in the order js-yaml tries them on a plain scalar. */
export function strictImplicitTypes(): readonly Type[] {
  return (STRICT_SCHEMA as unknown as { compiledImplicit: readonly Type[] }).compiledImplicit;
}

/** The same, but an unknown tag becomes a {@link RefusedTag} instead of stopping the parse. */
const REPORTING_SCHEMA = STRICT_SCHEMA.extend(
  (['scalar', 'sequence', 'mapping'] as const).map(
    (kind) =>
      new Type('', {
        kind,
        multi: true,
        resolve: () => true,
        construct: (_data: unknown, tag?: string) => new RefusedTag(tag ?? ''),
      }),
  ),
);

/** Why a {@link RefusedTag} is refused; one message wherever it is found. */
export function refusedTagMessage(tag: RefusedTag): string {
  return `tag ${displayTag(tag.tag)} is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)`;
}

/** Shows a resolved tag the way it was written: `tag:yaml.org,2002:js/function` → `!!js/function`. */
export function displayTag(tag: string): string {
  return tag.startsWith('tag:yaml.org,2002:') ? `!!${tag.slice('tag:yaml.org,2002:'.length)}` : tag;
}

/** A parse that stopped: what js-yaml said, rewritten for people, and where. */
export interface YamlReadError {
  readonly message: string;
  readonly position: YamlPosition;
}

/** The result of the fast read: document values, and where each `entries` list's items start. */
export interface FastRead {
  readonly documents: unknown[];
  /** Item positions of every list composed directly under a document's root, keyed by the list. */
  readonly itemStarts: Map<unknown[], YamlPosition[]>;
  /** What aliases added to the documents. */
  readonly expansion: Expansion;
  /**
   * Whether the reader refused all that the guard (yaml-guard.ts) looks for: forbidden keys, tags,
   * refused numbers, nesting past the limit, aliases.
   */
  readonly guarded?: boolean;
}

/** A read that stopped, with its reason rewritten for people and its position. */
export class YamlReadFailure extends Error {
  constructor(readonly error: YamlReadError) {
    super(error.message);
  }
}

/**
 * Reads a YAML text at full speed: refuses anything unusual by throwing a {@link YamlReadFailure}
 * (unknown tags, duplicate keys, syntax errors, limits) and records only the start of items of lists
 * that sit directly under a document's root (the `entries` list), which is what every entry's
 * position needs.
 */
export function readYamlFast(text: string, limits: YamlReadLimits): FastRead {
  const itemStarts = new Map<unknown[], YamlPosition[]>();
  const meter = new ExpansionMeter(text, limits, parserDepth(limits));
  const measure = meter.listener;
  let starts: number[] | undefined;
  let items: unknown[] | undefined;
  const listener = (event: 'open' | 'close', state: State): void => {
    measure(event, state);
    const depth = (state as ParserState).depth;
    if (depth === 3) {
      if (event === 'open') starts?.push(state.position, state.line, state.lineStart);
      else items?.push(state.result);
    } else if (depth === 2) {
      if (event === 'open') {
        starts = [];
        items = [];
      } else if (starts !== undefined && items !== undefined) {
        // Only when each recorded child is an item of the list (js-yaml may wrap a flow list written on
        // its own line in one more node, whose single child is the list itself).
        const list: unknown = state.result;
        if (Array.isArray(list) && items.length === list.length && items.every((item, i) => item === list[i])) {
          if (list.length > 0 && !itemStarts.has(list)) itemStarts.set(list, toPositions(text, starts));
        }
        starts = undefined;
        items = undefined;
      }
    }
  };
  let documents: unknown[];
  try {
    documents = loadAll(text, null, options(STRICT_SCHEMA, limits, listener, false));
  } catch (thrown) {
    throw new YamlReadFailure(toReadError(thrown, limits, text, meter));
  }
  return { documents, itemStarts, expansion: meter };
}

function toPositions(text: string, raw: readonly number[]): YamlPosition[] {
  const out: YamlPosition[] = [];
  for (let i = 0; i < raw.length; i += 3) {
    out.push(contentPosition(text, raw[i] as number, raw[i + 1] as number, raw[i + 2] as number));
  }
  return out;
}

/** The result of the detailed read: every document composed before any error, and their positions. */
export interface DetailedRead {
  readonly documents: unknown[];
  readonly sourceMap: YamlSourceMap;
  readonly error: YamlReadError | undefined;
  /** What aliases added to the documents composed. */
  readonly expansion: Expansion;
}

/**
 * Reads a YAML text recording the position of every node, letting duplicate keys through (the source
 * map reports them all) and turning unknown tags into {@link RefusedTag}s, so that one pass finds every
 * problem of the file. Slower than {@link readYamlFast}; used when a file has problems and for
 * `locate`.
 */
export function readYamlDetailed(text: string, limits: YamlReadLimits): DetailedRead {
  const sourceMap = new YamlSourceMap(text);
  const meter = new ExpansionMeter(text, limits, parserDepth(limits));
  const record = sourceMap.listener;
  const measure = meter.listener;
  const listener = (event: 'open' | 'close', state: State): void => {
    record(event, state);
    measure(event, state);
  };
  try {
    const documents = loadAll(text, null, options(REPORTING_SCHEMA, limits, listener, true));
    return { documents, sourceMap, error: undefined, expansion: meter };
  } catch (thrown) {
    // js-yaml returns no document when any fails; the source map still holds those composed before.
    return {
      documents: sourceMap.documentValues(),
      sourceMap,
      error: toReadError(thrown, limits, text, meter),
      expansion: meter,
    };
  }
}

/**
 * The `maxDepth` js-yaml runs with: it counts keys and the scalar at the bottom as levels too; the
 * exact limit on collections is checked on the composed value, this one only stops a hostile text
 * early.
 */
function parserDepth(limits: YamlReadLimits): number {
  return limits.maxDepth + 2;
}

function options(
  schema: LoadOptions['schema'],
  limits: YamlReadLimits,
  listener: (event: 'open' | 'close', state: State) => void,
  json: boolean,
): LimitedLoadOptions {
  return {
    schema,
    json,
    listener,
    maxDepth: parserDepth(limits),
    maxTotalMergeKeys: limits.maxAliasNodes,
  };
}

/** Why YAML nested deeper than `maxDepth` is refused, wherever it is found. */
export function tooDeepMessage(maxDepth: number): string {
  return `the YAML is nested more than ${maxDepth} levels deep`;
}

/**
 * Turns what a js-yaml read threw into a message and a 1-based position; rethrows anything else.
 * A RangeError (the stack or a string running out) is placed where the meter saw the last node open.
 */
function toReadError(thrown: unknown, limits: YamlReadLimits, text: string, meter: ExpansionMeter): YamlReadError {
  if (thrown instanceof ExpansionRefusal) return { message: thrown.message, position: thrown.position };
  if (thrown instanceof RangeError) {
    const position = positionAt(text, meter.lastOffset);
    if (/call stack/i.test(thrown.message)) return { message: tooDeepMessage(limits.maxDepth), position };
    return { message: `the YAML cannot be composed here (${thrown.message})`, position };
  }
  if (!(thrown instanceof YAMLException)) throw thrown;
  const reason = thrown.reason;
  const position = { line: (thrown.mark?.line ?? 0) + 1, column: (thrown.mark?.column ?? 0) + 1 };
  return { message: describeReason(reason, limits), position };
}

function describeReason(reason: string, limits: YamlReadLimits): string {
  if (reason.startsWith('nesting exceeded maxDepth')) return tooDeepMessage(limits.maxDepth);
  if (reason.startsWith('merge keys exceeded maxTotalMergeKeys')) {
    return `merge keys (<<) copy more than ${limits.maxAliasNodes} keys in this file`;
  }
  if (reason === 'abnormal merge sequence size') {
    return 'a merge key (<<) lists more than 100 mappings';
  }
  if (reason === 'duplicated mapping key') return 'duplicate key';
  const tag = /^unknown tag !<(.*)>$/.exec(reason);
  if (tag !== null) return `tag ${displayTag(tag[1] ?? '')} is not allowed (plain YAML only)`;
  return `invalid YAML: ${reason}`;
}
