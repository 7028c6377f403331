import { AckPolicy, connect, headers, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventBus } from 'kindling/events';
import { createNatsEventBus, JetStreamChannels } from 'kindling/nats';
import { channelContract } from './support/channel-contract.js';
import { ChildNode, NATS_URL, removeStreams, skipNats, uniquePrefix } from './support/nats-harness.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

// The same contract as the in-process channels, over JetStream: two nodes in this process.
channelContract(
  'JetStream',
  async () => {
    const prefix = uniquePrefix();
    const buses = ['js-a', 'js-b'].map((nodeID) =>
      createNatsEventBus({ nodeID, nats: { url: NATS_URL, prefix }, logger: quiet }),
    );
    for (const bus of buses) await bus.start();
    return {
      bus: (node: number): EventBus => buses[node] as EventBus,
      close: async () => {
        for (const bus of buses) await bus.stop();
        await removeStreams(prefix);
      },
    };
  },
  skipNats,
);

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

  it('dead-letters a forged message whose meta header is no JSON object, without calling the handler', async () => {
    const seen: unknown[] = [];
    const sub = await producer.channels.subscribe('forged', { group: 'g', handler: (m) => void seen.push(m.data) });
    try {
      const h = headers();
      h.set('Kindling-Meta', '{not json');
      const js = admin.jetstream();
      await js.publish(store.subject('forged', '_'), JSON.stringify({ v: 1, data: 'x', source: 'evil', time: 1 }), {
        headers: h,
      });
      let letters: Awaited<ReturnType<JetStreamChannels['deadLetters']>> = [];
      for (let i = 0; i < 300 && letters.length === 0; i++) {
        letters = await store.deadLetters('forged');
        if (letters.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(letters[0]?.error).toMatch(/^undecodable message: /);
      expect(seen).toEqual([]);
    } finally {
      await sub.close();
    }
  });

  it('sums the lanes of a group into its pending counts, and reads consumers made before they had a description', async () => {
    const sub = await producer.channels.subscribe('tallies', {
      group: 'counters',
      handler: () => new Promise(() => {}),
    });
    await sub.close();
    for (let n = 0; n < 6; n++) await producer.channels.send('tallies', { n }, n % 2 ? { key: `k${n}` } : {});
    const jsm = await admin.jetstreamManager();
    // As an older kindling named them: no description, the group in the durable name only.
    await jsm.consumers.add(store.stream, {
      durable_name: 'tallies__old_2e_group__p1',
      filter_subject: store.subject('tallies', 'p1'),
      ack_policy: AckPolicy.Explicit,
    });
    // Someone else's consumer on the stream is no group of a channel.
    await jsm.consumers.add(store.stream, {
      durable_name: 'audit',
      filter_subject: `${prefix}.chan.>`,
      ack_policy: AckPolicy.Explicit,
    });
    const tallies = (await producer.channels.pendingCounts()).filter((p) => p.channel === 'tallies');
    const p1 = (await jsm.consumers.info(store.stream, 'tallies__old_2e_group__p1')).num_pending;
    expect(tallies).toEqual([
      { channel: 'tallies', group: 'counters', waiting: 6, inFlight: 0 },
      { channel: 'tallies', group: 'old.group', waiting: p1, inFlight: 0 },
    ]);
    await jsm.consumers.delete(store.stream, 'audit');
  });

  it('has no pending counts before the stream exists, and a clear error when NATS cannot answer', async () => {
    const nc = await connect({ servers: NATS_URL });
    const init = { nc, jsm: await nc.jetstreamManager(), js: nc.jetstream(), nodeID: 'n', logger: quiet };
    const bare = new JetStreamChannels({ ...init, prefix: uniquePrefix() });
    await expect(bare.pendingCounts()).resolves.toEqual([]);
    await nc.close();
    await expect(bare.pendingCounts()).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(
        /^cannot read the consumers of the JetStream stream \w+_CHANNELS for the pending counts: /,
      ),
    });
  });

  it('says what to do when JetStream cannot reserve the byte limit of a stream', async () => {
    // A petabyte is more than any server's JetStream storage: the reservation fails at once.
    const greedy = createNatsEventBus({
      nodeID: 'greedy',
      nats: { url: NATS_URL, prefix: uniquePrefix(), channelMaxBytes: 2 ** 50 },
      logger: quiet,
    });
    try {
      await expect(greedy.start()).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(
          /^cannot create the JetStream stream \w+_CHANNELS: insufficient storage resources available \(JetStream error 10047\); JetStream reserves 1125899906842624 bytes for this stream up front: lower the byte limit \(channelMaxBytes, deadLetterMaxBytes\)/,
        ),
      });
    } finally {
      await greedy.stop();
    }
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
    await expect(unstarted.channels.pendingCounts()).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('await bus.start()'),
    });
    await unstarted.stop();
  });
});
