import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeEvent, isValidEventType, makeEvent, type BrokerEvent } from './event-broker.js';
import { trackedBuses } from '../../../../test/support/test-buses.js';

const newBus = trackedBuses();

afterEach(() => {
  vi.useRealTimers();
});

describe('makeEvent', () => {
  it('encodes the data as JSON with the aggregate, the type and a timestamp', () => {
    const event = makeEvent('user', 'user-created', { id: 'taylor' });
    expect(event).toEqual({
      aggregateId: 'user',
      type: 'user-created',
      body: '{"id":"taylor"}',
      timestamp: expect.any(Date),
    });
    expect(decodeEvent(event)).toEqual({ id: 'taylor' });
  });

  it.each([
    [
      'a cycle',
      (() => {
        const cyclic: Record<string, unknown> = {};
        cyclic['self'] = cyclic;
        return cyclic;
      })(),
    ],
    ['a BigInt', { n: 1n }],
    ['undefined', undefined],
    ['a function', () => 1],
  ])('fails with INVALID when the data cannot be encoded (%s)', (_what, data) => {
    expect(() => makeEvent('user', 'user-created', data)).toThrow(expect.objectContaining({ code: 'INVALID' }));
  });

  it('fails with INVALID for a type that is not {noun}-{action}', () => {
    expect(() => makeEvent('user', 'UserCreated', {})).toThrow(expect.objectContaining({ code: 'INVALID' }));
  });
});

describe('isValidEventType', () => {
  it.each(['article-created', 'user-logged_in', 'key_set-updated', 'changed_password_notification-sent'])(
    'accepts %s',
    (type) => {
      expect(isValidEventType(type)).toBe(true);
    },
  );

  it.each([
    'UserCreated',
    'user_created',
    'user-',
    '-created',
    'user-created-now',
    'User-created',
    'user--created',
    'user-_in',
  ])('refuses %s', (type) => {
    expect(isValidEventType(type)).toBe(false);
  });
});

