import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  HandlerRegistry,
  KindlingError,
  Registry,
  silentLogger,
  type EntryListener,
  type RegistryEventSink,
} from 'kindling';
import { DefaultEventBus, type EventEnvelope, type WippySubscription } from 'kindling/events';

const buses: DefaultEventBus[] = [];

function setup(): { bus: DefaultEventBus; handlers: HandlerRegistry; registry: Registry } {
  const bus = new DefaultEventBus({ nodeID: 'node-1', logger: silentLogger });
  buses.push(bus);
  const handlers = new HandlerRegistry();
  const sink: RegistryEventSink = bus; // the bus is the registry's sink, structurally
  const registry = new Registry({ handlers, acceptKinds: ['x.*'], events: sink, logger: silentLogger });
  return { bus, handlers, registry };
}

const entry = (id: string, data: unknown = {}) => ({ id, kind: 'x.y', meta: {}, data });

async function take(sub: WippySubscription, count: number): Promise<EventEnvelope[]> {
  const out: EventEnvelope[] = [];
  for (let i = 0; i < count; i++) out.push((await sub.receive()).value as EventEnvelope);
  return out;
}

afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.stop();
});

describe('Registry with the event bus', () => {
  describe('.apply', () => {
    it('publishes entry.create, entry.update and entry.delete on system registry with the entry id as path', async () => {
      const { bus, registry } = setup();
      const sub = bus.events.subscribe('registry');
      await registry.apply([{ op: 'create', entry: entry('app:a', { v: 1 }) }]);
      await registry.apply([{ op: 'update', entry: entry('app:a', { v: 2 }) }]);
      await registry.apply([{ op: 'delete', entry: entry('app:a', { v: 2 }) }]);
      const events = await take(sub, 3);
      expect(events.map((e) => [e.system, e.kind, e.path])).toEqual([
        ['registry', 'entry.create', 'app:a'],
        ['registry', 'entry.update', 'app:a'],
        ['registry', 'entry.delete', 'app:a'],
      ]);
      expect(events[1]?.data).toEqual(
        expect.objectContaining({
          entry: expect.objectContaining({ id: 'app:a', data: { v: 2 } }),
          previous: expect.objectContaining({ data: { v: 1 } }),
          revision: 2,
          transactionId: expect.any(String),
        }),
      );
    });

    it('publishes after the commit: a handler already sees the new state and revision', async () => {
      const { bus, registry } = setup();
      const seen: unknown[] = [];
      bus.createService({
        name: 'watcher',
        events: {
          'registry.entry.create'(payload: { revision: number }) {
            seen.push([registry.get('app:a')?.id, registry.revision, payload.revision]);
          },
        },
      });
      await registry.apply([{ op: 'create', entry: entry('app:a') }]);
      expect(seen).toEqual([['app:a', 1, 1]]);
    });

    it('publishes nothing for a batch a listener refused', async () => {
      const { bus, handlers, registry } = setup();
      const refusing: EntryListener = {
        add: () => {
          throw new KindlingError('REJECTED', 'no');
        },
        update: vi.fn(),
        delete: vi.fn(),
      };
      handlers.registerListener('x.y', refusing);
      const sub = bus.events.subscribe('registry');
      const everything = vi.fn();
      bus.on('registry.**', everything);
      await expect(registry.apply([{ op: 'create', entry: entry('app:a') }])).rejects.toBeInstanceOf(KindlingError);
      expect(sub.channel().size).toBe(0);
      expect(everything).not.toHaveBeenCalled();
    });

    it('publishes nothing for a dry run', async () => {
      const { bus, registry } = setup();
      const everything = vi.fn();
      bus.on('registry.**', everything);
      await registry.apply([{ op: 'create', entry: entry('app:a') }], { dryRun: true });
      expect(everything).not.toHaveBeenCalled();
    });

    it('lets a Moleculer handler of $registry.* receive an observer_error', async () => {
      const { bus, handlers, registry } = setup();
      handlers.registerObserver('x.*', {
        add: () => {
          throw new Error('cache down');
        },
      });
      const received = new Promise<[unknown, string]>((resolve) => {
        bus.createService({
          name: 'ops',
          events: { '$registry.*': (payload: unknown, _sender: string, name: string) => resolve([payload, name]) },
        });
      });
      await registry.apply([{ op: 'create', entry: entry('app:a') }]);
      const [payload, name] = await received;
      expect(name).toBe('$registry.observer_error');
      expect(payload).toEqual(expect.objectContaining({ op: 'create', revision: 1 }));
    });
  });
});
