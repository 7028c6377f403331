import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KindlingError } from '../common/errors.js';
import { getEntrySource, type Entry } from '../entry/entry.js';
import {
  DEFAULT_MAX_ALIAS_NODES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_EXPANDED_BYTES,
  DEFAULT_MAX_FILE_BYTES,
  loadRegistryYaml,
  parseRegistryYaml,
  RegistryYamlError,
  type RegistryYamlOptions,
  type RegistryYamlProblem,
} from './registry-yaml.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/registry/', import.meta.url));
const GOOD = join(FIXTURES, 'good');
const BAD = join(FIXTURES, 'bad');

/** Lines joined into a YAML text. */
function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

function parse(text: string, options?: RegistryYamlOptions): Entry[] {
  return parseRegistryYaml(text, 'test.yaml', options);
}

function errorOf(run: () => unknown): RegistryYamlError {
  try {
    run();
  } catch (error) {
    if (error instanceof RegistryYamlError) return error;
    throw error;
  }
  throw new Error('expected a RegistryYamlError');
}

async function asyncErrorOf(run: () => Promise<unknown>): Promise<RegistryYamlError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof RegistryYamlError) return error;
    throw error;
  }
  throw new Error('expected a RegistryYamlError');
}

/** Problems as `line:column message`, the file left out. */
function problemsOf(text: string, options?: RegistryYamlOptions): string[] {
  return errorOf(() => parse(text, options)).problems.map((p) => `${p.line}:${p.column} ${p.message}`);
}

/** `file:line:column message` with the file relative to the fixtures. */
function describeProblem(problem: RegistryYamlProblem): string {
  return `${problem.file.slice(FIXTURES.length)}:${problem.line}:${problem.column} ${problem.message}`;
}

function ids(entries: readonly Entry[]): string[] {
  return entries.map((entry) => entry.id);
}

function entry(entries: readonly Entry[], id: string): Entry {
  const found = entries.find((e) => e.id === id);
  if (found === undefined) throw new Error(`no entry ${id}`);
  return found;
}

const ONE_ENTRY = yaml('namespace: app', 'entries:', '  - name: hello', '    kind: function.js');

