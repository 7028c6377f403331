import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KindlingError } from '../common/errors.js';
import {
  createEntry,
  createOwnedEntry,
  formatEntryLocation,
  getEntrySource,
  isCanonicalEntry,
  jsonBytes,
  keepEntryConfig,
  keptEntryConfig,
  knownEntryBytes,
  rememberEntryBytes,
  setEntrySource,
} from './entry.js';
import {
  assertValidKind,
  dependencyProblem,
  isPlainDependency,
  isValidName,
  isValidNamespace,
  parseDependency,
  parseEntryId,
  resolveEntryRef,
} from './entry-id.js';

/** The message of what `run` throws. */
function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}

/** One character of every class the id grammar refuses, and how the refusal names it. */
const REFUSED_CHARACTERS: readonly (readonly [string, string, string])[] = [
  ['ESC', '\u001b', 'a control character (U+001B)'],
  ['NUL', '\u0000', 'a control character (U+0000)'],
  ['a line feed', '\n', 'a control character (U+000A)'],
  ['DEL', '\u007f', 'a control character (U+007F)'],
  ['a C1 control (NEL)', '\u0085', 'a control character (U+0085)'],
  ['a C1 control (CSI)', '\u009b', 'a control character (U+009B)'],
  ['a right-to-left override', '\u202e', 'a bidirectional control (U+202E)'],
  ['a left-to-right embedding', '\u202a', 'a bidirectional control (U+202A)'],
  ['a first-strong isolate', '\u2068', 'a bidirectional control (U+2068)'],
  ['a pop directional isolate', '\u2069', 'a bidirectional control (U+2069)'],
  ['a right-to-left mark', '\u200f', 'a bidirectional control (U+200F)'],
  ['a zero-width space', '\u200b', 'an invisible character (U+200B)'],
  ['a zero-width joiner', '\u200d', 'an invisible character (U+200D)'],
  ['a word joiner', '\u2060', 'an invisible character (U+2060)'],
  ['a byte order mark', '\ufeff', 'an invisible character (U+FEFF)'],
  ['a soft hyphen', '\u00ad', 'an invisible character (U+00AD)'],
  ['a lone high surrogate', '\ud800', 'a lone surrogate (U+D800)'],
  ['a lone low surrogate', '\udc00', 'a lone surrogate (U+DC00)'],
  ['a no-break space', '\u00a0', 'white space (U+00A0)'],
  ['a line separator', '\u2028', 'white space (U+2028)'],
  ['a Hangul filler', '\u3164', 'a character outside ASCII (U+3164)'],
  ['a variation selector', '\ufe0f', 'a character outside ASCII (U+FE0F)'],
  ['a Cyrillic look-alike of "a"', '\u0430', 'a character outside ASCII (U+0430)'],
  ['a tag character', '\u{e0041}', 'a character outside ASCII (U+E0041)'],
  ['a space', ' ', 'white space (U+0020)'],
  ['a colon', ':', '":"'],
  ['a quote', '"', '"\\""'],
];

describe('parseEntryId', () => {
  it('splits an id into its namespace and name', () => {
    expect(parseEntryId('app.http:server-v2')).toEqual({ namespace: 'app.http', name: 'server-v2' });
  });

  it('accepts every character the grammar allows in a name', () => {
    expect(parseEntryId('app:Az09_.-/@x')).toEqual({ namespace: 'app', name: 'Az09_.-/@x' });
  });

  it.each([
    '',
    'server',
    ':server',
    'app:',
    'app..http:x',
    'app:has space',
    'app.http:server:v2',
    '9app:x',
    'app:.hidden',
    'app:-x',
  ])('refuses %j with INVALID', (id) => {
    expect(() => parseEntryId(id)).toThrow(KindlingError);
  });

  it.each(REFUSED_CHARACTERS)(
    'refuses a name with %s, naming it and showing it escaped',
    (_label, character, named) => {
      const message = messageOf(() => parseEntryId(`app:a${character}b`));
      expect([
        message.includes(`it contains ${named}`),
        /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/.test(message),
      ]).toEqual([true, false]);
    },
  );

  it.each(['ns', 'group'])('refuses the reserved namespace %s', (namespace) => {
    expect(messageOf(() => parseEntryId(`${namespace}:x`))).toContain(`"${namespace}" is reserved`);
  });

  it('refuses a namespace outside ASCII', () => {
    expect(messageOf(() => parseEntryId('\u0430pp:x'))).toContain('has an invalid namespace "\u0430pp"');
  });

  it('refuses an id that is not a string without failing to print it', () => {
    expect(messageOf(() => parseEntryId(12n as unknown as string))).toBe(
      'entry id is required (expected "namespace:name"), got 12n',
    );
  });
});

