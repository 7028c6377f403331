import { describe, expect, it } from 'vitest';
import { createEventBus, MemoryChannels, type EventBus } from 'kindling/events';
import { channelContract, eventually } from './support/channel-contract.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

// In one process every member of a group is on the same bus.
channelContract('in-process', async () => {
  const bus = createEventBus({ nodeID: 'memory-node', logger: quiet });
  await bus.start();
  return { bus: (): EventBus => bus, close: () => bus.stop() };
});

describe('in-process durable channels', () => {
  it('are the default of a bus without NATS, before and after start()', async () => {
    const bus = createEventBus({ nodeID: 'plain', logger: quiet });
    expect(bus.channels).toBeInstanceOf(MemoryChannels);
    const seen: unknown[] = [];
    await bus.channels.subscribe('early', { group: 'g', handler: (m) => void seen.push(m.data) });
    await bus.channels.send('early', 1);
    await eventually(() => seen.length === 1, 'the message');
    await bus.stop();
    await expect(bus.channels.send('early', 2)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('counts pending per group: behind a busy key waits, a retry waiting for its backoff is in flight', async () => {
    const channels = new MemoryChannels({ nodeID: 'n' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let failed = false;
    await channels.subscribe('c', {
      group: 'g',
      maxInFlight: 3,
      maxRetries: 1,
      backoffMs: 600_000,
      handler: async (m) => {
        if (m.data === 'fail') {
          failed = true;
          throw new Error('not now');
        }
        await gate;
      },
    });
    await channels.send('c', 'fail');
    for (const data of ['k1', 'k2', 'k3']) await channels.send('c', data, { key: 'k' });
    for (const data of ['u1', 'u2', 'u3', 'u4']) await channels.send('c', data);
    await eventually(() => failed, 'the first attempt to fail');
    // Running: k1, u1, u2; waiting for its retry: fail. Behind k1: k2, k3; not yet handed out: u3, u4.
    await expect(channels.pendingCounts()).resolves.toEqual([{ channel: 'c', group: 'g', waiting: 4, inFlight: 4 }]);
    release();
    let counts = await channels.pendingCounts();
    for (let i = 0; i < 500 && counts[0]?.waiting !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      counts = await channels.pendingCounts();
    }
    expect(counts).toEqual([{ channel: 'c', group: 'g', waiting: 0, inFlight: 1 }]);
    await channels.close();
  });

  it('refuses a send with UNAVAILABLE when the store is full of messages a group has not handled', async () => {
    const channels = new MemoryChannels({ nodeID: 'n', options: { maxMessages: 3 } });
    await channels.subscribe('c', { group: 'g', handler: () => new Promise(() => {}), maxInFlight: 1 });
    for (let i = 0; i < 3; i++) await channels.send('c', i);
    await expect(channels.send('c', 3)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      retryable: true,
      message: expect.stringContaining('maxMessages 3'),
    });
  });

  it('drops the oldest messages every group has handled to make room, and keeps the others', async () => {
    const channels = new MemoryChannels({ nodeID: 'n', options: { maxMessages: 3 } });
    const seen: unknown[] = [];
    await channels.subscribe('c', { group: 'g', handler: (m) => void seen.push(m.data) });
    for (let i = 0; i < 10; i++) {
      await channels.send('c', i);
      await eventually(() => seen.length === i + 1, `message ${i}`);
    }
    expect(channels.stats().messages).toBe(3);
    // A group that subscribes now gets what is still kept: the three newest.
    const late: unknown[] = [];
    await channels.subscribe('c', { group: 'late', handler: (m) => void late.push(m.data) });
    await eventually(() => late.length === 3, 'the kept messages');
    expect(late).toEqual([7, 8, 9]);
    await channels.close();
  });

  it('keeps messages sent before any group subscribes until one has handled them', async () => {
    const channels = new MemoryChannels({ nodeID: 'n', options: { maxMessages: 2 } });
    await channels.send('c', 1);
    await channels.send('c', 2);
    await expect(channels.send('c', 3)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('refuses a message larger than maxMessageBytes with INVALID', async () => {
    const channels = new MemoryChannels({ nodeID: 'n', options: { maxMessageBytes: 100 } });
    await expect(channels.send('c', 'x'.repeat(200))).rejects.toMatchObject({
      code: 'INVALID',
      message: expect.stringContaining('maxMessageBytes'),
    });
  });

  it('keeps at most deadLetterMaxMessages per channel, dropping the oldest and saying so', async () => {
    const warnings: string[] = [];
    const channels = new MemoryChannels({
      nodeID: 'n',
      logger: { ...quiet, warn: (m: string) => void warnings.push(m) },
      options: { deadLetterMaxMessages: 2 },
    });
    await channels.subscribe('c', {
      group: 'g',
      maxRetries: 0,
      handler: () => {
        throw new Error('no');
      },
    });
    for (let i = 0; i < 4; i++) await channels.send('c', i, { id: `d${i}` });
    await eventually(() => channels.stats().droppedDeadLetters === 2, 'two dropped dead letters');
    expect((await channels.deadLetters('c')).map((l) => l.id)).toEqual(['d2', 'd3']);
    expect(warnings.join('\n')).toContain('deadLetterMaxMessages 2');
    await channels.close();
  });

  it('keeps at most deadLetterMaxBytes of dead letters in all', async () => {
    const channels = new MemoryChannels({ nodeID: 'n', options: { deadLetterMaxBytes: 1000 } });
    for (const channel of ['a', 'b']) {
      await channels.subscribe(channel, {
        group: 'g',
        maxRetries: 0,
        handler: () => {
          throw new Error('no');
        },
      });
    }
    for (let i = 0; i < 10; i++) await channels.send(i % 2 ? 'a' : 'b', 'x'.repeat(150));
    await eventually(() => channels.stats().droppedDeadLetters > 0, 'a dropped dead letter');
    await eventually(() => channels.stats().deadLetters + channels.stats().droppedDeadLetters === 10, 'all dead');
    expect(channels.stats().deadLetterBytes).toBeLessThanOrEqual(1000);
    await channels.close();
  });
});
