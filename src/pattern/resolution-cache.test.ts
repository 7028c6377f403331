import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RESOLUTION_CACHE_LIMIT, ResolutionCache, type NameScope } from './resolution-cache.js';

describe('ResolutionCache', () => {
  it('never holds more names than its limit', () => {
    const cache = new ResolutionCache<number>(100, 0);
    cache.set('x.1', 0);
    cache.forgetWhere(() => false, { lead: ['x'], last: undefined }); // from here on, the names are indexed
    let largest = 0;
    for (let i = 0; i < 10_000; i++) {
      cache.set(`n${i}`, i);
      largest = Math.max(largest, cache.size);
    }
    expect(largest).toBe(100);
    expect(cache.indexedNames).toEqual([cache.size]);
    expect(cache.get('n9999')).toBe(9999);
    expect(cache.get('n0')).toBeUndefined();
  });

  it('keeps the names in use across generations', () => {
    const cache = new ResolutionCache<string>(10);
    cache.set('hot', 'kept');
    const seen = new Set<string | undefined>();
    for (let i = 0; i < 1000; i++) {
      cache.set(`cold${i}`, 'passing');
      seen.add(cache.get('hot'));
    }
    expect([...seen]).toEqual(['kept']);
  });

  it('keeps a working set of three quarters of its limit without a miss', () => {
    const cache = new ResolutionCache<number>(100);
    let misses = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 75; i++) {
        const name = `n${(i * 7) % 75}`;
        if (cache.get(name) === undefined) {
          misses++;
          cache.set(name, i);
        }
      }
    }
    expect(misses).toBe(75);
  });

  it('keeps the names in use while a stream of new names passes, within its limit', () => {
    const cache = new ResolutionCache<number>(100);
    const hot = Array.from({ length: 20 }, (_, i) => `hot${i}`);
    let misses = 0;
    for (let i = 0; i < 10_000; i++) {
      cache.set(`cold${i}`, i);
      const name = hot[i % hot.length] as string;
      if (cache.get(name) === undefined) {
        misses++;
        cache.set(name, i);
      }
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(misses).toBe(hot.length);
  });

  it('forgets one name, the names a test picks, or everything', () => {
    const cache = new ResolutionCache<number>(4);
    for (const [i, name] of ['a.1', 'a.2', 'b.1', 'b.2'].entries()) cache.set(name, i);
    cache.forget('a.1');
    expect(cache.get('a.1')).toBeUndefined();
    cache.forgetWhere((name) => name.endsWith('.2'));
    expect(['a.2', 'b.1', 'b.2'].map((name) => cache.get(name))).toEqual([undefined, 2, undefined]);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('answers a repeated read of one name with what was set or forgotten since', () => {
    const cache = new ResolutionCache<number>(4);
    cache.set('a', 1);
    expect([cache.get('a'), cache.get('a')]).toEqual([1, 1]);
    cache.set('a', 2);
    expect(cache.get('a')).toBe(2);
    cache.forget('a');
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', 3);
    expect(cache.get('a')).toBe(3);
    cache.forgetWhere((name) => name === 'a');
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', 4);
    expect(cache.get('a')).toBe(4);
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) cache.set(name, 5);
    expect(cache.get('a')).toBeUndefined(); // dropped to stay within the limit
  });

  it('offers: keeps a name from its second offer on, and few of a stream of names offered once', () => {
    const cache = new ResolutionCache<number>(1000);
    expect(cache.offer('again', 1)).toBe(false);
    expect(cache.get('again')).toBeUndefined();
    expect(cache.offer('again', 2)).toBe(true);
    expect(cache.get('again')).toBe(2);
    for (let i = 0; i < 100_000; i++) cache.offer(`once${i}`, i);
    expect(cache.size).toBeLessThan(50); // hash collisions only
    expect(cache.get('again')).toBe(2);
  });

  it('peeks at a name without keeping it in use', () => {
    const cache = new ResolutionCache<string>(4);
    cache.set('a', 'first');
    expect(cache.peek('a')).toBe('first');
    expect(cache.peek('b')).toBeUndefined();
    // Peeked at but never read, 'a' leaves with its generation as new names come.
    for (let i = 0; i < 8; i++) {
      cache.set(`n${i}`, 'passing');
      cache.peek('a');
    }
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.get('a')).toBeUndefined();
  });

  it('has a documented default limit and refuses a limit below 2', () => {
    expect(new ResolutionCache().limit).toBe(RESOLUTION_CACHE_LIMIT);
    expect(() => new ResolutionCache(1)).toThrow(/at least 2 names/);
  });

  it('tests only the names a scope admits: the first two segments, the first one, or the last one', () => {
    const cache = new ResolutionCache<number>(1000, 0);
    const names = ['user.1.updated', 'user.1.deleted', 'user.2.updated', 'user', 'order.1.updated', 'order.created'];
    for (const [i, name] of names.entries()) cache.set(name, i);
    const forget = (scope: NameScope, test: (name: string) => boolean): string[] => {
      const tested: string[] = [];
      cache.forgetWhere((name) => {
        tested.push(name);
        return test(name);
      }, scope);
      return tested.sort();
    };
    expect(forget({ lead: ['user', '1'], last: undefined }, (n) => n.endsWith('.updated'))).toEqual([
      'user.1.deleted',
      'user.1.updated',
    ]);
    expect(forget({ lead: ['user'], last: undefined }, () => false)).toEqual([
      'user',
      'user.1.deleted',
      'user.2.updated',
    ]);
    expect(forget({ lead: [], last: 'updated' }, () => true)).toEqual(['order.1.updated', 'user.2.updated']);
    expect(forget({ lead: ['nobody', 'here'], last: undefined }, () => true)).toEqual([]);
    expect(names.filter((name) => cache.peek(name) !== undefined)).toEqual(['user.1.deleted', 'user', 'order.created']);
    // No literal segment at either end: every name is tested.
    expect(forget({ lead: [], last: undefined }, () => false)).toHaveLength(3);
  });

  it('forgets in a scope exactly what a full scan forgets, through generations, evictions and clears', () => {
    const segment = fc.constantFrom('a', 'b', 'c');
    const name = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));
    const scope = fc.record({
      lead: fc.array(segment, { maxLength: 3 }),
      last: fc.option(segment, { nil: undefined }),
    });
    const op = fc.oneof(
      fc.record({ op: fc.constant('set' as const), name }),
      fc.record({ op: fc.constant('get' as const), name }),
      fc.record({ op: fc.constant('forget' as const), name }),
      fc.record({ op: fc.constant('scoped' as const), scope, name }),
      fc.record({ op: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.nat(3),
        fc.array(op, { maxLength: 120 }),
        (limit, indexFrom, ops) => {
          const scoped = new ResolutionCache<string>(limit, indexFrom);
          const scanned = new ResolutionCache<string>(limit);
          for (const step of ops) {
            for (const cache of [scoped, scanned]) {
              if (step.op === 'set') cache.set(step.name, step.name);
              else if (step.op === 'get') cache.get(step.name);
              else if (step.op === 'forget') cache.forget(step.name);
              else if (step.op === 'clear') cache.clear();
            }
            if (step.op !== 'scoped') continue;
            // What a pattern with this scope matches: names inside the scope that share a letter with `name`.
            const { lead, last } = step.scope;
            const inScope = (n: string): boolean => {
              const parts = n.split('.');
              if (lead.length > 0) return lead.every((part, i) => parts[i] === part);
              return last === undefined || parts[parts.length - 1] === last;
            };
            const test = (n: string): boolean => inScope(n) && n.includes(step.name.charAt(0));
            scoped.forgetWhere(test, { lead, last: lead.length > 0 ? undefined : last });
            scanned.forgetWhere(test);
          }
          const universe = ['a', 'b', 'c'].flatMap((x) => [
            x,
            ...['a', 'b', 'c'].flatMap((y) => [`${x}.${y}`, ...['a', 'b', 'c'].map((z) => `${x}.${y}.${z}`)]),
          ]);
          expect(universe.filter((n) => scoped.peek(n) !== undefined)).toEqual(
            universe.filter((n) => scanned.peek(n) !== undefined),
          );
          expect(scoped.size).toBe(scanned.size);
          for (const indexed of scoped.indexedNames) expect(indexed).toBe(scoped.size);
          expect(scanned.indexedNames).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('raises its limit, never lowers it, and keeps more names once raised', () => {
    const cache = new ResolutionCache<number>(100);
    cache.raiseLimit(50);
    expect(cache.limit).toBe(100);
    cache.raiseLimit(1000);
    expect(cache.limit).toBe(1000);
    for (let i = 0; i < 700; i++) cache.set(`n${i}`, i);
    expect(cache.size).toBe(700);
    expect(cache.get('n0')).toBe(0);
  });
});
