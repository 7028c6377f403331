import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchEventName, matchKind } from './kind-pattern.js';
import { PatternSet, type PatternRegistration } from './pattern-trie.js';
import { RESOLUTION_CACHE_LIMIT } from './resolution-cache.js';

describe('PatternSet', () => {
  describe('.match', () => {
    it('returns every matching value in registration order', () => {
      const set = new PatternSet<string>('kind');
      set.add('**', 'all');
      set.add('http.service', 'exact');
      set.add('http.*', 'http');
      set.add('function.*', 'function');
      expect(set.match('http.service')).toEqual(['all', 'exact', 'http']);
      expect(set.match('function.lua.bc')).toEqual(['all', 'function']);
      expect(set.match('other')).toEqual(['all']);
    });

    it('forgets cached answers when a registration is added or disposed', () => {
      const set = new PatternSet<string>('kind');
      expect(set.match('http.router')).toEqual([]);
      const sub = set.add('http.*', 'http');
      expect(set.match('http.router')).toEqual(['http']);
      sub.dispose();
      sub.dispose();
      expect(set.match('http.router')).toEqual([]);
      expect(set.size).toBe(0);
    });

    it('answers the event dialect through the same trie', () => {
      const set = new PatternSet<number>('event');
      set.add('user.*', 1);
      set.add('**.created', 2);
      set.add('user.created', 3);
      set.add('$node.*', 4);
      expect(set.match('user.created')).toEqual([1, 2, 3]);
      expect(set.match('$node.connected')).toEqual([4]);
      expect(set.match('order.created')).toEqual([2]);
    });
  });

  it('finds patterns that start with a wildcard through their last segment, and forgets them', () => {
    const set = new PatternSet<string>('event');
    const sub = set.add('**.created', 'any created');
    set.add('*.user.created', 'two deep');
    set.add('**', 'all');
    expect(set.match('order.created')).toEqual(['any created', 'all']);
    expect(set.match('a.user.created')).toEqual(['any created', 'two deep', 'all']);
    expect(set.match('order.deleted')).toEqual(['all']);
    sub.dispose();
    expect(set.match('order.created')).toEqual(['all']);
    expect(set.patterns()).toEqual(['*.user.created', '**']);
  });

  describe('.patterns', () => {
    it('lists sources in registration order', () => {
      const set = new PatternSet<number>('kind');
      set.add('b.*', 1);
      set.add('a', 2);
      expect(set.patterns()).toEqual(['b.*', 'a']);
    });
  });
});

