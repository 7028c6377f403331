/**
 * Characters that print as nothing, move other text, or are not characters at all: controls (C0,
 * DEL, C1), format characters (bidirectional overrides and isolates, zero-width characters, the byte
 * order mark, soft hyphens, tags), lone surrogates, private-use and unassigned code points, every
 * space other than U+0020, line and paragraph separators, the other default-ignorable code points
 * (variation selectors, Hangul fillers, the combining grapheme joiner) and the blank braille cell.
 */
const INVISIBLE =
  /[\p{C}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u2800]/gu;

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(ch: string): string {
  const short = SHORT_ESCAPES[ch];
  if (short !== undefined) return short;
  const code = ch.codePointAt(0) as number;
  const hex = code.toString(16).padStart(4, '0');
  return code > 0xffff ? `\\u{${hex}}` : `\\u${hex}`;
}

/**
 * Rewrites every invisible or control character of `text` as an escape (`\u200b`, `\n`), so that a
 * message shows what it is about instead of hiding it. Everything else is left as it is.
 *
 * @example
 * escapeInvisible('unknown key "\uFEFFnamespace"'); // 'unknown key "\\ufeffnamespace"'
 */
export function escapeInvisible(text: string): string {
  INVISIBLE.lastIndex = 0;
  return INVISIBLE.test(text) ? text.replace(INVISIBLE, escapeOne) : text;
}

/**
 * Quotes a value for a message: `"` and `\` are escaped as well as every invisible character, so
 * that the quoted text cannot be confused with an escape, end early or hide anything.
 *
 * @example
 * quote('a\u202eb"c'); // '"a\\u202eb\\"c"'
 */
export function quote(value: string): string {
  return `"${escapeInvisible(value.replace(/[\\"]/g, (ch) => `\\${ch}`))}"`;
}

/** The first invisible or control character of `text`, with its index, if there is one. */
export function findInvisible(text: string): { readonly index: number; readonly character: string } | undefined {
  INVISIBLE.lastIndex = 0;
  const found = INVISIBLE.exec(text);
  return found === null ? undefined : { index: found.index, character: found[0] };
}

/**
 * Shows any value in a message, safely: a string quoted with {@link quote}, a number, boolean,
 * null or bigint as written, and anything else by its type (`a list`, `a mapping`, `a function`).
 * Never throws, whatever the value.
 */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? 'a list' : 'a mapping';
    default:
      return `a ${typeof value}`;
  }
}
