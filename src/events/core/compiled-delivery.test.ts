import { afterEach, describe, expect, it } from 'vitest';
import type { Disposable } from '../../common/disposable.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import {
  COMPILE_AFTER_CALLS,
  COMPILE_MAX_SUBSCRIBERS,
  compileDelivery,
  resetCompiledDelivery,
  type DeliveryHooks,
} from './compiled-delivery.js';
import { EventCore, REFUSED } from './event-core.js';
import { LocalTransport } from './transport.js';

const quietHooks: DeliveryHooks = { after: () => false, failed: () => undefined };

function newCore(logger: Logger = silentLogger): EventCore {
  return new EventCore({
    nodeID: 'node-1',
    logger,
    transport: new LocalTransport(),
    bufferSize: 16,
    overflow: 'drop-oldest',
  });
}

/** Subscribes `deliver` to `pattern` as a plain listener (no envelope, no group), as `bus.on` does. */
function on(core: EventCore, pattern: string, deliver: (data: unknown, name: string) => unknown): Disposable {
  return core.subscribe({ pattern, needsEnvelope: false, label: `on("${pattern}")`, deliver });
}

afterEach(() => resetCompiledDelivery());

describe('compileDelivery', () => {
  it('calls every function in order with the data and the name, and reports no refusal', () => {
    const calls: string[] = [];
    const delivers = [0, 1, 2].map(
      (i) => (data: unknown, name: string) => void calls.push(`${i}:${name}:${String(data)}`),
    );
    const deliverAll = compileDelivery(delivers, quietHooks);
    expect(deliverAll).toBeTypeOf('function');
    expect(deliverAll?.('order.created', 7)).toBeUndefined();
    expect(calls).toEqual(['0:order.created:7', '1:order.created:7', '2:order.created:7']);
  });

  it('passes each result to after() and a throw to failed(), and goes on to the next function', () => {
    const seen: string[] = [];
    const hooks: DeliveryHooks = {
      after: (index, _name, result) => {
        seen.push(`after ${index} ${String(result)}`);
        return result === 'refuse';
      },
      failed: (index, _name, error) => void seen.push(`failed ${index} ${(error as Error).message}`),
    };
    const deliverAll = compileDelivery(
      [
        () => 'refuse',
        () => {
          throw new Error('boom');
        },
        () => undefined,
        () => 'fine',
        () => 'refuse',
      ],
      hooks,
    );
    expect(deliverAll?.('x', 1)).toEqual([0, 4]);
    expect(seen).toEqual(['after 0 refuse', 'failed 1 boom', 'after 3 fine', 'after 4 refuse']);
  });

  it('writes nothing for one function or for more than the compiled range', () => {
    const noop = (): void => undefined;
    expect(compileDelivery([noop], quietHooks)).toBeUndefined();
    expect(
      compileDelivery(
        Array.from({ length: COMPILE_MAX_SUBSCRIBERS + 1 }, () => noop),
        quietHooks,
      ),
    ).toBeUndefined();
    expect(
      compileDelivery(
        Array.from({ length: COMPILE_MAX_SUBSCRIBERS }, () => noop),
        quietHooks,
      ),
    ).toBeTypeOf('function');
  });

  it('gives up, for good, where code generation is refused (--disallow-code-generation-from-strings)', () => {
    const refusing = function () {
      throw new EvalError('Code generation from strings disallowed for this context');
    } as unknown as FunctionConstructor;
    const noop = (): void => undefined;
    expect(compileDelivery([noop, noop], quietHooks, refusing)).toBeUndefined();
    // Once refused, no further attempt is made (each would throw and be caught again).
    expect(compileDelivery([noop, noop], quietHooks)).toBeUndefined();
    resetCompiledDelivery();
    expect(compileDelivery([noop, noop], quietHooks)).toBeTypeOf('function');
  });
});

describe('EventCore with a hot event name (compiled delivery)', () => {
  const hot = COMPILE_AFTER_CALLS * 2;

  it('delivers to every subscriber in order before and after the plan is compiled', () => {
    const core = newCore();
    const calls: number[] = [];
    for (let i = 0; i < 5; i++) on(core, 'order.created', () => void calls.push(i));
    for (let n = 0; n < hot; n++) {
      calls.length = 0;
      core.emit('order.created', n);
      expect(calls).toEqual([0, 1, 2, 3, 4]);
      calls.length = 0;
      core.broadcast('order.created', n);
      expect(calls).toEqual([0, 1, 2, 3, 4]);
      calls.length = 0;
      core.broadcastLocal('order.created', n);
      expect(calls).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('reports a throwing handler on every publish and still calls the others', () => {
    const errors: unknown[] = [];
    const logger: Logger = { ...silentLogger, error: (...args: unknown[]) => void errors.push(args) };
    const core = newCore(logger);
    let after = 0;
    on(core, 'job.done', () => {
      throw new Error('handler broke');
    });
    on(core, 'job.done', () => void after++);
    for (let n = 0; n < hot; n++) core.emit('job.done', n);
    expect(after).toBe(hot);
    expect(core.stats().handlerErrors).toBe(hot);
  });

  it('reports a handler whose promise rejects', async () => {
    const core = newCore();
    on(core, 'job.done', () => Promise.reject(new Error('later')));
    on(core, 'job.done', () => undefined);
    for (let n = 0; n < hot; n++) core.emit('job.done', n);
    await new Promise((resolve) => setImmediate(resolve));
    expect(core.stats().handlerErrors).toBe(hot);
  });

  it('throws UNAVAILABLE naming the subscriber that refused, after compiling as before', () => {
    const core = newCore();
    let reached = 0;
    on(core, 'q.full', () => REFUSED);
    on(core, 'q.full', () => void reached++);
    for (let n = 0; n < hot; n++) {
      expect(() => core.emit('q.full', n)).toThrow(/on\("q\.full"\)/);
    }
    expect(reached).toBe(hot);
  });

  it('follows subscriptions added and removed after the plan was compiled', () => {
    const core = newCore();
    const calls: string[] = [];
    const a = on(core, 'user.*', () => void calls.push('a'));
    on(core, 'user.created', () => void calls.push('b'));
    for (let n = 0; n < hot; n++) core.emit('user.created', n);
    calls.length = 0;
    const c = on(core, '**', () => void calls.push('c'));
    core.emit('user.created', 1);
    expect(calls).toEqual(['a', 'b', 'c']);
    calls.length = 0;
    a.dispose();
    core.emit('user.created', 2);
    expect(calls).toEqual(['b', 'c']);
    // The new plan is hot in its turn and keeps the order.
    for (let n = 0; n < hot; n++) core.emit('user.created', n);
    calls.length = 0;
    c.dispose();
    core.emit('user.created', 3);
    expect(calls).toEqual(['b']);
  });

  it('calls a subscriber disposed by an earlier handler during the same publish, as the loop does', () => {
    const core = newCore();
    const calls: string[] = [];
    let disposeSecond = false;
    on(core, 'tick', () => {
      calls.push('first');
      if (disposeSecond) second.dispose();
    });
    const second = on(core, 'tick', () => void calls.push('second'));
    on(core, 'tick', () => void calls.push('third'));
    for (let n = 0; n < hot; n++) core.emit('tick', n);
    disposeSecond = true;
    calls.length = 0;
    core.emit('tick', 'disposing');
    expect(calls).toEqual(['first', 'second', 'third']);
    calls.length = 0;
    core.emit('tick', 'after');
    expect(calls).toEqual(['first', 'third']);
  });
});