describe('parseRegistryYaml', () => {
  describe('format', () => {
    it('reads the namespace, name, kind, meta and data of each entry', () => {
      const [hello] = parse(
        yaml(
          'namespace: app.http',
          'entries:',
          '  - name: hello',
          '    kind: function.js',
          '    meta: { owner: me }',
          '    data: { file: hello.js, timeout: 5 }',
        ),
      );
      expect(hello).toEqual({ id: 'app.http:hello', kind: 'function.js', meta: { owner: 'me' }, data: { file: 'hello.js', timeout: 5 } });
    });

    it('takes every key other than name, kind and meta as data when the entry has no data key', () => {
      const [hello] = parse(
        yaml('namespace: app', 'entries:', '  - name: hello', '    kind: function.js', '    meta: { a: 1 }', '    file: hello.js', '    retries: 3'),
      );
      expect(hello?.data).toEqual({ file: 'hello.js', retries: 3 });
    });

    it('leaves data undefined when an entry has neither data nor inline fields', () => {
      const [hello] = parse(ONE_ENTRY);
      expect(hello?.data).toBeUndefined();
    });

    it('keeps a data value that is not a mapping', () => {
      const [hello] = parse(yaml('namespace: app', 'entries:', '  - { name: hello, kind: a.list, data: [1, 2] }'));
      expect(hello?.data).toEqual([1, 2]);
    });

    it('refuses an entry with both data and inline fields, at the first inline key', () => {
      expect(
        problemsOf(yaml('namespace: app', 'entries:', '  - name: hello', '    kind: function.js', '    data: { file: a.js }', '    file: b.js', '    retries: 3')),
      ).toEqual(['6:5 entry app:hello has both data and inline fields (file, retries); move them under data']);
    });

    it('merges the file meta under each entry meta, the entry keys winning', () => {
      const [a, b] = parse(
        yaml(
          'namespace: app',
          'meta: { owner: platform, tier: 2 }',
          'entries:',
          '  - { name: a, kind: x.y, meta: { tier: 1 } }',
          '  - { name: b, kind: x.y }',
        ),
      );
      expect([a?.meta, b?.meta]).toEqual([
        { owner: 'platform', tier: 1 },
        { owner: 'platform', tier: 2 },
      ]);
    });

    it('gives bare depends_on names the file namespace and leaves ns:name and group: references alone', () => {
      const [api] = parse(
        yaml('namespace: app', 'entries:', '  - name: api', '    kind: http.service', '    meta:', '      depends_on: [db, other.ns:cache, group:web, ns:app.http]'),
      );
      expect(api?.meta['depends_on']).toEqual(['app:db', 'other.ns:cache', 'group:web', 'ns:app.http']);
    });

    it('resolves a single depends_on name', () => {
      const [api] = parse(yaml('namespace: app', 'entries:', '  - { name: api, kind: http.service, meta: { depends_on: db } }'));
      expect(api?.meta['depends_on']).toBe('app:db');
    });

    it('resolves a depends_on inherited from the file meta in the file namespace', () => {
      const [api] = parse(yaml('namespace: app', 'meta: { depends_on: [db] }', 'entries:', '  - { name: api, kind: http.service }'));
      expect(api?.meta['depends_on']).toEqual(['app:db']);
    });

    it('refuses a depends_on that is not a name or a list of names', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - name: api', '    kind: http.service', '    meta: { depends_on: [db, 3] }'))).toEqual([
        '5:30 meta.depends_on of entry app:api must list names, got 3',
      ]);
    });

    it('reads every document of a multi-document file, each in its own namespace, in order', () => {
      const entries = parse(
        yaml('namespace: one', 'entries: [{ name: a, kind: x.y }]', '---', 'namespace: two', 'entries: [{ name: a, kind: x.y }, { name: b, kind: x.y }]'),
      );
      expect(ids(entries)).toEqual(['one:a', 'two:a', 'two:b']);
    });

    it('yields no entries for an empty text, a text of comments and empty documents', () => {
      expect([parse(''), parse('# only a comment\n'), parse(yaml('---', '---', '# nothing'))]).toEqual([[], [], []]);
    });

    it('yields no entries for a document with a namespace and no entries', () => {
      expect(parse(yaml('namespace: app', '---', 'namespace: app', 'entries:'))).toEqual([]);
    });

    it('ignores top-level x-* keys, where anchors can live', () => {
      const [a] = parse(yaml('namespace: app', 'x-port: &port 8080', 'entries:', '  - { name: a, kind: http.service, port: *port }'));
      expect(a?.data).toEqual({ port: 8080 });
    });

    it('refuses a document that has entries but no namespace', () => {
      expect(problemsOf(yaml('entries:', '  - { name: a, kind: x.y }'))).toEqual(['1:1 namespace is required (dotted words such as "app.http")']);
    });

    it('refuses an invalid namespace, at its value', () => {
      expect(problemsOf(yaml('namespace: 9lives', 'entries: []'))).toEqual([
        '1:12 namespace must be dotted words such as "app.http", got "9lives" (ASCII letters, digits, _ and -, each word starting with a letter or _; "ns" and "group" are reserved)',
      ]);
    });

    it('refuses a document that is not a mapping', () => {
      expect(problemsOf(yaml('- name: a', '  kind: x.y'))).toEqual([
        '1:1 a registry document must be a mapping with namespace and entries, got a list',
      ]);
    });

    it('refuses an unknown top-level key, at the key', () => {
      expect(problemsOf(yaml('namespace: app', 'entry:', '  - { name: a, kind: x.y }'))).toEqual([
        '2:1 unknown key "entry" (a registry document has namespace, meta and entries; x-* keys are free)',
      ]);
    });

    it('refuses a file meta that is not a mapping', () => {
      expect(problemsOf(yaml('namespace: app', 'meta: [a]', 'entries: []'))).toEqual(['2:7 meta must be a mapping, got a list']);
    });

    it('refuses entries that are not a list', () => {
      expect(problemsOf(yaml('namespace: app', 'entries: { name: a, kind: x.y }'))).toEqual(['2:10 entries must be a list, got a mapping']);
    });

    it('refuses an entry that is not a mapping', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - hello'))).toEqual(['3:5 an entry must be a mapping with name and kind, got "hello"']);
    });

    it('refuses an entry without a name, at the entry', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - kind: x.y'))).toEqual(['3:5 entry has no name']);
    });

    it('refuses a name that is not a string, suggesting quotes', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - { name: 404, kind: x.y }'))).toEqual([
        '3:13 name must be a string, got 404 (quote it: "404")',
      ]);
    });

    it('refuses a name with a namespace of its own', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - { name: "other:a", kind: x.y }'))).toEqual([
        '3:13 name "other:a" must not contain ":" (the namespace comes from the file)',
      ]);
    });

    it('refuses a name with white space', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - { name: "a b", kind: x.y }'))).toEqual([
        '3:13 name "a b" is not valid: it contains white space (U+0020) (a name is ASCII letters, digits and _ . - / @, and starts with a letter, a digit or _)',
      ]);
    });

    it('refuses an entry without a kind, at the entry', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - name: a'))).toEqual(['3:5 entry app:a has no kind']);
    });

    it('refuses an invalid kind, at its value', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - name: a', '    kind: Http.Service'))).toEqual([
        '4:11 kind of entry app:a must be dotted lowercase segments such as "http.service", got "Http.Service" (ASCII a-z, digits, _ and -, each segment starting with a letter)',
      ]);
    });

    it('refuses an entry meta that is not a mapping', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, meta: 3 }'))).toEqual([
        '3:33 meta of entry app:a must be a mapping, got 3',
      ]);
    });

    it('refuses a duplicate id in one file, at the second entry, naming the first', () => {
      const error = errorOf(() => parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y }', '  - name: a', '    kind: x.z')));
      expect(error.problems).toEqual([
        { file: 'test.yaml', line: 4, column: 5, entryId: 'app:a', message: 'duplicate entry id "app:a" (first declared at test.yaml:3:5)' },
      ]);
    });

    it('refuses a duplicate id across documents of one file', () => {
      expect(problemsOf(yaml('namespace: app', 'entries: [{ name: a, kind: x.y }]', '---', 'namespace: app', 'entries: [{ name: a, kind: x.y }]'))).toEqual([
        '5:11 duplicate entry id "app:a" (first declared at test.yaml:2:11)',
      ]);
    });

    it('refuses every duplicate key, at the second, naming the first', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', '    port: 1', '    port: 2', 'namespace: app'))).toEqual([
        '6:5 duplicate key "port" (first at line 5, column 5)',
        '7:1 duplicate key "namespace" (first at line 1, column 1)',
      ]);
    });

    it('refuses a syntax error at its position', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - name: a', '   kind: x.y'))).toEqual([
        '4:4 invalid YAML: bad indentation of a sequence entry',
      ]);
    });

    it('still reports the problems of the documents before a syntax error', () => {
      expect(problemsOf(yaml('namespace: app', 'entries: [{ name: a }]', '---', 'namespace: [app'))).toEqual([
        '2:11 entry app:a has no kind',
        '5:1 invalid YAML: unexpected end of the stream within a flow collection',
      ]);
    });

    it('reports every problem of a text at once, in order of position', () => {
      expect(
        problemsOf(
          yaml(
            'namespace: app',
            'colour: blue',
            'entries:',
            '  - name: a',
            '  - kind: x.y',
            '  - { name: c, kind: x.y, data: 1, port: 2 }',
            '  - { name: d, kind: x.y, __proto__: 1 }',
          ),
        ),
      ).toEqual([
        '2:1 unknown key "colour" (a registry document has namespace, meta and entries; x-* keys are free)',
        '4:5 entry app:a has no kind',
        '5:5 entry has no name',
        '6:36 entry app:c has both data and inline fields (port); move them under data',
        '7:27 key "__proto__" is not allowed (it could reach an object\'s prototype)',
      ]);
    });

    it('throws a KindlingError with code INVALID whose message lists each problem as file:line:col', () => {
      const error = errorOf(() => parse(yaml('namespace: app', 'entries:', '  - name: a', '  - kind: x.y')));
      expect([error instanceof KindlingError, error.code, error.message]).toEqual([
        true,
        'INVALID',
        'invalid registry YAML (2 problems):\n  test.yaml:3:5: entry app:a has no kind\n  test.yaml:4:5: entry has no name',
      ]);
    });

    it('returns entries that are frozen and carry their source', () => {
      const [hello] = parse(ONE_ENTRY);
      expect([Object.isFrozen(hello), getEntrySource(hello as Entry)?.file]).toEqual([true, 'test.yaml']);
    });
  });

  describe('anchors and merge keys', () => {
    it('shares a value through an alias', () => {
      const entries = parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, data: &conf { port: 1 } }', '  - { name: b, kind: x.y, data: *conf }'));
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
        yaml('namespace: app', 'x-one: &one { a: 1, b: 1 }', 'x-two: &two { b: 2, c: 2 }', 'entries:', '  - { name: a, kind: x.y, <<: [*one, *two] }'),
      );
      expect(a?.data).toEqual({ a: 1, b: 1, c: 2 });
    });

    it('loads ten thousand entries that share defaults through merge keys and aliases', () => {
      const lines = ['namespace: app', 'x-defaults: &defaults', '  resources: { cpu: 1, memory: [256, Mi] }', 'entries:'];
      for (let i = 0; i < 10_000; i += 1) {
        lines.push(`  - { name: w${i}, kind: worker.process, <<: *defaults, meta: { tags: &t${i} [a] }, id: ${i} }`);
      }
      const entries = parse(yaml(...lines));
      expect([entries.length, entries[9_999]?.data]).toEqual([10_000, { resources: { cpu: 1, memory: [256, 'Mi'] }, id: 9_999 }]);
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
      const text = yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, data: &d [1, 2, 3] }', '  - { name: b, kind: x.y, data: *d }');
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
      const text = yaml('namespace: app', 'meta: { a: [1, 2, 3] }', 'entries:', '  - { name: a, kind: x.y }', '  - { name: b, kind: x.y }');
      expect(problemsOf(text, { maxAliasNodes: 4 })).toEqual(['2:1 copying this meta into 2 entries adds more than 4 nodes; raise maxAliasNodes if this is intended']);
    });

    it('refuses an alias to a node that contains it', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, data: &loop { self: *loop } }'))).toEqual([
        '3:47 this alias refers to a node that contains it (a cycle)',
      ]);
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
      const text = yaml('namespace: app', 'x-deep: &deep [[[[1]]]]', 'entries:', '  - { name: a, kind: x.y, data: [[*deep]] }');
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
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', `    run: ${tag} ${value}`))).toEqual([
        `5:10 tag ${shown} is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)`,
      ]);
    });

    it('reports every refused tag of a text, even one a duplicate key replaced', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, f: !foo 1, g: !bar 2, f: 3 }'))).toEqual([
        '3:30 tag !foo is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)',
        '3:41 tag !bar is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)',
        '3:49 duplicate key "f" (first at line 3, column 27)',
      ]);
    });

    it('accepts the plain YAML tags', () => {
      const [a] = parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, s: !!str 12, i: !!int "7", m: !!map { b: !!bool "true" } }'));
      expect(a?.data).toEqual({ s: '12', i: 7, m: { b: true } });
    });

    it('reads timestamps and 1.1 booleans as strings', () => {
      const [a] = parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, day: 2024-01-01, answer: yes }'));
      expect(a?.data).toEqual({ day: '2024-01-01', answer: 'yes' });
    });

    it.each(['__proto__', 'constructor', 'prototype'])('refuses a %s key at its position, wherever it is', (key) => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', '    meta:', '      labels:', `        ${key}: { polluted: true }`))).toEqual([
        `7:9 key "${key}" is not allowed (it could reach an object's prototype)`,
      ]);
    });

    it('does not pollute Object.prototype through __proto__ keys or merges', () => {
      errorOf(() => parse(yaml('namespace: app', 'x-p: &p { __proto__: { polluted: 1 } }', 'entries:', '  - { name: a, kind: x.y, <<: *p }')));
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
      const text = yaml('namespace: app', `x-s: [&s "${'x'.repeat(100)}"]`, 'entries:', '  - { name: a, kind: x.y, data: [*s, *s, *s] }');
      expect(problemsOf(text, { maxExpandedBytes: 350 })).toEqual([
        '4:42 strings in this file add up to more than 350 bytes once aliases are expanded (long text repeated by aliases?); raise maxExpandedBytes if this is intended',
      ]);
    });

    it('derives maxExpandedBytes from maxFileBytes when it is not given', () => {
      const aliases = Array.from({ length: 20 }, () => '*s').join(', ');
      const text = yaml('namespace: app', `x-s: [&s "${'x'.repeat(100)}"]`, 'entries:', `  - { name: a, kind: x.y, data: [${aliases}] }`);
      expect(problemsOf(text, { maxFileBytes: text.length })[0]).toContain(`strings in this file add up to more than ${4 * text.length} bytes`);
    });

    it('refuses aliases inside a mapping key before the key is built', () => {
      const text = yaml('namespace: app', `x-s: [&s "${'x'.repeat(100)}"]`, 'x-k:', '  ? [*s, *s, *s, *s]', '  : 1', 'entries: []');
      expect(problemsOf(text, { maxExpandedBytes: 350 })).toEqual([
        '4:14 strings in this file add up to more than 350 bytes once aliases are expanded (long text repeated by aliases?); raise maxExpandedBytes if this is intended',
      ]);
    });

    it('refuses file meta whose copies into every entry add more than maxExpandedBytes', () => {
      const text = yaml('namespace: app', `meta: { note: "${'x'.repeat(100)}" }`, 'entries:', '  - { name: a, kind: x.y }', '  - { name: b, kind: x.y }', '  - { name: c, kind: x.y }');
      expect(problemsOf(text, { maxExpandedBytes: 250 })).toEqual([
        '2:1 copying this meta into 3 entries: strings in this file add up to more than 250 bytes once aliases are expanded (long text repeated by aliases?); raise maxExpandedBytes if this is intended',
      ]);
    });

    it('refuses an alias to the mapping that contains it, whatever its tag', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - !<tag:yaml.org,2002:map> &e', '    name: a', '    kind: x.y', '    data: *e'))).toEqual([
        '6:11 this alias refers to a node that contains it (a cycle)',
      ]);
    });

    it('places a RangeError of the parser (a mapping key longer than a string can be) at the node being composed', () => {
      const text = yaml('namespace: app', `x-s: [&s "${'x'.repeat(1 << 20)}"]`, 'x-k:', `  ? [${Array.from({ length: 600 }, () => '*s').join(', ')}]`, '  : 1', 'entries: []');
      expect(problemsOf(text, { maxFileBytes: 2 ** 28, maxExpandedBytes: 2 ** 31 })).toEqual(['5:5 the YAML cannot be composed here (Invalid string length)']);
    });

    it('accepts a file that shares values generously within the limits', () => {
      const lines = ['namespace: app', `x-s: &s "${'x'.repeat(1000)}"`, 'x-l: &l [*s, *s, *s, *s, *s, *s, *s, *s]', 'entries:'];
      for (let i = 0; i < 100; i += 1) lines.push(`  - { name: e${i}, kind: x.y, data: { notes: *l, title: *s } }`);
      expect(parse(yaml(...lines))).toHaveLength(100);
    });
  });

  describe('numbers', () => {
    it.each([
      ['.inf', '.inf is not a finite number, which JSON cannot store (it would become null); quote it if it is text'],
      ['-.Inf', '-.Inf is not a finite number, which JSON cannot store (it would become null); quote it if it is text'],
      ['.NaN', '.NaN is not a finite number, which JSON cannot store (it would become null); quote it if it is text'],
      ['!!float .inf', '.inf is not a finite number, which JSON cannot store (it would become null); quote it if it is text'],
      ['9007199254740993', 'the integer 9007199254740993 is beyond ±9007199254740991 and would silently lose precision; quote it as a string'],
      ['-9007199254740993', 'the integer -9007199254740993 is beyond ±9007199254740991 and would silently lose precision; quote it as a string'],
      ['0x20000000000001', 'the integer 0x20000000000001 is beyond ±9007199254740991 and would silently lose precision; quote it as a string'],
    ])('refuses %s at its position (regression: .inf and .nan became null and apply never converged)', (value, message) => {
      expect(problemsOf(yaml('namespace: app', 'entries:', `  - { name: a, kind: x.y, data: { n: ${value} } }`))).toEqual([`3:38 ${message}`]);
    });

    it('refuses a non-finite number in meta and in the file meta, once each', () => {
      expect(problemsOf(yaml('namespace: app', 'meta: { weight: .nan }', 'entries:', '  - { name: a, kind: x.y, meta: { score: .inf } }', '  - { name: b, kind: x.y }'))).toEqual([
        '2:17 .nan is not a finite number, which JSON cannot store (it would become null); quote it if it is text',
        '4:42 .inf is not a finite number, which JSON cannot store (it would become null); quote it if it is text',
      ]);
    });

    it('accepts the largest exact integers, floats of any size and a quoted .inf', () => {
      const [a] = parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, data: [9007199254740991, -9007199254740991, 1e300, 0.1, ".inf"] }'));
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
      const [a] = parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y, data: { family: "👩\u200d👧" } }'));
      expect(a?.data).toEqual({ family: '👩\u200d👧' });
    });
  });

  describe('depends_on and groups', () => {
    it.each([
      ['the entry itself', 'a', '"a" names the entry itself'],
      ['the entry itself by id', 'app:a', '"app:a" names the entry itself'],
      ['"group:"', '"group:"', '"group:" does not name a group: it is empty'],
      ['":"', '":"', '":" is not an entry id: it has an invalid namespace ""'],
      ['"a:b:c"', '"a:b:c"', '"a:b:c" is not an entry id: it has an invalid name "b:c": it contains ":"'],
      ['"ns:"', '"ns:"', '"ns:" does not name a namespace'],
    ])('refuses a depends_on naming %s, at the reference (regression: accepted silently)', (_label, ref, message) => {
      const problems = problemsOf(yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', `    meta: { depends_on: [db, ${ref}] }`));
      expect([problems.length, problems[0]?.startsWith(`5:30 meta.depends_on of entry app:a: ${message}`)]).toEqual([1, true]);
    });

    it('refuses a depends_on in the file meta that names an entry that inherits it, at the file meta', () => {
      expect(problemsOf(yaml('namespace: app', 'meta: { depends_on: [a] }', 'entries:', '  - { name: a, kind: x.y }', '  - { name: b, kind: x.y }'))).toEqual([
        '2:22 meta.depends_on of entry app:a: "a" names the entry itself',
      ]);
    });

    it('refuses a group name outside the grammar, at the group', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', '    meta: { groups: [web, "w b"] }'))).toEqual([
        '5:27 entry app:a: meta.groups[1] "w b" is not a group name: it contains white space (U+0020) (a name is ASCII letters, digits and _ . - / @, and starts with a letter, a digit or _)',
      ]);
    });

    it.each(['ns', 'group'])('refuses the reserved namespace %s', (namespace) => {
      expect(problemsOf(yaml(`namespace: ${namespace}`, 'entries: []'))[0]).toContain(`1:12 namespace must be dotted words such as "app.http", got "${namespace}"`);
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
      const text = yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', '    port: 1').replace(/\n/g, '\r\n');
      const source = getEntrySource(parse(text)[0] as Entry);
      expect([source?.line, source?.column, source?.locate?.(['data', 'port'])]).toEqual([3, 5, { line: 5, column: 11 }]);
    });

    it('records the same entry positions whether or not the file has problems', () => {
      const lines = ['namespace: app', 'entries:', '  - name: a', '    kind: x.y', '  - { name: b, kind: x.y }', '  -', '    name: c', '    kind: x.y'];
      const good = parse(yaml(...lines)).map((e) => getEntrySource(e));
      const bad = errorOf(() => parse(yaml(...lines, '  - { name: a, kind: x.y }'))).problems;
      expect([good.map((s) => `${s?.line}:${s?.column}`), bad[0]?.message]).toEqual([
        ['3:5', '5:5', '7:5'],
        'duplicate entry id "app:a" (first declared at test.yaml:3:5)',
      ]);
    });
  });
});

