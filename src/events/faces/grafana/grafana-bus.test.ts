import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { silentLogger } from '../../../common/logger.js';
import { DefaultEventBus } from '../../event-bus.js';
import { Query } from './grafana-bus.js';

const buses: DefaultEventBus[] = [];

function newBus(): DefaultEventBus {
  const bus = new DefaultEventBus({ nodeID: 'node-1', logger: silentLogger });
  buses.push(bus);
  return bus;
}

afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.stop();
});

class UserCreated {
  constructor(readonly userId: string) {}
}

class OrgUpdated {
  constructor(readonly orgId: number) {}
}

class SendStickersCommand {
  constructor(
    readonly userId: string,
    readonly count: number,
  ) {}
}

interface Dashboard {
  readonly id: string;
  readonly title: string;
}

class FindDashboardQuery extends Query<Dashboard> {
  constructor(readonly id: string) {
    super();
  }
}

describe('GrafanaBus', () => {
  describe('.publish', () => {
    it('calls the listeners of the event class in registration order', () => {
      const bus = newBus();
      const calls: string[] = [];
      bus.grafana.addEventListener(UserCreated, (e) => void calls.push(`first ${e.userId}`));
      bus.grafana.addEventListener(OrgUpdated, () => void calls.push('org'));
      bus.grafana.addEventListener(UserCreated, (e) => void calls.push(`second ${e.userId}`));
      bus.grafana.publish(new UserCreated('taylor'));
      expect(calls).toEqual(['first taylor', 'second taylor']);
    });

    it('keeps calling listeners after one throws, and reports the throw', () => {
      const bus = newBus();
      const errors: unknown[] = [];
      bus.on('$broker.error', (payload) => errors.push(payload));
      const second = vi.fn();
      bus.grafana.addEventListener(UserCreated, () => {
        throw new Error('listener failed');
      });
      bus.grafana.addEventListener(UserCreated, second);
      bus.grafana.publish(new UserCreated('taylor'));
      expect(second).toHaveBeenCalledTimes(1);
      expect(errors).toEqual([expect.objectContaining({ type: 'handler', event: 'grafana.UserCreated' })]);
    });

    it('throws ABORTED when the signal already aborted', () => {
      const bus = newBus();
      const listener = vi.fn();
      bus.grafana.addEventListener(UserCreated, listener);
      expect(() => bus.grafana.publish(new UserCreated('x'), AbortSignal.abort())).toThrow(
        expect.objectContaining({ code: 'ABORTED' }),
      );
      expect(listener).not.toHaveBeenCalled();
    });

    it('travels on the bus as grafana.<Class>, visible to the other faces', () => {
      const bus = newBus();
      const seen = vi.fn();
      bus.on('grafana.*', (payload, name) => seen(name, payload));
      const event = new UserCreated('taylor');
      bus.grafana.publish(event);
      expect(seen).toHaveBeenCalledWith('grafana.UserCreated', event);
    });

    it('refuses two different classes with the same name with CONFLICT', () => {
      const bus = newBus();
      const First = class Clash {};
      const Second = class Clash {};
      bus.grafana.addEventListener(First, vi.fn());
      expect(() => bus.grafana.addEventListener(Second, vi.fn())).toThrow(
        expect.objectContaining({ code: 'CONFLICT' }),
      );
    });
  });

  describe('.dispatch', () => {
    it('runs the one handler of a command with the caller signal', async () => {
      const bus = newBus();
      const handler = vi.fn();
      bus.grafana.addHandler(SendStickersCommand, handler);
      const controller = new AbortController();
      const command = new SendStickersCommand('taylor', 1);
      await bus.grafana.dispatch(command, controller.signal);
      expect(handler).toHaveBeenCalledWith(command, controller.signal);
    });

    it('fails with HANDLER_NOT_FOUND when no handler is registered', async () => {
      const bus = newBus();
      await expect(bus.grafana.dispatch(new SendStickersCommand('taylor', 1))).rejects.toMatchObject({
        code: 'HANDLER_NOT_FOUND',
      });
    });

    it('fails with the handler error', async () => {
      const bus = newBus();
      bus.grafana.addHandler(SendStickersCommand, () => {
        throw new Error('quota exceeded');
      });
      await expect(bus.grafana.dispatch(new SendStickersCommand('taylor', 100))).rejects.toThrow('quota exceeded');
    });

    it('resolves a query with the result its handler returns, typed by the query class', async () => {
      const bus = newBus();
      bus.grafana.addHandler(FindDashboardQuery, (query) => ({ id: query.id, title: 'Home' }));
      const result = bus.grafana.dispatch(new FindDashboardQuery('foo'));
      expectTypeOf(result).toEqualTypeOf<Promise<Dashboard>>();
      await expect(result).resolves.toEqual({ id: 'foo', title: 'Home' });
    });

    it('resolves a query with the result its handler sets', async () => {
      const bus = newBus();
      bus.grafana.addHandler(FindDashboardQuery, async (query) => {
        query.result = { id: query.id, title: 'Set' };
      });
      const query = new FindDashboardQuery('bar');
      await expect(bus.grafana.dispatch(query)).resolves.toEqual({ id: 'bar', title: 'Set' });
      expect(query.result).toEqual({ id: 'bar', title: 'Set' });
    });

    it('fails with INTERNAL when a query handler produces no result', async () => {
      const bus = newBus();
      bus.grafana.addHandler(FindDashboardQuery, () => undefined);
      await expect(bus.grafana.dispatch(new FindDashboardQuery('x'))).rejects.toMatchObject({ code: 'INTERNAL' });
    });

    it('fails with ABORTED when the signal aborts before the handler finishes', async () => {
      const bus = newBus();
      bus.grafana.addHandler(SendStickersCommand, () => new Promise<void>(() => undefined));
      const controller = new AbortController();
      const dispatched = bus.grafana.dispatch(new SendStickersCommand('taylor', 1), controller.signal);
      controller.abort(new Error('client went away'));
      await expect(dispatched).rejects.toMatchObject({ code: 'ABORTED' });
    });
  });

  describe('.addHandler', () => {
    it('refuses a second handler for the same class with CONFLICT', () => {
      const bus = newBus();
      bus.grafana.addHandler(SendStickersCommand, vi.fn());
      expect(() => bus.grafana.addHandler(SendStickersCommand, vi.fn())).toThrow(
        expect.objectContaining({ code: 'CONFLICT' }),
      );
    });

    it('removes the handler once disposed', async () => {
      const bus = newBus();
      bus.grafana.addHandler(SendStickersCommand, vi.fn()).dispose();
      await expect(bus.grafana.dispatch(new SendStickersCommand('t', 1))).rejects.toMatchObject({
        code: 'HANDLER_NOT_FOUND',
      });
    });
  });
});
