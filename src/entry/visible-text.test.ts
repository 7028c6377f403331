import { describe, expect, it } from 'vitest';
import { escapeInvisible, findInvisible, quote, show } from './visible-text.js';

describe('escapeInvisible', () => {
  it.each([
    ['a byte order mark', '\uFEFFnamespace', '\\ufeffnamespace'],
    ['ESC and a line feed', 'a\u001b[2Jb\n', 'a\\u001b[2Jb\\n'],
    ['a bidirectional override and isolate', 'a\u202eb\u2066c', 'a\\u202eb\\u2066c'],
    ['zero-width characters', 'a\u200b\u200c\u200d\u2060b', 'a\\u200b\\u200c\\u200d\\u2060b'],
    ['a lone surrogate', 'a\ud800b', 'a\\ud800b'],
    ['a C1 control and DEL', 'a\u0085\u007fb', 'a\\u0085\\u007fb'],
    ['a no-break space and a line separator', 'a\u00a0b\u2028c', 'a\\u00a0b\\u2028c'],
    ['a tag character (outside the BMP)', 'a\u{e0041}b', 'a\\u{e0041}b'],
  ])('escapes %s', (_label, text, shown) => {
    expect(escapeInvisible(text)).toBe(shown);
  });

  it('leaves visible text alone, other scripts and emoji included', () => {
    const text = 'unknown key "прил" — 名前 👍 "q" \\ tab';
    expect(escapeInvisible(text)).toBe(text);
  });
});

describe('quote', () => {
  it('escapes quotes and backslashes, so an escape in the text cannot pass for a hidden character', () => {
    expect([quote('a"b'), quote('\\u200b'), quote('\u200b')]).toEqual(['"a\\"b"', '"\\\\u200b"', '"\\u200b"']);
  });
});

describe('findInvisible', () => {
  it('finds the first invisible character and its index', () => {
    expect([findInvisible('ab\u200bc\u202e'), findInvisible('abc')]).toEqual([{ index: 2, character: '\u200b' }, undefined]);
  });
});

describe('show', () => {
  it('shows any value without throwing', () => {
    expect([show('x'), show(3), show(null), show(undefined), show(2n), show([]), show({}), show(Symbol('s')), show(() => 1)]).toEqual([
      '"x"',
      '3',
      'null',
      'undefined',
      '2n',
      'a list',
      'a mapping',
      'a symbol',
      'a function',
    ]);
  });
});