describe('isValidName and isValidNamespace', () => {
  it('agree with the grammar', () => {
    expect([
      isValidName('a.b-c/d@e'),
      isValidName('a b'),
      isValidNamespace('app.http'),
      isValidNamespace('ns'),
      isValidNamespace('app.\u200b'),
    ]).toEqual([true, false, true, false, false]);
  });
});

describe('assertValidKind', () => {
  it('shows a kind with invisible characters escaped', () => {
    expect(messageOf(() => assertValidKind('http.\u202eecivres', 'app:a'))).toContain('got "http.\\u202eecivres"');
  });

  it('shows a kind that is not a string without failing to print it', () => {
    expect(messageOf(() => assertValidKind(Symbol('x')))).toContain('got a symbol');
  });
});

describe('parseDependency', () => {
  it('resolves a bare name in the entry namespace and keeps ids, ns: and group: references', () => {
    expect(['db', 'other.ns:cache', 'ns:app.http', 'group:web'].map((ref) => parseDependency(ref, 'app:api'))).toEqual([
      'app:db',
      'other.ns:cache',
      'ns:app.http',
      'group:web',
    ]);
  });

  it.each([
    ['the entry itself by name', 'api', 'names the entry itself'],
    ['the entry itself by id', 'app:api', 'names the entry itself'],
    ['"group:" with no group', 'group:', 'does not name a group: it is empty'],
    ['":" alone', ':', 'is not an entry id: it has an invalid namespace ""'],
    ['three parts', 'a:b:c', 'is not an entry id: it has an invalid name "b:c": it contains ":"'],
    ['"ns:" with no namespace', 'ns:', 'does not name a namespace'],
    ['"ns:" with a bad namespace', 'ns:app..http', 'does not name a namespace'],
    ['an empty string', '', 'is empty'],
    ['a name with a zero-width space', 'd\u200bb', 'is not a valid name: it contains an invisible character (U+200B)'],
    ['a group with a space', 'group:a b', 'does not name a group: it contains white space (U+0020)'],
  ])('refuses %s', (_label, ref, why) => {
    expect(messageOf(() => parseDependency(ref, 'app:api'))).toContain(why);
  });

  it('refuses a reference that is not a string', () => {
    expect(dependencyProblem(3, 'app:api')).toBe(
      'is not a reference (a name, an id, "ns:<namespace>" or "group:<group>")',
    );
  });

  it('accepts the namespace and the groups of the entry itself, which select the others', () => {
    expect([dependencyProblem('ns:app', 'app:api'), dependencyProblem('group:api', 'app:api')]).toEqual([
      undefined,
      undefined,
    ]);
  });
});

