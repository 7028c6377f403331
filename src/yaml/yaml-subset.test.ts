import { describe, expect, it } from 'vitest';
import { readYamlFast, YamlReadFailure, type FastRead } from './yaml-reader.js';
import { YamlGuard } from './yaml-guard.js';
import { readYamlSubset } from './yaml-subset.js';
import { replayableRandom } from '../../test/support/replayable-random.js';

const LIMITS = { maxDepth: 64, maxAliasNodes: 1_000_000, maxExpandedBytes: 64 * 1024 * 1024 };

const SCALARS = [
  'plain',
  'two words',
  'app.api:list-1',
  '/api/v1/items/{id}',
  'a[1],b',
  '-x',
  '-1',
  '-0',
  '0',
  '007',
  '123456789012345',
  '1234567890123456',
  '90071992547409931',
  '0x1F',
  '0o17',
  '0b101',
  '1_000',
  '+12',
  '1.5',
  '.5',
  '1e3',
  '6.02e+23',
  '.inf',
  '-.Inf',
  '.nan',
  '9007199254740993',
  'null',
  'Null',
  '~',
  'true',
  'False',
  'yes',
  'on',
  '2001-12-14',
  '"quoted"',
  '"with: colon # and hash"',
  '""',
  '"esc\\n"',
  "'single'",
  'a # comment',
  'a#b',
  'a: b',
  'x:y',
  '&anchor v',
  '*alias',
  '!!str tagged',
  '|',
  '>',
  '? q',
  '%p',
  '@at',
  '[a, b, "c"]',
  '[]',
  '{}',
  '{ rps: 1, burst: 20 }',
  '{a: 1, a: 2}',
  '[a, [b]]',
  '[a,]',
  '{ k: }',
  '[a, b',
  'trailing   ',
  '<<',
  'é',
  'a\u0001b',
  '"x\u007fy"',
  'ok # note \u2028',
];
const KEYS = [
  'name',
  'kind',
  'data',
  'host',
  'port',
  'x-a',
  '1',
  'true',
  'null',
  '__proto__',
  '<<',
  'a b',
  'k:v',
  '"q"',
];

const SAFE = [
  'plain',
  'two words',
  'app.api:list-1',
  '8080',
  '-0',
  '1.5',
  'true',
  'null',
  '"quoted"',
  '[a, 1, "c"]',
  '{ rps: 1, burst: 2 }',
];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)] as T;
}

/** A scalar: mostly one the subset reads, sometimes anything. */
function scalar(next: () => number): string {
  return next() < 0.85 ? pick(next, SAFE) : pick(next, SCALARS);
}

/** A registry-like text with random scalars, keys, nesting, comments and spacing. */
function generate(sample: number): string {
  const next = replayableRandom(sample);
  const lines: string[] = [];
  if (next() < 0.2) lines.push('# a comment');
  lines.push('namespace: app.test');
  if (next() < 0.3) lines.push('meta:', '  owner: team', '  depends_on: [db, "other.ns:x"]');
  lines.push('entries:');
  const itemIndent = next() < 0.3 ? '' : '  ';
  const count = 1 + Math.floor(next() * 4);
  for (let i = 0; i < count; i++) {
    const gap = next() < 0.2 ? '   ' : ' ';
    lines.push(`${itemIndent}-${gap}name: e${i}`);
    const inner = itemIndent + ' '.repeat(1 + gap.length);
    lines.push(`${inner}kind: k.v`);
    if (next() < 0.15) lines.push('');
    if (next() < 0.15) lines.push(`${inner}  # indented comment`);
    lines.push(`${inner}data:${next() < 0.1 ? '  # note' : ''}`);
    const fields = 1 + Math.floor(next() * 4);
    for (let f = 0; f < fields; f++) {
      const key = next() < 0.95 ? `f${f}` : pick(next, KEYS);
      const r = next();
      if (r < 0.6) {
        lines.push(`${inner}  ${key}: ${scalar(next)}`);
      } else if (r < 0.8) {
        lines.push(`${inner}  ${key}:`);
        const listIndent = next() < 0.3 ? `${inner}  ` : `${inner}    `;
        for (let j = 0; j < 1 + Math.floor(next() * 3); j++) {
          if (next() < 0.5) lines.push(`${listIndent}- ${scalar(next)}`);
          else lines.push(`${listIndent}- path: ${scalar(next)}`, `${listIndent}  method: GET`);
        }
      } else if (r < 0.95) {
        lines.push(`${inner}  ${key}:`, `${inner}    deep: ${scalar(next)}`);
      } else {
        // Odd layouts: continuation lines, wrong indentation, an empty value, a stray line.
        lines.push(
          pick(next, [
            `${inner}  ${key}: first\n${inner}    continued`,
            `${inner}   ${key}: misaligned`,
            `${inner}  ${key}:`,
            `${inner}  ${key}:\n${inner}  - same-indent item`,
            `${inner}  ${key}: |\n${inner}    block`,
            `${inner}  ${key}: a\t b`,
            `${inner}  ${key}: "multi\n${inner}    line"`,
            `${inner}  ${key}: [a,\n${inner}    b]`,
            `---`,
            `${inner}  -`,
          ]),
        );
      }
    }
  }
  return `${lines.join('\n')}${next() < 0.8 ? '\n' : ''}`;
}