describe('EventBroker', () => {
  describe('.publish', () => {
    it('resolves once the subscribers of the type got the event', async () => {
      const bus = newBus();
      const handler = vi.fn();
      bus.broker.subscribe(handler, 'user-created');
      const event = makeEvent('user', 'user-created', { id: 1 });
      await bus.broker.publish(event);
      expect(handler).toHaveBeenCalledWith(event);
    });

    it('rejects a malformed event with INVALID', async () => {
      const bus = newBus();
      const bad = { aggregateId: 'user', type: 'user-created', body: '{nope', timestamp: new Date() };
      await expect(bus.broker.publish(bad)).rejects.toMatchObject({ code: 'INVALID' });
    });

    it('rejects with ABORTED when the signal aborted', async () => {
      const bus = newBus();
      await expect(
        bus.broker.publish(makeEvent('user', 'user-created', {}), AbortSignal.abort()),
      ).rejects.toMatchObject({ code: 'ABORTED' });
    });

    it('rejects with UNAVAILABLE when a consumer buffer with policy error is full', async () => {
      const bus = newBus({ bufferSize: 1, overflow: 'error' });
      bus.broker.consume('mailer', 'user-created');
      await bus.broker.publish(makeEvent('user', 'user-created', 1));
      await expect(bus.broker.publish(makeEvent('user', 'user-created', 2))).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        retryable: true,
      });
    });
  });

  describe('.consume', () => {
    it('gives each event of a queue to one of its competing consumers', async () => {
      const bus = newBus();
      const first = bus.broker.consume('mailer', 'user-created');
      const second = bus.broker.consume('mailer', 'user-created');
      for (let i = 0; i < 4; i++) await bus.broker.publish(makeEvent('user', 'user-created', i));
      expect([first.channel().size, second.channel().size]).toEqual([2, 2]);
    });

    it('gives each queue name its own copy', async () => {
      const bus = newBus();
      const mailer = bus.broker.consume('mailer', 'user-created');
      const audit = bus.broker.consume('audit', 'user-created');
      await bus.broker.publish(makeEvent('user', 'user-created', 'x'));
      expect(decodeEvent((await mailer.receive()).value as BrokerEvent)).toBe('x');
      expect(decodeEvent((await audit.receive()).value as BrokerEvent)).toBe('x');
    });

    it('streams as an async iterable until closed', async () => {
      const bus = newBus();
      const consumer = bus.broker.consume('q', 'order-accepted');
      for (const id of [1, 2]) await bus.broker.publish(makeEvent('order', 'order-accepted', { id }));
      consumer.close();
      const ids: unknown[] = [];
      for await (const event of consumer) ids.push(decodeEvent<{ id: number }>(event).id);
      expect(ids).toEqual([1, 2]);
    });

    it('closes when its signal aborts, and forgets the signal', async () => {
      const bus = newBus();
      const controller = new AbortController();
      const remove = vi.spyOn(controller.signal, 'removeEventListener');
      const consumer = bus.broker.consume('q', 'order-accepted', { signal: controller.signal });
      const pending = consumer.receive();
      controller.abort();
      await expect(pending).resolves.toEqual({ value: undefined, ok: false });
      expect(remove).toHaveBeenCalledTimes(1);
    });

    it('wraps an event sent to broker.<type> by another face as a broker event', async () => {
      const bus = newBus();
      const consumer = bus.broker.consume('q', 'user-created');
      await bus.send('broker', 'user-created', 'user', { id: 7 });
      const { value } = await consumer.receive();
      expect(value).toEqual({
        aggregateId: 'user',
        type: 'user-created',
        body: '{"id":7}',
        timestamp: expect.any(Date),
      });
    });

    it('refuses an empty queue name and a malformed type with INVALID', () => {
      const bus = newBus();
      expect(() => bus.broker.consume('', 'user-created')).toThrow(expect.objectContaining({ code: 'INVALID' }));
      expect(() => bus.broker.consume('q', 'created')).toThrow(expect.objectContaining({ code: 'INVALID' }));
    });
  });

  describe('.subscribe', () => {
    it('calls a Handler object for each of the listed types only', async () => {
      const bus = newBus();
      const seen: string[] = [];
      bus.broker.subscribe({ handle: (event) => void seen.push(event.type) }, 'user-created', 'user-deleted');
      for (const type of ['user-created', 'user-updated', 'user-deleted'])
        await bus.broker.publish(makeEvent('user', type, {}));
      expect(seen).toEqual(['user-created', 'user-deleted']);
    });

    it('calls a handler for every type when none is listed', async () => {
      const bus = newBus();
      const handler = vi.fn();
      bus.broker.subscribe(handler);
      await bus.broker.publish(makeEvent('user', 'user-created', {}));
      await bus.broker.publish(makeEvent('article', 'article-deleted', {}));
      expect(handler).toHaveBeenCalledTimes(2);
    });

    it('stops once disposed', async () => {
      const bus = newBus();
      const handler = vi.fn();
      bus.broker.subscribe(handler, 'user-created').dispose();
      await bus.broker.publish(makeEvent('user', 'user-created', {}));
      expect(handler).not.toHaveBeenCalled();
    });
  });

  describe('.resilientPublish', () => {
    it('returns only an encoding error', () => {
      const bus = newBus();
      const bad = { aggregateId: 'user', type: 'Bad', body: '{}', timestamp: new Date() };
      expect(bus.broker.resilientPublish(bad)).toMatchObject({ code: 'INVALID' });
      expect(bus.broker.resilientPublish(makeEvent('user', 'user-created', {}))).toBeUndefined();
    });

    it('retries a full consumer with backoff until it takes the event, in order', async () => {
      vi.useFakeTimers();
      const bus = newBus({ bufferSize: 1, overflow: 'error', resilient: { initialDelayMs: 10, maxDelayMs: 1000 } });
      const consumer = bus.broker.consume('mailer', 'user-created');
      for (const n of [1, 2, 3])
        expect(bus.broker.resilientPublish(makeEvent('user', 'user-created', n))).toBeUndefined();
      expect(bus.broker.pending).toBe(2);
      const received: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const next = consumer.receive();
        await vi.advanceTimersByTimeAsync(1000);
        received.push(decodeEvent((await next).value as BrokerEvent));
      }
      expect(received).toEqual([1, 2, 3]);
      expect(bus.broker.pending).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('retries only the consumers that refused, not those that already took the event', async () => {
      vi.useFakeTimers();
      const bus = newBus({ bufferSize: 1, overflow: 'error', resilient: { initialDelayMs: 10 } });
      const slow = bus.broker.consume('slow', 'user-created');
      const fast = bus.broker.consume('fast', 'user-created');
      await bus.broker.publish(makeEvent('user', 'user-created', 0));
      await fast.receive();
      bus.broker.resilientPublish(makeEvent('user', 'user-created', 1));
      await slow.receive();
      await vi.advanceTimersByTimeAsync(10);
      await bus.broker.flush();
      expect([slow.channel().size, fast.channel().size]).toEqual([1, 1]);
    });

    it('gives up the oldest waiting event when its retry buffer is full, and reports it', () => {
      vi.useFakeTimers();
      const bus = newBus({ bufferSize: 1, overflow: 'error', resilient: { bufferSize: 1 } });
      const errors: unknown[] = [];
      bus.on('$broker.error', (payload) => errors.push(payload));
      bus.broker.consume('q', 'user-created');
      for (const n of [1, 2, 3]) bus.broker.resilientPublish(makeEvent('user', 'user-created', n));
      expect(bus.broker.pending).toBe(1);
      expect(errors).toEqual([expect.objectContaining({ type: 'resilient', event: 'broker.user-created' })]);
    });

    it('reports the events still waiting when the bus stops, and leaves no timer', async () => {
      vi.useFakeTimers();
      const bus = newBus({ bufferSize: 1, overflow: 'error' });
      const errors: unknown[] = [];
      bus.on('$broker.error', (payload) => errors.push(payload));
      bus.broker.consume('q', 'user-created');
      for (const n of [1, 2]) bus.broker.resilientPublish(makeEvent('user', 'user-created', n));
      const flushed = bus.broker.flush();
      await bus.stop();
      await expect(flushed).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(errors).toEqual([expect.objectContaining({ type: 'resilient', abandoned: 1 })]);
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});
