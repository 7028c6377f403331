import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventBus, type EventBus } from 'kindling/events';
import { createNatsEventBus, JetStreamChannels } from 'kindling/nats';
import { ChildNode, NATS_URL, skipNats, uniquePrefix } from './support/nats-harness.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe.skipIf(skipNats)('durable channels on JetStream', () => {
  const prefix = uniquePrefix();
  let producer: EventBus;
  let store: JetStreamChannels;
  let admin: NatsConnection;

  beforeAll(async () => {
    producer = createNatsEventBus({ nodeID: 'producer', nats: { url: NATS_URL, prefix }, logger: quiet });
    await producer.start();
    store = producer.channels as JetStreamChannels;
    admin = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    const jsm = await admin.jetstreamManager();
    await jsm.streams.delete(store.stream).catch(() => undefined);
    await jsm.streams.delete(store.dlqStream).catch(() => undefined);
    await admin.close();
    await producer.stop();
  });

  it('a consumer that was down when the messages were sent gets all of them when it starts', async () => {
    for (let n = 0; n < 25; n++) await producer.channels.send('orders', { n });
    const consumer = new ChildNode({
      url: NATS_URL,
      prefix,
      nodeID: 'late',
      channels: [{ name: 'orders', group: 'billing' }],
    });
    try {
      const lines = await consumer.waitForCount((l) => l['channel'] === 'orders', 25, 'the stored orders');
      expect(lines.map((l) => (l['data'] as { n: number }).n).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 25 }, (_, i) => i),
      );
    } finally {
      await consumer.stop();
    }
  });

  it('deduplicates a publisher retry by message id', async () => {
    await producer.channels.send('dedupe', { n: 1 }, { id: 'same-id' });
    await producer.channels.send('dedupe', { n: 1 }, { id: 'same-id' });
    await producer.channels.send('dedupe', { n: 2 }, { id: 'other-id' });
    const consumer = new ChildNode({
      url: NATS_URL,
      prefix,
      nodeID: 'dedupe',
      channels: [{ name: 'dedupe', group: 'g' }],
    });
    try {
      await consumer.waitFor(
        (l) => l['channel'] === 'dedupe' && (l['data'] as { n: number }).n === 2,
        'the second message',
      );
      await consumer.stop();
      expect(consumer.lines.filter((l) => l['channel'] === 'dedupe')).toHaveLength(2);
    } finally {
      await consumer.kill();
    }
  });

  it('a handler that fails every time lands the message in the dead-letter stream with its error', async () => {
    const consumer = new ChildNode({
      url: NATS_URL,
      prefix,
      nodeID: 'failing',
      channels: [{ name: 'payments', group: 'g', failTimes: 100, maxRetries: 2, backoffMs: 5 }],
    });
    try {
      await consumer.ready();
      // A JetStream publish also reaches plain subscribers: wait for the dead letter to be stored.
      const arrived = admin.subscribe(store.dlqSubject('payments'), { max: 1 });
      await admin.flush();
      await producer.channels.send('payments', { n: 9 }, { id: 'pay-9' });
      for await (const _ of arrived) break;
      const letters = await store.deadLetters('payments');
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        channel: 'payments',
        group: 'g',
        attempts: 3,
        id: 'pay-9',
        error: 'refused {"n":9} (3)',
      });
      expect(JSON.parse((letters[0] as { body: string }).body)).toMatchObject({ data: { n: 9 } });
    } finally {
      await consumer.stop();
    }
  });

  it('a handler that fails twice then succeeds is retried and not dead-lettered', async () => {
    const consumer = new ChildNode({
      url: NATS_URL,
      prefix,
      nodeID: 'flaky',
      channels: [{ name: 'flaky', group: 'g', failTimes: 2, maxRetries: 3, backoffMs: 5 }],
    });
    try {
      await consumer.ready();
      await producer.channels.send('flaky', { n: 1 });
      const line = await consumer.waitFor((l) => l['channel'] === 'flaky', 'the successful attempt');
      expect(line['attempt']).toBe(3);
      expect(await store.deadLetters('flaky')).toEqual([]);
    } finally {
      await consumer.stop();
    }
  });

  it('SIGKILL of a consumer mid-batch loses nothing: its messages are redelivered to the other member', async () => {
    const victim = new ChildNode({
      url: NATS_URL,
      prefix,
      nodeID: 'victim',
      channels: [{ name: 'jobs', group: 'workers', hang: true, ackWaitMs: 1000, maxInFlight: 4 }],
    });
    await victim.ready();
    for (let n = 0; n < 20; n++) await producer.channels.send('jobs', { n });
    await victim.waitFor((l) => 'took' in l, 'the victim to take a message');
    await victim.kill();
    const survivor = new ChildNode({
      url: NATS_URL,
      prefix,
      nodeID: 'survivor',
      channels: [{ name: 'jobs', group: 'workers', ackWaitMs: 1000 }],
    });
    try {
      const lines = await survivor.waitForCount((l) => l['channel'] === 'jobs', 20, 'every job', 20_000);
      expect(new Set(lines.map((l) => (l['data'] as { n: number }).n)).size).toBe(20);
    } finally {
      await survivor.stop();
    }
  });

  it('keeps per-key order', async () => {
    for (let n = 0; n < 30; n++) await producer.channels.send('keyed', { n, k: n % 3 }, { key: `k${n % 3}` });
    const consumer = new ChildNode({
      url: NATS_URL,
      prefix,
      nodeID: 'keyed',
      channels: [{ name: 'keyed', group: 'g' }],
    });
    try {
      const lines = await consumer.waitForCount((l) => l['channel'] === 'keyed', 30, 'the keyed messages');
      for (const key of ['k0', 'k1', 'k2']) {
        const ns = lines.filter((l) => l['key'] === key).map((l) => (l['data'] as { n: number }).n);
        expect(ns).toEqual([...ns].sort((a, b) => a - b));
      }
    } finally {
      await consumer.stop();
    }
  });

  it('refuses with UNAVAILABLE without NATS', async () => {
    const local = createEventBus({ nodeID: 'local' });
    await expect(local.channels.send('x', 1)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('KINDLING_NATS_URL'),
    });
    await local.stop();
  });

  it('before start() says to start the bus, not to configure NATS', async () => {
    const unstarted = createNatsEventBus({
      nodeID: 'unstarted',
      nats: { url: NATS_URL, prefix: uniquePrefix() },
      logger: quiet,
    });
    const refusal = unstarted.channels.send('x', 1);
    await expect(refusal).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('await bus.start()'),
    });
    await expect(refusal).rejects.not.toMatchObject({ message: expect.stringContaining('KINDLING_NATS_URL') });
    await unstarted.stop();
  });
});