function fastOrError(text: string): FastRead | string {
  try {
    return readYamlFast(text, LIMITS);
  } catch (error) {
    if (error instanceof YamlReadFailure) return error.message;
    throw error;
  }
}

/** Structural equality that tells -0 from 0, keeps key order and compares classes. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join('\u0000') !== kb.join('\u0000')) return false;
  return ka.every((key) => same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function expectSameRead(text: string): boolean {
  const subset = readYamlSubset(text, LIMITS);
  if (subset === undefined) return false;
  const fast = fastOrError(text);
  expect(typeof fast, `js-yaml refused what the subset accepted:\n${text}`).toBe('object');
  const expected = fast as FastRead;
  expect(same(subset.documents, expected.documents), `values differ:\n${text}`).toBe(true);
  expect(subset.expansion, `expansion differs:\n${text}`).toEqual({
    addedNodes: expected.expansion.addedNodes,
    expandedBytes: expected.expansion.expandedBytes,
    sharing: expected.expansion.sharing,
  });
  // What the subset reads needs no guard walk: the guard would find nothing in it.
  expect(subset.guarded).toBe(true);
  expect(new YamlGuard(LIMITS, expected.expansion).inspect(expected.documents[0])).toEqual([]);
  const document = expected.documents[0] as Record<string, unknown>;
  for (const value of Object.values(document)) {
    if (!Array.isArray(value) || value.length === 0) continue;
    const subsetList = (subset.documents[0] as Record<string, unknown>)[
      Object.keys(document).find((key) => document[key] === value) as string
    ] as unknown[];
    expect(subset.itemStarts.get(subsetList), `item positions differ:\n${text}`).toEqual(
      expected.itemStarts.get(value),
    );
  }
  return true;
}

describe('readYamlSubset', () => {
  it('reads a registry file as js-yaml does: values, item positions and expansion', () => {
    const text = [
      '# registry',
      'namespace: app.bench',
      'meta:',
      '  owner: platform',
      'entries:',
      '  - name: service-1',
      '    kind: kind1.service',
      '    meta:',
      '      description: Service 1 of the benchmark registry',
      '      depends_on: [db-1, cache, "other.ns:x"]',
      '      groups: [web, group-1]',
      '',
      '    data:   # the config',
      '      host: 0.0.0.0',
      '      port: 8001',
      '      routes:',
      '        - path: /api/v1/items/1',
      '          method: GET',
      '          handler: app.api:list-1',
      '        - path: /api/v1/items/1/{id}',
      '          method: POST',
      '          timeout_ms: 2500',
      '      limits: { rps: 101, burst: 20 }',
      '      empty:',
      '      none: ~',
      '      flag: true',
      '      ratio: -0.5',
      '  -   name: service-2',
      '      kind: kind2.service',
      '',
    ].join('\n');
    expect(expectSameRead(text)).toBe(true);
  });

  it('gives up on what it does not read, and never accepts what js-yaml refuses (generated texts)', () => {
    let read = 0;
    for (let sample = 1; sample <= 3000; sample++) {
      if (expectSameRead(generate(sample))) read++;
    }
    // Both paths are exercised: many texts are read, many are left to js-yaml.
    expect(read).toBeGreaterThan(300);
    expect(read).toBeLessThan(2900);
  });

  it('leaves files near a limit, deep files, anchors and several documents to js-yaml', () => {
    const text = 'namespace: app\nentries:\n  - name: a\n    kind: k.v\n    data: { x: "long text" }\n';
    expect(readYamlSubset(text, LIMITS)).toBeDefined();
    expect(readYamlSubset(text, { ...LIMITS, maxExpandedBytes: 20 })).toBeUndefined();
    expect(readYamlSubset(text, { ...LIMITS, maxDepth: 2 })).toBeUndefined();
    expect(readYamlSubset(`${text}---\n${text}`, LIMITS)).toBeUndefined();
    expect(readYamlSubset(`---\n${text}`, LIMITS)).toBeUndefined();
    expect(readYamlSubset(`${text}...\n`, LIMITS)).toBeUndefined();
    expect(readYamlSubset(`${text}--- x: 1\n`, LIMITS)).toBeUndefined();
    expect(readYamlSubset(`%YAML 1.2\n---\n${text}`, LIMITS)).toBeUndefined();
    expect(readYamlSubset(text.replace('kind: k.v', 'kind: &k k.v'), LIMITS)).toBeUndefined();
    expect(readYamlSubset(text.replace('name: a', 'name: a\n    name: b'), LIMITS)).toBeUndefined();
    expect(readYamlSubset(text.replace('\n', '\r\n'), LIMITS)).toBeUndefined();
    // Any character but printable ASCII and the line feed, wherever it is, comments included.
    for (const odd of ['\t', '\u0001', '\u007f', '\u0085', '\u00e9', '\u2028', '\ufeff', '\ud83d']) {
      expect(readYamlSubset(text.replace('long text', `long${odd}text`), LIMITS)).toBeUndefined();
      expect(readYamlSubset(text.replace('name: a', `name: a${odd}`), LIMITS)).toBeUndefined();
      expect(readYamlSubset(`# note${odd}\n${text}`, LIMITS)).toBeUndefined();
      expect(readYamlSubset(`${text}    # note ${odd}`, LIMITS)).toBeUndefined();
      expect(readYamlSubset(text.replace('kind: k.v', `kind: k.v # ${odd}`), LIMITS)).toBeUndefined();
    }
  });
});
