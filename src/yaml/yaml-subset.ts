import type { Type } from 'js-yaml';
import { FORBIDDEN_KEYS } from '../common/deep-freeze.js';
import type { YamlPosition } from './source-map.js';
import { RefusedNumber, strictImplicitTypes, type FastRead, type YamlReadLimits } from './yaml-reader.js';

// Why this file exists: js-yaml is general, and most of a registry load's time. Registry files are
// mostly written in a small, regular part of YAML: one document, block mappings and lists indented
// with spaces, plain or simple double-quoted scalars, and flow lists or mappings of scalars on one
// line. This reader composes exactly that part into the very values js-yaml composes (plain
// scalars are resolved by the same schema types, in the same order), and gives up at the first
// thing outside it, or anything unusual (anchors, aliases, tags, block scalars, escapes, multi-line
// scalars, duplicate or non-text keys, merge keys, tabs, non-ASCII text, numbers JSON cannot carry,
// limits approached): the caller then reads the text with js-yaml, which composes it or reports
// the problem with its position. Giving up costs at most one pass over part of the text.

/** Thrown (one instance, no stack) to give up; caught by {@link readYamlSubset}. */
const GIVE_UP = new Error('outside the subset');

const SPACE = 0x20;
/** The last printable ASCII character: anything past it (or a control character) is left to js-yaml. */
const TILDE = 0x7e;
const LINE_FEED = 0x0a;
const HASH = 0x23;
const COLON = 0x3a;
const COMMA = 0x2c;
const DASH = 0x2d;
const QUOTE = 0x22;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** First characters of text that the schema's null, bool, int, float or merge types may take. */
const MAY_RESOLVE: readonly boolean[] = (() => {
  const table = new Array<boolean>(128).fill(false);
  for (const ch of '~nNtTfF-+.0123456789<') table[ch.charCodeAt(0)] = true;
  return table;
})();

/** The list a flow mapping does not use (never pushed to). */
const NO_ITEMS: unknown[] = Object.freeze([]) as unknown as unknown[];

/** Keys longer than this are left to js-yaml (it limits implicit keys). */
const MAX_KEY = 1000;
/** Decimal digits only. */
const DIGITS = /^[0-9]+$/;

/** How many different keys of one length and first character are remembered. */
const KEYS_PER_BUCKET = 8;
/** Nesting deeper than this is left to js-yaml, whatever the limit says (no deep recursion here). */
const MAX_NESTING = 48;

/** Characters that may not start a plain scalar here (indicators, quotes js-yaml reads otherwise). */
function unusualStart(ch: number): boolean {
  return (
    ch === HASH ||
    ch === 0x26 /* & */ ||
    ch === 0x2a /* * */ ||
    ch === 0x21 /* ! */ ||
    ch === 0x7c /* | */ ||
    ch === 0x3e /* > */ ||
    ch === 0x27 /* ' */ ||
    ch === 0x25 /* % */ ||
    ch === 0x40 /* @ */ ||
    ch === 0x60 /* ` */ ||
    ch === 0x3f /* ? */ ||
    ch === COLON ||
    ch === COMMA ||
    ch === CLOSE_BRACKET ||
    ch === CLOSE_BRACE ||
    ch === SPACE
  );
}

class SubsetReader {
  private pos = 0;
  /** Characters of every string composed (keys and values), as the expansion meter counts them. */
  bytes = 0;
  /** Where the items of each list that is a value of the root mapping start. */
  readonly itemStarts = new Map<unknown[], YamlPosition[]>();
  /** Line feeds passed so far: every one is passed once, by skipBlankLines, endOfLine or comment. */
  private line = 0;
  private readonly end: number;
  private readonly types: readonly Type[];
  /** Keys read so far (strings that resolve to themselves), by length and first character. */
  private readonly keys = new Map<number, string[]>();

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {
    this.end = text.length;
    this.types = strictImplicitTypes();
  }

  read(): unknown {
    this.pos = this.skipBlankLines(0);
    if (this.pos >= this.end || this.text.charCodeAt(this.pos) === SPACE) throw GIVE_UP;
    const document = this.mapping(0, this.pos, 1);
    if (this.pos < this.end) throw GIVE_UP;
    return document;
  }

  /** The start of the next line with content at or after `at` (a line start), or the end. */
  private skipBlankLines(at: number): number {
    const text = this.text;
    let p = at;
    for (;;) {
      if (p >= this.end) return this.end;
      let i = p;
      while (text.charCodeAt(i) === SPACE) i++;
      const ch = text.charCodeAt(i);
      if (i >= this.end) return this.end;
      if (ch === LINE_FEED) {
        this.line++;
        p = i + 1;
      } else if (ch === HASH) {
        p = this.comment(i);
      } else {
        return p;
      }
    }
  }

