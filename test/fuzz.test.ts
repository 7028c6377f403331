// Fuzzing: the pattern compiler against slow reference matchers, and the YAML loader against
// mutated good files and generated alias structures.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, KindlingError, parseRegistryYaml, RegistryYamlError } from 'kindling';
import { PatternSet } from '../src/pattern/pattern-trie.js';

/** Kind dialect, by its definition in docs/patterns.md, as plainly as possible. */
function referenceKind(pattern: string[], name: string[]): boolean {
  if (pattern.length === 0) return name.length === 0;
  const [head, ...rest] = pattern as [string, ...string[]];
  if (head === '**')
    return Array.from({ length: name.length + 1 }, (_, k) => k).some((k) => referenceKind(rest, name.slice(k)));
  if (name.length === 0) return false;
  if (head === '*' && rest.length === 0) return name.length >= 1;
  const segment = name[0] as string;
  const ok = head === '*' || (head.startsWith('(') ? head.slice(1, -1).split('|').includes(segment) : head === segment);
  return ok && referenceKind(rest, name.slice(1));
}

/** Event dialect: `*` any run without dots, `**` any run, `?` one non-dot character. */
function referenceEvent(pattern: string, name: string): boolean {
  if (pattern.length === 0) return name.length === 0;
  if (pattern.startsWith('**'))
    return Array.from({ length: name.length + 1 }, (_, k) => k).some((k) =>
      referenceEvent(pattern.slice(2), name.slice(k)),
    );
  if (pattern[0] === '*') {
    for (let k = 0; k <= name.length; k++) {
      if (referenceEvent(pattern.slice(1), name.slice(k))) return true;
      if (name[k] === '.') break;
    }
    return false;
  }
  if (name.length === 0) return false;
  if (pattern[0] === '?') return name[0] !== '.' && referenceEvent(pattern.slice(1), name.slice(1));
  return pattern[0] === name[0] && referenceEvent(pattern.slice(1), name.slice(1));
}

