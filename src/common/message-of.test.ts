import { describe, expect, it } from 'vitest';
import { KindlingError, MESSAGE_MAX_CHARS, describeThrown, messageOf } from './errors.js';

describe('messageOf', () => {
  describe('.errors', () => {
    it('gives the message of an error', () => {
      expect(messageOf(new KindlingError('INVALID', 'entry a:b is bad'))).toBe('entry a:b is bad');
    });

    it('gives the name of an error whose message is empty', () => {
      expect(messageOf(new TypeError())).toBe('TypeError');
    });

    it('describes an error whose message is not a string', () => {
      const error = new Error('x');
      (error as { message: unknown }).message = { code: 7 };
      expect(messageOf(error)).toBe('Error: { code: 7 }');
    });

    it('survives an error whose message getter throws', () => {
      const error = new RangeError('x');
      Object.defineProperty(error, 'message', {
        get() {
          throw new Error('no');
        },
      });
      expect(messageOf(error)).toBe('RangeError (its message could not be read)');
    });

    it('survives an error whose message and name getters both throw', () => {
      const error = new Error('x');
      for (const key of ['message', 'name']) {
        Object.defineProperty(error, key, {
          get() {
            throw new Error('no');
          },
        });
      }
      expect(messageOf(error)).toBe('Error (its message could not be read)');
    });

    it('does not loop on an error that is its own message', () => {
      const error = new Error('x');
      (error as { message: unknown }).message = error;
      expect(messageOf(error)).toBe('Error: [Error]');
    });
  });

  describe('.other values', () => {
    it('returns a string as it is', () => {
      expect(messageOf('plain words')).toBe('plain words');
    });

    it('describes an object whose toString throws without calling it (was "error: toString")', () => {
      const thrown = {
        code: 'E1',
        toString(): string {
          throw new Error('toString');
        },
      };
      expect(messageOf(thrown)).toBe("{ code: 'E1', toString: [Function: toString] }");
    });

    it('describes an object whose toString is not a function', () => {
      expect(messageOf({ toString: 5 })).toBe('{ toString: 5 }');
    });

    it('describes a Proxy whose every trap throws without calling a trap', () => {
      const trap = (): never => {
        throw new Error('trap');
      };
      const proxy = new Proxy(
        { code: 'P' },
        { get: trap, ownKeys: trap, getPrototypeOf: trap, has: trap, getOwnPropertyDescriptor: trap },
      );
      expect(messageOf(proxy)).toBe("{ code: 'P' }");
    });

    it('describes a revoked Proxy', () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      expect(messageOf(proxy)).toBe('<Revoked Proxy>');
    });

    it('describes a null-prototype object', () => {
      const bare = Object.assign(Object.create(null) as object, { reason: 'bare' });
      expect(messageOf(bare)).toBe("[Object: null prototype] { reason: 'bare' }");
    });

    it('describes a symbol', () => {
      expect(messageOf(Symbol('sym'))).toBe('Symbol(sym)');
    });

    it('describes a BigInt', () => {
      expect(messageOf(10n)).toBe('10n');
    });

    it('describes a circular object', () => {
      const circular: Record<string, unknown> = { name: 'loop' };
      circular['self'] = circular;
      expect(messageOf(circular)).toBe("<ref *1> { name: 'loop', self: [Circular *1] }");
    });

    it('does not call a getter of the thrown object', () => {
      let called = false;
      const thrown = {
        get secret(): string {
          called = true;
          return 'x';
        },
      };
      expect(messageOf(thrown)).toBe('{ secret: [Getter] }');
      expect(called).toBe(false);
    });

    it('does not run a custom inspect function', () => {
      const thrown = {
        [Symbol.for('nodejs.util.inspect.custom')](): never {
          throw new Error('custom');
        },
      };
      expect(() => messageOf(thrown)).not.toThrow();
    });

    it('describes undefined, null and a function', () => {
      expect([messageOf(undefined), messageOf(null), messageOf(function named() {})]).toEqual([
        'undefined',
        'null',
        '[Function: named]',
      ]);
    });

    it('falls back to the type of a value it cannot describe', () => {
      const thrown = {
        get [Symbol.toStringTag](): string {
          throw new Error('tag');
        },
      };
      expect(messageOf(thrown)).toBe('an unprintable thrown object');
    });
  });

  describe('.length', () => {
    it(`cuts a message longer than ${MESSAGE_MAX_CHARS} characters, saying how much was left out`, () => {
      const text = messageOf(new Error('x'.repeat(1_000_000)));
      expect(text).toBe(`${'x'.repeat(MESSAGE_MAX_CHARS)}… (991,808 more characters)`);
    });

    it('cuts at a limit the caller gives', () => {
      expect(messageOf('abcdef', 3)).toBe('abc… (3 more characters)');
    });

    it('bounds a huge array', () => {
      expect(messageOf(Array.from({ length: 100_000 }, (_, i) => i)).length).toBeLessThan(200);
    });
  });
});

const trap = (): never => {
  throw new Error('trap');
};
const hostileProxy = (): object =>
  new Proxy({}, { get: trap, getPrototypeOf: trap, ownKeys: trap, has: trap, getOwnPropertyDescriptor: trap });

describe('describeThrown', () => {
  it.each([
    { name: 'an Error', fault: new TypeError('bad'), text: 'TypeError: bad' },
    { name: 'an Error without a message', fault: new RangeError(), text: 'RangeError' },
    { name: 'a string', fault: 'plain', text: 'a thrown string: plain' },
    { name: 'undefined', fault: undefined, text: 'a thrown undefined' },
    { name: 'null', fault: null, text: 'a thrown null' },
    { name: 'an object', fault: { code: 1 }, text: 'a thrown object: { code: 1 }' },
    { name: 'a proxy whose traps throw', fault: hostileProxy(), text: 'a thrown object: {}' },
    {
      name: 'an object whose toString and toJSON throw',
      fault: { toString: trap, toJSON: trap },
      text: 'a thrown object: { toString: [Function: trap], toJSON: [Function: trap] }',
    },
    { name: 'a BigInt', fault: 10n, text: 'a thrown bigint: 10n' },
  ])('describes $name without throwing', ({ fault, text }) => {
    expect(describeThrown(fault)).toBe(text);
  });

  it('describes an error whose message getter throws, without throwing', () => {
    const error = new Error('x');
    Object.defineProperty(error, 'message', {
      get: () => {
        throw new Error('message');
      },
    });
    expect(describeThrown(error)).toBe('Error (its message could not be read)');
  });

  it('escapes control characters and cuts long text', () => {
    expect(describeThrown(new Error(`a\nb\u001b[31m${'x'.repeat(400)}`), 300)).toMatch(
      /^Error: a\\nb\\u001b\[31mx+… \(\d+ more characters\)$/,
    );
  });
});
