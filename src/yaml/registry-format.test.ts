import { describe, expect, it } from 'vitest';
import { KindlingError } from '../common/errors.js';
import { getEntrySource, type Entry } from '../entry/entry.js';
import { errorOf, ids, ONE_ENTRY, parse, problemsOf, yaml } from '../../test/support/registry-yaml.js';

describe('registry format (parseRegistryYaml)', () => {
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
      expect(hello).toEqual({
        id: 'app.http:hello',
        kind: 'function.js',
        meta: { owner: 'me' },
        data: { file: 'hello.js', timeout: 5 },
      });
    });

    it('takes every key other than name, kind and meta as data when the entry has no data key', () => {
      const [hello] = parse(
        yaml(
          'namespace: app',
          'entries:',
          '  - name: hello',
          '    kind: function.js',
          '    meta: { a: 1 }',
          '    file: hello.js',
          '    retries: 3',
        ),
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
        problemsOf(
          yaml(
            'namespace: app',
            'entries:',
            '  - name: hello',
            '    kind: function.js',
            '    data: { file: a.js }',
            '    file: b.js',
            '    retries: 3',
          ),
        ),
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
        yaml(
          'namespace: app',
          'entries:',
          '  - name: api',
          '    kind: http.service',
          '    meta:',
          '      depends_on: [db, other.ns:cache, group:web, ns:app.http]',
        ),
      );
      expect(api?.meta['depends_on']).toEqual(['app:db', 'other.ns:cache', 'group:web', 'ns:app.http']);
    });

    it('resolves a single depends_on name', () => {
      const [api] = parse(
        yaml('namespace: app', 'entries:', '  - { name: api, kind: http.service, meta: { depends_on: db } }'),
      );
      expect(api?.meta['depends_on']).toBe('app:db');
    });

    it('resolves a depends_on inherited from the file meta in the file namespace', () => {
      const [api] = parse(
        yaml('namespace: app', 'meta: { depends_on: [db] }', 'entries:', '  - { name: api, kind: http.service }'),
      );
      expect(api?.meta['depends_on']).toEqual(['app:db']);
    });

    it('refuses a depends_on that is not a name or a list of names', () => {
      expect(
        problemsOf(
          yaml(
            'namespace: app',
            'entries:',
            '  - name: api',
            '    kind: http.service',
            '    meta: { depends_on: [db, 3] }',
          ),
        ),
      ).toEqual(['5:30 meta.depends_on of entry app:api must list names, got 3']);
    });

    it('reads every document of a multi-document file, each in its own namespace, in order', () => {
      const entries = parse(
        yaml(
          'namespace: one',
          'entries: [{ name: a, kind: x.y }]',
          '---',
          'namespace: two',
          'entries: [{ name: a, kind: x.y }, { name: b, kind: x.y }]',
        ),
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
      const [a] = parse(
        yaml('namespace: app', 'x-port: &port 8080', 'entries:', '  - { name: a, kind: http.service, port: *port }'),
      );
      expect(a?.data).toEqual({ port: 8080 });
    });

    it('refuses a document that has entries but no namespace', () => {
      expect(problemsOf(yaml('entries:', '  - { name: a, kind: x.y }'))).toEqual([
        '1:1 namespace is required (dotted words such as "app.http")',
      ]);
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
      expect(problemsOf(yaml('namespace: app', 'meta: [a]', 'entries: []'))).toEqual([
        '2:7 meta must be a mapping, got a list',
      ]);
    });

    it('refuses entries that are not a list', () => {
      expect(problemsOf(yaml('namespace: app', 'entries: { name: a, kind: x.y }'))).toEqual([
        '2:10 entries must be a list, got a mapping',
      ]);
    });

    it('refuses an entry that is not a mapping', () => {
      expect(problemsOf(yaml('namespace: app', 'entries:', '  - hello'))).toEqual([
        '3:5 an entry must be a mapping with name and kind, got "hello"',
      ]);
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
      const error = errorOf(() =>
        parse(yaml('namespace: app', 'entries:', '  - { name: a, kind: x.y }', '  - name: a', '    kind: x.z')),
      );
      expect(error.problems).toEqual([
        {
          file: 'test.yaml',
          line: 4,
          column: 5,
          entryId: 'app:a',
          message: 'duplicate entry id "app:a" (first declared at test.yaml:3:5)',
        },
      ]);
    });

    it('refuses a duplicate id across documents of one file', () => {
      expect(
        problemsOf(
          yaml(
            'namespace: app',
            'entries: [{ name: a, kind: x.y }]',
            '---',
            'namespace: app',
            'entries: [{ name: a, kind: x.y }]',
          ),
        ),
      ).toEqual(['5:11 duplicate entry id "app:a" (first declared at test.yaml:2:11)']);
    });

    it('refuses every duplicate key, at the second, naming the first', () => {
      expect(
        problemsOf(
          yaml(
            'namespace: app',
            'entries:',
            '  - name: a',
            '    kind: x.y',
            '    port: 1',
            '    port: 2',
            'namespace: app',
          ),
        ),
      ).toEqual([
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

  describe('depends_on and groups', () => {
    it.each([
      ['the entry itself', 'a', '"a" names the entry itself'],
      ['the entry itself by id', 'app:a', '"app:a" names the entry itself'],
      ['"group:"', '"group:"', '"group:" does not name a group: it is empty'],
      ['":"', '":"', '":" is not an entry id: it has an invalid namespace ""'],
      ['"a:b:c"', '"a:b:c"', '"a:b:c" is not an entry id: it has an invalid name "b:c": it contains ":"'],
      ['"ns:"', '"ns:"', '"ns:" does not name a namespace'],
    ])('refuses a depends_on naming %s, at the reference (regression: accepted silently)', (_label, ref, message) => {
      const problems = problemsOf(
        yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', `    meta: { depends_on: [db, ${ref}] }`),
      );
      expect([problems.length, problems[0]?.startsWith(`5:30 meta.depends_on of entry app:a: ${message}`)]).toEqual([
        1,
        true,
      ]);
    });

    it('refuses a depends_on in the file meta that names an entry that inherits it, at the file meta', () => {
      expect(
        problemsOf(
          yaml(
            'namespace: app',
            'meta: { depends_on: [a] }',
            'entries:',
            '  - { name: a, kind: x.y }',
            '  - { name: b, kind: x.y }',
          ),
        ),
      ).toEqual(['2:22 meta.depends_on of entry app:a: "a" names the entry itself']);
    });

    it('refuses a group name outside the grammar, at the group', () => {
      expect(
        problemsOf(
          yaml('namespace: app', 'entries:', '  - name: a', '    kind: x.y', '    meta: { groups: [web, "w b"] }'),
        ),
      ).toEqual([
        '5:27 entry app:a: meta.groups[1] "w b" is not a group name: it contains white space (U+0020) (a name is ASCII letters, digits and _ . - / @, and starts with a letter, a digit or _)',
      ]);
    });

    it.each(['ns', 'group'])('refuses the reserved namespace %s', (namespace) => {
      expect(problemsOf(yaml(`namespace: ${namespace}`, 'entries: []'))[0]).toContain(
        `1:12 namespace must be dotted words such as "app.http", got "${namespace}"`,
      );
    });
  });
});
