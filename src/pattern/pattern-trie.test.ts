import { describe, expect, it } from 'vitest';
import { PatternSet } from './pattern-trie.js';

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
