import { describe, expect, it } from 'vitest';
import { RESOLUTION_CACHE_LIMIT, ResolutionCache } from './resolution-cache.js';

describe('ResolutionCache', () => {
  it('never holds more names than its limit', () => {
    const cache = new ResolutionCache<number>(100);
    let largest = 0;
    for (let i = 0; i < 10_000; i++) {
      cache.set(`n${i}`, i);
      largest = Math.max(largest, cache.size);
    }
    expect(largest).toBe(100);
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
});
