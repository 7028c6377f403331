import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LogThrottle, createConsoleLogger, type ConsoleLoggerOptions, type Logger } from './logger.js';

/** A console logger writing into an array. */
function capture(
  options: ConsoleLoggerOptions = {},
  level: 'debug' | 'warn' = 'debug',
): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createConsoleLogger(level, 'app', { ...options, write: (line) => lines.push(line) }), lines };
}

describe('createConsoleLogger', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('.warn', () => {
    it('writes one line with the prefix, the level and the fields', () => {
      const { logger, lines } = capture();
      logger.warn('disk is full', { free: 0 });
      expect(lines).toEqual(['[app] warn  disk is full {"free":0}\n']);
    });

    it('drops messages below its level', () => {
      const { logger, lines } = capture({}, 'warn');
      logger.info('hello');
      expect(lines).toEqual([]);
    });

    it('writes a refused-send storm of a million identical warnings as ten lines and one count (was: a million lines)', () => {
      const { logger, lines } = capture();
      const line = 'event bus transport: NATS at nats://127.0.0.1:4222: NATS is reconnecting';
      for (let i = 0; i < 1_000_000; i++) logger.warn(line);
      vi.advanceTimersByTime(10_000);
      expect(lines).toEqual([
        ...Array.from({ length: 10 }, () => `[app] warn  ${line}\n`),
        `[app] warn  … 999,990 more like this in the last 10 s: ${line}\n`,
      ]);
    });

    it('counts lines that differ only in numbers and quoted text as repeats', () => {
      const { logger, lines } = capture({ repeatsPerWindow: 1 });
      logger.warn('subscriber "a" refused event 1');
      logger.warn('subscriber "b" refused event 2');
      logger.warn('subscriber "c" refused event 3');
      vi.advanceTimersByTime(10_000);
      expect(lines).toEqual([
        '[app] warn  subscriber "a" refused event 1\n',
        '[app] warn  … 2 more like this in the last 10 s: subscriber "a" refused event 1\n',
      ]);
    });

    it('writes the first repeatsPerWindow lines of a template in full', () => {
      const { logger, lines } = capture({ repeatsPerWindow: 3 });
      for (let revision = 1; revision <= 3; revision++) logger.info(`applied revision ${revision}`);
      expect(lines).toEqual([
        '[app] info  applied revision 1\n',
        '[app] info  applied revision 2\n',
        '[app] info  applied revision 3\n',
      ]);
    });

    it('counts repeats per level', () => {
      const { logger, lines } = capture({ repeatsPerWindow: 1 });
      logger.warn('same');
      logger.error('same');
      expect(lines).toEqual(['[app] warn  same\n', '[app] error same\n']);
    });

    it('writes the first line of a storm again in the next window', () => {
      const { logger, lines } = capture({ repeatWindowMs: 1000, repeatsPerWindow: 1 });
      logger.warn('again');
      logger.warn('again');
      vi.advanceTimersByTime(1000);
      logger.warn('again');
      expect(lines).toEqual([
        '[app] warn  again\n',
        '[app] warn  … 1 more like this in the last 1 s: again\n',
        '[app] warn  again\n',
      ]);
    });

    it('writes no summary when nothing was suppressed', () => {
      const { logger, lines } = capture({ repeatWindowMs: 250 });
      logger.warn('once');
      vi.advanceTimersByTime(10_000);
      expect(lines).toEqual(['[app] warn  once\n']);
    });

    it('writes lines of at most maxTemplatesPerWindow templates per window and counts the rest', () => {
      const { logger, lines } = capture({ maxTemplatesPerWindow: 3 });
      for (const word of ['alpha', 'beta', 'gamma', 'delta', 'epsilon']) logger.error(`${word} failed`);
      vi.advanceTimersByTime(10_000);
      expect(lines).toEqual([
        '[app] error alpha failed\n',
        '[app] error beta failed\n',
        '[app] error gamma failed\n',
        '[app] error … 2 more lines of other kinds in the last 10 s were not written (lines of 3 kinds at most per 10 s)\n',
      ]);
    });

    it('writes every line when repeatWindowMs is 0', () => {
      const { logger, lines } = capture({ repeatWindowMs: 0 });
      logger.warn('x');
      logger.warn('x');
      expect(lines).toHaveLength(2);
    });

    it('refuses a negative repeatWindowMs with INVALID', () => {
      expect(() => createConsoleLogger('info', 'app', { repeatWindowMs: -1 })).toThrow(
        expect.objectContaining({ code: 'INVALID', message: expect.stringMatching(/repeatWindowMs/) }),
      );
    });

    it('cuts a line longer than maxLineChars, saying how much was left out', () => {
      const { logger, lines } = capture({ maxLineChars: 10 });
      logger.warn('x'.repeat(100_000));
      expect(lines).toEqual(['[app] warn  xxxxxxxxxx… (99,990 more characters)\n']);
    });

    it('writes fields it cannot serialise as a placeholder', () => {
      const { logger, lines } = capture();
      const circular: Record<string, unknown> = {};
      circular['self'] = circular;
      logger.warn('odd', { circular });
      expect(lines).toEqual(['[app] warn  odd [unserialisable fields]\n']);
    });

    it('writes an error field as its message and a BigInt as text', () => {
      const { logger, lines } = capture();
      logger.warn('failed', { error: new TypeError('bad'), big: 12n });
      expect(lines).toEqual(['[app] warn  failed {"error":{"name":"TypeError","message":"bad"},"big":"12n"}\n']);
    });
  });

  describe('.escaping', () => {
    it('escapes a line break so that a message cannot forge a second line', () => {
      const { logger, lines } = capture();
      logger.warn('entry x\n[app] error forged');
      expect(lines).toEqual(['[app] warn  entry x\\n[app] error forged\n']);
    });

    it('escapes control characters in the fields and the prefix', () => {
      const lines: string[] = [];
      createConsoleLogger('info', 'a\u001b[31m', { write: (line) => lines.push(line) }).info('m', {
        k: '\u202e\u0085',
      });
      expect(lines).toEqual(['[a\\u001b[31m] info  m {"k":"\\u202e\\u0085"}\n']);
    });
  });
});

