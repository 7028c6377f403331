import { describe, expect, it } from 'vitest';
import { KindlingError } from '../common/errors.js';
import { createEntry, formatEntryLocation, getEntrySource, setEntrySource } from './entry.js';
import { parseEntryId, resolveEntryRef } from './entry-id.js';

describe('parseEntryId', () => {
  it('splits at the first colon', () => {
    expect(parseEntryId('app.http:server:v2')).toEqual({ namespace: 'app.http', name: 'server:v2' });
  });

  it.each(['', 'server', ':server', 'app:', 'app..http:x', 'app:has space'])('refuses %j with INVALID', (id) => {
    expect(() => parseEntryId(id)).toThrow(KindlingError);
  });
});

describe('resolveEntryRef', () => {
  it('gives a bare name the namespace', () => {
    expect(resolveEntryRef('db', 'app')).toBe('app:db');
    expect(resolveEntryRef('other:db', 'app')).toBe('other:db');
  });
});

describe('createEntry', () => {
  it('returns a deep-frozen copy', () => {
    const data = { list: [{ a: 1 }] };
    const entry = createEntry({ id: 'app:a', kind: 'x.y', data });
    expect(entry.data).toEqual(data);
    expect(entry.data).not.toBe(data);
    expect(Object.isFrozen(entry.data.list[0])).toBe(true);
    expect(entry.meta).toEqual({});
  });

  it('returns an entry it made before without copying it again', () => {
    const entry = createEntry({ id: 'app:a', kind: 'x.y' });
    expect(createEntry(entry)).toBe(entry);
  });

  it.each(['HTTP.service', 'http..service', 'http service', ''])('refuses the kind %j', (kind) => {
    expect(() => createEntry({ id: 'app:a', kind })).toThrow(/kind of entry app:a/);
  });

  it('refuses a __proto__ key with its path', () => {
    const data = JSON.parse('{"routes":[{"__proto__":{"polluted":true}}]}') as unknown;
    expect(() => createEntry({ id: 'app:a', kind: 'x.y', data })).toThrow('entry app:a: data.routes[0].__proto__ is a forbidden key');
  });

  it('refuses nesting deeper than 64 levels', () => {
    let data: unknown = 1;
    for (let i = 0; i < 70; i++) data = { d: data };
    expect(() => createEntry({ id: 'app:a', kind: 'x.y', data })).toThrow(/nested more than 64 levels/);
  });

  it('refuses a meta that is not an object', () => {
    expect(() => createEntry({ id: 'app:a', kind: 'x.y', meta: [] as unknown as Record<string, unknown> })).toThrow(/meta of entry app:a/);
  });

  it('keeps the source of the input', () => {
    const input = setEntrySource({ id: 'app:a', kind: 'x.y', data: { port: 1 } }, {
      file: 'app.yaml',
      line: 3,
      column: 5,
      locate: (path) => (path[1] === 'port' ? { line: 6, column: 11 } : undefined),
    });
    const entry = createEntry(input);
    expect(getEntrySource(entry)?.file).toBe('app.yaml');
    expect(formatEntryLocation(entry)).toBe('app.yaml:3:5');
    expect(formatEntryLocation(entry, ['data', 'port'])).toBe('app.yaml:6:11');
    expect(Object.keys(entry)).toEqual(['id', 'kind', 'meta', 'data']);
  });
});
