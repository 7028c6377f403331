import { describe, expect, it } from 'vitest';
import type { ChannelSubscription } from '../core/channels.js';
import { MemoryChannels } from './memory-channels.js';
import { eventually } from '../../../test/support/channel-contract.js';

/** The subscriptions the store still holds (a private field: the only way to see a leak without a heap snapshot). */
const held = (channels: MemoryChannels): number =>
  (channels as unknown as { subscriptions: unknown[] }).subscriptions.filter((s) => s !== undefined).length;

const failing = {
  maxRetries: 0,
  handler: (): never => {
    throw new Error('no');
  },
};

/** A store with dead letters d0…d<n-1> of channel `c`, group `g`, their subscription closed. */
async function withDeadLetters(n: number, options = {}): Promise<MemoryChannels> {
  const channels = new MemoryChannels({ nodeID: 'n', options });
  const sub = await channels.subscribe('c', { group: 'g', ...failing });
  for (let i = 0; i < n; i++) await channels.send('c', i, { id: `d${i}` });
  await eventually(() => channels.stats().deadLetters === n, `${n} dead letters`);
  await sub.close();
  return channels;
}

const ids = async (channels: MemoryChannels): Promise<(string | undefined)[]> =>
  (await channels.deadLetters('c', 10_000)).map((letter) => letter.id);

