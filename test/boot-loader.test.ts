import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BootError, BootLoader, createContextKey, defineComponent } from 'kindling/boot';
import type { BootEvent, ComponentOptions } from 'kindling/boot';
import type { LogFields, Logger } from 'kindling';

/** A component that records its lifecycle calls in `log`. */
function recorder(
  log: string[],
  name: string,
  dependsOn: string[] = [],
  extra: Partial<ComponentOptions> = {},
): ComponentOptions {
  return {
    name,
    dependsOn,
    load: (ctx) => {
      log.push(`load:${name}`);
      return ctx;
    },
    start: () => {
      log.push(`start:${name}`);
    },
    stop: () => {
      log.push(`stop:${name}`);
    },
    ...extra,
  };
}

function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (message: string, _fields?: LogFields) => {
    lines.push(`${level} ${message}`);
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

describe('defineComponent', () => {
  it('refuses a component without a name', () => {
    expect(() => defineComponent({ name: '', load: (ctx) => ctx })).toThrow(
      expect.objectContaining({ code: 'INVALID' }),
    );
  });

  it('refuses a load time limit that is not a positive number', () => {
    expect(() => defineComponent({ name: 'x', loadTimeoutMs: 0, load: (ctx) => ctx })).toThrow(
      'component x: loadTimeoutMs must be a positive number of milliseconds',
    );
  });

  it('refuses a load that is not a function', () => {
    expect(() => defineComponent({ name: 'x', load: 42 as never })).toThrow(/load must be a function/);
  });
});

describe('BootLoader', () => {
  describe('.register', () => {
    it('refuses a second component with the same name with CONFLICT', () => {
      const boot = new BootLoader();
      boot.register(recorder([], 'http'));
      expect(() => boot.register(recorder([], 'http'))).toThrow(
        expect.objectContaining({ code: 'CONFLICT', component: 'http' }),
      );
    });

    it('accepts a plain component object and checks it like defineComponent', () => {
      const boot = new BootLoader();
      boot.register({ name: 'plain', load: (ctx) => ctx });
      expect(boot.componentNames).toEqual(['plain']);
    });
  });

  describe('.plan', () => {
    it('orders components into dependency levels, registration order inside a level', () => {
      const boot = new BootLoader();
      for (const [name, deps] of [
        ['http', ['registry', 'function']],
        ['function', ['registry']],
        ['registry', ['events']],
        ['events', []],
        ['metrics', []],
      ] as const) {
        boot.register(recorder([], name, [...deps]));
      }
      expect(boot.plan()).toEqual([['events', 'metrics'], ['registry'], ['function'], ['http']]);
    });

    it('names every missing dependency with NOT_FOUND and details.missing', () => {
      const boot = new BootLoader();
      boot.register(recorder([], 'a', ['x']));
      boot.register(recorder([], 'b', ['a', 'y', 'z']));
      let error: unknown;
      try {
        boot.plan();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(BootError);
      expect(error).toMatchObject({
        code: 'NOT_FOUND',
        details: {
          missing: [
            { component: 'a', dependency: 'x' },
            { component: 'b', dependency: 'y' },
            { component: 'b', dependency: 'z' },
          ],
        },
      });
      expect((error as Error).message).toContain('a needs "x"');
      expect((error as Error).message).toContain('b needs "z"');
    });

    it('reports every cycle as a path with INVALID and details.cycle', () => {
      const boot = new BootLoader();
      boot.register(recorder([], 'a', ['b']));
      boot.register(recorder([], 'b', ['c']));
      boot.register(recorder([], 'c', ['a']));
      boot.register(recorder([], 'd', ['e']));
      boot.register(recorder([], 'e', ['d']));
      boot.register(recorder([], 'f', ['f']));
      boot.register(recorder([], 'ok', []));
      let error: BootError | undefined;
      try {
        boot.plan();
      } catch (caught) {
        error = caught as BootError;
      }
      expect(error?.code).toBe('INVALID');
      expect(error?.cycles).toEqual([
        ['a', 'b', 'c', 'a'],
        ['d', 'e', 'd'],
        ['f', 'f'],
      ]);
      expect(error?.details['cycle']).toEqual(['a', 'b', 'c', 'a']);
      expect(error?.message).toContain('a → b → c → a');
    });

    it('lists two cycles that share a component separately', () => {
      const boot = new BootLoader();
      boot.register(recorder([], 'a', ['b']));
      boot.register(recorder([], 'b', ['a', 'c']));
      boot.register(recorder([], 'c', ['b']));
      expect(() => boot.plan()).toThrow(
        expect.objectContaining({
          cycles: [
            ['a', 'b', 'a'],
            ['b', 'c', 'b'],
          ],
        }),
      );
    });
  });

  describe('.load', () => {
    it('loads in dependency order and passes each component the context the previous one returned', async () => {
      const Greeting = createContextKey<string>('greeting');
      const seen: (string | undefined)[] = [];
      const boot = new BootLoader();
      boot.register({ name: 'reader', dependsOn: ['writer'], load: (ctx) => void seen.push(ctx.get(Greeting)) });
      boot.register({ name: 'writer', load: (ctx) => ctx.with(Greeting, 'hello') });
      const ctx = await boot.load();
      expect(seen).toEqual(['hello']);
      expect(ctx.require(Greeting)).toBe('hello');
      await boot.shutdown();
    });

    it('refuses a load that returns something other than a context', async () => {
      const boot = new BootLoader();
      boot.register({ name: 'bad', load: () => ({}) as never });
      await expect(boot.load()).rejects.toMatchObject({ code: 'INVALID', component: 'bad', phase: 'load' });
    });

    it('passes the decoded config to load, start and stop', async () => {
      const configs: unknown[] = [];
      const boot = new BootLoader();
      boot.register(
        {
          name: 'configured',
          config: (raw) => ({ port: (raw as { port: number }).port + 1 }),
          load: (_ctx, config) => void configs.push(config),
          start: (_ctx, config) => void configs.push(config),
          stop: (_ctx, config) => void configs.push(config),
        },
        { port: 1 },
      );
      await boot.start();
      await boot.shutdown();
      expect(configs).toEqual([{ port: 2 }, { port: 2 }, { port: 2 }]);
    });

    it('refuses a config its config hook rejects, naming the component', async () => {
      const boot = new BootLoader();
      boot.register({
        name: 'strict',
        config: () => {
          throw new Error('port must be a number');
        },
        load: (ctx) => ctx,
      });
      await expect(boot.load()).rejects.toThrow('component strict failed to load: port must be a number');
    });

    it('stops what loaded, in reverse order, when a load fails', async () => {
      const log: string[] = [];
      const boot = new BootLoader();
      boot.register(recorder(log, 'a'));
      boot.register(recorder(log, 'b', ['a']));
      boot.register(
        recorder(log, 'c', ['b'], {
          load: () => {
            throw new Error('boom');
          },
        }),
      );
      await expect(boot.load()).rejects.toMatchObject({ component: 'c', phase: 'load', code: 'REJECTED' });
      expect(log).toEqual(['load:a', 'load:b', 'stop:b', 'stop:a']);
      expect(boot.state).toBe('stopped');
    });

    it('keeps the code of a KindlingError thrown by load', async () => {
      const boot = new BootLoader();
      boot.register({ name: 'needs', load: (ctx) => void ctx.require(createContextKey('registry')) });
      await expect(boot.load()).rejects.toMatchObject({ code: 'NOT_FOUND', component: 'needs' });
    });

    it('fails with TIMEOUT naming a component whose load does not settle within its limit', async () => {
      const boot = new BootLoader({ loadTimeoutMs: 60_000 });
      boot.register({ name: 'stuck', loadTimeoutMs: 5, load: () => new Promise<void>(() => undefined) });
      await expect(boot.load()).rejects.toMatchObject({
        code: 'TIMEOUT',
        component: 'stuck',
        phase: 'load',
        message: 'component stuck did not load within 5 ms (raise loadTimeoutMs if it needs longer)',
      });
    });

    it('gives a component without a limit of its own the loader default', async () => {
      const boot = new BootLoader({ loadTimeoutMs: 5 });
      boot.register({ name: 'stuck', load: () => new Promise<void>(() => undefined) });
      await expect(boot.load()).rejects.toMatchObject({
        code: 'TIMEOUT',
        message: expect.stringContaining('within 5 ms') as unknown,
      });
    });

    it('stops what loaded, in reverse order, when a load does not settle', async () => {
      const log: string[] = [];
      const boot = new BootLoader();
      boot.register(recorder(log, 'a'));
      boot.register(
        recorder(log, 'stuck', ['a'], { loadTimeoutMs: 5, load: () => new Promise<void>(() => undefined) }),
      );
      await expect(boot.load()).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(log).toEqual(['load:a', 'stop:a']);
      expect(boot.state).toBe('stopped');
    });

    it('refuses to load twice', async () => {
      const boot = new BootLoader();
      await boot.load();
      await expect(boot.load()).rejects.toMatchObject({ code: 'INVALID' });
      await boot.shutdown();
    });
  });

  describe('.start', () => {
    it('loads every component before starting any, then starts in dependency order', async () => {
      const log: string[] = [];
      const boot = new BootLoader();
      boot.register(recorder(log, 'http', ['registry']));
      boot.register(recorder(log, 'registry'));
      await boot.start();
      expect(log).toEqual(['load:registry', 'load:http', 'start:registry', 'start:http']);
      expect(boot.state).toBe('started');
      await boot.shutdown();
    });

    it('fails with TIMEOUT naming a component that does not start within its limit', async () => {
      const boot = new BootLoader({ startTimeoutMs: 60_000 });
      boot.register({
        name: 'slow',
        startTimeoutMs: 5,
        load: (ctx) => ctx,
        start: () => new Promise<void>(() => undefined),
      });
      await expect(boot.start()).rejects.toMatchObject({
        code: 'TIMEOUT',
        component: 'slow',
        message: expect.stringContaining('component slow did not start within 5 ms') as unknown,
      });
    });

    it('stops every loaded component in reverse order after a start fails, including those that never started', async () => {
      const log: string[] = [];
      const boot = new BootLoader();
      boot.register(recorder(log, 'a'));
      boot.register(
        recorder(log, 'b', ['a'], {
          start: () => {
            throw new Error('port taken');
          },
        }),
      );
      boot.register(recorder(log, 'c', ['b']));
      await expect(boot.start()).rejects.toThrow('component b failed to start: port taken');
      expect(log).toEqual(['load:a', 'load:b', 'load:c', 'start:a', 'stop:c', 'stop:b', 'stop:a']);
    });
  });

  describe('.shutdown', () => {
    it('stops in reverse order', async () => {
      const log: string[] = [];
      const boot = new BootLoader();
      boot.register(recorder(log, 'c', ['b']));
      boot.register(recorder(log, 'a'));
      boot.register(recorder(log, 'b', ['a']));
      await boot.start();
      log.length = 0;
      const report = await boot.shutdown();
      expect(log).toEqual(['stop:c', 'stop:b', 'stop:a']);
      expect(report).toEqual({ stopped: ['c', 'b', 'a'], failures: [] });
    });

    it('goes on past a stop that throws and reports it', async () => {
      const log: string[] = [];
      const boot = new BootLoader();
      boot.register(recorder(log, 'a'));
      boot.register(
        recorder(log, 'b', ['a'], {
          stop: () => {
            throw new Error('socket stuck');
          },
        }),
      );
      boot.register(recorder(log, 'c', ['b']));
      await boot.start();
      log.length = 0;
      const report = await boot.shutdown();
      expect(log).toEqual(['stop:c', 'stop:a']);
      expect(report.stopped).toEqual(['c', 'a']);
      expect(report.failures).toHaveLength(1);
      expect(report.failures[0]?.component).toBe('b');
      expect((report.failures[0]?.error as Error).message).toContain('socket stuck');
    });

    it('goes on past a stop that does not finish within its limit', async () => {
      const log: string[] = [];
      const boot = new BootLoader({ stopTimeoutMs: 5 });
      boot.register(recorder(log, 'a'));
      boot.register(recorder(log, 'hung', ['a'], { stop: () => new Promise<void>(() => undefined) }));
      await boot.start();
      log.length = 0;
      const report = await boot.shutdown();
      expect(log).toEqual(['stop:a']);
      expect(report.failures[0]).toMatchObject({ component: 'hung', error: { code: 'TIMEOUT' } });
    });

    it('is idempotent: a second shutdown stops nothing again', async () => {
      const log: string[] = [];
      const boot = new BootLoader();
      boot.register(recorder(log, 'a'));
      await boot.start();
      const [first, second] = await Promise.all([boot.shutdown(), boot.shutdown()]);
      expect(first).toBe(second);
      expect(log.filter((line) => line.startsWith('stop:'))).toEqual(['stop:a']);
    });

    it('waits for a start in progress and stops before the next component starts', async () => {
      const log: string[] = [];
      let release: () => void = () => undefined;
      let begun: () => void = () => undefined;
      const startBegun = new Promise<void>((resolve) => (begun = resolve));
      const boot = new BootLoader();
      boot.register(
        recorder(log, 'a', [], {
          start: () =>
            new Promise<void>((resolve) => {
              release = resolve;
              begun();
            }),
        }),
      );
      boot.register(recorder(log, 'b', ['a']));
      const starting = boot.start();
      await startBegun;
      const stopping = boot.shutdown();
      release();
      await expect(starting).rejects.toMatchObject({ code: 'ABORTED', component: 'b' });
      await stopping;
      expect(log).toEqual(['load:a', 'load:b', 'stop:b', 'stop:a']);
    });
  });

  describe('.onBootEvent', () => {
    it('emits $boot.* events for every component and phase', async () => {
      const events: BootEvent[] = [];
      const boot = new BootLoader();
      boot.onBootEvent((event) => events.push(event));
      boot.register(recorder([], 'a'));
      boot.register(recorder([], 'b', ['a']));
      await boot.start();
      await boot.shutdown();
      expect(
        events.map((event) => `${event.name}${event.component === undefined ? '' : ` ${event.component}`}`),
      ).toEqual([
        '$boot.component_loaded a',
        '$boot.component_loaded b',
        '$boot.loaded',
        '$boot.component_started a',
        '$boot.component_started b',
        '$boot.started',
        '$boot.stopping',
        '$boot.component_stopped b',
        '$boot.component_stopped a',
        '$boot.stopped',
      ]);
      expect(events.every((event) => event.name === '$boot.stopping' || typeof event.durationMs === 'number')).toBe(
        true,
      );
    });

    it('emits $boot.component_failed with the phase and the error', async () => {
      const events: BootEvent[] = [];
      const boot = new BootLoader();
      boot.onBootEvent((event) => events.push(event));
      boot.register(recorder([], 'a', [], { start: () => Promise.reject(new Error('nope')) }));
      await expect(boot.start()).rejects.toThrow('nope');
      expect(events.find((event) => event.name === '$boot.component_failed')).toMatchObject({
        component: 'a',
        phase: 'start',
      });
    });

    it('keeps booting when an event listener throws', async () => {
      const logger = memoryLogger();
      const boot = new BootLoader({ logger });
      boot.onBootEvent(() => {
        throw new Error('listener bug');
      });
      boot.register(recorder([], 'a'));
      await boot.start();
      expect(boot.state).toBe('started');
      expect(logger.lines.some((line) => line.includes('listener bug'))).toBe(true);
      await boot.shutdown();
    });
  });

  describe('logging', () => {
    it('logs the levels and the time of each phase', async () => {
      const logger = memoryLogger();
      const boot = new BootLoader({ logger });
      boot.register(recorder([], 'a'));
      boot.register(recorder([], 'b', ['a']));
      await boot.start();
      await boot.shutdown();
      expect(logger.lines).toEqual(
        expect.arrayContaining([
          'info loading 2 component(s): [a] → [b]',
          expect.stringMatching(/^info loaded 2 component\(s\) in [\d.]+ ms$/) as unknown,
          expect.stringMatching(/^debug started a in [\d.]+ ms$/) as unknown,
          expect.stringMatching(/^info started 2 component\(s\) in [\d.]+ ms$/) as unknown,
          expect.stringMatching(/^info stopped 2 component\(s\) in [\d.]+ ms$/) as unknown,
        ]),
      );
    });
  });

  describe('.handleSignals', () => {
    it('shuts down gracefully on SIGTERM and exits 0', async () => {
      const log: string[] = [];
      const source = new EventEmitter();
      const boot = new BootLoader();
      boot.register(recorder(log, 'a'));
      await boot.start();
      const exited = new Promise<number>((resolve) => boot.handleSignals({ source, exit: resolve }));
      source.emit('SIGTERM', 'SIGTERM');
      expect(await exited).toBe(0);
      expect(log).toContain('stop:a');
    });

    it('exits at once with 130 on a second signal', async () => {
      let release: () => void = () => undefined;
      let begun: () => void = () => undefined;
      const stopBegun = new Promise<void>((resolve) => (begun = resolve));
      const source = new EventEmitter();
      const codes: number[] = [];
      const boot = new BootLoader();
      boot.register({
        name: 'slow',
        load: (ctx) => ctx,
        stop: () =>
          new Promise<void>((resolve) => {
            release = resolve;
            begun();
          }),
      });
      await boot.start();
      const stopped = new Promise<void>((resolve) => {
        boot.handleSignals({
          source,
          exit: (code) => {
            codes.push(code);
            if (codes.length === 2) resolve();
          },
        });
      });
      source.emit('SIGINT', 'SIGINT');
      await stopBegun;
      source.emit('SIGINT', 'SIGINT');
      expect(codes).toEqual([130]);
      release();
      await stopped;
      expect(codes).toEqual([130, 0]);
    });

    it('removes its handlers when disposed', () => {
      const source = new EventEmitter();
      const boot = new BootLoader();
      const handlers = boot.handleSignals({ source, exit: () => undefined });
      expect(source.listenerCount('SIGINT')).toBe(1);
      handlers.dispose();
      expect(source.listenerCount('SIGINT')).toBe(0);
      expect(source.listenerCount('SIGTERM')).toBe(0);
    });
  });
});