  private indentAt(lineStart: number): number {
    let i = lineStart;
    while (this.text.charCodeAt(i) === SPACE) i++;
    return i - lineStart;
  }

  private skipSpaces(at: number): number {
    let p = at;
    while (this.text.charCodeAt(p) === SPACE) p++;
    return p;
  }

  /** After a value: spaces and a comment may end the line. Returns the next line's start. */
  private endOfLine(at: number): number {
    const text = this.text;
    const p = this.skipSpaces(at);
    if (p >= this.end) return this.end;
    const ch = text.charCodeAt(p);
    if (ch === LINE_FEED) {
      this.line++;
      return p + 1;
    }
    if (ch === HASH && text.charCodeAt(p - 1) === SPACE) return this.comment(p);
    throw GIVE_UP;
  }

  /** Past a comment (its characters checked like any other): the next line's start. */
  private comment(at: number): number {
    const text = this.text;
    let i = at;
    for (; i < this.end; i++) {
      const ch = text.charCodeAt(i);
      if (ch === LINE_FEED) {
        this.line++;
        return i + 1;
      }
      if (ch < SPACE || ch > TILDE) throw GIVE_UP;
    }
    return this.end;
  }

  /**
   * Where the plain scalar starting at `at` ends (trailing spaces excluded); `this.pos` is left where
   * reading stopped (at `: `, ` #`, the line end, or in a flow, an indicator).
   */
  private plainEnd(at: number, flow: boolean): number {
    const text = this.text;
    let i = at;
    for (; i < this.end; i++) {
      const ch = text.charCodeAt(i);
      if (ch === LINE_FEED) break;
      if (ch < SPACE || ch > TILDE) throw GIVE_UP;
      if (ch === COLON) {
        const next = text.charCodeAt(i + 1);
        if (i + 1 >= this.end || next === SPACE || next === LINE_FEED) break;
        if (flow) throw GIVE_UP;
      } else if (ch === HASH && text.charCodeAt(i - 1) === SPACE) {
        break;
      } else if (flow && (ch === COMMA || ch === CLOSE_BRACKET || ch === CLOSE_BRACE)) {
        break;
      } else if (flow && (ch === OPEN_BRACKET || ch === OPEN_BRACE)) {
        throw GIVE_UP;
      }
    }
    this.pos = i;
    let end = i;
    while (end > at && text.charCodeAt(end - 1) === SPACE) end--;
    return end;
  }

  /** A plain scalar's value, resolved as js-yaml's strict schema resolves it. */
  private resolve(raw: string): unknown {
    // The strict schema's implicit types (null, bool, int, float, merge) only take text starting
    // with one of these; anything else is a string, as js-yaml would find after trying them all.
    const first = raw.charCodeAt(0);
    if (!MAY_RESOLVE[first]) {
      this.bytes += raw.length;
      return raw;
    }
    // Plain decimal digits without a leading zero (ports, counts): the int type's value, at once.
    if (first >= 0x31 && first <= 0x39 && raw.length <= 15 && DIGITS.test(raw)) return Number(raw);
    const types = this.types;
    for (let t = 0; t < types.length; t++) {
      const type = types[t] as Type;
      if (type.resolve(raw)) {
        // A merge key, or a number JSON cannot carry: js-yaml's read handles (and reports) them.
        if ((type as Type & { tag?: string }).tag === 'tag:yaml.org,2002:merge') throw GIVE_UP;
        const value: unknown = type.construct(raw);
        if (value instanceof RefusedNumber) throw GIVE_UP;
        return value;
      }
    }
    this.bytes += raw.length;
    return raw;
  }

  /** A scalar or a one-line flow collection at `at`; `this.pos` is left after it. */
  private scalar(at: number, flow: boolean, depth: number): unknown {
    const text = this.text;
    const ch = text.charCodeAt(at);
    if (ch === QUOTE) {
      let i = at + 1;
      for (; i < this.end; i++) {
        const c = text.charCodeAt(i);
        if (c === QUOTE) break;
        if (c === 0x5c /* \ */ || c < SPACE || c > TILDE) throw GIVE_UP;
      }
      if (i >= this.end) throw GIVE_UP;
      this.pos = i + 1;
      const value = text.slice(at + 1, i);
      this.bytes += value.length;
      return value;
    }
    if (ch === OPEN_BRACKET || ch === OPEN_BRACE) {
      if (flow) throw GIVE_UP;
      return this.flow(at, depth);
    }
    if (unusualStart(ch) || ch === LINE_FEED || at >= this.end) throw GIVE_UP;
    if (ch === DASH) {
      const next = text.charCodeAt(at + 1);
      if (next === SPACE || next === LINE_FEED || at + 1 >= this.end) throw GIVE_UP;
    }
    const end = this.plainEnd(at, flow);
    if (end === at) throw GIVE_UP;
    return this.resolve(text.slice(at, end));
  }

