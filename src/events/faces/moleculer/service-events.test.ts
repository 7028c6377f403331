import 'reflect-metadata';
import { IsEmail, IsString } from 'class-validator';
import { describe, expect, it, vi } from 'vitest';
import type { DefaultEventBus } from '../../event-bus.js';
import { LocalTransport } from '../../core/transport.js';
import { trackedBuses } from '../../../../test/support/test-buses.js';
import type { StandardSchemaV1 } from './params-validation.js';
import type { EventContext, Service } from './service.js';

const newBus = trackedBuses();

function brokerErrors(bus: DefaultEventBus): Record<string, unknown>[] {
  const errors: Record<string, unknown>[] = [];
  bus.on('$broker.error', (payload) => errors.push(payload as Record<string, unknown>));
  return errors;
}

class MailParams {
  @IsEmail()
  to!: string;

  @IsString()
  subject!: string;
}

describe('DefaultEventBus (Moleculer face)', () => {
  describe('.emit', () => {
    it('delivers to one handler per group, balancing instances of a service', () => {
      const bus = newBus();
      const calls: string[] = [];
      for (const instance of ['users-1', 'users-2', 'users-3']) {
        bus.createService({ name: 'users', events: { 'user.created': () => void calls.push(instance) } });
      }
      for (const instance of ['payments-1', 'payments-2']) {
        bus.createService({ name: 'payments', events: { 'user.created': () => void calls.push(instance) } });
      }
      for (let i = 0; i < 6; i++) bus.emit('user.created', { i });
      expect(calls.filter((c) => c.startsWith('users'))).toEqual([
        'users-1',
        'users-2',
        'users-3',
        'users-1',
        'users-2',
        'users-3',
      ]);
      expect(calls.filter((c) => c.startsWith('payments'))).toEqual([
        'payments-1',
        'payments-2',
        'payments-1',
        'payments-2',
        'payments-1',
        'payments-2',
      ]);
    });

    it('puts a handler in the group its definition names instead of the service name', () => {
      const bus = newBus();
      const calls: string[] = [];
      bus.createService({
        name: 'payment',
        events: { 'order.created': { group: 'other', handler: () => void calls.push('payment') } },
      });
      bus.createService({
        name: 'billing',
        events: { 'order.created': { group: 'other', handler: () => void calls.push('billing') } },
      });
      bus.emit('order.created');
      bus.emit('order.created');
      expect(calls).toEqual(['payment', 'billing']);
    });

    it('reaches only the named groups', () => {
      const bus = newBus();
      const calls: string[] = [];
      for (const name of ['mail', 'payments', 'audit']) {
        bus.createService({ name, events: { 'user.created': () => void calls.push(name) } });
      }
      bus.emit('user.created', {}, ['mail', 'payments']);
      bus.emit('user.created', {}, 'audit');
      expect(calls).toEqual(['mail', 'payments', 'audit']);
    });

    it('calls legacy handlers with payload, sender node, event name and context, and the service as this', () => {
      const bus = newBus();
      let self: Service | undefined;
      const handler = vi.fn(function (this: Service) {
        // eslint-disable-next-line @typescript-eslint/no-this-alias -- the `this` a handler gets is what is checked
        self = this;
      });
      const service = bus.createService({ name: 'legacy', events: { 'user.*': handler } });
      bus.emit('user.created', { id: 1 });
      expect(handler).toHaveBeenCalledWith(
        { id: 1 },
        'node-1',
        'user.created',
        expect.objectContaining({ eventName: 'user.created', params: { id: 1 } }),
      );
      expect(self).toBe(service);
    });

    it('calls a handler whose first parameter is ctx with an event context', () => {
      const bus = newBus();
      let seen: EventContext | undefined;
      bus.createService({
        name: 'accounts',
        events: {
          'user.created'(ctx: EventContext) {
            seen = ctx;
          },
        },
      });
      bus.emit('user.created', { user: 'taylor' }, { meta: { tenant: 't1' } });
      expect(seen).toEqual(
        expect.objectContaining({
          params: { user: 'taylor' },
          meta: { tenant: 't1' },
          nodeID: 'node-1',
          eventName: 'user.created',
          eventType: 'emit',
        }),
      );
    });

    it('gives a context to a handler declared with context: true, whatever its parameter is called', () => {
      const bus = newBus();
      const handler = vi.fn();
      bus.createService({
        name: 's',
        events: { 'user.removed': { context: true, handler: (other: EventContext) => void handler(other.params) } },
      });
      bus.emit('user.removed', { id: 2 });
      expect(handler).toHaveBeenCalledWith({ id: 2 });
    });

    it('passes the context as the fourth argument of a legacy handler that declares one', () => {
      const bus = newBus();
      const handler = vi.fn((_payload: unknown, _sender: string, _event: string, ctx: EventContext) => ctx.eventName);
      bus.createService({ name: 's', events: { 'a.*': handler } });
      bus.emit('a.b', 1);
      expect(handler.mock.results[0]?.value).toBe('a.b');
    });

    it('matches ?, * and ** in handler names', () => {
      const bus = newBus();
      const calls: string[] = [];
      bus.createService({
        name: 'patterns',
        events: {
          'a?c': () => void calls.push('a?c'),
          'user.*': () => void calls.push('user.*'),
          '**.done': () => void calls.push('**.done'),
        },
      });
      for (const name of ['abc', 'a.c', 'user.created', 'user.created.late', 'jobs.x.done']) bus.emit(name);
      expect(calls).toEqual(['a?c', 'user.*', '**.done']);
    });
  });

  describe('.broadcast', () => {
    it('delivers to every instance of every service', () => {
      const bus = newBus();
      const calls: string[] = [];
      for (const instance of ['mail-1', 'mail-2'])
        bus.createService({ name: 'mail', events: { 'config.changed': () => void calls.push(instance) } });
      bus.broadcast('config.changed', {});
      expect(calls).toEqual(['mail-1', 'mail-2']);
    });

    it('limits delivery to the named groups', () => {
      const bus = newBus();
      const calls: string[] = [];
      for (const name of ['mail', 'mail', 'other'])
        bus.createService({ name, events: { 'user.created': () => void calls.push(name) } });
      bus.broadcast('user.created', { user: 1 }, 'mail');
      expect(calls).toEqual(['mail', 'mail']);
    });
  });

  describe('.broadcastLocal', () => {
    it('delivers to every local handler with eventType broadcastLocal', () => {
      const bus = newBus();
      const types: string[] = [];
      for (const name of ['a', 'a']) {
        bus.createService({
          name,
          events: { 'config.changed': (ctx: EventContext) => void types.push(ctx.eventType) },
        });
      }
      bus.broadcastLocal('config.changed', {});
      expect(types).toEqual(['broadcastLocal', 'broadcastLocal']);
    });
  });

  describe('EventContext.emit', () => {
    it('carries the meta and names the handled event as parent', () => {
      const bus = newBus();
      const seen: EventContext[] = [];
      bus.createService({
        name: 'accounts',
        events: {
          'user.created'(ctx: EventContext<{ user: string }>) {
            ctx.meta['step'] = 2;
            ctx.emit('accounts.created', { user: ctx.params.user });
            seen.push(ctx);
          },
          'accounts.created'(ctx: EventContext) {
            seen.push(ctx);
          },
        },
      });
      bus.emit('user.created', { user: 'taylor' }, { meta: { tenant: 't1' } });
      const [child, parent] = seen;
      expect(child).toEqual(
        expect.objectContaining({
          params: { user: 'taylor' },
          meta: { tenant: 't1', step: 2 },
          parentID: parent?.id,
          requestID: parent?.requestID,
          caller: 'accounts',
        }),
      );
      expect(parent?.parentID).toBeUndefined();
    });
  });

  describe('params validation', () => {
    it('calls the handler with a validated class instance', () => {
      const bus = newBus();
      const handler = vi.fn();
      bus.createService({ name: 'mailer', events: { 'send.mail': { params: MailParams, handler } } });
      bus.emit('send.mail', { to: 'a@b.io', subject: 'hi' });
      expect(handler.mock.calls[0]?.[0]).toBeInstanceOf(MailParams);
    });

    it('reports invalid parameters as $broker.error and skips the handler, without throwing at the emitter', () => {
      const bus = newBus();
      const errors = brokerErrors(bus);
      const handler = vi.fn();
      bus.createService({ name: 'mailer', events: { 'send.mail': { params: MailParams, handler } } });
      expect(() => bus.emit('send.mail', { to: 'not-an-email', subject: 1 })).not.toThrow();
      expect(handler).not.toHaveBeenCalled();
      expect(errors).toEqual([
        expect.objectContaining({
          type: 'validation',
          service: 'mailer',
          error: expect.objectContaining({
            code: 'INVALID',
            details: expect.objectContaining({
              issues: expect.arrayContaining([expect.objectContaining({ path: 'to' })]),
            }),
          }),
        }),
      ]);
    });

    it('validates a Moleculer shorthand schema', () => {
      const bus = newBus();
      const errors = brokerErrors(bus);
      const handler = vi.fn();
      bus.createService({
        name: 'mailer',
        events: { 'send.mail': { params: { from: 'string|optional', to: 'email', subject: 'string' }, handler } },
      });
      bus.emit('send.mail', { to: 'a@b.io', subject: 'hi' });
      bus.emit('send.mail', { to: 'a@b.io' });
      expect(handler).toHaveBeenCalledTimes(1);
      expect(errors).toEqual([expect.objectContaining({ type: 'validation' })]);
    });

    it('refuses a rule fastest-validator does not know when the service is created', () => {
      const bus = newBus();
      expect(() =>
        bus.createService({ name: 'm', events: { e: { params: { n: 'numbr|min:3' }, handler: vi.fn() } } }),
      ).toThrow(expect.objectContaining({ code: 'INVALID', message: expect.stringContaining('numbr') }));
      expect(bus.stats().subscriptions).toBe(0);
    });

    it('validates with a Standard Schema, asynchronous ones included', async () => {
      const bus = newBus();
      const schema: StandardSchemaV1 = {
        '~standard': {
          version: 1,
          vendor: 'test',
          validate: (value) =>
            Promise.resolve(
              typeof value === 'number' ? { value: value * 2 } : { issues: [{ message: 'not a number' }] },
            ),
        },
      };
      const received = new Promise((resolve) =>
        bus.createService({ name: 's', events: { n: { params: schema, handler: resolve } } }),
      );
      bus.emit('n', 21);
      await expect(received).resolves.toBe(42);
    });
  });

  describe('internal events', () => {
    it('announces a created service with $services.changed', () => {
      const bus = newBus();
      const changed = vi.fn();
      bus.on('$services.changed', changed);
      bus.createService({ name: 'x' });
      expect(changed).toHaveBeenCalledWith({ localService: true }, '$services.changed', undefined);
    });

    it('lets a service handle $registry.* faults sent by the registry', async () => {
      const bus = newBus();
      const handler = vi.fn();
      bus.createService({ name: 'ops', events: { '$registry.*': handler } });
      await bus.send('$registry', 'observer_error', 'app:a', { observer: 'cache' });
      expect(handler).toHaveBeenCalledWith(
        { observer: 'cache' },
        'node-1',
        '$registry.observer_error',
        expect.objectContaining({ eventName: '$registry.observer_error' }),
      );
    });
  });

  describe('.createService', () => {
    it('refuses an event declaration without a handler', () => {
      const bus = newBus();
      expect(() => bus.createService({ name: 's', events: { e: { group: 'g' } as never } })).toThrow(
        expect.objectContaining({ code: 'INVALID' }),
      );
    });

    it('starts a service created after the bus started', async () => {
      const bus = newBus();
      await bus.start();
      const started = new Promise<void>((resolve) => bus.createService({ name: 'late', started: resolve }));
      await expect(started).resolves.toBeUndefined();
    });
  });

  describe('.destroyService', () => {
    it('removes the handlers and runs the stopped hook of a started service', async () => {
      const bus = newBus();
      const handler = vi.fn();
      const stopped = vi.fn();
      const service = bus.createService({ name: 's', events: { e: handler }, stopped });
      await bus.start();
      await bus.destroyService(service);
      bus.emit('e');
      expect(handler).not.toHaveBeenCalled();
      expect(stopped).toHaveBeenCalledTimes(1);
      expect(bus.services()).toEqual([]);
    });

    it('removes the service destroyed, whichever it is, and keeps the others in creation order', async () => {
      const bus = newBus();
      const calls: string[] = [];
      const services = ['a', 'b', 'c', 'd', 'e'].map((name) =>
        bus.createService({ name, events: { e: () => void calls.push(name) } }),
      );
      const [a, , c, , e] = services as [Service, Service, Service, Service, Service];
      await bus.destroyService(a);
      await bus.destroyService(c);
      await bus.destroyService(c);
      expect(bus.services().map((s) => s.name)).toEqual(['b', 'd', 'e']);
      await bus.destroyService(e);
      bus.createService({ name: 'f' });
      expect(bus.services().map((s) => s.name)).toEqual(['b', 'd', 'f']);
      bus.broadcast('e');
      expect(calls).toEqual(['b', 'd']);
      expect(bus.registry.getServiceList({ onlyLocal: true }).map((s) => s.name)).toEqual(['b', 'd', 'f']);
    });
  });

  describe('presence', () => {
    /** A transport that records what the bus announces to the other nodes. */
    class AnnouncingTransport extends LocalTransport {
      readonly announced: string[][] = [];
      updateNodeInfo(fields: Readonly<Record<string, unknown>>): void {
        this.announced.push((fields['services'] as { name: string }[]).map((s) => s.name));
      }
    }

    /** The end of this turn of the event loop. */
    const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

    it('announces the services once after a burst of creates and destroys, as they are then', async () => {
      const transport = new AnnouncingTransport();
      const bus = newBus({ transport });
      const services = Array.from({ length: 20 }, (_, i) => bus.createService({ name: `s${i}` }));
      expect(transport.announced).toEqual([]);
      await endOfTurn();
      expect(transport.announced).toEqual([services.map((s) => s.name)]);
      transport.announced.length = 0;
      await Promise.all(services.slice(0, 18).map((s) => bus.destroyService(s)));
      bus.createService({ name: 'last' });
      await endOfTurn();
      expect(transport.announced).toEqual([['s18', 's19', 'last']]);
    });

    it('announces services created and destroyed one after another, each awaited, once per turn', async () => {
      const transport = new AnnouncingTransport();
      const bus = newBus({ transport });
      const services: Service[] = [];
      for (let i = 0; i < 500; i++) {
        services.push(bus.createService({ name: `s${i}` }));
        await Promise.resolve();
      }
      await endOfTurn();
      expect(transport.announced).toEqual([services.map((s) => s.name)]);
      for (const service of services.slice(0, 499)) await bus.destroyService(service);
      await endOfTurn();
      expect(transport.announced).toEqual([services.map((s) => s.name), ['s499']]);
    });

    it('announces a change made in a later turn on its own', async () => {
      const transport = new AnnouncingTransport();
      const bus = newBus({ transport });
      bus.createService({ name: 'first' });
      await endOfTurn();
      bus.createService({ name: 'second' });
      await endOfTurn();
      expect(transport.announced).toEqual([['first'], ['first', 'second']]);
    });
  });
});
