// Fuzzing: the pattern compiler against slow reference matchers, and the YAML loader against
// mutated good files.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, KindlingError, parseRegistryYaml, PatternSet, RegistryYamlError } from 'kindling';

/** Kind dialect, by its definition in DESIGN.md §2, as plainly as possible. */
function referenceKind(pattern: string[], name: string[]): boolean {
  if (pattern.length === 0) return name.length === 0;
  const [head, ...rest] = pattern as [string, ...string[]];
  if (head === '**') return Array.from({ length: name.length + 1 }, (_, k) => k).some((k) => referenceKind(rest, name.slice(k)));
  if (name.length === 0) return false;
  if (head === '*' && rest.length === 0) return name.length >= 1;
  const segment = name[0] as string;
  const ok = head === '*' || (head.startsWith('(') ? head.slice(1, -1).split('|').includes(segment) : head === segment);
  return ok && referenceKind(rest, name.slice(1));
}

/** Event dialect: `*` any run without dots, `**` any run, `?` one non-dot character. */
function referenceEvent(pattern: string, name: string): boolean {
  if (pattern.length === 0) return name.length === 0;
  if (pattern.startsWith('**')) return Array.from({ length: name.length + 1 }, (_, k) => k).some((k) => referenceEvent(pattern.slice(2), name.slice(k)));
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
  .array(fc.oneof(word, fc.constant('*'), fc.constant('**'), fc.constant('(a|b)'), fc.constant('(ab|http)')), { minLength: 1, maxLength: 5 })
  .map((parts) => parts.join('.'));
const eventName = fc.array(fc.constantFrom('a', 'b', '.', '$', 'c'), { minLength: 1, maxLength: 8 }).map((c) => c.join('')).filter((n) => !n.startsWith('.') && !n.endsWith('.') && !n.includes('..'));
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
      fc.property(fc.array(kindPattern, { minLength: 1, maxLength: 30 }), fc.array(kindName, { minLength: 1, maxLength: 10 }), (patterns, names) => {
        const set = new PatternSet<number>('kind');
        patterns.forEach((pattern, i) => set.add(pattern, i));
        for (const name of names) {
          const expected = patterns.flatMap((pattern, i) => (referenceKind(pattern.split('.'), name.split('.')) ? [i] : []));
          expect(set.match(name)).toEqual(expected);
          expect(set.match(name)).toEqual(expected);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses malformed patterns with INVALID and never anything else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.constantFrom('kind' as const, 'event' as const), (pattern, dialect) => {
        try {
          compilePattern(pattern, dialect);
        } catch (error) {
          expect(error).toBeInstanceOf(KindlingError);
          expect((error as KindlingError).code).toBe('INVALID');
        }
      }),
      { numRuns: 3000 },
    );
  });
});

type Mutation = { kind: string; at: number; ch?: string; length?: number; by?: number };

describe('registry YAML loader (fuzzed)', () => {
  const goodDir = join(import.meta.dirname, 'fixtures', 'registry', 'good');
  const seeds = readdirSync(goodDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.ya?ml$/.test(file))
    .map((file) => readFileSync(join(goodDir, file), 'utf8'));

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), ch: fc.constantFrom(':', '-', '[', '{', '&', '*', '!', '"', "'", '|', '>', '#', '\t', ' ', '\n', '\0', 'x', '%', '@', '`') }),
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
        else lines[i] = (m.by as number) > 0 ? ' '.repeat(m.by as number) + (lines[i] ?? '') : (lines[i] ?? '').slice(-(m.by as number));
        out = lines.join('\n');
      }
    }
    return out;
  }

  it('has good files to mutate', () => {
    expect(seeds.length).toBeGreaterThan(0);
  });

  it('returns entries or one RegistryYamlError for any mutation of a good file, never a crash', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 6 }), (pick, mutations) => {
        const text = mutate(seeds[pick % seeds.length] as string, mutations);
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
