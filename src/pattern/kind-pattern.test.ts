import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compilePattern, matchEventName, matchKind } from './kind-pattern.js';
import { KindlingError } from '../common/errors.js';

describe('matchKind', () => {
  describe("Wippy's table", () => {
    it('matches http.service only exactly', () => {
      expect(matchKind('http.service', 'http.service')).toBe(true);
      expect(matchKind('http.service', 'http.router')).toBe(false);
      expect(matchKind('http.service', 'http.service.x')).toBe(false);
    });

    it('matches http.* against service, router and endpoint', () => {
      for (const kind of ['http.service', 'http.router', 'http.endpoint']) {
        expect(matchKind('http.*', kind)).toBe(true);
      }
      expect(matchKind('http.*', 'http')).toBe(false);
      expect(matchKind('http.*', 'https.service')).toBe(false);
    });

    it('matches function.* against function.lua and function.lua.bc (trailing * is one or more)', () => {
      expect(matchKind('function.*', 'function.lua')).toBe(true);
      expect(matchKind('function.*', 'function.lua.bc')).toBe(true);
      expect(matchKind('function.*', 'function')).toBe(false);
    });
  });

  it('treats a mid-pattern * as exactly one segment', () => {
    expect(matchKind('http.*.v1', 'http.router.v1')).toBe(true);
    expect(matchKind('http.*.v1', 'http.v1')).toBe(false);
    expect(matchKind('http.*.v1', 'http.a.b.v1')).toBe(false);
  });

  it('treats ** as zero or more segments', () => {
    expect(matchKind('app.**', 'app')).toBe(true);
    expect(matchKind('app.**', 'app.a.b.c')).toBe(true);
    expect(matchKind('**.bc', 'function.lua.bc')).toBe(true);
    expect(matchKind('**.bc', 'bc')).toBe(true);
    expect(matchKind('a.**.z', 'a.z')).toBe(true);
    expect(matchKind('a.**.z', 'a.b.c.z')).toBe(true);
    expect(matchKind('a.**.z', 'a.b.c')).toBe(false);
  });

  it('treats (a|b) as one segment of alternatives', () => {
    expect(matchKind('function.(lua|js)', 'function.lua')).toBe(true);
    expect(matchKind('function.(lua|js)', 'function.js')).toBe(true);
    expect(matchKind('function.(lua|js)', 'function.py')).toBe(false);
    expect(matchKind('function.(lua|js)', 'function.lua.bc')).toBe(false);
  });

  it('refuses an empty pattern, an empty segment and a partial-segment *', () => {
    for (const bad of ['', 'http..service', 'http*', 'http.(a|)', 'http.se rvice']) {
      expect(() => compilePattern(bad, 'kind')).toThrow(KindlingError);
    }
  });
});

describe('matchEventName', () => {
  const vectors = readFileSync(new URL('../../test/fixtures/moleculer-match-vectors.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim().replace(/,$/, ''))
    .filter((line) => line.startsWith('['))
    .map((line) => JSON.parse(line) as [string, string, boolean]);

  it('has the reference vectors to check', () => {
    expect(vectors.length).toBeGreaterThan(50);
  });

  it.each(vectors)('matches %s against %s as Moleculer does (%s)', (name, pattern, expected) => {
    expect(matchEventName(pattern, name)).toBe(expected);
  });

  it('fixes the quirk of an unescaped dot matching any character', () => {
    // Moleculer's regex turns "a.b*" into /^a.b[^.]*$/, which wrongly accepts "axb".
    expect(matchEventName('a.b*', 'axb')).toBe(false);
  });

  it('fixes the quirk of ? matching a dot', () => {
    expect(matchEventName('a?b', 'a.b')).toBe(false);
  });

  it('refuses the empty pattern', () => {
    expect(() => matchEventName('', 'x')).toThrow(/empty event pattern/);
  });
});

describe('event patterns of the trailing forms', () => {
  it('answer as the regular expressions of the general event matcher do', () => {
    const general = (pattern: string, name: string): boolean => compilePattern(pattern, 'event').test(name);
    const names = ['a', 'a.', 'a.b', 'a.b.', 'a.b.c', 'a.bc', 'ab.c', 'x.a.b', 'a..b', '.a.b'];
    const cases: [string, string, boolean][] = [];
    for (const name of names) {
      cases.push(
        ['a.*', name, /^a\.[^.]*$/.test(name)],
        ['a.**', name, /^a\..*$/.test(name)],
        ['a.b.*', name, /^a\.b\.[^.]*$/.test(name)],
      );
    }
    for (const [pattern, name, expected] of cases)
      expect([pattern, name, general(pattern, name)]).toEqual([pattern, name, expected]);
  });
});