  /** A flow list or mapping of scalars, on one line. */
  private flow(at: number, depth: number): unknown {
    if (depth > this.maxDepth) throw GIVE_UP;
    const text = this.text;
    const mapping = text.charCodeAt(at) === OPEN_BRACE;
    const close = mapping ? CLOSE_BRACE : CLOSE_BRACKET;
    // Only the collection this is gets made.
    const record: Record<string, unknown> | undefined = mapping ? {} : undefined;
    const list: unknown[] = mapping ? NO_ITEMS : [];
    let p = this.skipSpaces(at + 1);
    if (text.charCodeAt(p) === close) {
      this.pos = p + 1;
      return record ?? list;
    }
    for (;;) {
      if (record !== undefined) {
        const keyAt = p;
        const keyChar = text.charCodeAt(keyAt);
        if (keyChar === QUOTE || keyChar === OPEN_BRACKET || keyChar === OPEN_BRACE) throw GIVE_UP;
        const key = this.key(keyAt, true);
        p = this.skipSpaces(this.pos);
        if (text.charCodeAt(p) !== COLON || text.charCodeAt(p + 1) !== SPACE) throw GIVE_UP;
        const value = this.scalar(this.skipSpaces(p + 1), true, depth + 1);
        if (Object.hasOwn(record, key)) throw GIVE_UP;
        record[key] = value;
      } else {
        list.push(this.scalar(p, true, depth + 1));
      }
      p = this.skipSpaces(this.pos);
      const ch = text.charCodeAt(p);
      if (ch === close) {
        this.pos = p + 1;
        return record ?? list;
      }
      if (ch !== COMMA) throw GIVE_UP;
      p = this.skipSpaces(p + 1);
      const next = text.charCodeAt(p);
      if (next === close || next === COMMA || next === LINE_FEED || p >= this.end) throw GIVE_UP;
    }
  }

  /** A mapping key: plain text that resolves to a string (no number, boolean or null key). */
  private key(at: number, flow: boolean): string {
    const text = this.text;
    const ch = text.charCodeAt(at);
    if (unusualStart(ch) || ch === QUOTE || ch === OPEN_BRACKET || ch === OPEN_BRACE || ch === LINE_FEED) {
      throw GIVE_UP;
    }
    if (ch === DASH && (text.charCodeAt(at + 1) === SPACE || text.charCodeAt(at + 1) === LINE_FEED)) throw GIVE_UP;
    // A document marker (`---`, `...`) at the start of a line; every line that starts with content
    // starts with a key here (a directive starts with `%`, refused above).
    if (
      (at === 0 || text.charCodeAt(at - 1) === LINE_FEED) &&
      (text.startsWith('---', at) || text.startsWith('...', at))
    ) {
      throw GIVE_UP;
    }
    const end = this.plainEnd(at, flow);
    const length = end - at;
    if (length === 0 || length > MAX_KEY) throw GIVE_UP;
    // Keys repeat (every entry has a name and a kind): one read before is compared in place and
    // reused, instead of cutting, hashing and resolving the same text again.
    const bucket = length * 128 + ch;
    const known = this.keys.get(bucket);
    if (known !== undefined) {
      for (let k = 0; k < known.length; k++) {
        const candidate = known[k] as string;
        if (text.startsWith(candidate, at)) {
          this.bytes += length;
          return candidate;
        }
      }
    }
    const raw = text.slice(at, end);
    // The guard reports these (with their positions) on js-yaml's read.
    if (FORBIDDEN_KEYS.has(raw)) throw GIVE_UP;
    const value = this.resolve(raw);
    if (typeof value !== 'string') throw GIVE_UP;
    if (known === undefined) this.keys.set(bucket, [value]);
    else if (known.length < KEYS_PER_BUCKET) known.push(value);
    return value;
  }