describe('LogThrottle', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const recorder = (): { logger: Logger; seen: [string, string][] } => {
    const seen: [string, string][] = [];
    const at =
      (level: string) =>
      (message: string): void => {
        seen.push([level, message]);
      };
    return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, seen };
  };

  describe('.warn', () => {
    it('logs the first line of a key and counts the rest of the window', () => {
      const { logger, seen } = recorder();
      const storms = new LogThrottle(logger);
      for (let i = 0; i < 20_000; i++) storms.warn('undecodable', `an undecodable message on kindling.emit.s${i}`);
      vi.advanceTimersByTime(10_000);
      expect(seen).toEqual([
        ['warn', 'an undecodable message on kindling.emit.s0'],
        ['warn', '… 19,999 more like this in the last 10 s: an undecodable message on kindling.emit.s0'],
      ]);
    });

    it('writes linesPerWindow lines of a key, then says how many more there were when the window ends', () => {
      const { logger, seen } = recorder();
      const storms = new LogThrottle(logger, { windowMs: 1000, linesPerWindow: 2 });
      for (let i = 0; i < 5; i++) storms.warn('k', `line ${i}`);
      vi.advanceTimersByTime(1000);
      storms.warn('k', 'line 5');
      expect(seen).toEqual([
        ['warn', 'line 0'],
        ['warn', 'line 1'],
        ['warn', '… 3 more like this in the last 1 s: line 0'],
        ['warn', 'line 5'],
      ]);
    });

    it('keeps separate counts per key', () => {
      const { logger, seen } = recorder();
      const storms = new LogThrottle(logger);
      storms.log('info', 'a', 'a');
      storms.log('info', 'a', 'a again');
      storms.log('info', 'b', 'b');
      expect(seen).toEqual([
        ['info', 'a'],
        ['info', 'b'],
      ]);
    });

    it('refuses a linesPerWindow below 1 with INVALID', () => {
      expect(() => new LogThrottle(recorder().logger, { linesPerWindow: 0 })).toThrow(
        expect.objectContaining({ code: 'INVALID', message: expect.stringMatching(/linesPerWindow/) }),
      );
    });

    it('counts keys beyond maxKeys together', () => {
      const { logger, seen } = recorder();
      const storms = new LogThrottle(logger, { windowMs: 1000, maxKeys: 2 });
      for (const key of ['a', 'b', 'c', 'd']) storms.warn(key, `key ${key}`);
      vi.advanceTimersByTime(1000);
      expect(seen).toEqual([
        ['warn', 'key a'],
        ['warn', 'key b'],
        ['warn', '… 2 more lines of other kinds in the last 1 s were not written (lines of 2 kinds at most per 1 s)'],
      ]);
    });

    it('survives a logger that throws while a summary is written', () => {
      let calls = 0;
      const throwing: Logger = {
        debug() {},
        info() {},
        error() {},
        warn() {
          if (++calls > 1) throw new Error('logger down');
        },
      };
      const storms = new LogThrottle(throwing, { windowMs: 1000 });
      storms.warn('k', 'one');
      storms.warn('k', 'two');
      expect(() => vi.advanceTimersByTime(1000)).not.toThrow();
      expect(calls).toBe(2);
    });
  });

  describe('.flush', () => {
    it('writes the counts now', () => {
      const { logger, seen } = recorder();
      const storms = new LogThrottle(logger);
      storms.error('k', 'lost');
      storms.error('k', 'lost');
      storms.flush();
      expect(seen).toEqual([
        ['error', 'lost'],
        ['error', '… 1 more like this in the last 10 s: lost'],
      ]);
    });
  });
});
