import { describe, expect, it, vi } from 'vitest';
import { silentLogger, type Logger } from '../../../common/logger.js';
import { trackedBuses } from '../../../../test/support/test-buses.js';
import { allowEvents } from './event-permissions.js';
import type { WippyEvent } from './wippy-events.js';

const newBus = trackedBuses();

function pick(event: WippyEvent | undefined): unknown {
  return event === undefined
    ? undefined
    : { system: event.system, kind: event.kind, path: event.path, data: event.data };
}

describe('WippyEvents', () => {
  describe('.send', () => {
    it('delivers system, kind, path and data to a subscriber of the system', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('orders');
      await bus.events.send('orders', 'order.created', '/orders/123', { total: 99.99 });
      const { value, ok } = await sub.channel().receive();
      expect(ok).toBe(true);
      expect(pick(value)).toEqual({
        system: 'orders',
        kind: 'order.created',
        path: '/orders/123',
        data: { total: 99.99 },
      });
    });

    it('sends without data', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('system');
      await bus.events.send('system', 'heartbeat', '/health');
      expect(pick((await sub.receive()).value)).toEqual({
        system: 'system',
        kind: 'heartbeat',
        path: '/health',
        data: undefined,
      });
    });

    it('stamps the envelope with an id, the node, the time and the name seen by other faces', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('orders');
      await bus.events.send('orders', 'order.created', '/orders/1');
      const { value } = await sub.receive();
      expect(value).toEqual(
        expect.objectContaining({
          id: expect.stringMatching(/^node-1-\d+$/),
          name: 'orders.order.created',
          source: 'node-1',
          time: expect.any(Number),
        }),
      );
    });

    it.each([
      ['system', ['', 'k', '/p']],
      ['kind', ['s', '', '/p']],
      ['path', ['s', 'k', '']],
    ] as const)('refuses an empty %s with INVALID', async (_what, [system, kind, path]) => {
      const bus = newBus();
      await expect(bus.events.send(system, kind, path)).rejects.toMatchObject({ code: 'INVALID' });
    });

    it('refuses a system with an empty segment with INVALID', async () => {
      const bus = newBus();
      await expect(bus.events.send('orders..eu', 'x', '/p')).rejects.toMatchObject({ code: 'INVALID' });
    });

    it('refuses a system the policy does not allow with FORBIDDEN', async () => {
      const bus = newBus({ permissions: allowEvents([{ action: 'events.send', system: 'orders' }]) });
      await expect(bus.events.send('payments', 'payment.completed', '/p/1')).rejects.toMatchObject({
        code: 'FORBIDDEN',
      });
      await expect(bus.events.send('orders', 'order.created', '/o/1')).resolves.toBeUndefined();
    });

    it('logs a refusal, so that a caller that does not await it still leaves a trace and no unhandled rejection', async () => {
      const warn = vi.fn();
      const logger: Logger = { ...silentLogger, warn };
      const bus = newBus({ logger });
      void bus.events.send('', 'k', '/p');
      await vi.waitFor(() =>
        expect(warn).toHaveBeenCalledWith(expect.stringContaining('events.send refused'), expect.anything()),
      );
    });

    it('is what the Moleculer face sees as the event `${system}.${kind}`', async () => {
      const bus = newBus();
      const handler = vi.fn();
      bus.createService({ name: 'audit', events: { 'registry.entry.*': handler } });
      await bus.send('registry', 'entry.create', 'app:a', { revision: 1 });
      expect(handler).toHaveBeenCalledWith(
        { revision: 1 },
        'node-1',
        'registry.entry.create',
        expect.objectContaining({ eventName: 'registry.entry.create' }),
      );
    });
  });

  describe('.subscribe', () => {
    it('matches systems with the kind dialect: a trailing * is one or more segments', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('orders.*');
      await bus.send('orders', 'x', '/0');
      await bus.send('orders.eu', 'x', '/1');
      await bus.send('orders.eu.west', 'x', '/2');
      await bus.send('ordersx', 'x', '/3');
      sub.close();
      const paths: string[] = [];
      for await (const event of sub) paths.push(event.path);
      expect(paths).toEqual(['/1', '/2']);
    });

    it('filters by kind when one is given', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('users', 'user.created');
      await bus.send('users', 'user.deleted', '/u/1');
      await bus.send('users', 'user.created', '/u/2');
      expect((await sub.receive()).value?.path).toBe('/u/2');
    });

    it('filters by a kind pattern when the kind has a wildcard', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('registry', 'entry.*');
      await bus.send('registry', 'other', 'app:x');
      await bus.send('registry', 'entry.update', 'app:a');
      expect((await sub.receive()).value?.kind).toBe('entry.update');
    });

    it('does not confuse a dotted system with a dotted kind of the same name', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('orders', 'eu.created');
      await bus.send('orders.eu', 'created', '/a'); // also named "orders.eu.created"
      await bus.send('orders', 'eu.created', '/b');
      expect((await sub.receive()).value?.path).toBe('/b');
      expect(sub.channel().size).toBe(0);
    });

    it('receives Moleculer events split at the first dot: user.created is system user, kind created', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('user');
      bus.emit('user.created', { id: 1 });
      bus.emit('tick');
      bus.emit('user', 'dotless');
      expect(pick((await sub.receive()).value)).toEqual({ system: 'user', kind: 'created', path: '', data: { id: 1 } });
      expect(pick((await sub.receive()).value)).toEqual({ system: 'user', kind: '', path: '', data: 'dotless' });
    });

    it('subscribes to everything with **', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('**');
      await bus.send('a', 'x', '/1');
      bus.emit('b.c');
      expect([(await sub.receive()).value?.name, (await sub.receive()).value?.name]).toEqual(['a.x', 'b.c']);
    });

    it('refuses an empty system pattern and a kind that is not a string with INVALID', () => {
      const bus = newBus();
      expect(() => bus.events.subscribe('')).toThrow(expect.objectContaining({ code: 'INVALID' }));
      expect(() => bus.events.subscribe('orders', 7 as unknown as string)).toThrow(
        expect.objectContaining({ code: 'INVALID' }),
      );
    });

    it('takes an empty kind as no kind filter, as Wippy does', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('orders', '');
      await bus.send('orders', 'created', '/o/1');
      await bus.send('orders', 'paid', '/o/1');
      expect([(await sub.receive()).value?.kind, (await sub.receive()).value?.kind]).toEqual(['created', 'paid']);
    });

    it('refuses a system pattern the policy does not allow with FORBIDDEN', () => {
      const bus = newBus({ permissions: allowEvents([{ action: 'events.subscribe', system: 'orders.*' }]) });
      expect(() => bus.events.subscribe('payments')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
      expect(() => bus.events.subscribe('**')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
      expect(() => bus.events.subscribe('orders.eu').close()).not.toThrow();
    });

    it('never delivers a system outside the grant to a wider wildcard subscription', async () => {
      const bus = newBus({
        permissions: allowEvents([
          { action: 'events.subscribe', system: 'orders.*' },
          { action: 'events.send', system: '**' },
        ]),
      });
      const sub = bus.events.subscribe('orders.**'); // also matches plain "orders", which the grant does not
      await bus.send('orders', 'created', '/1', 'plain orders');
      await bus.send('orders.eu', 'created', '/2', 'orders.eu');
      expect((await sub.receive()).value?.data).toBe('orders.eu');
      expect(sub.channel().size).toBe(0);
    });
  });

  describe('.withPermissions', () => {
    it('gives a face with its own policy over the same bus', async () => {
      const bus = newBus();
      const sandboxed = bus.events.withPermissions(allowEvents([{ action: '*', system: 'app.*' }]));
      const sub = bus.events.subscribe('app.*');
      await expect(sandboxed.send('registry', 'entry.create', 'x:y')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await sandboxed.send('app.jobs', 'done', '/1');
      expect((await sub.receive()).value?.system).toBe('app.jobs');
    });
  });
});

describe('WippySubscription', () => {
  describe('.close', () => {
    it('ends the channel: a waiting receive gets ok false', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('a');
      const pending = sub.channel().receive();
      sub.close();
      await expect(pending).resolves.toEqual({ value: undefined, ok: false });
    });

    it('is idempotent', () => {
      const bus = newBus();
      const sub = bus.events.subscribe('a');
      sub.close();
      expect(() => sub.close()).not.toThrow();
      expect(sub.isClosed).toBe(true);
    });

    it('stops delivery at once and releases its registrations', async () => {
      const bus = newBus();
      const before = bus.stats().subscriptions;
      const sub = bus.events.subscribe('a');
      sub.close();
      await bus.send('a', 'x', '/1');
      expect(sub.channel().size).toBe(0);
      expect(bus.stats()).toEqual(expect.objectContaining({ subscriptions: before, channels: 0 }));
    });

    it('runs when a for await loop is left early', async () => {
      const bus = newBus();
      const sub = bus.events.subscribe('a');
      await bus.send('a', 'x', '/1');
      for await (const event of sub) {
        expect(event.path).toBe('/1');
        break;
      }
      expect(sub.isClosed).toBe(true);
    });
  });
});