describe('MemoryChannels', () => {
  it('forgets a subscription once it is closed, and close() of the store still waits for the open ones', async () => {
    const channels = new MemoryChannels({ nodeID: 'n' });
    const subs: ChannelSubscription[] = [];
    for (let i = 0; i < 5; i++) subs.push(await channels.subscribe('c', { group: 'g', handler: () => undefined }));
    expect(held(channels)).toBe(5);
    for (const sub of subs.slice(0, 4)) await sub.close();
    expect(held(channels)).toBe(1);
    await (subs[1] as ChannelSubscription).close(); // a second close changes nothing
    expect(held(channels)).toBe(1);
    for (let i = 0; i < 1000; i++)
      await (await channels.subscribe('c', { group: 'g', handler: () => undefined })).close();
    expect(held(channels)).toBe(1);
    // The closed ones leave no slot behind either, beyond a bounded number of holes.
    expect((channels as unknown as { subscriptions: unknown[] }).subscriptions.length).toBeLessThan(200);
    let release!: () => void;
    let started = false;
    const slow = await channels.subscribe('d', {
      group: 'g',
      handler: () => {
        started = true;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await channels.send('d', 1);
    await eventually(() => started, 'the slow handler');
    let closed = false;
    const closing = channels.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(held(channels)).toBe(0);
    await slow.close();
  });

  it('redrives all dead letters in their order, and leaves the others in theirs', async () => {
    const channels = await withDeadLetters(6);
    await expect(channels.redrive('c', { ids: ['d4', 'd1', 'nope'] })).resolves.toEqual({
      redriven: 2,
      ids: ['d1', 'd4'],
    });
    expect(await ids(channels)).toEqual(['d0', 'd2', 'd3', 'd5']);
    await expect(channels.redrive('c', { ids: ['d1'] })).resolves.toEqual({ redriven: 0, ids: [] });
    await expect(channels.redrive('c', { group: 'other' })).resolves.toEqual({ redriven: 0, ids: [] });
    await expect(channels.redrive('c')).resolves.toEqual({ redriven: 4, ids: ['d0', 'd2', 'd3', 'd5'] });
    expect(await ids(channels)).toEqual([]);
    expect(channels.stats()).toMatchObject({ deadLetters: 0, deadLetterBytes: 0 });
    await channels.close();
  });

  it('redrives many letters one id at a time, each the right one, the others in order', async () => {
    const channels = await withDeadLetters(3000, { deadLetterMaxMessages: 3000 });
    const taken = new Set<string>();
    for (let k = 0; k < 2500; k++) {
      const id = `d${(k * 7) % 3000}`;
      const result = await channels.redrive('c', { ids: [id] });
      expect(result.ids).toEqual(taken.has(id) ? [] : [id]);
      taken.add(id);
    }
    const left = Array.from({ length: 3000 }, (_, i) => `d${i}`).filter((id) => !taken.has(id));
    expect(await ids(channels)).toEqual(left);
    expect(channels.stats().deadLetters).toBe(left.length);
    await channels.close();
  });

  it('at a full store, a redrive sends what fits, keeps the letters it could not send, and refuses', async () => {
    const channels = await withDeadLetters(4, { maxMessages: 6 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // A member that holds the first message: the next ones are not handled; d0's message is dropped for z.
    await channels.subscribe('c', { group: 'g', maxInFlight: 1, handler: () => gate });
    for (const data of ['x', 'y', 'z']) await channels.send('c', data);
    // Each re-drive drops one handled message (d1's, d2's, d3's): the fourth finds none and refuses.
    await expect(channels.redrive('c')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await ids(channels)).toEqual(['d3']);
    release();
    await channels.close();
  });

  it('at a full store, drops the oldest message every group has handled, over all channels', async () => {
    const channels = new MemoryChannels({ nodeID: 'n', options: { maxMessages: 4 } });
    const seen: string[] = [];
    let open!: () => void;
    const never = new Promise<void>((resolve) => (open = resolve));
    await channels.subscribe('a', { group: 'g', handler: () => never }); // not done until the end
    for (const channel of ['b', 'c']) {
      await channels.subscribe(channel, { group: 'g', handler: (m) => void seen.push(m.data as string) });
    }
    await channels.send('a', 'a0');
    await channels.send('b', 'b0');
    await channels.send('c', 'c0');
    await channels.send('c', 'c1');
    await eventually(() => seen.length === 3, 'b0, c0, c1 handled');
    await channels.send('c', 'c2'); // drops b0: a0 is older but not handled
    await eventually(() => seen.length === 4, 'c2 handled');
    // A group that joins b now holds its head: it is not dropped until that group has handled it.
    await channels.send('b', 'b1'); // drops c0
    await eventually(() => seen.length === 5, 'b1 handled');
    const late: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await channels.subscribe('b', {
      group: 'late',
      maxInFlight: 1,
      handler: async (m) => {
        late.push(m.data as string);
        await gate;
      },
    });
    await channels.send('c', 'c3'); // drops c1; b1 is not done for `late`
    await eventually(() => seen.length === 6, 'c3 handled');
    await channels.send('c', 'c4'); // drops c2
    await eventually(() => seen.length === 7, 'c4 handled');
    expect(late).toEqual(['b1']);
    release();
    await eventually(() => late.length === 1 && channels.stats().messages === 4, 'b1 handled by late');
    await new Promise((resolve) => setTimeout(resolve, 10));
    await channels.send('c', 'c5'); // now b1 (older than c3) goes
    const lateC: string[] = [];
    await channels.subscribe('c', { group: 'late', handler: (m) => void lateC.push(m.data as string) });
    await eventually(() => lateC.length === 3, 'what c keeps');
    expect(lateC).toEqual(['c3', 'c4', 'c5']);
    const lateB: string[] = [];
    await channels.subscribe('b', { group: 'later', handler: (m) => void lateB.push(m.data as string) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(lateB).toEqual([]);
    open();
    await channels.close();
  });

  it('members of a group leaving keep the round robin among the others, in subscription order', async () => {
    const channels = new MemoryChannels({ nodeID: 'n' });
    const got: string[] = [];
    const subs = new Map<string, ChannelSubscription>();
    for (const name of ['A', 'B', 'C', 'D', 'E']) {
      const handler = (m: { data: unknown }): void => void got.push(`${String(m.data)}:${name}`);
      subs.set(name, await channels.subscribe('c', { group: 'g', handler }));
    }
    // Sent in one go: each is handed to the next member in turn (a look for work with none to hand
    // out passes the turn on too, as before).
    for (let i = 1; i <= 5; i++) void channels.send('c', i);
    await eventually(() => got.length === 5, 'five deliveries');
    expect(got.sort()).toEqual(['1:E', '2:B', '3:D', '4:A', '5:C']);
    // A and C leave: nothing more for them, and the others still take turns, one message each.
    void subs.get('A')?.close();
    void subs.get('C')?.close();
    got.length = 0;
    for (let i = 6; i <= 8; i++) void channels.send('c', i);
    await eventually(() => got.length === 3, 'three more deliveries');
    expect(got.map((d) => d.split(':')[1]).sort()).toEqual(['B', 'D', 'E']);
    // Every member leaving, then one joining: it gets what comes.
    for (const name of ['B', 'D', 'E']) void subs.get(name)?.close();
    await channels.subscribe('c', { group: 'g', handler: (m) => void got.push(`${String(m.data)}:F`) });
    await channels.send('c', 9);
    await eventually(() => got.length === 4, 'the newcomer');
    expect(got[3]).toBe('9:F');
    await channels.close();
  });
});
