// Scenarios of Moleculer 0.14's own event tests, run against Kindling's Moleculer face. Each case
// cites the Moleculer spec file and test it comes from; the code and the words are ours. The
// one-process cases run the same service definitions on Moleculer's ServiceBroker too, so that
// "Moleculer does this" is checked, not recalled. The last part runs across three processes on NATS.
import { ServiceBroker as MoleculerBroker } from 'moleculer';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DefaultEventBus, type EventBus, type EventContext, type Service } from 'kindling/events';
import { createNatsEventBus } from 'kindling/nats';
import {
  ChildNode,
  MOLECULER_NODE_SCRIPT,
  NATS_URL,
  removeStreams,
  skipNats,
  uniquePrefix,
  until,
  untilAny,
} from './support/nats-harness.js';

/** What the cases use of a broker: Moleculer's ServiceBroker and Kindling's bus both have it. */
interface AnyBroker {
  readonly nodeID: string;
  createService(schema: object): unknown;
  destroyService(service: never): Promise<void>;
  emit(name: string, payload?: unknown, options?: unknown): unknown;
  broadcast(name: string, payload?: unknown, options?: unknown): unknown;
  broadcastLocal(name: string, payload?: unknown, options?: unknown): unknown;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const open: AnyBroker[] = [];

const makers: Record<'moleculer' | 'kindling', () => AnyBroker> = {
  moleculer: () => new MoleculerBroker({ nodeID: 'node-1', logger: false }),
  kindling: () => new DefaultEventBus({ nodeID: 'node-1', logger: quiet }),
};

/** Lets promise callbacks and timers of this turn run (Moleculer settles some things a tick later). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

/** `$broker.error` and `$services.changed` as a service sees them, on both brokers. */
function watch(broker: AnyBroker): { errors: Record<string, unknown>[]; changes: unknown[] } {
  const seen = { errors: [] as Record<string, unknown>[], changes: [] as unknown[] };
  broker.createService({
    name: 'watch',
    events: {
      '$broker.error'(ctx: EventContext<Record<string, unknown>>) {
        seen.errors.push(ctx.params);
      },
      '$services.changed'(ctx: EventContext) {
        seen.changes.push(ctx.params);
      },
    },
  });
  return seen;
}

afterEach(async () => {
  for (const broker of open.splice(0)) await broker.stop().catch(() => undefined);
});

describe.each(['moleculer', 'kindling'] as const)('Moleculer event scenarios, on %s', (which) => {
  const make = (): AnyBroker => {
    const broker = makers[which]();
    open.push(broker);
    return broker;
  };

  // moleculer test/unit/service.spec.js › "should create event definition from a shorthand handler"
  // (and src/service.js: a legacy handler is always applied with [params, nodeID, eventName, ctx])
  it('passes the context as fourth argument to a mock, a rest-parameter and a wrapped handler', async () => {
    const broker = make();
    const mock = vi.fn();
    const rest: unknown[][] = [];
    const inner = vi.fn();
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      return inner.apply(this, args);
    };
    const service = broker.createService({
      name: 'users',
      events: {
        'user.created': mock,
        'user.updated'(...args: unknown[]) {
          rest.push(args);
        },
        'user.removed': wrapped,
      },
    });
    await broker.start();
    broker.emit('user.created', { id: 1 });
    broker.emit('user.updated', { id: 2 });
    broker.emit('user.removed', { id: 3 });
    await settle();
    const ctxOf = (name: string, params: unknown): unknown =>
      expect.objectContaining({ eventName: name, params, nodeID: 'node-1' });
    expect(mock).toHaveBeenCalledWith({ id: 1 }, 'node-1', 'user.created', ctxOf('user.created', { id: 1 }));
    expect(mock.mock.contexts[0]).toBe(service);
    expect(rest).toEqual([[{ id: 2 }, 'node-1', 'user.updated', ctxOf('user.updated', { id: 2 })]]);
    expect(inner).toHaveBeenCalledWith({ id: 3 }, 'node-1', 'user.removed', ctxOf('user.removed', { id: 3 }));
  });

  // moleculer test/unit/service.spec.js › "should call handlers" (a first parameter named ctx or
  // context, or `context: true`, gets the context alone)
  it('gives the context alone to ctx-style handlers', async () => {
    const broker = make();
    const calls: unknown[][] = [];
    broker.createService({
      name: 'accounts',
      events: {
        'a.one'(ctx: EventContext) {
          // eslint-disable-next-line prefer-rest-params -- the arguments themselves are what is checked
          calls.push([...arguments].map(() => ctx.eventName));
        },
        'a.two'(context: EventContext) {
          // eslint-disable-next-line prefer-rest-params -- as above
          calls.push([...arguments].map(() => context.eventName));
        },
        'a.three': {
          context: true,
          handler(other: EventContext) {
            // eslint-disable-next-line prefer-rest-params -- as above
            calls.push([...arguments].map(() => other.eventName));
          },
        },
      },
    });
    await broker.start();
    for (const name of ['a.one', 'a.two', 'a.three']) broker.emit(name, { n: 1 });
    await settle();
    expect(calls).toEqual([['a.one'], ['a.two'], ['a.three']]);
  });

  // moleculer test/unit/service.spec.js › "should create event definition from event schema"
  it("listens on an event definition's own name, not its key", async () => {
    const broker = make();
    const handler = vi.fn();
    broker.createService({ name: 'users', events: { other: { name: 'user.updated', handler } } });
    await broker.start();
    broker.emit('other', { id: 1 });
    broker.emit('user.updated', { id: 2 });
    await settle();
    expect(handler.mock.calls.map((call) => call[0])).toEqual([{ id: 2 }]);
  });

  // moleculer test/unit/service.spec.js › "should create event definition with multiple handlers"
  // and › "should call handler with multiple times"; test/integration/service-mixins.spec.js ›
  // "should call every merged handler"
  it('calls each handler of an array, with the same context', async () => {
    const broker = make();
    const contexts: unknown[] = [];
    broker.createService({
      name: 'users',
      events: {
        'user.updated': {
          handler: [
            function (ctx: EventContext) {
              contexts.push(ctx);
            },
            function (ctx: EventContext) {
              contexts.push(ctx);
            },
          ],
        },
      },
    });
    await broker.start();
    broker.emit('user.updated', { id: 1 });
    await settle();
    expect(contexts).toHaveLength(2);
    expect(contexts[0]).toBe(contexts[1]);
  });

  // moleculer test/unit/service.spec.js › "should create event definition with multiple handlers"
  // (the definition given as the array itself)
  it('calls each function of an array given as the event itself', async () => {
    const broker = make();
    const calls: string[] = [];
    broker.createService({
      name: 'users',
      events: {
        'user.updated': [
          function (ctx: EventContext) {
            calls.push(`first ${(ctx.params as { id: number }).id}`);
          },
          function (payload: { id: number }) {
            calls.push(`second ${payload.id}`);
          },
        ],
      },
    });
    await broker.start();
    broker.emit('user.updated', { id: 1 });
    await settle();
    expect(calls).toEqual(['first 1', 'second 1']);
  });

  // moleculer test/unit/service-broker.spec.js › "Test broker.destroyService" › "should broadcast
  // error while destroying service"
  it('destroys a service whose stopped hook throws: resolves, reports, announces', async () => {
    const broker = make();
    const seen = watch(broker);
    const service = broker.createService({
      name: 'greeter',
      stopped() {
        throw new Error('Ups!');
      },
    });
    await broker.start();
    seen.changes.length = 0;
    await expect(broker.destroyService(service as never)).resolves.toBeUndefined();
    await settle();
    expect(seen.errors).toEqual([
      expect.objectContaining({ module: 'broker', type: 'failedServiceDestruction', error: new Error('Ups!') }),
    ]);
    expect(seen.changes).toEqual([{ localService: true }]);
  });

  // moleculer test/unit/service-broker.spec.js › "should broadcast an error when stop"
  it('reports a stopped hook that throws while the broker stops as failedServicesStop', async () => {
    const broker = make();
    const seen = watch(broker);
    broker.createService({
      name: 'greeter',
      stopped() {
        throw new Error('no stop');
      },
    });
    await broker.start();
    // The watcher may be stopped before the report: listen beside it.
    const types: unknown[] = [];
    if (which === 'kindling') (broker as EventBus).on('$broker.error', (p) => types.push((p as { type: string }).type));
    else
      (broker as unknown as { localBus: { on(n: string, f: (p: { type: string }) => void): void } }).localBus.on(
        '$broker.error',
        (p) => types.push(p.type),
      );
    await broker.stop();
    expect([...types, ...seen.errors.map((e) => e['type'])]).toContain('failedServicesStop');
  });

  // moleculer test/unit/service-broker.spec.js › "should broadcast an error when restarting"
  // (a service created on a started broker is started at once; its failure is reported)
  it('reports a started hook that fails on a running broker as failedServiceRestart', async () => {
    const broker = make();
    const seen = watch(broker);
    await broker.start();
    broker.createService({
      name: 'late',
      started() {
        throw new Error('no start');
      },
    });
    await until(() => seen.errors.length > 0, 'the $broker.error report');
    expect(seen.errors).toEqual([expect.objectContaining({ module: 'broker', type: 'failedServiceRestart' })]);
  });

  // moleculer test/unit/service-broker.spec.js › "Test broker.servicesChanged" › "should call
  // broadcastLocal & transit.sendNodeInfo"
  it('announces a created service with $services.changed { localService: true }', async () => {
    const broker = make();
    const seen = watch(broker);
    await broker.start();
    seen.changes.length = 0;
    broker.createService({ name: 'late' });
    await settle();
    expect(seen.changes).toEqual([{ localService: true }]);
  });

  // moleculer test/unit/validators/base.spec.js › "should call validator & handler" (an event without
  // a payload is validated as {})
  it('runs a handler whose params are all optional for an event without a payload', async () => {
    const broker = make();
    const handler = vi.fn();
    broker.createService({
      name: 'mailer',
      events: { 'mail.flush': { params: { limit: 'number|optional' }, handler } },
    });
    await broker.start();
    broker.emit('mail.flush');
    await settle();
    expect(handler).toHaveBeenCalledTimes(1);
  });

  // moleculer test/integration/validator.spec.js › "should call handler, if params are correct" and
  // › "should throw ValidationError, if params is not correct" (fastest-validator rules)
  it("checks params with fastest-validator's rules, and passes the normalised params on", async () => {
    const broker = make();
    const seen: unknown[] = [];
    broker.createService({
      name: 'mailer',
      events: {
        'mail.send': {
          params: {
            subject: 'string|max:64',
            scores: { type: 'array', items: 'number' },
            to: 'email|normalize:true',
          },
          handler(ctx: EventContext) {
            seen.push(ctx.params);
          },
        },
      },
    });
    await broker.start();
    broker.emit('mail.send', { subject: 'hi', scores: [1, 2], to: ' Taylor@Example.COM ' });
    broker.emit('mail.send', { subject: 'x'.repeat(65), scores: [1], to: 'a@b.io' });
    broker.emit('mail.send', { subject: 'hi', scores: [1, 'two'], to: 'a@b.io' });
    broker.emit('mail.send', { subject: 'hi', scores: [], to: 'not an address' });
    await settle();
    expect(seen).toEqual([{ subject: 'hi', scores: [1, 2], to: 'taylor@example.com' }]);
  });

  // moleculer test/integration/event-balancer.spec.js › "send a 'user.created' event to filtered
  // groups #1" and › "#2", › "broadcast a 'user.created' event to filtered groups"
  it('limits emit and broadcast to the named groups', async () => {
    const broker = make();
    const flow: string[] = [];
    const record = (what: string) =>
      function (this: Service) {
        flow.push(`${this.name}-${what}`);
      };
    broker.createService({ name: 'users', events: { 'user.created': record('uc') } });
    broker.createService({ name: 'payment', events: { 'user.created': record('uc') } });
    broker.createService({ name: 'mail', events: { 'user.*': record('u*') } });
    await broker.start();
    broker.emit('user.created', null, 'payment');
    await settle();
    expect(flow.splice(0)).toEqual(['payment-uc']);
    broker.emit('user.created', null, ['payment', 'mail']);
    await settle();
    expect(flow.splice(0).sort()).toEqual(['mail-u*', 'payment-uc']);
    broker.broadcast('user.created', null, ['payment', 'mail']);
    await settle();
    expect(flow.splice(0).sort()).toEqual(['mail-u*', 'payment-uc']);
  });

  // moleculer test/integration/event-balancer.spec.js › "Test multiple handler in the same group
  // balancing" › "send a 'user.created' event with balancing #1" (and #2)
  it('balances an emit between the services of one group', async () => {
    const broker = make();
    const flow: string[] = [];
    broker.createService({
      name: 'payment',
      events: {
        'user.created'(this: Service) {
          flow.push(this.name);
        },
      },
    });
    broker.createService({
      name: 'stripe',
      events: {
        'user.created': {
          group: 'payment',
          handler(this: Service) {
            flow.push(this.name);
          },
        },
      },
    });
    await broker.start();
    for (let i = 0; i < 4; i++) broker.emit('user.created');
    await settle();
    expect(flow.filter((n) => n === 'payment')).toHaveLength(2);
    expect(flow.filter((n) => n === 'stripe')).toHaveLength(2);
  });

  // moleculer test/integration/event-balancer.spec.js › "broadcastLocal an 'other.thing' event to
  // local services"
  it('delivers broadcastLocal to every local service', async () => {
    const broker = make();
    const flow: string[] = [];
    for (const name of ['other', 'other2']) {
      broker.createService({
        name,
        events: {
          'other.thing'(this: Service) {
            flow.push(this.name);
          },
        },
      });
    }
    await broker.start();
    broker.broadcastLocal('other.thing');
    await settle();
    expect(flow.sort()).toEqual(['other', 'other2']);
  });
});

