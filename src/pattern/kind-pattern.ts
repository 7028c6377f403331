import { KindlingError } from '../common/errors.js';
import { quote } from '../common/visible-text.js';

/**
 * The two pattern dialects (docs/patterns.md).
 * - `kind`: `*` is one whole segment, a trailing `*` is one or more segments, `**` is zero or more
 *   segments, `(a|b)` is one segment of alternatives.
 * - `event` (Moleculer's): `*` is any run of characters inside one segment, `**` any run including
 *   dots, `?` exactly one character that is not a dot.
 */
export type PatternDialect = 'kind' | 'event';

/** A pattern compiled once and tested many times. */
export interface CompiledPattern {
  readonly source: string;
  readonly dialect: PatternDialect;
  /** True when the pattern has no wildcard: it matches only the identical name. */
  readonly exact: boolean;
  /** The leading segments that have no wildcard; every matching name starts with them. */
  readonly prefix: readonly string[];
  /**
   * The trailing segments that have no wildcard, last first, when the pattern does not start with
   * one (empty otherwise); every matching name ends with them.
   */
  readonly suffix: readonly string[];
  readonly test: (name: string) => boolean;
}

const KIND_LITERAL = /^[A-Za-z0-9_$-]+$/;

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

function invalid(pattern: string, dialect: PatternDialect, why: string): KindlingError {
  return new KindlingError('INVALID', `invalid ${dialect} pattern ${quote(pattern)}: ${why}`, {
    details: { pattern, dialect },
  });
}

/** Builds the regex body of a kind pattern; names are tested with a leading dot (see `test`). */
function compileKindSegments(pattern: string, segments: readonly string[]): string {
  let body = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') {
      body += '(?:\\.[^.]+)*';
    } else if (segment === '*') {
      body += last ? '(?:\\.[^.]+)+' : '\\.[^.]+';
    } else if (segment.startsWith('(') && segment.endsWith(')')) {
      const options = segment.slice(1, -1).split('|');
      if (options.some((option) => !KIND_LITERAL.test(option))) {
        throw invalid(pattern, 'kind', `${quote(segment)} must list plain segments, as in "(lua|js)"`);
      }
      body += `\\.(?:${options.map(escapeRegExp).join('|')})`;
    } else if (KIND_LITERAL.test(segment)) {
      body += `\\.${escapeRegExp(segment)}`;
    } else {
      throw invalid(
        pattern,
        'kind',
        `segment ${quote(segment)} is not a word, "*", "**" or "(a|b)" (in a kind pattern "*" stands for whole segments)`,
      );
    }
  });
  return body;
}

function compileEventBody(pattern: string): string {
  let body = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        body += '.*';
        i++;
      } else {
        body += '[^.]*';
      }
    } else if (ch === '?') {
      body += '[^.]';
    } else {
      body += escapeRegExp(ch);
    }
  }
  return body;
}

function isLiteralSegment(segment: string, dialect: PatternDialect): boolean {
  return dialect === 'kind' ? KIND_LITERAL.test(segment) : !/[*?]/.test(segment);
}

/**
 * Compiles a pattern of either dialect. Throws `INVALID` for an empty pattern, an empty segment or,
 * in the kind dialect, a segment that is not a word, `*`, `**` or `(a|b)`.
 *
 * @example
 * compilePattern('function.*', 'kind').test('function.lua.bc'); // true
 */
export function compilePattern(pattern: string, dialect: PatternDialect): CompiledPattern {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new KindlingError('INVALID', `the empty ${dialect} pattern matches nothing; give a name or a wildcard`, {
      details: { pattern, dialect },
    });
  }
  const segments = pattern.split('.');
  if (segments.some((segment) => segment.length === 0)) {
    throw invalid(pattern, dialect, 'it has an empty segment');
  }
  if (/\s/.test(pattern)) throw invalid(pattern, dialect, 'it contains white space');
  const prefix: string[] = [];
  for (const segment of segments) {
    if (!isLiteralSegment(segment, dialect)) break;
    prefix.push(segment);
  }
  const exact = prefix.length === segments.length;
  const suffix: string[] = [];
  if (prefix.length === 0) {
    for (let i = segments.length - 1; i > 0 && isLiteralSegment(segments[i] as string, dialect); i--)
      suffix.push(segments[i] as string);
  }
  if (exact) {
    return { source: pattern, dialect, exact, prefix, suffix, test: (name) => name === pattern };
  }
  if (dialect === 'kind') {
    const regex = new RegExp(`^${compileKindSegments(pattern, segments)}$`);
    // Kind bodies start every segment with "\.", so that "**" can stand for zero segments.
    return { source: pattern, dialect, exact, prefix, suffix, test: (name) => regex.test(`.${name}`) };
  }
  return {
    source: pattern,
    dialect,
    exact,
    prefix,
    suffix,
    test: eventTest(pattern, prefix.length === segments.length - 1 ? segments[prefix.length] : undefined),
  };
}

/**
 * The test of an event pattern. The common trailing forms, `a.b.*` and `a.b.**`, are a prefix check
 * (cheaper to run and to keep than a regular expression: subscriptions hold thousands of them);
 * every other form compiles to one.
 */
function eventTest(pattern: string, last: string | undefined): (name: string) => boolean {
  if (last === '**' || last === '*') {
    const lead = pattern.slice(0, pattern.length - last.length); // ends with the dot
    if (last === '**') return (name) => name.startsWith(lead);
    return (name) => name.startsWith(lead) && name.indexOf('.', lead.length) < 0;
  }
  const regex = new RegExp(`^${compileEventBody(pattern)}$`);
  return (name) => regex.test(name);
}

const compiledCache: Record<PatternDialect, Map<string, CompiledPattern>> = { kind: new Map(), event: new Map() };
const COMPILED_CACHE_LIMIT = 4096;

function cachedCompile(pattern: string, dialect: PatternDialect): CompiledPattern {
  const cache = compiledCache[dialect];
  let compiled = cache.get(pattern);
  if (compiled === undefined) {
    compiled = compilePattern(pattern, dialect);
    if (cache.size >= COMPILED_CACHE_LIMIT) cache.clear();
    cache.set(pattern, compiled);
  }
  return compiled;
}

/**
 * Whether `kind` matches a kind-dialect `pattern`.
 *
 * @example
 * matchKind('http.*', 'http.router'); // true
 * matchKind('function.*', 'function.lua.bc'); // true
 */
export function matchKind(pattern: string, kind: string): boolean {
  return cachedCompile(pattern, 'kind').test(kind);
}

/**
 * Whether the event `name` matches an event-dialect `pattern`, as Moleculer's `match()` answers for
 * well-formed patterns (without its quirks: `.` is literal, `?` never matches a dot).
 *
 * @example
 * matchEventName('user.*', 'user.created'); // true
 * matchEventName('**.cc', 'aa.bb.cc'); // true
 */
export function matchEventName(pattern: string, name: string): boolean {
  return cachedCompile(pattern, 'event').test(name);
}
