import { afterEach, describe, expect, it, vi } from 'vitest';
import { KindlingError } from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { DefaultEventBus, type EventBusOptions } from './event-bus.js';
import type { EventEnvelope } from './core/event-envelope.js';
import type { NodeInfo, Transport, TransportReceiver } from './core/transport.js';

const buses: DefaultEventBus[] = [];

function newBus(options: EventBusOptions = {}): DefaultEventBus {
  const bus = new DefaultEventBus({ nodeID: 'node-1', logger: silentLogger, ...options });
  buses.push(bus);
  return bus;
}

interface BrokerError {
  readonly error: unknown;
  readonly module: string;
  readonly type: string;
  readonly [field: string]: unknown;
}

function brokerErrors(bus: DefaultEventBus): BrokerError[] {
  const errors: BrokerError[] = [];
  bus.on('$broker.error', (payload) => errors.push(payload as BrokerError));
  return errors;
}

afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.stop();
  vi.useRealTimers();
});

describe('DefaultEventBus', () => {
  describe('.on', () => {
    it('calls a listener with the payload and the name of a matching event', () => {
      const bus = newBus();
      const seen: unknown[] = [];
      bus.on('user.*', (payload, name) => seen.push([name, payload]));
      bus.emit('user.created', { id: 1 });
      bus.emit('order.created', { id: 2 });
      expect(seen).toEqual([['user.created', { id: 1 }]]);
    });

    it('calls listeners in registration order, exact and wildcard alike', () => {
      const bus = newBus();
      const order: string[] = [];
      bus.on('**', () => order.push('all'));
      bus.on('a.b', () => order.push('exact'));
      bus.on('a.*', () => order.push('a.*'));
      bus.emit('a.b');
      expect(order).toEqual(['all', 'exact', 'a.*']);
    });

    it('stops calling a listener once disposed', () => {
      const bus = newBus();
      const listener = vi.fn();
      const subscription = bus.on('x', listener);
      bus.emit('x');
      subscription.dispose();
      bus.emit('x');
      expect(listener).toHaveBeenCalledTimes(1);
    });

    it('reaches a listener added after events of that name were already published (cached plans are dropped)', () => {
      const bus = newBus();
      bus.emit('x', 1);
      const late = vi.fn();
      bus.on('x', late);
      bus.emit('x', 2);
      expect(late.mock.calls.map((call) => call[0])).toEqual([2]);
    });

    it('refuses an empty pattern with INVALID', () => {
      const bus = newBus();
      expect(() => bus.on('', vi.fn())).toThrow(expect.objectContaining({ code: 'INVALID' }));
    });
  });

  describe('.emit', () => {
    it('keeps calling the other handlers when one throws, and reports the error', () => {
      const bus = newBus();
      const errors = brokerErrors(bus);
      const after = vi.fn();
      bus.on('job.done', () => {
        throw new Error('boom');
      });
      bus.on('job.done', after);
      bus.emit('job.done', 42);
      expect(after.mock.calls.map((call) => call.slice(0, 2))).toEqual([[42, 'job.done']]);
      expect(errors).toEqual([
        expect.objectContaining({
          module: 'broker',
          type: 'handler',
          event: 'job.done',
          error: expect.objectContaining({ message: 'boom' }),
        }),
      ]);
      expect(bus.stats().handlerErrors).toBe(1);
    });

    it('reports a handler whose promise rejects', async () => {
      const bus = newBus();
      const reported = new Promise<BrokerError>((resolve) => bus.on('$broker.error', (p) => resolve(p as BrokerError)));
      bus.on('job.done', () => Promise.reject(new Error('later')));
      bus.emit('job.done');
      await expect(reported).resolves.toEqual(
        expect.objectContaining({ type: 'handler', error: expect.objectContaining({ message: 'later' }) }),
      );
    });

    it('does not loop when a $broker.error handler throws', () => {
      const bus = newBus();
      const errorHandler = vi.fn(() => {
        throw new Error('error handler fails too');
      });
      bus.on('$broker.error', errorHandler);
      bus.on('x', () => {
        throw new Error('first');
      });
      bus.emit('x');
      expect(errorHandler).toHaveBeenCalledTimes(1);
    });

    it('throws UNAVAILABLE after serving everyone else when a buffer with policy error is full', () => {
      const bus = newBus({ bufferSize: 1, overflow: 'error' });
      const sub = bus.events.subscribe('jobs');
      const other = vi.fn();
      bus.on('jobs.done', other);
      bus.emit('jobs.done', 1);
      let thrown: unknown;
      try {
        bus.emit('jobs.done', 2);
      } catch (error) {
        thrown = error;
      }
      expect(KindlingError.is(thrown, 'UNAVAILABLE')).toBe(true);
      expect((thrown as { retryable: boolean }).retryable).toBe(true);
      expect(other).toHaveBeenCalledTimes(2);
      expect(sub.channel().size).toBe(1);
    });
  });

  describe('delivery order', () => {
    it('keeps each subscriber in publish order, buffered or not', async () => {
      const bus = newBus({ bufferSize: 2000 });
      const sub = bus.events.subscribe('seq');
      const direct: number[] = [];
      bus.on('seq.n', (n) => direct.push(n as number));
      for (let i = 0; i < 1000; i++) bus.emit('seq.n', i);
      const buffered: number[] = [];
      for (let i = 0; i < 1000; i++) buffered.push((await sub.receive()).value?.data as number);
      const expected = Array.from({ length: 1000 }, (_, i) => i);
      expect(direct).toEqual(expected);
      expect(buffered).toEqual(expected);
    });
  });

  describe('slow subscribers', () => {
    it('cannot block a subscriber that reads', async () => {
      const bus = newBus({ bufferSize: 2 });
      bus.events.subscribe('feed'); // never read
      const reader = bus.events.subscribe('feed', undefined, { bufferSize: 10 });
      for (let i = 0; i < 5; i++) await bus.send('feed', 'item', `/items/${i}`, i);
      const got: unknown[] = [];
      for (let i = 0; i < 5; i++) got.push((await reader.receive()).value?.data);
      expect(got).toEqual([0, 1, 2, 3, 4]);
    });

    it('drops the oldest events of a full buffer, counts them and reports the overflow', async () => {
      const bus = newBus({ bufferSize: 2 });
      const errors = brokerErrors(bus);
      const slow = bus.events.subscribe('feed');
      for (let i = 0; i < 5; i++) await bus.send('feed', 'item', `/items/${i}`, i);
      expect(slow.dropped).toBe(3);
      expect(bus.stats().dropped).toBe(3);
      expect(errors).toEqual([
        expect.objectContaining({ type: 'overflow', subscription: 'events.subscribe("feed")', totalDrops: 1 }),
      ]);
      expect([(await slow.receive()).value?.data, (await slow.receive()).value?.data]).toEqual([3, 4]);
      expect(errors.at(-1)).toEqual(expect.objectContaining({ type: 'overflow', drained: true, episodeDrops: 3 }));
    });
  });

  describe('.start', () => {
    it('starts the services, then broadcasts $broker.started', async () => {
      const bus = newBus();
      const order: string[] = [];
      bus.createService({
        name: 'svc',
        started: () => {
          order.push('service started');
        },
        events: {
          '$broker.started': () => {
            order.push('$broker.started');
          },
        },
      });
      await bus.start();
      expect(order).toEqual(['service started', '$broker.started']);
      expect(bus.state).toBe('started');
    });

    it('rejects and stops what started when a service fails to start', async () => {
      const bus = newBus();
      const stopped = vi.fn();
      bus.createService({ name: 'a', started: () => undefined, stopped });
      bus.createService({
        name: 'b',
        started: () => {
          throw new Error('no database');
        },
      });
      await expect(bus.start()).rejects.toThrow('no database');
      expect(stopped).toHaveBeenCalledTimes(1);
      expect(bus.state).toBe('stopped');
    });
  });

  describe('.stop', () => {
    it('broadcasts $broker.stopped after the services stopped', async () => {
      const bus = newBus();
      const order: string[] = [];
      bus.createService({
        name: 'svc',
        stopped: () => {
          order.push('service stopped');
        },
        events: { '$broker.stopped': () => void order.push('$broker.stopped') },
      });
      await bus.start();
      await bus.stop();
      expect(order).toEqual(['service stopped', '$broker.stopped']);
    });

    it('ends every channel and releases every subscription', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('a');
      bus.on('b', vi.fn());
      bus.createService({ name: 's', events: { c: () => undefined } });
      const pending = sub.receive();
      await bus.stop();
      await expect(pending).resolves.toEqual({ value: undefined, ok: false });
      expect(bus.stats()).toEqual(expect.objectContaining({ subscriptions: 0, channels: 0 }));
    });

    it('refuses events afterwards with UNAVAILABLE', async () => {
      const bus = newBus();
      await bus.stop();
      expect(() => bus.emit('x')).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
      await expect(bus.send('a', 'b', '/c')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });

    it('is final: start afterwards rejects', async () => {
      const bus = newBus();
      await bus.stop();
      await expect(bus.start()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });
  });

  describe('subscriptions', () => {
    it('release everything once closed: no trie entry, no channel, no timer', async () => {
      vi.useFakeTimers();
      const bus = newBus();
      const baseline = bus.stats();
      const subs = [
        bus.events.subscribe('a'),
        bus.events.subscribe('b.*', 'x'),
        bus.broker.consume('q', 'user-created'),
      ];
      const listener = bus.on('c.**', vi.fn());
      const service = bus.createService({ name: 'svc', events: { 'd.*': () => undefined } });
      for (const sub of subs) sub.close();
      listener.dispose();
      await bus.destroyService(service);
      expect(bus.stats()).toEqual(expect.objectContaining({ subscriptions: baseline.subscriptions, channels: 0 }));
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('transport', () => {
    class LoopbackTransport implements Transport {
      readonly remote = true;
      readonly sent: EventEnvelope[] = [];
      receiver: TransportReceiver | undefined;
      connect(_nodeID: string, receiver: TransportReceiver): Promise<void> {
        this.receiver = receiver;
        return Promise.resolve();
      }
      send(envelope: EventEnvelope): Promise<void> {
        this.sent.push(envelope);
        return Promise.resolve();
      }
      disconnect(): Promise<void> {
        return Promise.resolve();
      }
    }

    it('with preferLocal: false, hands an emit to a remote transport only, which delivers this node its share', async () => {
      const transport = new LoopbackTransport();
      const bus = newBus({ transport, preferLocal: false });
      await bus.start();
      const listener = vi.fn();
      bus.on('user.created', (payload) => listener(payload));
      bus.emit('user.created', { id: 1 });
      expect(listener).not.toHaveBeenCalled();
      expect(transport.sent).toEqual([
        expect.objectContaining({ name: 'user.created', eventType: 'emit', source: 'node-1' }),
      ]);
      transport.receiver?.deliver(transport.sent[0] as EventEnvelope);
      expect(listener).toHaveBeenCalledWith({ id: 1 });
    });

    it('prefers local members: serves them at once and names the served slots for the other nodes', async () => {
      const transport = new LoopbackTransport();
      const bus = newBus({ transport });
      await bus.start();
      const handler = vi.fn();
      const listener = vi.fn();
      bus.createService({ name: 'users', events: { 'user.created': handler } });
      bus.on('user.created', (payload) => listener(payload));
      bus.emit('user.created', { id: 1 });
      expect(handler).toHaveBeenCalledTimes(1);
      expect(listener).toHaveBeenCalledTimes(1);
      expect(transport.sent).toEqual([
        expect.objectContaining({ name: 'user.created', eventType: 'emit', servedSlots: ['users\u0000user.created'] }),
      ]);
      // The network's copy coming back to this node is dropped.
      transport.receiver?.deliver(transport.sent[0] as EventEnvelope);
      expect(handler).toHaveBeenCalledTimes(1);
      expect(listener).toHaveBeenCalledTimes(1);
    });

    it('delivers a broadcast locally and sends it to the other nodes', async () => {
      const transport = new LoopbackTransport();
      const bus = newBus({ transport });
      await bus.start();
      const listener = vi.fn();
      bus.on('config.changed', listener);
      bus.broadcast('config.changed', { a: 1 });
      expect(listener).toHaveBeenCalledTimes(1);
      expect(transport.sent.map((e) => e.eventType)).toEqual(['broadcast']);
    });

    it('announces other nodes as $node.connected and $node.disconnected', async () => {
      const transport = new LoopbackTransport();
      const bus = newBus({ transport });
      const seen: unknown[] = [];
      bus.on('$node.*', (payload, name) => seen.push([name, payload]));
      await bus.start();
      const node: NodeInfo = { id: 'node-2' };
      transport.receiver?.nodeConnected(node, false);
      transport.receiver?.nodeDisconnected(node, true);
      expect(seen).toEqual([
        ['$node.connected', { node, reconnected: false }],
        ['$node.disconnected', { node, unexpected: true }],
      ]);
    });
  });

  describe('constructor', () => {
    it('refuses a buffer size below one', () => {
      expect(() => new DefaultEventBus({ bufferSize: 0 })).toThrow(expect.objectContaining({ code: 'INVALID' }));
    });
  });
});
