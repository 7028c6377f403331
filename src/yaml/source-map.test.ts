import { describe, expect, it } from 'vitest';
import { contentPosition, type YamlPath, type YamlSourceMap } from './source-map.js';
import { readYamlDetailed } from './yaml-reader.js';

const LIMITS = { maxDepth: 64, maxAliasNodes: 1_000_000, maxExpandedBytes: 64 * 1024 * 1024 };

function mapOf(...lines: string[]): YamlSourceMap {
  return readYamlDetailed(`${lines.join('\n')}\n`, LIMITS).sourceMap;
}

function at(map: YamlSourceMap, path: YamlPath, document = 0): string {
  const found = map.locate(document, path);
  return found === undefined ? 'undefined' : `${found.line}:${found.column}`;
}

describe('YamlSourceMap', () => {
  describe('.locate', () => {
    it('finds block and flow nodes by key and index', () => {
      const map = mapOf('a:', '  b: [1, { c: 2 }]', '  d:', '    - x', '    - y');
      expect([at(map, ['a', 'b', 1, 'c']), at(map, ['a', 'd', 1])]).toEqual(['2:15', '5:7']);
    });

    it('points at the key when asked for the key', () => {
      const map = mapOf('a:', '  b: 1');
      expect(map.locate(0, ['a', 'b'], 'key')).toEqual({ line: 2, column: 3 });
    });

    it('skips comments and blank lines before a value on a later line', () => {
      const map = mapOf('a:', '  # a comment', '', '  b: 1');
      expect(at(map, ['a'])).toBe('4:3');
    });

    it('points at a node that carries an anchor or a tag from the anchor or tag', () => {
      const map = mapOf('a: &x 1', 'b: !!str 2', 'c: &y', '  d: 3');
      expect([at(map, ['a']), at(map, ['b']), at(map, ['c', 'd'])]).toEqual(['1:4', '2:4', '4:6']);
    });

    it('finds keys written in explicit notation', () => {
      const map = mapOf('? a', ': 1', '? b', ': 2');
      expect(at(map, ['b'])).toBe('4:3');
    });

    it('follows nested merge keys to the mapping where the key was written', () => {
      const map = mapOf('base: &base { a: 1 }', 'mid: &mid { <<: *base, b: 2 }', 'top: { <<: [*mid], c: 3 }');
      expect([at(map, ['top', 'a']), at(map, ['top', 'b']), at(map, ['top', 'c'])]).toEqual(['1:18', '2:27', '3:23']);
    });

    it('follows an alias to its anchor', () => {
      const map = mapOf('a: &x { b: [10, 20] }', 'c: *x');
      expect(at(map, ['c', 'b', 1])).toBe('1:17');
    });

    it('answers per document', () => {
      const map = mapOf('a: 1', '---', 'a: 2');
      expect([at(map, ['a'], 0), at(map, ['a'], 1), at(map, ['a'], 2)]).toEqual(['1:4', '3:4', 'undefined']);
    });

    it('points a path past a scalar at the scalar', () => {
      const map = mapOf('a: 1');
      expect(at(map, ['a', 'b', 0])).toBe('1:4');
    });
  });

  describe('.has', () => {
    it('tells whether a path was written', () => {
      const map = mapOf('a: { b: null }', 'c: [1]');
      expect([map.has(0, ['a', 'b']), map.has(0, ['c', 0]), map.has(0, ['c', 1]), map.has(0, ['d'])]).toEqual([
        true,
        true,
        false,
        false,
      ]);
    });
  });

  describe('.duplicateKeys', () => {
    it('lists every key written twice in one mapping, leaving merge keys alone', () => {
      const map = mapOf('x: &x { a: 1 }', 'y:', '  <<: *x', '  <<: *x', '  a: 2', '  b: 1', '  b: 2', 'y: 3');
      expect(
        map
          .duplicateKeys()
          .map((d) => `${d.key} ${d.first.line}:${d.first.column} ${d.second.line}:${d.second.column}`),
      ).toEqual(['y 2:1 8:1', 'b 6:3 7:3']);
    });
  });

  describe('.documentValues', () => {
    it('keeps the documents composed before a syntax error', () => {
      const read = readYamlDetailed('a: 1\n---\nb: [\n', LIMITS);
      expect([read.documents, read.error?.position]).toEqual([[{ a: 1 }], { line: 4, column: 1 }]);
    });
  });
});

describe('contentPosition', () => {
  it('skips spaces, line breaks and comments to the first content', () => {
    const text = 'a:   # note\r\n\n   b';
    expect(contentPosition(text, 2, 0, 0)).toEqual({ line: 3, column: 4 });
  });

  it('stays at the offset when nothing follows', () => {
    expect(contentPosition('a:   \n', 2, 0, 0)).toEqual({ line: 1, column: 3 });
  });
});