const word = fc.constantFrom('a', 'b', 'ab', 'http', 'x1');
const kindName = fc.array(word, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.'));
const kindPattern = fc
  .array(fc.oneof(word, fc.constant('*'), fc.constant('**'), fc.constant('(a|b)'), fc.constant('(ab|http)')), {
    minLength: 1,
    maxLength: 5,
  })
  .map((parts) => parts.join('.'));
const eventName = fc
  .array(fc.constantFrom('a', 'b', '.', '$', 'c'), { minLength: 1, maxLength: 8 })
  .map((c) => c.join(''))
  .filter((n) => !n.startsWith('.') && !n.endsWith('.') && !n.includes('..'));
const eventPattern = fc
  .array(fc.constantFrom('a', 'b', '.', '*', '**', '?', '$'), { minLength: 1, maxLength: 8 })
  .map((c) => c.join(''))
  .filter((p) => !p.startsWith('.') && !p.endsWith('.') && !p.includes('..'));

describe('pattern compiler (fuzzed)', () => {
  it('matches kinds exactly as the reference does', () => {
    fc.assert(
      fc.property(kindPattern, kindName, (pattern, name) => {
        expect(compilePattern(pattern, 'kind').test(name)).toBe(referenceKind(pattern.split('.'), name.split('.')));
      }),
      { numRuns: 5000 },
    );
  });

  it('matches event names exactly as the reference does', () => {
    fc.assert(
      fc.property(eventPattern, eventName, (pattern, name) => {
        expect(compilePattern(pattern, 'event').test(name)).toBe(referenceEvent(pattern, name));
      }),
      { numRuns: 5000 },
    );
  });

  it('answers through the trie exactly as pattern by pattern', () => {
    fc.assert(
      fc.property(
        fc.array(kindPattern, { minLength: 1, maxLength: 30 }),
        fc.array(kindName, { minLength: 1, maxLength: 10 }),
        (patterns, names) => {
          const set = new PatternSet<number>('kind');
          patterns.forEach((pattern, i) => set.add(pattern, i));
          for (const name of names) {
            const expected = patterns.flatMap((pattern, i) =>
              referenceKind(pattern.split('.'), name.split('.')) ? [i] : [],
            );
            expect(set.match(name)).toEqual(expected);
            expect(set.match(name)).toEqual(expected);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses malformed patterns with INVALID and never anything else', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 12 }),
        fc.constantFrom('kind' as const, 'event' as const),
        (pattern, dialect) => {
          try {
            compilePattern(pattern, dialect);
          } catch (error) {
            expect(error).toBeInstanceOf(KindlingError);
            expect((error as KindlingError).code).toBe('INVALID');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

type Mutation = { kind: string; at: number; ch?: string; length?: number; by?: number };

describe('registry YAML loader (fuzzed)', () => {
  const goodDir = join(import.meta.dirname, 'fixtures', 'registry', 'good');
  const corpus = readdirSync(goodDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.ya?ml$/.test(file))
    .map((file) => readFileSync(join(goodDir, file), 'utf8'));

  const mutation = fc.oneof(
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(),
      ch: fc.constantFrom(
        ':',
        '-',
        '[',
        '{',
        '&',
        '*',
        '!',
        '"',
        "'",
        '|',
        '>',
        '#',
        '\t',
        ' ',
        '\n',
        '\0',
        'x',
        '%',
        '@',
        '`',
      ),
    }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ kind: fc.constant('duplicate-line' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
  );

  function mutate(text: string, mutations: readonly Mutation[]): string {
    let out = text;
    for (const m of mutations) {
      const at = out.length === 0 ? 0 : m.at % out.length;
      if (m.kind === 'flip') out = out.slice(0, at) + (m.ch as string) + out.slice(at + 1);
      else if (m.kind === 'delete') out = out.slice(0, at) + out.slice(at + (m.length as number));
      else {
        const lines = out.split('\n');
        const i = at % Math.max(1, lines.length);
        if (m.kind === 'duplicate-line') lines.splice(i, 0, lines[i] ?? '');
        else
          lines[i] =
            (m.by as number) > 0
              ? ' '.repeat(m.by as number) + (lines[i] ?? '')
              : (lines[i] ?? '').slice(-(m.by as number));
        out = lines.join('\n');
      }
    }
    return out;
  }

  it('has good files to mutate', () => {
    expect(corpus.length).toBeGreaterThan(0);
  });

  it('returns entries or one RegistryYamlError for any mutation of a good file, never a crash', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 6 }), (pick, mutations) => {
        const text = mutate(corpus[pick % corpus.length] as string, mutations);
        try {
          const entries = parseRegistryYaml(text, 'fuzz.yaml');
          expect(Array.isArray(entries)).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(RegistryYamlError);
          for (const problem of (error as RegistryYamlError).problems) {
            expect(problem.line).toBeGreaterThanOrEqual(1);
            expect(problem.column).toBeGreaterThanOrEqual(1);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** One anchored node of a generated text: what it holds, and how its properties are written. */
interface AnchoredNode {
  readonly shape: 'scalar' | 'list' | 'map' | 'merge';
  /** Earlier anchors it repeats (a list's items, a map's values, a merge's sources). */
  readonly refs: readonly number[];
  readonly length: number;
  readonly property: 'plain' | 'shorthand' | 'verbatim' | 'verbatim-spaced' | 'anchor-first';
  /** An alias to the node itself, inside it: a cycle. */
  readonly cycle: boolean;
}

const TAG: Record<AnchoredNode['shape'], string> = { scalar: 'str', list: 'seq', map: 'map', merge: 'map' };

/** `&name` with the tag of `shape` written as `property` says. */
function properties(node: AnchoredNode, shape: AnchoredNode['shape'], name: string): string {
  const tag = TAG[shape];
  switch (node.property) {
    case 'plain':
      return `&${name} `;
    case 'shorthand':
      return `!!${tag} &${name} `;
    case 'verbatim':
      return `!<tag:yaml.org,2002:${tag}>&${name} `;
    case 'verbatim-spaced':
      return `!<tag:yaml.org,2002:${tag}> &${name} `;
    case 'anchor-first':
      return `&${name} !!${tag} `;
  }
}

/** A registry text whose `x-` keys hold a chain of anchored nodes repeating earlier ones, used by entries. */
function aliasText(nodes: readonly AnchoredNode[], uses: readonly number[], metaUse: number | undefined): string {
  const lines = ['namespace: app'];
  nodes.forEach((node, i) => {
    const name = `n${i}`;
    // The first node has nothing before it to repeat: it is a string.
    const shape = i === 0 ? 'scalar' : node.shape;
    const refs = node.refs.map((ref) => `*n${ref % Math.max(1, i)}`);
    if (node.cycle) refs.push(`*${name}`);
    let body: string;
    if (shape === 'scalar') body = `"${'x'.repeat(node.length)}"`;
    else if (shape === 'list') body = `[${refs.join(', ')}]`;
    else if (shape === 'map') body = `{ ${refs.map((ref, k) => `k${k}: ${ref}`).join(', ')} }`;
    else body = `{ <<: [${refs.join(', ')}], own: ${node.length} }`;
    lines.push(`x-${name}: [${properties(node, shape, name)}${body}]`);
  });
  if (metaUse !== undefined) lines.push(`meta: { shared: *n${metaUse % nodes.length} }`);
  lines.push('entries:');
  uses.forEach((use, i) => lines.push(`  - { name: e${i}, kind: x.y, data: { v: *n${use % nodes.length} } }`));
  return `${lines.join('\n')}\n`;
}

/** Nodes and characters of strings (keys too) in a value, every repetition counted. */
function expandedSize(value: unknown): { nodes: number; bytes: number } {
  if (typeof value === 'string') return { nodes: 1, bytes: value.length };
  if (typeof value !== 'object' || value === null) return { nodes: 1, bytes: 0 };
  let nodes = 1;
  let bytes = 0;
  for (const [key, item] of Object.entries(value)) {
    const inner = expandedSize(item);
    nodes += inner.nodes;
    bytes += inner.bytes + (Array.isArray(value) ? 0 : key.length);
  }
  return { nodes, bytes };
}

describe('registry YAML loader (fuzzed alias structures)', () => {
  const LIMITS = { maxAliasNodes: 2_000, maxExpandedBytes: 20_000 };
  const node = fc.record<AnchoredNode>({
    shape: fc.constantFrom('scalar', 'list', 'list', 'map', 'merge'),
    refs: fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
    length: fc.integer({ min: 0, max: 400 }),
    property: fc.constantFrom('plain', 'plain', 'shorthand', 'verbatim', 'verbatim-spaced', 'anchor-first'),
    cycle: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  });
  const text = fc
    .record({
      nodes: fc.array(node, { minLength: 1, maxLength: 10 }),
      uses: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
      metaUse: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ nodes, uses, metaUse }) => aliasText(nodes, uses, metaUse));

  it('returns entries within the expansion limits, or one RegistryYamlError with positions, never a crash or a hang', () => {
    fc.assert(
      fc.property(text, (yaml) => {
        try {
          const entries = parseRegistryYaml(yaml, 'fuzz.yaml', LIMITS);
          const size = expandedSize(entries.map((entry) => [entry.meta, entry.data]));
          // Everything beyond what the text itself holds came from aliases and is bounded by the limits.
          expect(size.nodes).toBeLessThanOrEqual(LIMITS.maxAliasNodes + yaml.length);
          expect(size.bytes).toBeLessThanOrEqual(LIMITS.maxExpandedBytes);
        } catch (error) {
          expect(error).toBeInstanceOf(RegistryYamlError);
          for (const problem of (error as RegistryYamlError).problems) {
            expect(problem.line).toBeGreaterThanOrEqual(1);
            expect(problem.column).toBeGreaterThanOrEqual(1);
            expect(problem.message.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 1_500 },
    );
  });

  it('refuses the same generated texts whatever their tags: the count does not depend on how anchors are written', () => {
    fc.assert(
      fc.property(
        fc.array(node, { minLength: 2, maxLength: 10 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
        (nodes, uses) => {
          const outcome = (property: AnchoredNode['property']): string => {
            const written = nodes.map((n) => ({ ...n, property }));
            try {
              parseRegistryYaml(aliasText(written, uses, undefined), 'fuzz.yaml', LIMITS);
              return 'accepted';
            } catch (error) {
              const first = (error as RegistryYamlError).problems?.[0];
              return first === undefined ? 'crash' : first.message;
            }
          };
          expect(outcome('verbatim')).toBe(outcome('plain'));
          expect(outcome('shorthand')).toBe(outcome('plain'));
        },
      ),
      { numRuns: 500 },
    );
  });
});
