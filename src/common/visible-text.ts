/**
 * Characters that print as nothing, move other text, or are not characters at all: controls (C0,
 * DEL, C1: line breaks forge lines, ESC starts terminal sequences), format characters
 * (bidirectional embeddings, overrides, isolates and marks, zero-width characters, the byte order
 * mark, soft hyphens, Unicode tag characters), lone surrogates, private-use and unassigned code
 * points, every space other than U+0020, line and paragraph separators, the other
 * default-ignorable code points (variation selectors, Hangul fillers, the combining grapheme
 * joiner) and the blank braille cell.
 */
const INVISIBLE =
  /[\p{C}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u2800]/gu;

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(ch: string): string {
  const short = SHORT_ESCAPES[ch];
  if (short !== undefined) return short;
  // Per UTF-16 unit, as JSON writes it: a character beyond U+FFFF becomes its surrogate pair, so
  // that JSON and JavaScript both read the escape back as the character.
  let escaped = '';
  for (let i = 0; i < ch.length; i++) escaped += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return escaped;
}

/**
 * Rewrites every invisible or control character of `text` as an escape (`\n`, `\u200b`,
 * `\udb40\udc41`, the form JSON uses), so that what is printed shows exactly what was there: no
 * value can forge a line, recolour or move what a terminal shows, or hide text. Everything else is
 * left as it is. With `maxChars`, `text` is first cut to that length ({@link clipText}), so a huge
 * value costs no more than a long one.
 *
 * @example
 * escapeInvisible('unknown key "\uFEFFnamespace"'); // 'unknown key "\\ufeffnamespace"'
 */
export function escapeInvisible(text: string, maxChars?: number): string {
  const cut = maxChars === undefined ? text : clipText(text, maxChars);
  INVISIBLE.lastIndex = 0;
  return INVISIBLE.test(cut) ? cut.replace(INVISIBLE, escapeOne) : cut;
}

/**
 * Quotes a value for a message: `"` and `\` are escaped as well as every invisible character, so
 * that the quoted text cannot be confused with an escape, end early or hide anything (it reads
 * back with `JSON.parse`). With `maxChars`, a longer value is cut, and how much was left out is
 * said after the closing quote (for text a peer or a client sends).
 *
 * @example
 * quote('a\u202eb"c'); // '"a\\u202eb\\"c"'
 * quote('abcdef', 3); // '"abc"… (3 more characters)'
 */
export function quote(value: string, maxChars = Number.POSITIVE_INFINITY): string {
  const end = cutIndex(value, maxChars);
  const quoted = `"${escapeInvisible(value.slice(0, end).replace(/[\\"]/g, (ch) => `\\${ch}`))}"`;
  return end === value.length ? quoted : `${quoted}${leftOut(value.length - end)}`;
}

/** The first invisible or control character of `text`, with its index, if there is one. */
export function findInvisible(text: string): { readonly index: number; readonly character: string } | undefined {
  INVISIBLE.lastIndex = 0;
  const found = INVISIBLE.exec(text);
  return found === null ? undefined : { index: found.index, character: found[0] };
}

/**
 * Shows any value in a message, safely: a string quoted with {@link quote} (cut at `maxChars`), a
 * number, boolean, undefined, null or bigint as written, and anything else by its type (`a list`,
 * `a mapping`, `a function`). Never throws, whatever the value.
 */
export function show(value: unknown, maxChars = Number.POSITIVE_INFINITY): string {
  switch (typeof value) {
    case 'string':
      return quote(value, maxChars);
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

/**
 * `text` cut to at most `maxChars` UTF-16 units plus a note of how many were left out (never
 * splitting a surrogate pair).
 *
 * @example
 * clipText('abcdef', 3); // 'abc… (3 more characters)'
 */
export function clipText(text: string, maxChars: number): string {
  const end = cutIndex(text, maxChars);
  return end === text.length ? text : `${text.slice(0, end)}${leftOut(text.length - end)}`;
}

/** Where `text` is cut to keep at most `maxChars` UTF-16 units, never inside a surrogate pair. */
function cutIndex(text: string, maxChars: number): number {
  if (text.length <= maxChars) return text.length;
  const end = Math.max(0, maxChars);
  const last = text.charCodeAt(end - 1);
  return last >= 0xd800 && last <= 0xdbff ? end - 1 : end;
}

function leftOut(chars: number): string {
  return `… (${chars.toLocaleString('en-US')} more characters)`;
}
