import { describe, expect, it } from 'vitest';
import { getEntrySource, type Entry } from '../entry/entry.js';
import {
  DEFAULT_MAX_ALIAS_NODES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_EXPANDED_BYTES,
  DEFAULT_MAX_FILE_BYTES,
  parseRegistryYaml,
} from './registry-yaml.js';
import { errorOf, ONE_ENTRY, parse, problemsOf, yaml } from '../../test/support/registry-yaml.js';

describe('parseRegistryYaml', () => {
  describe('anchors and merge keys', () => {
    it('shares a value through an alias', () => {
      const entries = parse(
        yaml(
          'namespace: app',
          'entries:',
          '  - { name: a, kind: x.y, data: &conf { port: 1 } }',
          '  - { name: b, kind: x.y, data: *conf }',
        ),
      );
      expect(entries.map((e) => e.data)).toEqual([{ port: 1 }, { port: 1 }]);
    });

    it('merges a mapping with <<, the entry own keys winning', () => {
      const entries = parse(
        yaml(
          'namespace: app',
          'x-defaults: &defaults { replicas: 2, queue: default }',
          'entries:',
          '  - { name: a, kind: worker.process, <<: *defaults, queue: mail }',
          '  - name: b',
          '    kind: worker.process',
          '    <<: *defaults',
        ),
      );
      expect(entries.map((e) => e.data)).toEqual([
        { replicas: 2, queue: 'mail' },
        { replicas: 2, queue: 'default' },
      ]);
    });

    it('merges several mappings listed under <<, the first winning', () => {
      const [a] = parse(
        yaml(
          'namespace: app',
          'x-one: &one { a: 1, b: 1 }',
          'x-two: &two { b: 2, c: 2 }',
          'entries:',
          '  - { name: a, kind: x.y, <<: [*one, *two] }',
        ),
      );
      expect(a?.data).toEqual({ a: 1, b: 1, c: 2 });
    });

    it('loads ten thousand entries that share defaults through merge keys and aliases', () => {
      const lines = [
        'namespace: app',
        'x-defaults: &defaults',
        '  resources: { cpu: 1, memory: [256, Mi] }',
        'entries:',
      ];
      for (let i = 0; i < 10_000; i += 1) {
        lines.push(`  - { name: w${i}, kind: worker.process, <<: *defaults, meta: { tags: &t${i} [a] }, id: ${i} }`);
      }
      const entries = parse(yaml(...lines));
      expect([entries.length, entries[9_999]?.data]).toEqual([
        10_000,
        { resources: { cpu: 1, memory: [256, 'Mi'] }, id: 9_999 },
      ]);
    });
  });

  describe('safety', () => {
    it('refuses a billion-laughs alias bomb at the alias that crosses the limit', () => {
      const lines = ['namespace: app', 'x-lol:', '  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
      let previous = 'a';
      for (const name of 'bcdefghi') {
        lines.push(`  ${name}: &${name} [${Array.from({ length: 9 }, () => `*${previous}`).join(', ')}]`);
        previous = name;
      }
      expect(problemsOf(yaml(...lines, 'entries: []'))).toEqual([
        `9:10 aliases expand this file by more than ${DEFAULT_MAX_ALIAS_NODES} nodes (an alias bomb?); raise maxAliasNodes if this is intended`,
      ]);
    });

    it('refuses aliases that add more nodes than maxAliasNodes', () => {
      const text = yaml(
        'namespace: app',
        'entries:',
        '  - { name: a, kind: x.y, data: &d [1, 2, 3] }',
        '  - { name: b, kind: x.y, data: *d }',
      );
      expect(problemsOf(text, { maxAliasNodes: 3 })).toEqual([
        '4:33 aliases expand this file by more than 3 nodes (an alias bomb?); raise maxAliasNodes if this is intended',
      ]);
    });

    it('refuses merge keys whose aliases add more nodes than maxAliasNodes, at the alias that crosses it', () => {
      // Each alias of the mapping adds its 7 nodes (the mapping, three keys, three values).
      const lines = ['namespace: app', 'x-big: &big { a: 1, b: 2, c: 3 }', 'entries:'];
      for (let i = 0; i < 4; i += 1) lines.push(`  - { name: e${i}, kind: x.y, <<: *big }`);
      expect(problemsOf(yaml(...lines), { maxAliasNodes: 10 })).toEqual([
        '5:32 aliases expand this file by more than 10 nodes (an alias bomb?); raise maxAliasNodes if this is intended',
      ]);
    });

    it('refuses a file meta whose copies into every entry add more nodes than maxAliasNodes', () => {
      const text = yaml(
        'namespace: app',
        'meta: { a: [1, 2, 3] }',
        'entries:',
        '  - { name: a, kind: x.y }',
        '  - { name: b, kind: x.y }',
      );
      expect(problemsOf(text, { maxAliasNodes: 4 })).toEqual([
        '2:1 copying this meta into 2 entries adds more than 4 nodes; raise maxAliasNodes if this is intended',
      ]);
    });

    it('refuses an alias to a node that contains it', () => {
      expect(
        problemsOf(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, data: &loop { self: *loop } }')),
      ).toEqual(['3:47 this alias refers to a node that contains it (a cycle)']);
    });

    it(`accepts nesting down to maxDepth (${DEFAULT_MAX_DEPTH}) levels`, () => {
      // root mapping (1), entries (2), the entry (3), data at 4 and below
      const data = `${'['.repeat(DEFAULT_MAX_DEPTH - 3)}${']'.repeat(DEFAULT_MAX_DEPTH - 3)}`;
      expect(parse(yaml('namespace: app', 'entries:', `  - { name: a, kind: x.y, data: ${data} }`))).toHaveLength(1);
    });

    it('refuses nesting one level deeper than maxDepth, at the first level too deep', () => {
      const data = `${'['.repeat(DEFAULT_MAX_DEPTH - 2)}${']'.repeat(DEFAULT_MAX_DEPTH - 2)}`;
      expect(problemsOf(yaml('namespace: app', 'entries:', `  - { name: a, kind: x.y, data: ${data} }`))).toEqual([
        `3:${33 + DEFAULT_MAX_DEPTH - 3} the YAML is nested more than ${DEFAULT_MAX_DEPTH} levels deep`,
      ]);
    });

    it('refuses nesting that only aliases make too deep', () => {
      const text = yaml(
        'namespace: app',
        'x-deep: &deep [[[[1]]]]',
        'entries:',
        '  - { name: a, kind: x.y, data: [[*deep]] }',
      );
      expect(problemsOf(text, { maxDepth: 8 })).toEqual(['4:35 the YAML is nested more than 8 levels deep']);
    });

    it('refuses sixteen million opening brackets without running out of stack', () => {
      expect(problemsOf(`namespace: app\nentries: ${'['.repeat(16_000_000)}\n`)).toEqual([
        `2:${10 + DEFAULT_MAX_DEPTH + 1} the YAML is nested more than ${DEFAULT_MAX_DEPTH} levels deep`,
      ]);
    });

    it('refuses a million nested block sequences without running out of stack', () => {
      expect(problemsOf(`namespace: app\nentries:\n${'- '.repeat(1_000_000)}x\n`)).toEqual([
        `3:${2 * (DEFAULT_MAX_DEPTH + 1) + 1} the YAML is nested more than ${DEFAULT_MAX_DEPTH} levels deep`,
      ]);
    });

    it.each([
      ['!!js/function', '"function () { return 1 }"'],
      ['!!js/regexp', '/x/'],
      ['!!js/undefined', "''"],
      ['!!binary', 'aGVsbG8='],
      ['!!timestamp', '2024-01-01'],
      ['!!set', '{ a }'],
      ['!foo', '{ a: 1 }'],
      ['!<tag:example.com,2024:thing>', '1'],
    ])('refuses the tag %s, at the tagged value', (tag, value) => {
      const shown = tag.startsWith('!<') ? tag.slice(2, -1) : tag;
      expect(
        problemsOf(yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', `    run: ${tag} ${value}`)),
      ).toEqual([`5:10 tag ${shown} is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)`]);
    });

    it('reports every refused tag of a text, even one a duplicate key replaced', () => {
      expect(
        problemsOf(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, f: !foo 1, g: !bar 2, f: 3 }')),
      ).toEqual([
        '3:30 tag !foo is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)',
        '3:41 tag !bar is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)',
        '3:49 duplicate key "f" (first at line 3, column 27)',
      ]);
    });

    it('accepts the plain YAML tags', () => {
      const [a] = parse(
        yaml(
          'namespace: app',
          'entries:',
          '  - { name: a, kind: x.y, s: !!str 12, i: !!int "7", m: !!map { b: !!bool "true" } }',
        ),
      );
      expect(a?.data).toEqual({ s: '12', i: 7, m: { b: true } });
    });

    it('reads timestamps and 1.1 booleans as strings', () => {
      const [a] = parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, day: 2024-01-01, answer: yes }'));
      expect(a?.data).toEqual({ day: '2024-01-01', answer: 'yes' });
    });

    it.each(['__proto__', 'constructor', 'prototype'])('refuses a %s key at its position, wherever it is', (key) => {
      expect(
        problemsOf(
          yaml(
            'namespace: app',
            'entries:',
            '  - name: a',
            '    kind: x.y',
            '    meta:',
            '      labels:',
            `        ${key}: { polluted: true }`,
          ),
        ),
      ).toEqual([`7:9 key "${key}" is not allowed (it could reach an object's prototype)`]);
    });

    it('does not pollute Object.prototype through __proto__ keys or merges', () => {
      errorOf(() =>
        parse(
          yaml(
            'namespace: app',
            'x-p: &p { __proto__: { polluted: 1 } }',
            'entries:',
            '  - { name: a, kind: x.y, <<: *p }',
          ),
        ),
      );
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });

    it('refuses a text larger than maxFileBytes', () => {
      expect(problemsOf(ONE_ENTRY, { maxFileBytes: 16 })).toEqual([
        `1:1 file is ${ONE_ENTRY.length} bytes, more than the limit of 16 (maxFileBytes)`,
      ]);
    });

    it('has a default file size limit of 16 MiB', () => {
      expect(DEFAULT_MAX_FILE_BYTES).toBe(16 * 1024 * 1024);
    });

    it('refuses a limit that is not a positive integer', () => {
      expect(() => parse(ONE_ENTRY, { maxDepth: 0 })).toThrow('maxDepth must be a positive integer, got 0');
    });
  });

  describe('alias expansion', () => {
    /** A billion-laughs text whose anchors are written `<property>&name`, nine levels deep. */
    function laughs(property: string): string {
      const lines = ['namespace: app', 'x-lol:', `  a: ${property}&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]`];
      let previous = 'a';
      for (const name of 'bcdefghi') {
        lines.push(`  ${name}: ${property}&${name} [${Array.from({ length: 9 }, () => `*${previous}`).join(', ')}]`);
        previous = name;
      }
      return yaml(...lines, 'entries: []');
    }

    it('refuses an alias bomb whose anchors follow a verbatim tag (regression: a regex on the text missed those anchors)', () => {
      expect(problemsOf(laughs('!<tag:yaml.org,2002:seq>'))).toEqual([
        `9:34 aliases expand this file by more than ${DEFAULT_MAX_ALIAS_NODES} nodes (an alias bomb?); raise maxAliasNodes if this is intended`,
      ]);
    });

    it('refuses an alias bomb whose anchors follow a shorthand tag', () => {
      expect(problemsOf(laughs('!!seq '))).toEqual([
        `9:16 aliases expand this file by more than ${DEFAULT_MAX_ALIAS_NODES} nodes (an alias bomb?); raise maxAliasNodes if this is intended`,
      ]);
    });

    it(`has a default maxExpandedBytes of four times maxFileBytes (${DEFAULT_MAX_EXPANDED_BYTES} bytes)`, () => {
      expect(DEFAULT_MAX_EXPANDED_BYTES).toBe(4 * DEFAULT_MAX_FILE_BYTES);
    });

    it('refuses a long string repeated by aliases past maxExpandedBytes, at the alias that crosses it', () => {
      // 34 characters of keys and names, the string (100), then 100 per alias: the third crosses 350.
      const text = yaml(
        'namespace: app',
        `x-s: [&s "${'x'.repeat(100)}"]`,
        'entries:',
        '  - { name: a, kind: x.y, data: [*s, *s, *s] }',
      );
      expect(problemsOf(text, { maxExpandedBytes: 350 })).toEqual([
        '4:42 strings in this file add up to more than 350 bytes once aliases are expanded (long text repeated by aliases?); raise maxExpandedBytes if this is intended',
      ]);
    });

    it('derives maxExpandedBytes from maxFileBytes when it is not given', () => {
      const aliases = Array.from({ length: 20 }, () => '*s').join(', ');
      const text = yaml(
        'namespace: app',
        `x-s: [&s "${'x'.repeat(100)}"]`,
        'entries:',
        `  - { name: a, kind: x.y, data: [${aliases}] }`,
      );
      expect(problemsOf(text, { maxFileBytes: text.length })[0]).toContain(
        `strings in this file add up to more than ${4 * text.length} bytes`,
      );
    });

    it('refuses aliases inside a mapping key before the key is built', () => {
      const text = yaml(
        'namespace: app',
        `x-s: [&s "${'x'.repeat(100)}"]`,
        'x-k:',
        '  ? [*s, *s, *s, *s]',
        '  : 1',
        'entries: []',
      );
      expect(problemsOf(text, { maxExpandedBytes: 350 })).toEqual([
        '4:14 strings in this file add up to more than 350 bytes once aliases are expanded (long text repeated by aliases?); raise maxExpandedBytes if this is intended',
      ]);
    });

    it('refuses file meta whose copies into every entry add more than maxExpandedBytes', () => {
      const text = yaml(
        'namespace: app',
        `meta: { note: "${'x'.repeat(100)}" }`,
        'entries:',
        '  - { name: a, kind: x.y }',
        '  - { name: b, kind: x.y }',
        '  - { name: c, kind: x.y }',
      );
      expect(problemsOf(text, { maxExpandedBytes: 250 })).toEqual([
        '2:1 copying this meta into 3 entries: strings in this file add up to more than 250 bytes once aliases are expanded (long text repeated by aliases?); raise maxExpandedBytes if this is intended',
      ]);
    });

    it('refuses an alias to the mapping that contains it, whatever its tag', () => {
      expect(
        problemsOf(
          yaml(
            'namespace: app',
            'entries:',
            '  - !<tag:yaml.org,2002:map> &e',
            '    name: a',
            '    kind: x.y',
            '    data: *e',
          ),
        ),
      ).toEqual(['6:11 this alias refers to a node that contains it (a cycle)']);
    });

    it('places a RangeError of the parser (a mapping key longer than a string can be) at the node being composed', () => {
      const text = yaml(
        'namespace: app',
        `x-s: [&s "${'x'.repeat(1 << 20)}"]`,
        'x-k:',
        `  ? [${Array.from({ length: 600 }, () => '*s').join(', ')}]`,
        '  : 1',
        'entries: []',
      );
      expect(problemsOf(text, { maxFileBytes: 2 ** 28, maxExpandedBytes: 2 ** 31 })).toEqual([
        '5:5 the YAML cannot be composed here (Invalid string length)',
      ]);
    });

    it('accepts a file that shares values generously within the limits', () => {
      const lines = [
        'namespace: app',
        `x-s: &s "${'x'.repeat(1000)}"`,
        'x-l: &l [*s, *s, *s, *s, *s, *s, *s, *s]',
        'entries:',
      ];
      for (let i = 0; i < 100; i += 1) lines.push(`  - { name: e${i}, kind: x.y, data: { notes: *l, title: *s } }`);
      expect(parse(yaml(...lines))).toHaveLength(100);
    });
  });

  describe('numbers', () => {
    it.each([
      ['.inf', '.inf is not a finite number, which JSON cannot store (it would become null); quote it if it is text'],
      ['-.Inf', '-.Inf is not a finite number, which JSON cannot store (it would become null); quote it if it is text'],
      ['.NaN', '.NaN is not a finite number, which JSON cannot store (it would become null); quote it if it is text'],
      [
        '!!float .inf',
        '.inf is not a finite number, which JSON cannot store (it would become null); quote it if it is text',
      ],
      [
        '9007199254740993',
        'the integer 9007199254740993 is beyond ±9007199254740991 and would silently lose precision; quote it as a string',
      ],
      [
        '-9007199254740993',
        'the integer -9007199254740993 is beyond ±9007199254740991 and would silently lose precision; quote it as a string',
      ],
      [
        '0x20000000000001',
        'the integer 0x20000000000001 is beyond ±9007199254740991 and would silently lose precision; quote it as a string',
      ],
    ])(
      'refuses %s at its position (regression: .inf and .nan became null and apply never converged)',
      (value, message) => {
        expect(
          problemsOf(yaml('namespace: app', 'entries:', `  - { name: a, kind: x.y, data: { n: ${value} } }`)),
        ).toEqual([`3:38 ${message}`]);
      },
    );

    it('refuses a non-finite number in meta and in the file meta, once each', () => {
      expect(
        problemsOf(
          yaml(
            'namespace: app',
            'meta: { weight: .nan }',
            'entries:',
            '  - { name: a, kind: x.y, meta: { score: .inf } }',
            '  - { name: b, kind: x.y }',
          ),
        ),
      ).toEqual([
        '2:17 .nan is not a finite number, which JSON cannot store (it would become null); quote it if it is text',
        '4:42 .inf is not a finite number, which JSON cannot store (it would become null); quote it if it is text',
      ]);
    });

    it('accepts the largest exact integers, floats of any size and a quoted .inf', () => {
      const [a] = parse(
        yaml(
          'namespace: app',
          'entries:',
          '  - { name: a, kind: x.y, data: [9007199254740991, -9007199254740991, 1e300, 0.1, ".inf"] }',
        ),
      );
      expect(a?.data).toEqual([9007199254740991, -9007199254740991, 1e300, 0.1, '.inf']);
    });

    it('stores -0 as 0, as the journal would', () => {
      const [a] = parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, data: { z: -0 } }'));
      expect(Object.is((a?.data as { z: number }).z, 0)).toBe(true);
    });

    it('reads a non-finite number used as a key as the text written', () => {
      const [a] = parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, data: { .inf: 1 } }'));
      expect(a?.data).toEqual({ '.inf': 1 });
    });
  });

  describe('byte order marks and invisible text', () => {
    it('refuses a byte order mark before a second document, at its position (regression: it printed an invisible unknown key)', () => {
      expect(problemsOf(`namespace: a\nentries: []\n---\n\uFEFFnamespace: b\nentries: []\n`)).toEqual([
        '4:1 a byte order mark (U+FEFF) may only start the file; here it would become an invisible part of the text (files joined together?): remove it, or write "\\uFEFF" in a double-quoted string',
      ]);
    });

    it('reports ten byte order marks and counts the rest', () => {
      const problems = errorOf(() => parse(`namespace: a\n${'x: "\uFEFF"\n'.repeat(12)}`)).problems;
      expect([problems.length, problems[9]?.message.endsWith('(and 2 more after this one)')]).toEqual([10, true]);
    });

    it('shows invisible and control characters of keys escaped in every message', () => {
      const error = errorOf(() => parse(yaml('namespace: app', '"\\u202eyek": 1', '"\\e[2J": 2', 'entries: []')));
      expect(error.problems.map((p) => p.message)).toEqual([
        'unknown key "\\u202eyek" (a registry document has namespace, meta and entries; x-* keys are free)',
        'unknown key "\\u001b[2J" (a registry document has namespace, meta and entries; x-* keys are free)',
      ]);
    });

    it('shows a file name with control characters escaped in the message', () => {
      const error = errorOf(() => parseRegistryYaml('namespace: [', 'evil\u001b[2J.yaml'));
      expect(error.message).toContain('evil\\u001b[2J.yaml:2:1:');
    });

    it('keeps zero-width joiners in data, where they are text (emoji sequences)', () => {
      const [a] = parse(
        yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, data: { family: "👩\u200d👧" } }'),
      );
      expect(a?.data).toEqual({ family: '👩\u200d👧' });
    });
  });

  describe('entry sources', () => {
    it('records the file, line and column of each entry', () => {
      const entries = parse(
        yaml(
          'namespace: app',
          'entries:',
          '  - name: a',
          '    kind: x.y',
          '  -   # a comment before the entry',
          '    name: b',
          '    kind: x.y',
          '  - { name: c, kind: x.y }',
          '---',
          'namespace: two',
          'entries: [',
          '  { name: d, kind: x.y } ]',
        ),
      );
      expect(entries.map((e) => getEntrySource(e)).map((s) => `${s?.file}:${s?.line}:${s?.column}`)).toEqual([
        'test.yaml:3:5',
        'test.yaml:6:5',
        'test.yaml:8:5',
        'test.yaml:12:3',
      ]);
    });

    it('counts lines the same with CRLF line breaks', () => {
      const text = yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', '    port: 1').replace(
        /\n/g,
        '\r\n',
      );
      const source = getEntrySource(parse(text)[0] as Entry);
      expect([source?.line, source?.column, source?.locate?.(['data', 'port'])]).toEqual([
        3,
        5,
        { line: 5, column: 11 },
      ]);
    });

    it('records the same entry positions whether or not the file has problems', () => {
      const lines = [
        'namespace: app',
        'entries:',
        '  - name: a',
        '    kind: x.y',
        '  - { name: b, kind: x.y }',
        '  -',
        '    name: c',
        '    kind: x.y',
      ];
      const good = parse(yaml(...lines)).map((e) => getEntrySource(e));
      const bad = errorOf(() => parse(yaml(...lines, '  - { name: a, kind: x.y }'))).problems;
      expect([good.map((s) => `${s?.line}:${s?.column}`), bad[0]?.message]).toEqual([
        ['3:5', '5:5', '7:5'],
        'duplicate entry id "app:a" (first declared at test.yaml:3:5)',
      ]);
    });
  });
});