describe('EntrySource.locate', () => {
  const TEXT = yaml(
    'namespace: app', //                              1
    'x-defaults: &defaults', //                       2
    '  replicas: 2', //                                3
    '  limits: &limits { cpu: 1 }', //                 4
    'meta:', //                                        5
    '  owner: platform', //                            6
    'entries:', //                                     7
    '  - name: api', //                                8
    '    kind: http.service', //                       9
    '    meta:', //                                   10
    '      depends_on: [db, cache]', //               11
    '    data:', //                                   12
    '      port: 8080', //                            13
    '      tls:', //                                  14
    '      routes:', //                               15
    '        - path: /hello', //                      16
    '          method: GET', //                       17
    '        - { path: /bye, method: POST }', //      18
    '  - name: worker', //                            19
    '    kind: worker.process', //                    20
    '    <<: *defaults', //                           21
    '    queue: mail', //                             22
    '    quota: *limits', //                          23
    '---', //                                         24
    'namespace: other', //                            25
    'entries:', //                                    26
    '  - { name: late, kind: x.y, data: { deep: { er: 1 } } }', // 27
  );

  function at(id: string, path: (string | number)[]): string {
    const source = getEntrySource(entry(parse(TEXT), id));
    const found = source?.locate?.(path);
    return found === undefined ? 'undefined' : `${found.line}:${found.column}`;
  }

  it('points a data path at the value under data:', () => {
    expect(at('app:api', ['data', 'routes', 0, 'path'])).toBe('16:17');
  });

  it('points into flow mappings and list items', () => {
    expect([at('app:api', ['data', 'routes', 1, 'method']), at('app:api', ['data', 'routes', 1])]).toEqual(['18:33', '18:11']);
  });

  it('points a null value at its key', () => {
    expect(at('app:api', ['data', 'tls'])).toBe('14:7');
  });

  it('points a path that is not there at the deepest node on it that is', () => {
    expect(at('app:api', ['data', 'routes', 0, 'handler'])).toBe('16:11');
  });

  it('points data itself at the data mapping, or at the entry when its fields are inline', () => {
    expect([at('app:api', ['data']), at('app:worker', ['data'])]).toEqual(['13:7', '19:5']);
  });

  it('points an inline field at the entry own key', () => {
    expect(at('app:worker', ['data', 'queue'])).toBe('22:12');
  });

  it('points a field merged with << at the anchored mapping where it was written', () => {
    expect(at('app:worker', ['data', 'replicas'])).toBe('3:13');
  });

  it('points a path through an alias at the anchored node', () => {
    expect(at('app:worker', ['data', 'quota', 'cpu'])).toBe('4:26');
  });

  it('points an own meta key at the entry meta and an inherited one at the file meta', () => {
    expect([at('app:api', ['meta', 'depends_on', 1]), at('app:api', ['meta', 'owner'])]).toEqual(['11:24', '6:10']);
  });

  it('points id and kind at the name and kind values', () => {
    expect([at('app:api', ['id']), at('app:api', ['kind'])]).toEqual(['8:11', '9:11']);
  });

  it('points the empty path at the entry', () => {
    expect(at('app:api', [])).toBe('8:5');
  });

  it('locates in a later document of the file', () => {
    expect(at('other:late', ['data', 'deep', 'er'])).toBe('27:50');
  });

  it('locates entries whose list is written in flow style on its own line', () => {
    const entries = parse(yaml('namespace: app', 'entries:', '  [ { name: a, kind: x.y, port: 1 },', '    { name: b, kind: x.y, port: 2 } ]'));
    const sources = entries.map((e) => getEntrySource(e));
    expect(sources.map((s) => `${s?.line}:${s?.column} ${JSON.stringify(s?.locate?.(['data', 'port']))}`)).toEqual([
      '3:5 {"line":3,"column":33}',
      '4:5 {"line":4,"column":33}',
    ]);
  });

  it('locates the one entry of a flow list written on its own line', () => {
    const [a] = parse(yaml('namespace: app', 'entries:', '  [ { name: a, kind: x.y } ]'));
    const source = getEntrySource(a as Entry);
    expect(`${source?.line}:${source?.column}`).toBe('3:5');
  });

  it('locates the entries of a loaded file', async () => {
    const { entries } = await loadRegistryYaml(GOOD);
    const router = getEntrySource(entry(entries, 'app.http:router'));
    expect([router?.file, router?.locate?.(['data', 'routes', 0, 'handler'])]).toEqual([
      join(GOOD, 'http', 'routes.yml'),
      { line: 10, column: 20 },
    ]);
  });
});

