import { describe, expect, it } from 'vitest';
import { parseQuery, parseRequestTarget } from './request-target.js';

describe('parseRequestTarget', () => {
  it.each([
    { target: '/a/b?x=1', path: '/a/b', query: 'x=1' },
    { target: '//[/', path: '//[/', query: '' },
    { target: 'http://example.test:8080/a?b', path: '/a', query: 'b' },
    { target: 'http://example.test', path: '/', query: '' },
    { target: 'http://[::1]:0/x', path: '/x', query: '' },
    { target: '/a#frag?not-a-query', path: '/a', query: '' },
    { target: '/caf%C3%A9?q=%E2%9C%93+x', path: '/caf%C3%A9', query: 'q=%E2%9C%93+x' },
  ])('reads $target', ({ target, path, query }) => {
    expect(parseRequestTarget(target)).toEqual({ path, query });
  });

  it.each([
    { target: 'http://x:99999/', problem: /port 99999, outside 0-65535/ },
    { target: 'http://[zz/', problem: /malformed host/ },
    { target: '*', problem: /asterisk-form/ },
    { target: 'example.test:443', problem: /neither a path nor an absolute URL/ },
    { target: '/%', problem: /the path has malformed percent-encoding/ },
    { target: '/%4', problem: /the path has malformed percent-encoding/ },
    { target: '/%ff', problem: /the path has malformed percent-encoding/ },
    { target: '/?a=%E0%A4', problem: /the query string has malformed percent-encoding/ },
  ])('refuses $target', ({ target, problem }) => {
    expect(parseRequestTarget(target)).toEqual({ problem: expect.stringMatching(problem) });
  });
});

describe('parseQuery', () => {
  it('decodes keys and values, + as a space, and gathers repeated keys in order', () => {
    expect({ ...parseQuery('a=1&b=x+y&a=2&c&=e&a=%E2%9C%93') }).toEqual({
      a: ['1', '2', '✓'],
      b: 'x y',
      c: '',
      '': 'e',
    });
  });

  it('has no prototype, so __proto__ is a plain key', () => {
    const query = parseQuery('__proto__=x');
    expect([Object.getPrototypeOf(query), query['__proto__']]).toEqual([null, 'x']);
  });
});
