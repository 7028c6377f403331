import { describe, expect, it } from 'vitest';
import { clipText, escapeInvisible, findInvisible, quote, show } from './visible-text.js';

describe('escapeInvisible', () => {
  it.each([
    ['a byte order mark', '\uFEFFnamespace', '\\ufeffnamespace'],
    ['ESC and a line feed', 'a\u001b[2Jb\n', 'a\\u001b[2Jb\\n'],
    ['a line feed (a forged row)', 'evil\n    9  2025-01-01Z  forged', 'evil\\n    9  2025-01-01Z  forged'],
    ['line breaks and tabs', 'a\r\n\tb', 'a\\r\\n\\tb'],
    ['C0 controls', 'a\u0000b\u0007c\u001bd', 'a\\u0000b\\u0007c\\u001bd'],
    ['an ESC sequence (clear screen, retitle)', '\u001b[2J\u001b]0;owned\u0007', '\\u001b[2J\\u001b]0;owned\\u0007'],
    ['a C1 control and DEL', 'a\u0085\u007fb', 'a\\u0085\\u007fb'],
    ['a C1 control (CSI)', 'a\u009b2Jb', 'a\\u009b2Jb'],
    ['a soft hyphen', 'ad\u00admin', 'ad\\u00admin'],
    ['bidirectional overrides and embeddings', 'a\u202eb\u202ac\u202d', 'a\\u202eb\\u202ac\\u202d'],
    [
      'bidirectional isolates and marks',
      'a\u2066b\u2069c\u200fd\u200ee\u061c',
      'a\\u2066b\\u2069c\\u200fd\\u200ee\\u061c',
    ],
    ['zero-width characters', 'a\u200b\u200c\u200d\u2060b', 'a\\u200b\\u200c\\u200d\\u2060b'],
    ['a no-break space and a line separator', 'a\u00a0b\u2028c', 'a\\u00a0b\\u2028c'],
    ['line and paragraph separators', 'a\u2028b\u2029', 'a\\u2028b\\u2029'],
    ['lone surrogates', 'a\ud800b\udc00', 'a\\ud800b\\udc00'],
    ['a tag character (outside the BMP), as its surrogate pair', 'a\u{e0041}b', 'a\\udb40\\udc41b'],
  ])('escapes %s', (_label, text, shown) => {
    expect(escapeInvisible(text)).toBe(shown);
  });

  it('leaves visible text alone, other scripts and emoji included', () => {
    const text = 'unknown key "прил" — 名前 👍 café 😀 ~!@ "q" \\ tab';
    expect(escapeInvisible(text)).toBe(text);
  });

  it('writes escapes that JSON reads back as the original characters', () => {
    const text = 'a\u009b\u202e\u{e0041}\u2028\n';
    expect(JSON.parse(`"${escapeInvisible(text)}"`)).toBe(text);
  });

  it('cuts the text at maxChars before escaping it', () => {
    expect(escapeInvisible(`a\nb\u001b[31m${'x'.repeat(400)}`, 10)).toBe('a\\nb\\u001b[31mxx… (398 more characters)');
  });
});

describe('quote', () => {
  it('escapes quotes and backslashes, so an escape in the text cannot pass for a hidden character', () => {
    expect([quote('a"b'), quote('\\u200b'), quote('\u200b')]).toEqual(['"a\\"b"', '"\\\\u200b"', '"\\u200b"']);
  });

  it('cuts a value longer than maxChars, saying after the quotation how much was left out', () => {
    expect([quote('abcdef', 3), quote('abc', 3)]).toEqual(['"abc"… (3 more characters)', '"abc"']);
  });

  it('writes a quotation JSON reads back as the value', () => {
    const value = 'po\u200brt "x" \\ \u{e0041}\n';
    expect(JSON.parse(quote(value))).toBe(value);
  });
});

describe('findInvisible', () => {
  it('finds the first invisible character and its index', () => {
    expect([findInvisible('ab\u200bc\u202e'), findInvisible('abc')]).toEqual([
      { index: 2, character: '\u200b' },
      undefined,
    ]);
  });
});

describe('show', () => {
  it('cuts a string at maxChars', () => {
    expect([show('abcdef', 2), show(123456, 2)]).toEqual(['"ab"… (4 more characters)', '123456']);
  });

  it('shows any value without throwing', () => {
    expect([
      show('x'),
      show(3),
      show(null),
      show(undefined),
      show(2n),
      show([]),
      show({}),
      show(Symbol('s')),
      show(() => 1),
    ]).toEqual(['"x"', '3', 'null', 'undefined', '2n', 'a list', 'a mapping', 'a symbol', 'a function']);
  });
});

describe('clipText', () => {
  it('cuts a longer text, saying how much was left out', () => {
    expect(clipText('abcdef', 3)).toBe('abc… (3 more characters)');
  });

  it('never splits a surrogate pair when cutting', () => {
    expect(clipText('ab😀cd', 3)).toBe('ab… (4 more characters)');
  });

  it('leaves a text within the limit as it is', () => {
    expect(clipText('abc', 3)).toBe('abc');
  });
});