describe("Kindling's own side of the same scenarios", () => {
  // moleculer test/integration/validator.spec.js › "should throw ValidationError, if params is not
  // correct": Moleculer's ValidationError carries fastest-validator's list in `data`; Kindling
  // reports an INVALID KindlingError naming the event, the service and the field, with that list.
  it('reports refused params as INVALID naming event, service and field, with the field list', async () => {
    const bus = new DefaultEventBus({ nodeID: 'node-1', logger: quiet });
    open.push(bus);
    const errors: Record<string, unknown>[] = [];
    bus.on('$broker.error', (payload) => void errors.push(payload as Record<string, unknown>));
    bus.createService({ name: 'mailer', events: { 'mail.send': { params: { to: 'email' }, handler: vi.fn() } } });
    bus.emit('mail.send', { to: 'nope' });
    expect(errors).toHaveLength(1);
    const error = errors[0]?.['error'] as { code: string; message: string; details: Record<string, unknown> };
    expect(error.code).toBe('INVALID');
    expect(error.message).toMatch(/"mail\.send".*mailer.*to:/);
    expect(error.details).toEqual(
      expect.objectContaining({
        event: 'mail.send',
        service: 'mailer',
        data: [expect.objectContaining({ type: 'email', field: 'to', actual: 'nope', event: 'mail.send' })],
      }),
    );
  });

  it('refuses at createService a rule fastest-validator does not know, naming service and event', () => {
    const bus = new DefaultEventBus({ nodeID: 'node-1', logger: quiet });
    open.push(bus);
    expect(() =>
      bus.createService({ name: 'm', events: { 'e.x': { params: { n: 'nubmer' }, handler: vi.fn() } } }),
    ).toThrow(expect.objectContaining({ code: 'INVALID', message: expect.stringMatching(/service m, event "e\.x"/) }));
  });

  // Wippy's subscribe(system, "") is "every kind" (not a Moleculer case: the Wippy face of the same bus).
  it('takes Wippy subscribe(system, "") as no kind filter', async () => {
    const bus = new DefaultEventBus({ nodeID: 'node-1', logger: quiet });
    open.push(bus);
    const sub = bus.events.subscribe('user', '');
    bus.emit('user.created', { id: 1 });
    expect((await sub.receive()).value?.kind).toBe('created');
  });
});