  /**
   * A block mapping whose first key starts at `first`, on the line starting at `lineStart`, with its
   * keys at `indent`. Leaves `this.pos` at the start of the first line that is not its own.
   */
  private mapping(indent: number, first: number, depth: number): Record<string, unknown> {
    if (depth > this.maxDepth || depth > MAX_NESTING) throw GIVE_UP;
    const text = this.text;
    const record: Record<string, unknown> = {};
    let at = first;
    for (;;) {
      const key = this.key(at, false);
      if (text.charCodeAt(this.pos) !== COLON) throw GIVE_UP;
      if (Object.hasOwn(record, key)) throw GIVE_UP;
      const valueAt = this.skipSpaces(this.pos + 1);
      const ch = text.charCodeAt(valueAt);
      let next: number;
      if (valueAt >= this.end || ch === LINE_FEED || ch === HASH) {
        // The value is a block on the lines below, or null.
        next = this.skipBlankLines(this.endOfLine(valueAt));
        const childIndent = next < this.end ? this.indentAt(next) : -1;
        const childAt = next + childIndent;
        const listed = childIndent >= 0 && this.isItem(childAt);
        if (childIndent > indent || (childIndent === indent && listed)) {
          if (listed) {
            // Item positions are kept for the lists of the root mapping (the entries) only.
            const starts: YamlPosition[] | undefined = depth === 1 ? [] : undefined;
            const list = this.list(next, childIndent, depth + 1, starts);
            record[key] = list;
            if (starts !== undefined) this.itemStarts.set(list, starts);
          } else {
            record[key] = this.mapping(childIndent, childAt, depth + 1);
          }
          next = this.pos;
        } else {
          record[key] = null;
        }
      } else {
        record[key] = this.scalar(valueAt, false, depth + 1);
        next = this.skipBlankLines(this.endOfLine(this.pos));
      }
      if (next >= this.end) {
        this.pos = this.end;
        return record;
      }
      const lineIndent = this.indentAt(next);
      if (lineIndent < indent || (lineIndent === indent && this.isItem(next + lineIndent))) {
        this.pos = next;
        return record;
      }
      if (lineIndent > indent) throw GIVE_UP;
      at = next + lineIndent;
    }
  }

  private isItem(at: number): boolean {
    const text = this.text;
    return text.charCodeAt(at) === DASH && text.charCodeAt(at + 1) === SPACE;
  }

  /**
   * A block list whose first `- ` is on the line starting at `lineStart`, at `indent`; the position
   * of each item is pushed to `starts` when given.
   */
  private list(lineStart: number, indent: number, depth: number, starts: YamlPosition[] | undefined): unknown[] {
    if (depth > this.maxDepth || depth > MAX_NESTING) throw GIVE_UP;
    const text = this.text;
    const list: unknown[] = [];
    let line = lineStart;
    for (;;) {
      const at = this.skipSpaces(line + indent + 2);
      const ch = text.charCodeAt(at);
      if (at >= this.end || ch === LINE_FEED || ch === HASH) throw GIVE_UP;
      starts?.push({ line: this.line + 1, column: at - line + 1 });
      let next: number;
      if (this.startsMapping(at)) {
        list.push(this.mapping(at - line, at, depth + 1));
        next = this.pos;
      } else {
        const item = this.scalar(at, false, depth + 1);
        // js-yaml composes a scalar item of a block list twice (first as a possible key), and the
        // meter counts both: so does this count.
        if (typeof item === 'string' && text.charCodeAt(at) !== OPEN_BRACKET && text.charCodeAt(at) !== OPEN_BRACE) {
          this.bytes += item.length;
        }
        list.push(item);
        next = this.skipBlankLines(this.endOfLine(this.pos));
      }
      if (next >= this.end) {
        this.pos = this.end;
        break;
      }
      const lineIndent = this.indentAt(next);
      if (lineIndent > indent) throw GIVE_UP;
      if (lineIndent < indent || !this.isItem(next + lineIndent)) {
        this.pos = next;
        break;
      }
      line = next;
    }
    return list;
  }

  /** Whether the plain text at `at` is a key (`name: ...`) rather than a scalar. */
  private startsMapping(at: number): boolean {
    const ch = this.text.charCodeAt(at);
    if (ch === QUOTE || ch === OPEN_BRACKET || ch === OPEN_BRACE || unusualStart(ch)) return false;
    if (ch === DASH && this.text.charCodeAt(at + 1) === SPACE) throw GIVE_UP;
    this.plainEnd(at, false);
    return this.text.charCodeAt(this.pos) === COLON;
  }
}

/**
 * Reads a text written in the small part of YAML described above into what {@link readYamlFast}
 * would return for it; `undefined` when the text is outside that part (then js-yaml reads it).
 */
export function readYamlSubset(text: string, limits: YamlReadLimits): FastRead | undefined {
  const reader = new SubsetReader(text, limits.maxDepth);
  let document: unknown;
  try {
    document = reader.read();
  } catch (error) {
    if (error === GIVE_UP || error instanceof RangeError) return undefined;
    throw error;
  }
  if (reader.bytes > limits.maxExpandedBytes) return undefined;
  return {
    documents: [document],
    itemStarts: reader.itemStarts,
    expansion: { addedNodes: 0, expandedBytes: reader.bytes, sharing: false },
    // No tag, alias or refused number gets here, no forbidden key and no nesting past maxDepth.
    guarded: true,
  };
}
