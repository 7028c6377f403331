// The contract of durable channels, run against every implementation: the in-process one
// (test/channels-memory.test.ts) and JetStream (test/nats-channels.test.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelContext, ChannelPending, Channels, EventBus, EventContext } from 'kindling/events';

/** The nodes of one run: node 0 sends; nodes 1… are more members (the same bus in one process). */
export interface ChannelWorld {
  readonly bus: (node: number) => EventBus;
  readonly close: () => Promise<void>;
}

/** Resolves once `check` holds (polled every 5 ms); fails after `ms` naming `what`. */
export async function eventually(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves once the asynchronous `check` holds (polled every 20 ms); fails after `ms` naming `what`. */
async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Runs the channel contract against the implementation `makeWorld` sets up. */
export function channelContract(label: string, makeWorld: () => Promise<ChannelWorld>, skip = false): void {
  describe.skipIf(skip)(`durable channels contract: ${label}`, () => {
    let world: ChannelWorld;
    let n = 0;
    /** A channel name of its own for each test (a JetStream stream is shared by the file). */
    const fresh = (name: string): string => `${name}-${++n}`;
    const ch = (node: number): Channels => world.bus(node).channels;
    const subs: { close(): Promise<void> }[] = [];
    const subscribe: Channels['subscribe'] = async (channel, options) => {
      const sub = await ch(0).subscribe(channel, options);
      subs.push(sub);
      return sub;
    };
    const subscribeOn = async (
      node: number,
      ...args: Parameters<Channels['subscribe']>
    ): ReturnType<Channels['subscribe']> => {
      const sub = await ch(node).subscribe(...args);
      subs.push(sub);
      return sub;
    };

    beforeAll(async () => {
      world = await makeWorld();
    });
    // Each test closes its members (a JetStream consumer keeps timers while it runs).
    afterEach(async () => {
      for (const sub of subs.splice(0)) await sub.close();
    });
    afterAll(async () => {
      await world?.close();
    });

    it('delivers every message once to a handler that succeeds, with its id, key, source and attempt 1', async () => {
      const channel = fresh('plain');
      const seen: ChannelContext[] = [];
      await subscribe(channel, { group: 'g', handler: (m) => void seen.push(m) });
      for (let i = 0; i < 20; i++) await ch(0).send(channel, { i }, { id: `m-${i}`, ...(i % 2 ? { key: 'k' } : {}) });
      await eventually(() => seen.length >= 20, '20 messages');
      await sleep(100);
      expect(seen).toHaveLength(20);
      const first = seen.find((m) => m.id === 'm-1') as ChannelContext;
      expect(first).toMatchObject({
        channel,
        data: { i: 1 },
        params: { i: 1 },
        key: 'k',
        attempt: 1,
        group: 'g',
        source: world.bus(0).nodeID,
        nodeID: world.bus(0).nodeID,
        meta: {},
        traceparent: undefined,
        requestID: 'm-1',
        parentID: undefined,
      });
      expect(typeof first.time).toBe('number');
    });

    it('keeps messages sent before a group subscribes; a group that subscribes later gets them too', async () => {
      const channel = fresh('early');
      for (let i = 0; i < 5; i++) await ch(0).send(channel, i);
      const a: unknown[] = [];
      await subscribe(channel, { group: 'a', handler: (m) => void a.push(m.data) });
      await eventually(() => a.length >= 5, 'group a to get the 5 early messages');
      const b: unknown[] = [];
      await subscribe(channel, { group: 'b', handler: (m) => void b.push(m.data) });
      await eventually(() => b.length >= 5, 'group b, subscribing later, to get them');
      expect([...a].sort()).toEqual([0, 1, 2, 3, 4]);
      expect([...b].sort()).toEqual([0, 1, 2, 3, 4]);
    });

    it('gives each message to one member of each group', async () => {
      const channel = fresh('groups');
      const g: string[] = [];
      const h: string[] = [];
      await subscribeOn(0, channel, { group: 'g', handler: (m) => void g.push(m.id) });
      await subscribeOn(1, channel, { group: 'g', handler: (m) => void g.push(m.id) });
      await subscribeOn(1, channel, { group: 'h', handler: (m) => void h.push(m.id) });
      for (let i = 0; i < 30; i++) await ch(0).send(channel, i, { id: `x${i}` });
      await eventually(() => g.length >= 30 && h.length >= 30, 'both groups');
      await sleep(100);
      expect(new Set(g).size).toBe(30);
      expect(g).toHaveLength(30);
      expect(h).toHaveLength(30);
    });

    it('retries a failing handler with backoff and does not dead-letter it once it succeeds', async () => {
      const channel = fresh('flaky');
      const attempts: number[] = [];
      const backoffs: number[] = [];
      await subscribe(channel, {
        group: 'g',
        maxRetries: 3,
        backoffMs: (attempt) => {
          backoffs.push(attempt);
          return 5;
        },
        handler: (m) => {
          attempts.push(m.attempt);
          if (m.attempt < 3) throw new Error(`not yet (${m.attempt})`);
        },
      });
      await ch(0).send(channel, 'x');
      await eventually(() => attempts.length >= 3, 'three attempts');
      await sleep(100);
      expect(attempts).toEqual([1, 2, 3]);
      expect(backoffs).toEqual([1, 2]);
      expect(await ch(0).deadLetters(channel)).toEqual([]);
    });

    it('dead-letters a message after maxRetries with the last error, its id, group, meta and trace', async () => {
      const channel = fresh('dead');
      let calls = 0;
      await subscribe(channel, {
        group: 'g',
        maxRetries: 2,
        backoffMs: 1,
        handler: (m) => {
          calls++;
          throw new Error(`refused ${JSON.stringify(m.data)} (${m.attempt})`);
        },
      });
      await ch(0).send(channel, { n: 9 }, { id: 'pay-9', meta: { tenant: 't1' }, traceparent: TRACEPARENT });
      await eventually(() => calls >= 3, 'three attempts');
      let letters: Awaited<ReturnType<Channels['deadLetters']>> = [];
      for (let i = 0; i < 200 && letters.length === 0; i++) {
        letters = await ch(0).deadLetters(channel);
        if (letters.length === 0) await sleep(10);
      }
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        channel,
        group: 'g',
        attempts: 3,
        id: 'pay-9',
        error: 'refused {"n":9} (3)',
      });
      expect(JSON.parse(letters[0]?.body as string)).toMatchObject({ data: { n: 9 } });
      expect(letters[0]?.headers).toMatchObject({ traceparent: TRACEPARENT });
      expect(typeof letters[0]?.seq).toBe('number');
      expect(letters[0]?.time).toBeGreaterThan(0);
      expect(await ch(0).deadLetterCounts()).toMatchObject({ [channel]: 1 });
    });

    it('handles the messages of one key in order, one at a time, through failures', async () => {
      const channel = fresh('keyed');
      const order = new Map<string, number[]>();
      const running = new Set<string>();
      let overlap = false;
      let failedOnce = false;
      await subscribe(channel, {
        group: 'g',
        backoffMs: 5,
        handler: async (m) => {
          const key = m.key as string;
          if (running.has(key)) overlap = true;
          running.add(key);
          await sleep(1 + ((m.data as number) % 3));
          running.delete(key);
          if (m.data === 4 && !failedOnce) {
            failedOnce = true;
            throw new Error('once');
          }
          order.set(key, [...(order.get(key) ?? []), m.data as number]);
        },
      });
      for (let i = 0; i < 30; i++) await ch(0).send(channel, i, { key: `k${i % 3}` });
      await eventually(() => [...order.values()].reduce((s, l) => s + l.length, 0) >= 30, '30 keyed messages');
      expect(overlap).toBe(false);
      for (const [key, list] of order) {
        const k = Number(key.slice(1));
        expect(list).toEqual(Array.from({ length: 10 }, (_, j) => j * 3 + k));
      }
    });

    it('handles at most maxInFlight messages at once per member', async () => {
      const channel = fresh('inflight');
      let now = 0;
      let peak = 0;
      let done = 0;
      await subscribe(channel, {
        group: 'g',
        maxInFlight: 3,
        handler: async () => {
          peak = Math.max(peak, ++now);
          await sleep(20);
          now--;
          done++;
        },
      });
      for (let i = 0; i < 12; i++) await ch(0).send(channel, i);
      await eventually(() => done >= 12, '12 messages');
      expect(peak).toBe(3);
    });

    it('gives a message whose handler hangs past ackWaitMs to another delivery', async () => {
      const channel = fresh('hang');
      const attempts: number[] = [];
      let release: () => void = () => undefined;
      const hung = new Promise<void>((resolve) => {
        release = resolve;
      });
      await subscribe(channel, {
        group: 'g',
        ackWaitMs: 300,
        handler: async (m) => {
          attempts.push(m.attempt);
          if (m.attempt === 1) await hung;
        },
      });
      await ch(0).send(channel, 'slow');
      await eventually(() => attempts.length >= 2, 'the redelivery');
      release();
      expect(attempts.slice(0, 2)).toEqual([1, 2]);
    });

    it('stores a message sent twice with the same id once', async () => {
      const channel = fresh('dedupe');
      const seen: unknown[] = [];
      await ch(0).send(channel, 1, { id: 'same' });
      await ch(0).send(channel, 1, { id: 'same' });
      await ch(0).send(channel, 2, { id: 'other' });
      await subscribe(channel, { group: 'g', handler: (m) => void seen.push(m.data) });
      await eventually(() => seen.includes(2), 'the second message');
      await sleep(100);
      expect(seen.sort()).toEqual([1, 2]);
    });

    it('carries meta and trace context, and a handler context passes them on', async () => {
      const first = fresh('ctx-a');
      const second = fresh('ctx-b');
      const got: ChannelContext[] = [];
      const events: EventContext[] = [];
      const service = world.bus(0).createService({
        name: `audit${n}`,
        events: {
          [`${second}.audited`](ctx: EventContext) {
            events.push(ctx);
          },
        },
      });
      await subscribe(first, {
        group: 'g',
        handler: async (m) => {
          got.push(m);
          await m.send(second, 'next', { meta: { step: 2 } });
          m.emit(`${second}.audited`, 'seen', { meta: { via: 'event' } });
        },
      });
      await subscribe(second, { group: 'g', handler: (m) => void got.push(m) });
      await ch(0).send(first, 'start', {
        id: 'root',
        meta: { user: 'taylor', step: 1 },
        traceparent: TRACEPARENT,
        tracestate: 'vendor=1',
      });
      await eventually(() => got.length >= 2 && events.length >= 1, 'both messages and the event');
      const [a, b] = got as [ChannelContext, ChannelContext];
      expect(a).toMatchObject({
        meta: { user: 'taylor', step: 1 },
        traceparent: TRACEPARENT,
        tracestate: 'vendor=1',
        requestID: 'root',
      });
      expect(b).toMatchObject({
        channel: second,
        meta: { user: 'taylor', step: 2 },
        traceparent: TRACEPARENT,
        tracestate: 'vendor=1',
        parentID: 'root',
        requestID: 'root',
        caller: 'g',
      });
      // The event continues the trace (in its meta, where handlers read it) and names its parent.
      expect(events[0]?.meta).toEqual({
        traceparent: TRACEPARENT,
        tracestate: 'vendor=1',
        user: 'taylor',
        step: 1,
        via: 'event',
      });
      expect(events[0]).toMatchObject({ parentID: a.id, requestID: 'root', caller: 'g' });
      await world.bus(0).destroyService(service);
    });

    it('takes meta and trace context from an event handler context', async () => {
      const channel = fresh('from-event');
      const got: ChannelContext[] = [];
      await subscribe(channel, { group: 'g', handler: (m) => void got.push(m) });
      const service = world.bus(0).createService({
        name: `orders${n}`,
        events: {
          [`${channel}.placed`](ctx: EventContext) {
            void world.bus(0).channels.send(channel, ctx.params, { parentCtx: ctx });
          },
        },
      });
      world.bus(0).emit(`${channel}.placed`, { order: 1 }, { meta: { traceparent: TRACEPARENT, user: 'kim' } });
      await eventually(() => got.length >= 1, 'the message');
      expect(got[0]).toMatchObject({
        data: { order: 1 },
        meta: { traceparent: TRACEPARENT, user: 'kim' },
        traceparent: TRACEPARENT,
        caller: `orders${n}`,
      });
      expect(got[0]?.parentID).toBeTypeOf('string');
      await world.bus(0).destroyService(service);
    });

    it('re-drives dead letters to the group that gave up on them only: all, by id, by age', async () => {
      const channel = fresh('redrive');
      let failing = true;
      const a: ChannelContext[] = [];
      const b: string[] = [];
      await subscribe(channel, {
        group: 'a',
        maxRetries: 0,
        handler: (m) => {
          if (failing && m.data !== 'marker') throw new Error(`down (${m.id})`);
          a.push(m);
        },
      });
      await subscribe(channel, { group: 'b', handler: (m) => void b.push(m.id) });
      const letters = async (count: number): Promise<void> => {
        for (let i = 0; i < 500; i++) {
          if ((await ch(0).deadLetters(channel)).length >= count) return;
          await sleep(10);
        }
        throw new Error(`timed out waiting for ${count} dead letters`);
      };
      await ch(0).send(channel, 'old-1', { id: 'o1' });
      await ch(0).send(channel, 'old-2', { id: 'o2', meta: { m: 1 }, traceparent: TRACEPARENT, key: 'kk' });
      await letters(2);
      await sleep(1000);
      await ch(0).send(channel, 'new-1', { id: 'n1' });
      await ch(0).send(channel, 'new-2', { id: 'n2' });
      await letters(4);
      failing = false;

      expect(await ch(0).redrive(channel, { olderThanMs: 800 })).toEqual({ redriven: 2, ids: ['o1', 'o2'] });
      expect(await ch(0).redrive(channel, { ids: ['n2'] })).toEqual({ redriven: 1, ids: ['n2'] });
      expect((await ch(0).deadLetters(channel)).map((l) => l.id)).toEqual(['n1']);
      expect(await ch(0).redrive(channel)).toEqual({ redriven: 1, ids: ['n1'] });
      await ch(0).send(channel, 'marker', { id: 'marker' });
      await eventually(() => a.length >= 5 && b.includes('marker'), 'the re-driven messages and the marker');
      expect(a.map((m) => m.id).sort()).toEqual(['marker', 'n1', 'n2', 'o1', 'o2']);
      expect(a.find((m) => m.id === 'o2')).toMatchObject({
        data: 'old-2',
        key: 'kk',
        meta: { m: 1 },
        traceparent: TRACEPARENT,
        attempt: 1,
      });
      await sleep(100);
      expect(b.sort()).toEqual(['marker', 'n1', 'n2', 'o1', 'o2']);
      expect(await ch(0).deadLetters(channel)).toEqual([]);
    });

    it('refuses a bad send or subscription with INVALID', async () => {
      const channel = fresh('bad');
      await expect(ch(0).send(channel, 1, { traceparent: 'nope' })).rejects.toMatchObject({ code: 'INVALID' });
      await expect(ch(0).send(channel, 1, { meta: [] as unknown as Record<string, unknown> })).rejects.toMatchObject({
        code: 'INVALID',
      });
      await expect(ch(0).send(channel, 1n)).rejects.toMatchObject({ code: 'INVALID' });
      await expect(ch(0).send('', 1)).rejects.toMatchObject({ code: 'INVALID' });
      await expect(ch(0).subscribe(channel, { group: '', handler: () => undefined })).rejects.toMatchObject({
        code: 'INVALID',
      });
    });

    it('counts what each group has not acknowledged, waiting and in flight, down to none', async () => {
      const channel = fresh('pending');
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let started = 0;
      await subscribe(channel, {
        group: 'slow',
        maxInFlight: 2,
        handler: async () => {
          started++;
          await gate;
        },
      });
      // A group with no member left: its messages wait for the next.
      const idle = await ch(0).subscribe(channel, { group: 'idle', handler: () => undefined });
      await idle.close();
      const counts = async (): Promise<ChannelPending[]> =>
        (await ch(0).pendingCounts()).filter((p) => p.channel === channel);
      expect(await counts()).toEqual([
        { channel, group: 'idle', waiting: 0, inFlight: 0 },
        { channel, group: 'slow', waiting: 0, inFlight: 0 },
      ]);
      for (let i = 0; i < 10; i++) await ch(0).send(channel, { i }, i % 3 === 0 ? { key: `k${i}` } : {});
      await eventually(() => started >= 2, 'two handlers to start');
      await until(async () => {
        const [idleCounts, slow] = await counts();
        return (
          idleCounts?.waiting === 10 && slow !== undefined && slow.waiting + slow.inFlight === 10 && slow.inFlight >= 2
        );
      }, 'ten pending in each group, some in flight');
      release();
      await until(async () => {
        const [, slow] = await counts();
        return slow?.waiting === 0 && slow.inFlight === 0;
      }, 'the slow group to drain');
      expect(started).toBe(10);
      expect((await counts())[0]).toEqual({ channel, group: 'idle', waiting: 10, inFlight: 0 });
    });

    it('close() waits for the messages in hand', async () => {
      const channel = fresh('closing');
      let finished = false;
      let started = false;
      const sub = await ch(0).subscribe(channel, {
        group: 'g',
        handler: async () => {
          started = true;
          await sleep(100);
          finished = true;
        },
      });
      await ch(0).send(channel, 1);
      await eventually(() => started, 'the handler to start');
      await sub.close();
      expect(finished).toBe(true);
    });
  });
}
