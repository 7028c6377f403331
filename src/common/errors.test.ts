import { describe, expect, it } from 'vitest';
import { ErrorCode, KindlingError } from './errors.js';
import { ConfigError } from '../config/config-error.js';

/**
 * The KindlingError of another installed copy of Kindling: another class, so `instanceof` says no,
 * but branded with the same `Symbol.for` key, as every copy's prototype is.
 */
class SecondCopyKindlingError extends Error {
  readonly details = {};
  readonly retryable = false;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
Object.defineProperty(SecondCopyKindlingError.prototype, Symbol.for('kindling.error'), { value: true });

describe('KindlingError.is', () => {
  it('recognises a KindlingError and its subclasses, with or without a code', () => {
    const error = new KindlingError('CONFLICT', 'entry app:a already exists');
    expect(KindlingError.is(error)).toBe(true);
    expect(KindlingError.is(error, 'CONFLICT')).toBe(true);
    expect(KindlingError.is(error, 'NOT_FOUND')).toBe(false);
    const config = new ConfigError({
      entryId: 'app:a',
      kind: 'http.service',
      issues: [{ path: 'data.port', message: 'port must be a number' }],
    });
    expect(KindlingError.is(config, 'INVALID')).toBe(true);
  });

  it('recognises the error of a second installed copy, which instanceof does not', () => {
    const foreign = new SecondCopyKindlingError('TIMEOUT', 'listener http did not finish within 10 ms');
    expect(foreign instanceof KindlingError).toBe(false);
    expect(KindlingError.is(foreign)).toBe(true);
    expect(KindlingError.is(foreign, 'TIMEOUT')).toBe(true);
    expect(KindlingError.is(foreign, 'INVALID')).toBe(false);
  });

  it('refuses plain errors, look-alikes and anything that is not an object', () => {
    const lookAlike = Object.assign(new Error('boom'), { code: 'INVALID', details: {}, retryable: false });
    for (const value of [
      new Error('boom'),
      lookAlike,
      { code: 'INVALID' },
      'INVALID',
      null,
      undefined,
      42,
      Symbol('x'),
    ]) {
      expect(KindlingError.is(value)).toBe(false);
    }
  });

  it('never throws: a Proxy is not one and its traps never run; a throwing brand getter is not one', () => {
    let trapped = 0;
    const proxy = new Proxy(new KindlingError('INVALID', 'x'), {
      get: () => {
        trapped++;
        return true;
      },
    });
    expect(KindlingError.is(proxy)).toBe(false);
    expect(trapped).toBe(0);
    const hostile = Object.defineProperty({}, Symbol.for('kindling.error'), {
      get() {
        throw new Error('getter ran');
      },
    });
    expect(KindlingError.is(hostile)).toBe(false);
  });

  it('keeps the brand out of JSON, keys and details', () => {
    const error = new KindlingError('GONE', 'revision 3 is gone', { details: { revision: 3 } });
    expect(Object.getOwnPropertySymbols(error)).toEqual([]);
    expect(JSON.stringify(error)).not.toContain('kindling');
    expect(Object.keys(error.details)).toEqual(['revision']);
  });
});
