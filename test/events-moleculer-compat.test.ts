import { readFileSync } from 'node:fs';
import { Utils } from 'moleculer';
import { afterEach, describe, expect, it } from 'vitest';
import { matchEventName, silentLogger } from 'kindling';
import { DefaultEventBus } from 'kindling/events';

/**
 * A line-by-line port of Moleculer 0.14's `Utils.match` (src/utils.js), with a switch per quirk.
 * Checked against the real function below, so that "ours = Moleculer minus these quirks" is proven
 * on a whole corpus, not asserted.
 */
interface Fixes {
  /** The `prefix*` shortcut tests for a dot from the pattern's length, one past the prefix. */
  readonly prefixStarOffByOne: boolean;
  /** The regex path leaves `.` unescaped: it matches any character. */
  readonly unescapedDot: boolean;
  /** The regex path turns `?` into `.`: it matches a dot too. */
  readonly questionMatchesDot: boolean;
}

const NO_FIXES: Fixes = { prefixStarOffByOne: false, unescapedDot: false, questionMatchesDot: false };
const ALL_FIXES: Fixes = { prefixStarOffByOne: true, unescapedDot: true, questionMatchesDot: true };

function portedMatch(text: string, pattern: string, fixes: Fixes): boolean {
  if (pattern.indexOf('?') === -1) {
    const firstStarPosition = pattern.indexOf('*');
    if (firstStarPosition === -1) return pattern === text;
    const len = pattern.length;
    if (len > 2 && pattern.endsWith('**') && firstStarPosition > len - 3) {
      return text.startsWith(pattern.substring(0, len - 2));
    }
    if (len > 1 && pattern.endsWith('*') && firstStarPosition > len - 2) {
      const prefix = pattern.substring(0, len - 1);
      if (text.startsWith(prefix)) return text.indexOf('.', fixes.prefixStarOffByOne ? prefix.length : len) === -1;
      return false;
    }
    if (len === 1 && firstStarPosition === 0) return text.indexOf('.') === -1;
    if (len === 2 && firstStarPosition === 0 && pattern.lastIndexOf('*') === 1) return true;
  }
  let source = pattern;
  if (source.startsWith('$')) source = `\\${source}`;
  if (fixes.unescapedDot) source = source.replace(/\./g, '\\.');
  source = source.replace(/\?/g, fixes.questionMatchesDot ? '[^.]' : '.');
  source = source.replace(/\*\*/g, '§§§');
  source = source.replace(/\*/g, '[^\\.]*');
  source = source.replace(/§§§/g, '.*');
  return new RegExp(`^${source}$`).test(text);
}

/** Every pattern of up to `length` characters over `alphabet`, with and without a leading `$`. */
function patterns(alphabet: readonly string[], length: number): string[] {
  const out: string[] = [];
  const grow = (prefix: string, left: number): void => {
    if (left === 0) return;
    for (const ch of alphabet) {
      out.push(prefix + ch, `$${prefix}${ch}`);
      grow(prefix + ch, left - 1);
    }
  };
  grow('', length);
  return out;
}

/** Well-formed as docs/patterns.md means it: no empty segment, `$` only first, no other regex syntax. */
function wellFormed(pattern: string): boolean {
  return pattern.split('.').every((segment) => segment.length > 0);
}

const SEGMENTS = ['a', 'b', 'ab', 'ba', 'aa', '$a', 'x'];
const NAMES = [
  ...new Set(
    SEGMENTS.flatMap((x) => [x, ...SEGMENTS.flatMap((y) => [`${x}.${y}`, ...SEGMENTS.map((z) => `${x}.${y}.${z}`)])]),
  ),
];
const PATTERNS = patterns(['a', 'b', '.', '*', '?'], 5).filter(wellFormed);

const vectors = readFileSync(new URL('./fixtures/moleculer-match-vectors.txt', import.meta.url), 'utf8')
  .split('\n')
  .map((line) => line.trim().replace(/,$/, ''))
  .filter((line) => line.startsWith('['))
  .map((line) => JSON.parse(line) as [string, string, boolean]);

function disagreements(
  answer: (name: string, pattern: string) => boolean,
  reference: (name: string, pattern: string) => boolean,
): string[] {
  const out: string[] = [];
  for (const pattern of PATTERNS) {
    for (const name of NAMES) {
      if (answer(name, pattern) !== reference(name, pattern)) out.push(`${name} ~ ${pattern}`);
    }
  }
  return out;
}

const buses: DefaultEventBus[] = [];
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.stop();
});

describe('matchEventName (Moleculer compatibility)', () => {
  it(`has a corpus of ${PATTERNS.length} well-formed patterns and ${NAMES.length} names`, () => {
    expect(PATTERNS.length).toBeGreaterThan(1000);
    expect(NAMES.length).toBeGreaterThan(300);
  });

  it("gives Moleculer's answer on each of its own test vectors", () => {
    for (const [name, pattern, expected] of vectors) {
      expect([name, pattern, Utils.match(name, pattern)]).toEqual([name, pattern, expected]);
      expect([name, pattern, matchEventName(pattern, name)]).toEqual([name, pattern, expected]);
    }
  });

  it('relies on a port of Moleculer match() that agrees with the real one everywhere', () => {
    expect(
      disagreements(
        (name, pattern) => portedMatch(name, pattern, NO_FIXES),
        (name, pattern) => Utils.match(name, pattern),
      ),
    ).toEqual([]);
  });

  it('agrees with Moleculer on every well-formed pattern once its three quirks are fixed', () => {
    expect(
      disagreements(
        (name, pattern) => matchEventName(pattern, name),
        (name, pattern) => portedMatch(name, pattern, ALL_FIXES),
      ),
    ).toEqual([]);
  });

  describe('quirks we fix', () => {
    it('an unescaped dot: Moleculer matches "a.?" against "abc"', () => {
      expect(Utils.match('abc', 'a.?')).toBe(true);
      expect(matchEventName('a.?', 'abc')).toBe(false);
    });

    it('? matching a dot: Moleculer matches "a?b" against "a.b"', () => {
      expect(Utils.match('a.b', 'a?b')).toBe(true);
      expect(matchEventName('a?b', 'a.b')).toBe(false);
    });

    it('the prefix* shortcut: Moleculer matches "a.b*" against "a.b.c" (a dot right after the prefix)', () => {
      expect(Utils.match('a.b.c', 'a.b*')).toBe(true);
      expect(matchEventName('a.b*', 'a.b.c')).toBe(false);
    });
  });

  it('routes on the bus exactly as matchEventName answers', () => {
    const bus = new DefaultEventBus({ nodeID: 'n', logger: silentLogger });
    buses.push(bus);
    const sample = PATTERNS.filter((_, i) => i % 97 === 0);
    const hits = new Map<string, string[]>();
    for (const pattern of sample)
      bus.on(pattern, (_payload, name) => void hits.set(pattern, [...(hits.get(pattern) ?? []), name]));
    for (const name of NAMES) bus.emit(name);
    for (const pattern of sample) {
      expect([pattern, hits.get(pattern) ?? []]).toEqual([
        pattern,
        NAMES.filter((name) => matchEventName(pattern, name)),
      ]);
    }
  });
});