describe('loadRegistryYaml', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kindling-registry-yaml-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads every .yaml and .yml file of a directory tree, ordered by path then document', async () => {
    const loaded = await loadRegistryYaml(GOOD);
    expect([loaded.files.map((f) => f.slice(GOOD.length + 1)), ids(loaded.entries)]).toEqual([
      ['app.yaml', 'http/nested/handlers.yaml', 'http/routes.yml', 'shared/defaults.yaml'],
      ['app:db', 'app:api', 'app.http:hello', 'app.http:router', 'app.http.admin:router', 'app.workers:mailer', 'app.workers:resizer', 'app.workers:reporter'],
    ]);
  });

  it('applies the format rules to the files it loads', async () => {
    const { entries } = await loadRegistryYaml(GOOD);
    expect([entry(entries, 'app:api').meta, entry(entries, 'app:api').data, entry(entries, 'app.workers:resizer').data]).toEqual([
      { owner: 'platform', groups: ['web'], depends_on: ['app:db', 'app.http:router', 'group:observability'] },
      { port: 8080, host: '0.0.0.0' },
      { replicas: 4, resources: { cpu: '500m', memory: '256Mi' }, queue: 'images' },
    ]);
  });

  it('reads a file named explicitly whatever its extension', async () => {
    const loaded = await loadRegistryYaml(join(GOOD, 'extra.registry'));
    expect(ids(loaded.entries)).toEqual(['extra:tool']);
  });

  it('takes several paths, sorts their files together and reads a file named twice once', async () => {
    const app = join(GOOD, 'app.yaml');
    const loaded = await loadRegistryYaml([join(GOOD, 'http'), join(GOOD, 'extra.registry'), app, app]);
    expect(loaded.files.map((f) => f.slice(GOOD.length + 1))).toEqual(['app.yaml', 'extra.registry', 'http/nested/handlers.yaml', 'http/routes.yml']);
  });

  it('refuses a path that does not exist', async () => {
    const missing = join(dir, 'missing.yaml');
    const error = await asyncErrorOf(() => loadRegistryYaml([missing, join(GOOD, 'app.yaml')]));
    expect(error.problems).toEqual([{ file: missing, line: 1, column: 1, message: 'no such file or directory' }]);
  });

  it('reports every problem of every file at once, with file:line:col', async () => {
    const error = await asyncErrorOf(() => loadRegistryYaml(BAD));
    expect(error.problems.map(describeProblem)).toEqual([
      'bad/a-syntax.yaml:6:3 invalid YAML: missed comma between flow collection entries',
      'bad/b-format.yaml:1:1 namespace is required (dotted words such as "app.http")',
      'bad/b-format.yaml:7:5 entry bad.format:no-kind has no kind',
      'bad/b-format.yaml:8:5 entry has no name',
      'bad/b-format.yaml:12:5 entry bad.format:both has both data and inline fields (file); move them under data',
      'bad/c-hostile.yaml:6:7 key "__proto__" is not allowed (it could reach an object\'s prototype)',
      'bad/c-hostile.yaml:9:10 tag !!js/function is not allowed (plain YAML only: maps, lists, strings, numbers, booleans, null)',
      'bad/c-hostile.yaml:13:5 duplicate key "file" (first at line 12, column 5)',
      'bad/nested/d-duplicate.yaml:3:5 duplicate entry id "bad.format:both" (first declared at ' + join(BAD, 'b-format.yaml') + ':9:5)',
    ]);
  });

  it('names the entry concerned by a problem when its id is known', async () => {
    const error = await asyncErrorOf(() => loadRegistryYaml(BAD));
    expect(error.problems.filter((p) => p.entryId !== undefined).map((p) => p.entryId)).toEqual([
      'bad.format:no-kind',
      'bad.format:both',
      'bad.format:both',
    ]);
  });

  it('refuses a duplicate id across files, at the second, naming the first', async () => {
    await writeFile(join(dir, 'a.yaml'), yaml('namespace: app', 'entries:', '  - { name: x, kind: x.y }'));
    await writeFile(join(dir, 'b.yml'), yaml('namespace: app', 'entries:', '', '  - name: x', '    kind: x.z'));
    const error = await asyncErrorOf(() => loadRegistryYaml(dir));
    expect(error.problems).toEqual([
      {
        file: join(dir, 'b.yml'),
        line: 4,
        column: 5,
        entryId: 'app:x',
        message: `duplicate entry id "app:x" (first declared at ${join(dir, 'a.yaml')}:3:5)`,
      },
    ]);
  });

  it('refuses a file larger than maxFileBytes', async () => {
    const file = join(dir, 'big.yaml');
    await writeFile(file, ONE_ENTRY);
    const error = await asyncErrorOf(() => loadRegistryYaml(file, { maxFileBytes: 10 }));
    expect(error.problems).toEqual([
      { file, line: 1, column: 1, message: `file is ${ONE_ENTRY.length} bytes, more than the limit of 10 (maxFileBytes)` },
    ]);
  });

  it('follows a symbolic link to a directory once, even one that loops back', async () => {
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'a.yaml'), ONE_ENTRY);
    await symlink(dir, join(dir, 'sub', 'loop'));
    const loaded = await loadRegistryYaml(dir);
    expect([loaded.files, ids(loaded.entries)]).toEqual([[join(dir, 'sub', 'a.yaml')], ['app:hello']]);
  });

  it('lists an empty file among the files read, with no entries', async () => {
    await writeFile(join(dir, 'empty.yaml'), '');
    expect(await loadRegistryYaml(dir)).toEqual({ entries: [], files: [join(dir, 'empty.yaml')] });
  });

  it('returns no entries for an empty directory', async () => {
    expect(await loadRegistryYaml(dir)).toEqual({ entries: [], files: [] });
  });

  it('reads a file that starts with a byte order mark at the right positions', async () => {
    const file = join(dir, 'bom.yaml');
    await writeFile(file, `\uFEFF${yaml('namespace: app', 'entries:', '  - name: a')}`);
    const error = await asyncErrorOf(() => loadRegistryYaml(file));
    expect(error.problems.map((p) => `${p.line}:${p.column} ${p.message}`)).toEqual(['3:5 entry app:a has no kind']);
  });
});