describe('isPlainDependency', () => {
  // The expression the character scan replaced, kept here as its specification.
  const PLAIN = /^(?:[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*:)?[A-Za-z0-9_][A-Za-z0-9_./@-]*$/;
  const specified = (ref: string, entryId: string): boolean =>
    PLAIN.test(ref) &&
    !ref.startsWith('ns:') &&
    ref !== entryId &&
    !(entryId.endsWith(ref) && entryId.charCodeAt(entryId.length - ref.length - 1) === 0x3a && !ref.includes(':'));
  // Every class boundary of the grammar, and characters outside ASCII that look like ones inside it.
  const reference = fc.string({
    unit: fc.constantFrom(...'aZ_9-./@: \n\u200b\u00e9\u0130\u212a'.split(''), 'x', 'b', 'ns', 'group'),
    maxLength: 12,
  });

  it('says yes exactly where the grammar does', () => {
    fc.assert(
      fc.property(reference, fc.constantFrom('app:api', 'a.b:c', 'x:_'), (ref, entryId) => {
        expect(isPlainDependency(ref, entryId)).toBe(specified(ref, entryId));
      }),
      { numRuns: 5000 },
    );
  });

  it('never says yes to a reference dependencyProblem refuses', () => {
    fc.assert(
      fc.property(reference, (ref) => {
        if (isPlainDependency(ref, 'app:api')) expect(dependencyProblem(ref, 'app:api')).toBeUndefined();
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['db', true],
    ['other.ns:shared', true],
    ['group:web', true],
    ['a.b.c:v1.2/x@y-z', true],
    ['_a:9', true],
    ['ns:app', false],
    ['.a:b', false],
    ['a.:b', false],
    ['a..b:c', false],
    ['9a:b', false],
    ['a-b.c-d:e', true],
    ['a:', false],
    [':a', false],
    ['a:b:c', false],
    ['-a', false],
    ['caf\u00e9', false],
    ['api', false],
    ['app:api', false],
  ])('%s → %s (as a reference of app:api)', (ref, yes) => {
    expect(isPlainDependency(ref, 'app:api')).toBe(yes);
    expect(specified(ref, 'app:api')).toBe(yes);
  });
});

describe('resolveEntryRef', () => {
  it('gives a bare name the namespace', () => {
    expect(resolveEntryRef('db', 'app')).toBe('app:db');
    expect(resolveEntryRef('other:db', 'app')).toBe('other:db');
  });
});

describe('createEntry', () => {
  it('returns a deep-frozen copy', () => {
    const data = { list: [{ a: 1 }] };
    const entry = createEntry({ id: 'app:a', kind: 'x.y', data });
    expect(entry.data).toEqual(data);
    expect(entry.data).not.toBe(data);
    expect(Object.isFrozen(entry.data.list[0])).toBe(true);
    expect(entry.meta).toEqual({});
  });

  it('returns an entry it made before without copying it again', () => {
    const entry = createEntry({ id: 'app:a', kind: 'x.y' });
    expect(createEntry(entry)).toBe(entry);
  });

  it('knows only its own entries: no copy, frozen look-alike or proxy of one passes for it', () => {
    const entry = createEntry({ id: 'app:a', kind: 'x.y', data: { n: 1 } });
    expect(isCanonicalEntry(entry)).toBe(true);
    // The mark is no property: keys, JSON and equality see the plain entry.
    expect(Reflect.ownKeys(entry)).toEqual(['id', 'kind', 'meta', 'data']);
    expect(JSON.parse(JSON.stringify(entry))).toEqual({ id: 'app:a', kind: 'x.y', meta: {}, data: { n: 1 } });
    for (const other of [
      { ...entry },
      structuredClone(entry),
      Object.freeze({ ...entry }),
      new Proxy(entry, {}),
      Object.freeze(Object.create(entry) as object),
    ]) {
      expect(isCanonicalEntry(other)).toBe(false);
      expect(createEntry(other as typeof entry)).not.toBe(other);
    }
  });

  it('keeps what it learns of an entry after freezing it, for that entry only', () => {
    const a = createEntry({ id: 'app:a', kind: 'x.y', data: { n: 1 } });
    const b = createEntry({ id: 'app:b', kind: 'x.y', data: { n: 2 } });
    expect(knownEntryBytes(a)).toBeUndefined();
    rememberEntryBytes(a, 123);
    rememberEntryBytes({ ...b }, 456);
    expect([knownEntryBytes(a), knownEntryBytes(b)]).toEqual([123, undefined]);
    class Config {}
    const config = Object.freeze(new Config());
    keepEntryConfig(a, Config, config);
    expect(keptEntryConfig(a, Config)).toBe(config);
    expect(keptEntryConfig(b, Config)).toBeUndefined();
    expect(knownEntryBytes(a)).toBe(123);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it.each(['HTTP.service', 'http..service', 'http service', ''])('refuses the kind %j', (kind) => {
    expect(() => createEntry({ id: 'app:a', kind })).toThrow(/kind of entry app:a/);
  });

  it('refuses a __proto__ key with its path', () => {
    const data = JSON.parse('{"routes":[{"__proto__":{"polluted":true}}]}') as unknown;
    expect(() => createEntry({ id: 'app:a', kind: 'x.y', data })).toThrow(
      'entry app:a: data.routes[0].__proto__ is a forbidden key',
    );
  });

  it('refuses nesting deeper than 64 levels', () => {
    let data: unknown = 1;
    for (let i = 0; i < 70; i++) data = { d: data };
    expect(() => createEntry({ id: 'app:a', kind: 'x.y', data })).toThrow(/nested more than 64 levels/);
  });

  it.each([
    ['NaN', Number.NaN, 'data.x is NaN, which JSON cannot store (it would become null)'],
    ['Infinity', Number.POSITIVE_INFINITY, 'data.x is Infinity, which JSON cannot store (it would become null)'],
    ['-Infinity', Number.NEGATIVE_INFINITY, 'data.x is -Infinity, which JSON cannot store (it would become null)'],
    ['a bigint', 1n, 'data.x is a bigint, which JSON cannot store'],
    ['a function', () => 1, 'data.x is a function, which JSON cannot store'],
    ['a symbol', Symbol('s'), 'data.x is a symbol, which JSON cannot store'],
    ['a Date', new Date(0), 'data.x is a Date, not a plain object or a list (JSON cannot store it as it is)'],
    ['a Map', new Map(), 'data.x is a Map, not a plain object or a list (JSON cannot store it as it is)'],
    [
      'a class instance',
      new (class Point {})(),
      'data.x is a Point, not a plain object or a list (JSON cannot store it as it is)',
    ],
  ])('refuses %s in data, naming its path', (_label, value, message) => {
    expect(messageOf(() => createEntry({ id: 'app:a', kind: 'x.y', data: { x: value } }))).toBe(
      `entry app:a: ${message}`,
    );
  });

  it('refuses a non-finite number in meta, with the path in details', () => {
    let error: unknown;
    try {
      createEntry({ id: 'app:a', kind: 'x.y', meta: { limits: [1, Number.NaN] } });
    } catch (caught) {
      error = caught;
    }
    expect([(error as KindlingError).code, (error as KindlingError).details['path']]).toEqual([
      'INVALID',
      ['meta', 'limits', 1],
    ]);
  });

  it('refuses undefined in a list, where JSON would store null', () => {
    expect(messageOf(() => createEntry({ id: 'app:a', kind: 'x.y', data: [1, undefined] }))).toBe(
      'entry app:a: data[1] is undefined, which JSON cannot store (it would become null)',
    );
  });

  it('leaves out a key whose value is undefined, as JSON would', () => {
    expect(createEntry({ id: 'app:a', kind: 'x.y', data: { a: 1, b: undefined } }).data).toEqual({ a: 1 });
    expect(Object.keys(createEntry({ id: 'app:a', kind: 'x.y', data: { a: 1, b: undefined } }).data)).toEqual(['a']);
  });

  it('stores -0 as 0, as a round trip through JSON would', () => {
    expect(Object.is(createEntry({ id: 'app:a', kind: 'x.y', data: { z: -0 } }).data.z, 0)).toBe(true);
  });

  it('keeps integers past 2^53 as the doubles they already are (JSON carries them exactly)', () => {
    const big = 2 ** 60;
    expect(JSON.parse(JSON.stringify(createEntry({ id: 'app:a', kind: 'x.y', data: { big } }).data))).toEqual({ big });
  });

  it('accepts an object without a prototype', () => {
    const data = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    expect(createEntry({ id: 'app:a', kind: 'x.y', data }).data).toEqual({ a: 1 });
  });

  it('refuses a part whose getter throws, naming its path and the error', () => {
    const data = {
      get secret(): string {
        throw new RangeError('Invalid string length');
      },
    };
    expect(messageOf(() => createEntry({ id: 'app:a', kind: 'x.y', data: { nested: data } }))).toBe(
      'entry app:a: data.nested.secret could not be read (RangeError: Invalid string length)',
    );
  });

  it('refuses a Proxy whose traps throw a value that cannot be printed, describing it without calling it', () => {
    const unprintable = {
      toString: (): string => {
        throw new Error('no');
      },
    };
    const data = new Proxy(
      {},
      {
        ownKeys: () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- a thrown non-error is the case under test
          throw unprintable;
        },
      },
    );
    expect(messageOf(() => createEntry({ id: 'app:a', kind: 'x.y', data }))).toBe(
      'entry app:a: data could not be read (a thrown object: { toString: [Function: toString] })',
    );
  });

  it('refuses an entry whose fields cannot be read', () => {
    const input = {
      get id(): string {
        throw new Error('gone');
      },
      kind: 'x.y',
    };
    expect(messageOf(() => createEntry(input))).toBe('the entry could not be read (Error: gone)');
  });

  it('shows a key with invisible characters escaped in the path', () => {
    const data = JSON.parse('{"a\\u202eb":{"__proto__":1}}') as unknown;
    expect(messageOf(() => createEntry({ id: 'app:a', kind: 'x.y', data }))).toBe(
      'entry app:a: data["a\\u202eb"].__proto__ is a forbidden key',
    );
  });

  it.each([
    ['itself by name', ['a'], 'meta.depends_on[0] "a" names the entry itself'],
    ['itself by id', ['app:a'], 'meta.depends_on[0] "app:a" names the entry itself'],
    ['"group:"', ['db', 'group:'], 'meta.depends_on[1] "group:" does not name a group: it is empty'],
    ['":"', [':'], 'meta.depends_on[0] ":" is not an entry id'],
    ['"a:b:c"', ['a:b:c'], 'meta.depends_on[0] "a:b:c" is not an entry id'],
    ['a number', [3], 'meta.depends_on[0] 3 is not a reference'],
  ])('refuses a depends_on naming %s', (_label, dependsOn, message) => {
    expect(messageOf(() => createEntry({ id: 'app:a', kind: 'x.y', meta: { depends_on: dependsOn } }))).toContain(
      `entry app:a: ${message}`,
    );
  });

  it('refuses a single depends_on that names the entry itself', () => {
    expect(messageOf(() => createEntry({ id: 'app:a', kind: 'x.y', meta: { depends_on: 'a' } }))).toBe(
      'entry app:a: meta.depends_on "a" names the entry itself',
    );
  });

  it('refuses a depends_on that is neither a reference nor a list', () => {
    expect(messageOf(() => createEntry({ id: 'app:a', kind: 'x.y', meta: { depends_on: { a: 1 } } }))).toBe(
      'entry app:a: meta.depends_on must be a reference or a list of references',
    );
  });

  it('refuses a group name outside the grammar', () => {
    expect(
      messageOf(() => createEntry({ id: 'app:a', kind: 'x.y', meta: { groups: ['web', 'we\u200bb'] } })),
    ).toContain(
      'entry app:a: meta.groups[1] "we\\u200bb" is not a group name: it contains an invisible character (U+200B)',
    );
  });

  it('accepts depends_on and groups that follow the grammar', () => {
    const meta = { depends_on: ['db', 'other.ns:cache', 'ns:app', 'group:web'], groups: ['web', 'api/v1'] };
    expect(createEntry({ id: 'app:a', kind: 'x.y', meta }).meta).toEqual(meta);
  });

  it('refuses a meta that is not an object', () => {
    expect(() => createEntry({ id: 'app:a', kind: 'x.y', meta: [] as unknown as Record<string, unknown> })).toThrow(
      /meta of entry app:a/,
    );
  });

  it('keeps the source of the input', () => {
    const input = setEntrySource(
      { id: 'app:a', kind: 'x.y', data: { port: 1 } },
      {
        file: 'app.yaml',
        line: 3,
        column: 5,
        locate: (path) => (path[1] === 'port' ? { line: 6, column: 11 } : undefined),
      },
    );
    const entry = createEntry(input);
    expect(getEntrySource(entry)?.file).toBe('app.yaml');
    expect(formatEntryLocation(entry)).toBe('app.yaml:3:5');
    expect(formatEntryLocation(entry, ['data', 'port'])).toBe('app.yaml:6:11');
    expect(Object.keys(entry)).toEqual(['id', 'kind', 'meta', 'data']);
  });
});

describe('createOwnedEntry', () => {
  const source = { file: 'a.yaml', line: 3, column: 5 };

  it('freezes the values in place, shared parts included, and knows the entry size', () => {
    const shared = { list: [1, -0, { deep: 'x' }] };
    const meta = { owner: 'me', depends_on: ['app:other'] };
    const data = { a: shared, b: shared, c: null, d: true };
    const entry = createOwnedEntry({ id: 'app:one', kind: 'http.service', meta, data }, source);
    expect(entry.data).toBe(data);
    expect(entry.meta).toBe(meta);
    expect(Object.isFrozen(entry) && Object.isFrozen(shared.list[2])).toBe(true);
    expect(Object.is(shared.list[1], 0)).toBe(true);
    expect(getEntrySource(entry)).toBe(source);
    expect(createEntry(entry)).toBe(entry);
    expect(knownEntryBytes(entry)).toBe(32 + 7 + 12 + jsonBytes(meta, Infinity) + jsonBytes(data, Infinity));
    expect(entry).toEqual(createEntry({ id: 'app:one', kind: 'http.service', meta, data }));
  });

  it('refuses what createEntry refuses, with the same message and path', () => {
    const input = () => ({ id: 'app:one', kind: 'k.v', meta: {}, data: { x: [1, Number.NaN] } });
    const copied = (() => {
      try {
        return createEntry(input());
      } catch (error) {
        return error;
      }
    })();
    expect(() => createOwnedEntry(input(), undefined)).toThrow((copied as Error).message);
    const bad = { id: 'app:one', kind: 'k.v', meta: { depends_on: 'app:one' }, data: undefined };
    expect(() => createOwnedEntry(bad, undefined)).toThrow(/meta\.depends_on/);
  });

  it('copies what it cannot take as it is (a key whose value is undefined is left out)', () => {
    const data = { keep: 1, drop: undefined };
    const entry = createOwnedEntry({ id: 'app:one', kind: 'k.v', meta: {}, data }, undefined);
    expect(entry.data).toEqual({ keep: 1 });
    expect(Object.keys(entry.data as object)).toEqual(['keep']);
  });
});