describe.skipIf(skipNats)('Moleculer event scenarios across three processes on NATS', () => {
  const prefix = uniquePrefix();
  const children: ChildNode[] = [];
  let master: EventBus;
  const flow: string[] = [];
  const masterChanges: unknown[] = [];

  const record = (service: string) =>
    function (this: Service, ctx: EventContext) {
      flow.push(`${ctx.nodeID}>master-${service}`);
    };

  beforeAll(async () => {
    children.push(
      new ChildNode(
        {
          url: NATS_URL,
          prefix,
          nodeID: 'user-1',
          services: [
            { name: 'users', events: [{ pattern: 'user.created', style: 'legacy' }] },
            { name: 'other', events: [{ pattern: 'other.thing', style: 'ctx' }] },
          ],
        },
        MOLECULER_NODE_SCRIPT,
      ),
      new ChildNode(
        {
          url: NATS_URL,
          prefix,
          nodeID: 'pay-1',
          services: [
            { name: 'payment', events: [{ pattern: 'user.created', style: 'ctx' }] },
            { name: 'other2', events: [{ pattern: 'other.thing', style: 'legacy' }] },
          ],
        },
        MOLECULER_NODE_SCRIPT,
      ),
    );
    await Promise.all(children.map((c) => c.ready()));
    master = createNatsEventBus({
      nodeID: 'master',
      nats: { url: NATS_URL, prefix, heartbeatMs: 200, nodeTimeoutMs: 30_000 },
      logger: quiet,
    });
    master.createService({ name: 'other', events: { 'other.thing': record('other') } });
    master.createService({ name: 'other2', events: { 'other.thing': record('other2') } });
    master.on('$services.changed', (payload) => void masterChanges.push(payload));
    await master.start();
    await until(
      () => master.registry.getServiceList({ skipInternal: true }).filter((s) => !s.local).length === 4,
      "the children's services in the master's catalogue",
      10_000,
    );
  });

  afterAll(async () => {
    await master?.stop();
    await Promise.all(children.map((c) => c.stop()));
    await removeStreams(prefix);
  });

  const childLines = (test: (l: Record<string, unknown>) => boolean): Record<string, unknown>[] =>
    children.flatMap((c) => c.lines.filter(test));
  const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  // moleculer test/integration/registry.spec.js › "start node2 with userService & payment service"
  // (registry.getServiceList lists the services of every node)
  it("lists every node's services in registry.getServiceList and getNodeList", () => {
    const list = master.registry
      .getServiceList({ skipInternal: true })
      .map((s) => `${s.nodeID}/${s.name}/${String(s.local)}`)
      .sort();
    expect(list).toEqual([
      'master/other/true',
      'master/other2/true',
      'pay-1/other2/false',
      'pay-1/payment/false',
      'user-1/other/false',
      'user-1/users/false',
    ]);
    const nodes = master.registry.getNodeList({ withServices: true });
    expect(nodes.map((n) => `${n.id}/${String(n.local)}/${n.services?.length ?? 0}`).sort()).toEqual([
      'master/true/2',
      'pay-1/false/2',
      'user-1/false/2',
    ]);
    const withEvents = master.registry.getServiceList({ withEvents: true }).find((s) => s.name === 'payment');
    expect(withEvents?.events).toEqual({ 'user.created': { name: 'user.created', group: 'payment' } });
  });

  // moleculer test/integration/event-balancer.spec.js › "emit an 'other.thing' event with preferLocal"
  // and › "emit an 'other.thing' event with preferLocal 2nd"
  it("keeps an emit on the sender's own members, at once (preferLocal)", async () => {
    flow.length = 0;
    for (let i = 0; i < 10; i++) {
      master.emit('other.thing', { n: i });
      // Delivered before emit returned, as in one process.
      expect(flow).toHaveLength(2 * (i + 1));
      await nextTurn();
    }
    expect(flow.filter((f) => f === 'master>master-other')).toHaveLength(10);
    expect(flow.filter((f) => f === 'master>master-other2')).toHaveLength(10);
    // A later event that does travel to the children, in order behind the others, proves none went there.
    master.emit('user.created', { marker: 1 });
    await untilAny(children, () => childLines((l) => l['event'] === 'user.created').length >= 2, 'the marker event');
    expect(childLines((l) => l['event'] === 'other.thing')).toEqual([]);
  });

  // moleculer test/unit/service-broker.spec.js › "Test broker.emit with transporter" › "should call
  // sendEvent with ctx" (the remote handler gets the sender's node and meta)
  it('gives remote ctx and legacy handlers the sender node and meta', async () => {
    master.emit('user.created', { id: 7 }, { meta: { tenant: 't1' } });
    await untilAny(
      children,
      () => childLines((l) => (l['params'] as { id?: number } | null)?.id === 7).length >= 2,
      'both groups handling user.created',
    );
    expect(childLines((l) => (l['params'] as { id?: number } | null)?.id === 7)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ service: 'users', node: 'user-1', from: 'master', meta: { tenant: 't1' } }),
        expect.objectContaining({ service: 'payment', node: 'pay-1', from: 'master', meta: { tenant: 't1' } }),
      ]),
    );
  });

  // moleculer test/integration/event-balancer.spec.js › "emit an 'other.thing' without preferLocal"
  it('balances every group over all nodes with preferLocal: false', async () => {
    const balanced = createNatsEventBus({
      nodeID: 'balanced',
      preferLocal: false,
      nats: { url: NATS_URL, prefix, heartbeatMs: 200, nodeTimeoutMs: 30_000 },
      logger: quiet,
    });
    const here: string[] = [];
    for (const name of ['other', 'other2']) {
      balanced.createService({
        name,
        events: {
          'other.thing'(this: Service) {
            here.push(this.name);
          },
        },
      });
    }
    await balanced.start();
    try {
      // The others' queue groups must know this node's members before it sends.
      await until(
        () => master.registry.getNodeList().some((n) => n.id === 'balanced'),
        'the balanced node in the catalogue',
      );
      flow.length = 0;
      const before = childLines((l) => l['event'] === 'other.thing').length;
      const n = 10;
      for (let i = 0; i < n; i++) {
        balanced.emit('other.thing', { b: i });
        // One emit per turn: a batch of one turn is balanced as one message.
        await nextTurn();
      }
      const total = (): number =>
        here.length + flow.length + childLines((l) => l['event'] === 'other.thing').length - before;
      await until(() => total() >= 2 * n, 'every emit handled once per group');
      // Nothing synchronous, and exactly once per group; with 2 × 10 random picks, some left this node.
      expect(total()).toBe(2 * n);
      expect(here.length).toBeLessThan(2 * n);
    } finally {
      await balanced.stop();
    }
  });

  // moleculer test/integration/registry.spec.js › "load mail on-the-fly to node1" and › "destroy mail
  // on-the-fly to node1"; test/unit/service-broker.spec.js › "should call broadcastLocal without
  // transit.sendNodeInfo because remote changes"
  it('announces a remote service created or destroyed as $services.changed { localService: false }', async () => {
    masterChanges.length = 0;
    const userNode = children[0] as ChildNode;
    userNode.send({ cmd: 'createService', service: { name: 'mail', events: [{ pattern: 'user.*', style: 'ctx' }] } });
    await until(
      () => master.registry.getServiceList().some((s) => s.name === 'mail' && s.nodeID === 'user-1'),
      'the mail service in the catalogue',
    );
    expect(masterChanges).toContainEqual({ localService: false });
    masterChanges.length = 0;
    userNode.send({ cmd: 'destroyService', name: 'mail' });
    await until(() => !master.registry.getServiceList().some((s) => s.name === 'mail'), 'mail to leave');
    expect(masterChanges).toEqual([{ localService: false }]);
  });

  // moleculer test/integration/registry.spec.js › "stop node2" (its services leave the list)
  it("forgets a stopped node's services and announces the change", async () => {
    masterChanges.length = 0;
    await (children[1] as ChildNode).stop();
    await until(() => !master.registry.getServiceList().some((s) => s.nodeID === 'pay-1'), "pay-1's services to go");
    expect(masterChanges).toEqual([{ localService: false }]);
    expect(master.registry.getNodeList().map((n) => n.id)).not.toContain('pay-1');
  });
});