describe('PatternSet under change', () => {
  const words = ['a', 'b', 'c'];
  const eventSegments = [...words, '*', '**', 'a*', '?', '*b'];
  const kindSegments = [...words, '*', '**', '(a|b)'];
  const name = fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 3 }).map((s) => s.join('.'));
  const pattern = (segments: string[]): fc.Arbitrary<string> =>
    fc.array(fc.constantFrom(...segments), { minLength: 1, maxLength: 3 }).map((s) => s.join('.'));
  type Step =
    | { op: 'add'; pattern: string }
    | { op: 'remove'; pick: number }
    | { op: 'match'; name: string }
    // A registration that comes and goes (the set may put back what it knew), looked up in between or not.
    | { op: 'blip'; pattern: string; lookup: string | undefined };
  const steps = (segments: string[]): fc.Arbitrary<Step[]> =>
    fc.array(
      fc.oneof(
        pattern(segments).map((p): Step => ({ op: 'add', pattern: p })),
        fc.nat().map((pick): Step => ({ op: 'remove', pick })),
        name.map((n): Step => ({ op: 'match', name: n })),
        name.map((n): Step => ({ op: 'match', name: n })),
        fc
          .record({ pattern: fc.oneof(name, pattern(segments)), lookup: fc.option(name, { nil: undefined }) })
          .map(({ pattern: p, lookup }): Step => ({ op: 'blip', pattern: p, lookup })),
      ),
      { maxLength: 80 },
    );

  for (const dialect of ['event', 'kind'] as const) {
    it(`answers like a plain list of ${dialect} patterns, whatever the order of adds, removals and lookups`, () => {
      const matches = dialect === 'event' ? matchEventName : matchKind;
      fc.assert(
        fc.property(steps(dialect === 'event' ? eventSegments : kindSegments), (script) => {
          const set = new PatternSet<number>(dialect);
          const live: { id: number; pattern: string; registration: PatternRegistration<number> }[] = [];
          let next = 0;
          for (const step of script) {
            if (step.op === 'add') {
              const id = next++;
              live.push({ id, pattern: step.pattern, registration: set.add(step.pattern, id) });
            } else if (step.op === 'blip') {
              const id = next++;
              const registration = set.add(step.pattern, id);
              if (step.lookup !== undefined) {
                const expected = [...live, { id, pattern: step.pattern }]
                  .filter((r) => matches(r.pattern, step.lookup as string))
                  .map((r) => r.id);
                expect(set.match(step.lookup)).toEqual(expected);
              }
              registration.dispose();
            } else if (step.op === 'remove') {
              if (live.length === 0) continue;
              const [gone] = live.splice(step.pick % live.length, 1);
              gone?.registration.dispose();
              gone?.registration.dispose();
            } else {
              const expected = live.filter((r) => matches(r.pattern, step.name)).map((r) => r.id);
              expect(set.match(step.name)).toEqual(expected);
              expect(set.resolve(step.name)).toEqual(expected);
            }
            expect(set.size).toBe(live.length);
          }
          expect(set.patterns()).toEqual(live.map((r) => r.pattern));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('puts back what it knew when a registration comes and goes, and only when nothing else changed between', () => {
    const set = new PatternSet<number>('event');
    set.add('a.b', 1);
    const wildcard = set.add('a.*', 2);
    const before = set.match('a.b');
    expect(before).toEqual([1, 2]);
    // Comes and goes, looked up in between: the answer from before comes back (the same array).
    const blip = set.add('a.b', 3);
    expect(set.match('a.b')).toEqual([1, 2, 3]);
    blip.dispose();
    expect(set.match('a.b')).toBe(before);
    // Another registration removed between: the name is resolved again.
    const second = set.add('a.b', 4);
    wildcard.dispose();
    second.dispose();
    expect(set.match('a.b')).toEqual([1]);
    // A wildcard added between: the same.
    const third = set.add('a.b', 5);
    set.add('*.b', 6);
    third.dispose();
    expect(set.match('a.b')).toEqual([1, 6]);
  });

  it('removes any one of many registrations of one name, keeping the others in order', () => {
    const set = new PatternSet<number>('event');
    const registrations = Array.from({ length: 40_000 }, (_, i) => set.add('app.ready', i));
    for (let i = 0; i < registrations.length; i += 2) registrations[i]?.dispose();
    expect(set.match('app.ready')).toEqual(Array.from({ length: 20_000 }, (_, i) => 2 * i + 1));
    for (const registration of registrations) registration.dispose();
    expect(set.match('app.ready')).toEqual([]);
    expect(set.size).toBe(0);
    expect(set.patterns()).toEqual([]);
  });

  it('keeps at most the documented number of names cached, however many distinct names it sees', () => {
    const set = new PatternSet<string>('event');
    set.add('user.*', 'users');
    let wrong = 0;
    for (let i = 0; i < 100_000; i++) if (set.match(`user.u${i}`)[0] !== 'users') wrong++;
    expect(wrong).toBe(0);
    expect(set.cachedNames).toBeGreaterThan(0);
    expect(set.cachedNames).toBeLessThanOrEqual(RESOLUTION_CACHE_LIMIT);
  });

  it('forgets only the cached names a changed pattern can match', () => {
    const set = new PatternSet<string>('event');
    const cache = set.createCache<string>();
    for (const name of ['user.created', 'user.deleted', 'order.created', 'order.paid']) cache.set(name, name);
    const exact = set.add('order.paid', 'exact');
    expect([
      ...['user.created', 'user.deleted', 'order.created', 'order.paid'].filter((n) => cache.get(n) !== undefined),
    ]).toEqual(['user.created', 'user.deleted', 'order.created']);
    set.add('**.created', 'created');
    expect(['user.created', 'user.deleted', 'order.created'].filter((n) => cache.get(n) !== undefined)).toEqual([
      'user.deleted',
    ]);
    cache.set('order.paid', 'again');
    exact.dispose();
    expect(cache.get('order.paid')).toBeUndefined();
    expect(cache.get('user.deleted')).toBe('user.deleted');
  });

  it('gives every name of its own registrations room in its caches, beyond the default limit', () => {
    const set = new PatternSet<number>('event');
    const count = RESOLUTION_CACHE_LIMIT * 2;
    for (let i = 0; i < count; i++) set.add(`n${i}.changed`, i);
    const plans = set.createCache<number>();
    expect(plans.limit).toBe(2 * count);
    for (let round = 0; round < 2; round++) for (let i = 0; i < count; i++) set.match(`n${i}.changed`);
    expect(set.cachedNames).toBe(count);
    // A cache given its own limit keeps it.
    expect(set.createCache<number>(100).limit).toBe(100);
  });

  it('tests only the cached names a wildcard can reach when it comes and goes', () => {
    const set = new PatternSet<string>('event');
    for (let i = 0; i < 5000; i++) set.match(`user.${i}.updated`);
    for (let i = 0; i < 5000; i++) set.match(`user.${i}.updated`);
    expect(set.cachedNames).toBe(5000);
    const sub = set.add('user.42.*', 'one user');
    expect(set.match('user.42.updated')).toEqual(['one user']);
    expect(set.match('user.43.updated')).toEqual([]);
    sub.dispose();
    expect(set.match('user.42.updated')).toEqual([]);
    set.add('**.updated', 'every update');
    expect(set.match('user.43.updated')).toEqual(['every update']);
  });
});
