// The reactive kinds over NATS, two app nodes in this process: timer ticks claimed in JetStream KV
// (each tick on one node), event listeners balanced within their group across nodes, and channel
// consumers on JetStream dead-lettering with the error.
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp } from 'kindling/testing';
import type { TestApp } from 'kindling/testing';
import { EventBus } from 'kindling/events';
import { ReactiveEntries } from 'kindling/components';
import { claimBucketName } from '../components/reactive/index.js';
import { NATS_URL, removeStreams, skipNats, uniquePrefix } from './support/nats-harness.js';

interface Call {
  readonly node: string;
  readonly fn: string;
  readonly input: Record<string, unknown>;
}

declare global {
  var __natsReactiveCalls: Call[] | undefined;
}

const calls = (): Call[] => (globalThis.__natsReactiveCalls ??= []);

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

const FUNCTIONS = `
const record = (input, ctx) => { (globalThis.__natsReactiveCalls ??= []).push({ node: ctx.meta.node ?? ctx.caller?.nodeName, fn: ctx.id, input }); };
export { record };
export const declined = () => { throw new Error('card declined: always fails'); };
`;

describe.skipIf(skipNats)('reactive kinds over NATS (two nodes in one process)', () => {
  const prefix = uniquePrefix();
  const nodes: TestApp[] = [];

  beforeAll(async () => {
    globalThis.__natsReactiveCalls = [];
    for (const nodeID of ['r-a', 'r-b']) {
      const app = await bootTestApp({
        components: ['function', 'reactive'],
        config: { events: { nodeID, nats: { url: NATS_URL, prefix } } },
      });
      // Each node's own copy of the function, which says which node it ran on.
      await app.write(
        'functions.js',
        FUNCTIONS.replace('ctx.meta.node ?? ctx.caller?.nodeName', JSON.stringify(nodeID)),
      );
      await app.expectAccepted(
        'entries:\n' +
          '  - { name: record, kind: function.js, file: ./functions.js, export: record }\n' +
          '  - { name: declined, kind: function.js, file: ./functions.js, export: declined }\n',
      );
      nodes.push(app);
      // JetStream channels keep timers of their own from first use on: open them here, not in a test.
      const channels = app.get<EventBus>(EventBus).channels;
      await channels.send('warm-up', {});
      await channels.deadLetters('warm-up');
    }
  });

  afterAll(async () => {
    for (const app of nodes) await app.shutdown();
    await removeStreams(prefix);
    const nc = await connect({ servers: NATS_URL });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(`KV_${claimBucketName(prefix)}`).catch(() => undefined);
    await nc.close();
  });

  const both = async (yaml: string): Promise<void> => {
    for (const app of nodes) await app.expectAccepted(yaml);
  };

  it('runs each timer tick on exactly one node, claimed with a JetStream KV create', async () => {
    await both('entries:\n  - { name: beat, kind: timer.interval, every: 50ms, func: record }\n');
    const ticks = (): Call[] => calls().filter((call) => call.input['timer'] === 'test:beat');
    await until(() => ticks().length >= 12);
    for (const app of nodes) await app.remove('test:beat');
    const scheduled = ticks().map((call) => call.input['scheduledAt']);
    expect(new Set(scheduled).size).toBe(scheduled.length);
    for (const app of nodes) expect(app.get<ReactiveEntries>(ReactiveEntries).describe()['test:beat']).toBeUndefined();
    const nc = await connect({ servers: NATS_URL });
    const kv = await nc.jetstream().views.kv(claimBucketName(prefix));
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    await nc.close();
    expect(keys.filter((key) => key.startsWith('test_3a_beat.')).length).toBeGreaterThanOrEqual(scheduled.length);
  });

  it('balances an emit within the listener group across the nodes; a broadcast reaches both', async () => {
    await both('entries:\n  - { name: view, kind: event.listener, pattern: nats.order.created, func: record }\n');
    const bus = nodes[0]?.get<EventBus>(EventBus) as EventBus;
    // Each node must see the other's member before balancing reaches it.
    await until(
      () =>
        bus.registry.getServiceList({ onlyLocal: false }).filter((service) => service.name === 'test:view').length >= 2,
    );
    const orders = (): Call[] => calls().filter((call) => call.input['order'] !== undefined);
    const events = nodes.map((app) => app.get<EventBus>(EventBus));
    for (let i = 0; i < 20; i++) events[i % 2]?.emit('nats.order.created', { order: i });
    await until(() => orders().length === 20);
    expect(new Set(orders().map((call) => call.input['order'])).size).toBe(20);
    globalThis.__natsReactiveCalls = [];
    bus.broadcast('nats.order.created', { order: 'all' });
    await until(() => orders().length === 2);
    expect(
      orders()
        .map((call) => call.node)
        .sort(),
    ).toEqual(['r-a', 'r-b']);
  });

  it('dead-letters a message on JetStream with the error once its retries are spent', async () => {
    await both(
      'entries:\n  - { name: pay, kind: channel.consumer, channel: cards, func: declined, maxRetries: 1, backoff: 10 }\n',
    );
    const bus = nodes[0]?.get<EventBus>(EventBus) as EventBus;
    await bus.channels.send('cards', { card: '4000' }, { id: 'card-1' });
    let letters = await bus.channels.deadLetters('cards');
    while (letters.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      letters = await bus.channels.deadLetters('cards');
    }
    expect(letters[0]).toMatchObject({
      id: 'card-1',
      group: 'test:pay',
      error: expect.stringContaining('card declined'),
    });
    // Removing the consumers closes their JetStream pulls.
    for (const app of nodes) await app.remove('test:pay');
    for (const app of nodes) expect(app.get<ReactiveEntries>(ReactiveEntries).describe()['test:pay']).toBeUndefined();
  });
});
