// Growth curves of the in-process durable channels (MemoryChannels): subscriptions that come and go,
// re-driving dead letters, a full store with many channels, members of one group leaving, a backlog
// of one key.
import { MemoryChannels, type ChannelSubscription } from 'kindling/events';
import { heapUsed, noop, q, quiet, timed, type Path } from '../curve-kit.js';

/** Waits (on the event loop) until `done()`, or throws after a while. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; !done(); i++) {
    if (i > 100_000) throw new Error(`channels curve: ${what} never happened`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Heap retained by a store with 1,000 open subscriptions after `size` more subscribed and closed
 * again, one by one, on one channel and group: the closed ones must leave nothing behind.
 */
async function subscriptionChurn(size: number): Promise<number> {
  const before = heapUsed();
  const channels = new MemoryChannels({ nodeID: 'curve' });
  for (let i = 0; i < 1_000; i++) await channels.subscribe('jobs', { group: `g${i}`, handler: noop });
  for (let i = 0; i < size; i++) {
    const subscription = await channels.subscribe('jobs', { group: 'workers', handler: noop });
    await subscription.close();
  }
  const retained = heapUsed() - before;
  await channels.close();
  return retained;
}

/** A store with `size` dead letters of channel `c` (group `g`, ids `d<i>`), their subscription closed. */
async function deadLetters(size: number): Promise<MemoryChannels> {
  const channels = new MemoryChannels({
    nodeID: 'curve',
    options: { deadLetterMaxMessages: size, maxMessages: 4 * size },
  });
  const failing = await channels.subscribe('c', {
    group: 'g',
    maxRetries: 0,
    maxInFlight: 1_000,
    handler: () => {
      throw new Error('no');
    },
  });
  for (let i = 0; i < size; i++) await channels.send('c', i, { id: `d${i}` });
  await until(() => channels.stats().deadLetters === size, `${size} dead letters`);
  await failing.close();
  return channels;
}

/** `redrive(channel)` of all `size` dead letters in one call. */
async function redriveAll(size: number): Promise<number> {
  const channels = await deadLetters(size);
  let redriven = 0;
  await quiet();
  const ms = await timed(async () => {
    redriven = (await channels.redrive('c')).redriven;
  });
  if (redriven !== size) throw new Error(`redrive all: ${redriven} of ${size}`);
  await channels.close();
  return ms;
}

/** Among `size` dead letters, 5,000 re-driven one id per call (scaled: the per-item value is per call). */
async function redriveOne(size: number): Promise<number> {
  const CALLS = 5_000;
  const channels = await deadLetters(size);
  let redriven = 0;
  await quiet(); // what the setup left is collected before the clock starts
  const ms = await timed(async () => {
    for (let k = 0; k < CALLS; k++) {
      const id = `d${(k * 7919) % size}`;
      redriven += (await channels.redrive('c', { ids: [id] })).redriven;
    }
  });
  if (redriven !== CALLS) throw new Error(`redrive one: ${redriven} of ${CALLS}`);
  await channels.close();
  return (ms / CALLS) * size;
}

/**
 * A store full (`maxMessages` = `size`) of handled messages, one per channel of `size`: each send
 * to a channel must drop the oldest handled message first.
 */
async function storeFull(size: number): Promise<number> {
  const channels = new MemoryChannels({ nodeID: 'curve', options: { maxMessages: size } });
  let handled = 0;
  const count = (): void => void handled++;
  for (let i = 0; i < size; i++) await channels.subscribe(`t${i}`, { group: 'g', handler: count });
  for (let i = 0; i < size; i++) await channels.send(`t${i}`, i);
  await until(() => handled === size, 'every message handled');
  await quiet();
  const ms = await timed(async () => {
    for (let i = 0; i < size; i++) await channels.send(`t${i}`, i);
  });
  if (channels.stats().messages !== size) throw new Error(`store full: ${channels.stats().messages} kept`);
  await channels.close();
  return ms;
}

/**
 * `size` members of one group, then each closed, oldest first. From 20,000: a round of 2,000 closes
 * in about a millisecond, too short to time apart from the machine's pauses.
 */
async function groupLeave(size: number): Promise<number> {
  const channels = new MemoryChannels({ nodeID: 'curve' });
  const members: ChannelSubscription[] = [];
  for (let i = 0; i < size; i++) members.push(await channels.subscribe('c', { group: 'g', handler: noop }));
  await quiet(); // what the setup left is collected before the clock starts
  const ms = await timed(async () => {
    for (const member of members) await member.close();
  });
  await channels.close();
  return ms;
}

/**
 * A backlog of `size` messages of one key (kept in order: each waits for the one before), then a
 * group that drains it: the cost per message should not depend on how many wait behind it.
 */
async function keyedBacklog(size: number): Promise<number> {
  const channels = new MemoryChannels({ nodeID: 'curve', options: { maxMessages: 2 * size } });
  for (let i = 0; i < size; i++) await channels.send('c', i, { key: 'one' });
  let handled = 0;
  await quiet();
  const ms = await timed(async () => {
    await channels.subscribe('c', { group: 'g', maxInFlight: 64, handler: () => void handled++ });
    await until(() => handled === size, `${size} keyed messages handled`);
  });
  await channels.close();
  return ms;
}

export const CHANNEL_PATHS: readonly Path[] = [
  {
    id: 'channel-subscriptions',
    label: 'channel subscriptions opened and closed, 1,000 open: heap retained',
    item: 'subscription',
    items: 'subscriptions',
    sizes: [q(10_000), q(100_000)],
    limit: 1.5,
    measure: 'bounded',
    run: subscriptionChurn,
  },
  {
    id: 'redrive-all',
    label: 'redrive(channel) of every dead letter',
    item: 'letter',
    items: 'letters',
    sizes: [q(5_000), q(50_000)],
    limit: 1.5,
    measure: 'time',
    run: redriveAll,
  },
  {
    id: 'redrive-one',
    label: 'redrive(channel, { ids: [id] }), one id per call',
    item: 'call',
    items: 'calls',
    sized: 'dead letters',
    sizes: [q(5_000), q(50_000)],
    limit: 1.5,
    measure: 'time',
    run: redriveOne,
  },
  {
    id: 'store-full',
    label: 'send at a full store (maxMessages), one message kept per channel',
    item: 'send',
    items: 'sends',
    sized: 'channels',
    sizes: [q(1_000), q(10_000)],
    // Each eviction takes the oldest handled head from a min-heap of channels: log n, as a sort.
    limit: 2,
    measure: 'time',
    run: storeFull,
  },
  {
    id: 'group-leave',
    label: 'members of one consumer group closing, oldest first',
    item: 'member',
    items: 'members',
    sizes: [q(20_000), q(200_000)],
    limit: 1.5,
    measure: 'time',
    run: groupLeave,
  },
  {
    id: 'keyed-backlog',
    label: 'a backlog of one key drained in order',
    item: 'message',
    items: 'messages',
    sizes: [q(10_000), q(100_000)],
    limit: 1.5,
    measure: 'time',
    run: keyedBacklog,
  },
];
