import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { LogFields, Logger } from 'kindling';
import { ProcessGuard, stackOf } from './process-guard.js';

function memoryLogger(lines: string[]): Logger {
  const write = (level: string) => (message: string, _fields?: LogFields) => void lines.push(`${level} ${message}`);
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

const trap = (): never => {
  throw new Error('trap');
};
const hostileProxy = (): object =>
  new Proxy({}, { get: trap, getPrototypeOf: trap, ownKeys: trap, has: trap, getOwnPropertyDescriptor: trap });

describe('ProcessGuard', () => {
  describe('.install', () => {
    it('logs an uncaught exception with the entry an attributor names, and counts it', () => {
      const lines: string[] = [];
      const target = new EventEmitter();
      using guard = ProcessGuard.install({
        logger: memoryLogger(lines),
        process: target as unknown as NodeJS.Process,
        attributors: [() => ({ entryId: 'app:f', description: 'function app:f' })],
      });
      target.emit('uncaughtException', new Error('boom'));
      expect(lines).toEqual([
        expect.stringMatching(
          /^error fault in function app:f, an uncaught exception: Error: boom \(at .*\); the app keeps serving \(1 fault so far\)$/,
        ),
      ]);
      expect(guard.counts()).toEqual({ attributed: 1, unattributed: 0, byEntry: new Map([['app:f', 1]]) });
    });

    it('logs a rejection no attributor can place as an internal fault', () => {
      const lines: string[] = [];
      const target = new EventEmitter();
      using guard = ProcessGuard.install({
        logger: memoryLogger(lines),
        process: target as unknown as NodeJS.Process,
        attributors: [() => undefined, trap],
      });
      target.emit('unhandledRejection', 'just a string');
      expect(lines[0]).toMatch(
        /^error internal fault \(not attributed to an entry\), an unhandled rejection: a thrown string: just a string\nthe app keeps serving/,
      );
      expect(guard.counts().unattributed).toBe(1);
    });

    it('removes its handlers on dispose', () => {
      const target = new EventEmitter();
      const guard = ProcessGuard.install({ logger: memoryLogger([]), process: target as unknown as NodeJS.Process });
      guard.dispose();
      expect([target.listenerCount('uncaughtException'), target.listenerCount('unhandledRejection')]).toEqual([0, 0]);
    });
  });

  describe('.report', () => {
    it('never throws, whatever the fault or the logger does', () => {
      const throwing: Logger = { debug: trap, info: trap, warn: trap, error: trap };
      const guard = ProcessGuard.install({
        logger: throwing,
        process: new EventEmitter() as unknown as NodeJS.Process,
      });
      // eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the same stream below
      const write = process.stderr.write;
      process.stderr.write = () => true;
      try {
        expect(() => guard.report(hostileProxy(), 'an uncaught exception')).not.toThrow();
      } finally {
        process.stderr.write = write;
        guard.dispose();
      }
    });

    it('writes a few lines a minute per origin and counts the rest', () => {
      const lines: string[] = [];
      using guard = ProcessGuard.install({
        logger: memoryLogger(lines),
        process: new EventEmitter() as unknown as NodeJS.Process,
        linesPerMinute: 2,
        attributors: [() => ({ entryId: 'app:f', description: 'function app:f' })],
      });
      for (let i = 0; i < 5; i++) guard.report(new Error(`e${i}`), 'an uncaught exception');
      expect([lines.length, guard.counts().attributed]).toEqual([2, 5]);
    });
  });
});

describe('stackOf', () => {
  it('reads the stack of an error', () => {
    expect(stackOf(new Error('here'))).toMatch(/^Error: here\n\s+at /);
  });

  it('reads nothing of a value without a stack, nor of a proxy (its traps are not called)', () => {
    expect([stackOf('a string'), stackOf(undefined), stackOf({ stack: 5 }), stackOf(hostileProxy())]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
