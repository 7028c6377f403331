import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootTestApp } from 'kindling/testing';
import type { TestApp } from 'kindling/testing';
import { EventBus } from 'kindling/events';
import { ReactiveEntries } from './index.js';

interface Call {
  readonly fn: string;
  readonly input: unknown;
  readonly meta: Record<string, unknown>;
  readonly caller: Record<string, unknown> | undefined;
}

declare global {
  var __reactiveCalls: Call[] | undefined;
}

const calls = (): Call[] => (globalThis.__reactiveCalls ??= []);
const callsOf = (fn: string): Call[] => calls().filter((call) => call.fn === fn);

/** Resolves once `check` holds, polling every few ms (never a wall-time assertion: a test timeout bounds it). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

const FUNCTIONS = `
const record = (input, ctx) => { (globalThis.__reactiveCalls ??= []).push({ fn: ctx.id, input, meta: ctx.meta, caller: ctx.caller }); };
export { record };
export const declined = (input, ctx) => { record(input, ctx); throw new Error('card declined'); };
export const forward = async (input, ctx) => {
  record(input, ctx);
  ctx.emit('forwarded.event', input, { meta: { hop: 1 } });
  await ctx.channels.send('forwarded-channel', input);
};
export const slow = async (input, ctx) => {
  record(input, ctx);
  globalThis.__reactiveRunning = (globalThis.__reactiveRunning ?? 0) + 1;
  globalThis.__reactiveMaxRunning = Math.max(globalThis.__reactiveMaxRunning ?? 0, globalThis.__reactiveRunning);
  await new Promise((resolve) => setTimeout(resolve, 60));
  globalThis.__reactiveRunning--;
};
`;

const FUNCS = `
  - { name: record, kind: function.js, file: ./functions.js, export: record }
  - { name: declined, kind: function.js, file: ./functions.js, export: declined }
  - { name: forward, kind: function.js, file: ./functions.js, export: forward }
  - { name: slow, kind: function.js, file: ./functions.js, export: slow }
`;

describe('reactive component', () => {
  let app: TestApp;
  const bus = (): EventBus => app.get<EventBus>(EventBus);
  const running = (): ReturnType<ReactiveEntries['describe']> => app.get<ReactiveEntries>(ReactiveEntries).describe();

  beforeEach(async () => {
    globalThis.__reactiveCalls = [];
    app = await bootTestApp({ components: ['function', 'reactive'] });
    await app.write('functions.js', FUNCTIONS);
    await app.expectAccepted(`entries:${FUNCS}`);
  });
  afterEach(async () => {
    await app.shutdown();
  });

  describe('event.listener', () => {
    it('calls its function with the payload, the meta and who called, for the events its pattern matches', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: on-order, kind: event.listener, pattern: "shop.order.*", func: record }\n',
      );
      bus().emit('shop.order.created', { id: 1 }, { meta: { user: 'ada' } });
      bus().emit('shop.other', { id: 2 });
      await until(() => callsOf('test:record').length === 1);
      const [call] = callsOf('test:record');
      expect(call?.input).toEqual({ id: 1 });
      expect(call?.meta).toMatchObject({ user: 'ada' });
      expect(call?.caller).toMatchObject({ kind: 'event.listener', id: 'test:on-order', event: 'shop.order.created' });
    });

    it('validates params with a fastest-validator schema before the call', async () => {
      await app.expectAccepted(
        'entries:\n  - name: checked\n    kind: event.listener\n    pattern: checked.event\n    func: record\n    params: { qty: "number|min:1" }\n',
      );
      bus().emit('checked.event', { qty: 0 });
      bus().emit('checked.event', { qty: 3 });
      await until(() => callsOf('test:record').length === 1);
      expect(callsOf('test:record').map((call) => call.input)).toEqual([{ qty: 3 }]);
    });

    it('balances an emit within a group and lets a broadcast reach every member', async () => {
      await app.expectAccepted(
        'entries:\n' +
          '  - { name: a, kind: event.listener, pattern: work.item, group: workers, func: record }\n' +
          '  - { name: b, kind: event.listener, pattern: work.item, group: workers, func: record }\n',
      );
      for (let i = 0; i < 4; i++) bus().emit('work.item', { i });
      await until(() => callsOf('test:record').length === 4);
      const byListener = (id: string): number => callsOf('test:record').filter((c) => c.caller?.['id'] === id).length;
      expect(byListener('test:a') + byListener('test:b')).toBe(4);
      expect(byListener('test:a')).toBeGreaterThan(0);
      expect(byListener('test:b')).toBeGreaterThan(0);
      globalThis.__reactiveCalls = [];
      bus().broadcast('work.item', { all: true });
      await until(() => callsOf('test:record').length === 2);
    });

    it('gives the function emit and channels.send that carry the meta on', async () => {
      const seen: unknown[] = [];
      bus().on('forwarded.event', (payload) => void seen.push(payload));
      await app.expectAccepted(
        'entries:\n  - { name: fwd, kind: event.listener, pattern: start.forward, func: forward }\n' +
          '  - { name: fwd-consumer, kind: channel.consumer, channel: forwarded-channel, func: record }\n',
      );
      bus().emit('start.forward', { n: 7 }, { meta: { tenant: 't1' } });
      await until(() => callsOf('test:record').length === 1);
      expect(seen).toEqual([{ n: 7 }]);
      const [consumed] = callsOf('test:record');
      expect(consumed?.input).toEqual({ n: 7 });
      expect(consumed?.meta).toMatchObject({ tenant: 't1' });
      expect(consumed?.caller).toMatchObject({ kind: 'channel.consumer', channel: 'forwarded-channel' });
    });
  });

  describe('refusals', () => {
    it('refuses a function that does not exist, naming the entry and the field', async () => {
      const error = await app.expectRefused(
        'entries:\n  - { name: lost, kind: event.listener, pattern: a.b, func: nowhere }\n',
        /event\.listener test:lost: function test:nowhere does not exist/,
      );
      expect(String((error.cause as Error | undefined)?.message ?? error.message)).toMatch(/snippet-\d+\.yaml:\d+:\d+/);
    });

    it('refuses a func that names an entry of another kind', async () => {
      await app.expectAccepted('entries:\n  - { name: l1, kind: event.listener, pattern: a.b, func: record }\n');
      await app.expectRefused(
        'entries:\n  - { name: l2, kind: event.listener, pattern: a.b, func: l1 }\n',
        /test:l1 is a event\.listener, not a function/,
      );
    });

    it.each([
      ['a bad pattern', 'kind: event.listener, pattern: "a..b", func: record', /pattern.*empty segment/],
      [
        'a bad params schema',
        'kind: event.listener, pattern: a.b, func: record, params: { qty: strang }',
        /params is not a fastest-validator schema: Invalid 'strang' type/,
      ],
      [
        'a bad cron expression',
        'kind: timer.cron, cron: "61 * * * *", func: record',
        /"61 \* \* \* \*" is not a cron schedule croner reads: .*minute/,
      ],
      [
        'an unknown time zone',
        'kind: timer.cron, cron: "0 9 * * *", timezone: Mars/Base, func: record',
        /in "Mars\/Base" is not a cron schedule/,
      ],
      ['a bad interval', 'kind: timer.interval, every: soon, func: record', /"soon" is not a duration/],
      ['a bad overlap policy', 'kind: timer.interval, every: 1s, overlap: sometimes, func: record', /overlap/],
      [
        'a bad channel name',
        'kind: channel.consumer, channel: "pay ments", func: record',
        /channel must be dot-separated words/,
      ],
      ['an unknown key', 'kind: channel.consumer, channel: payments, func: record, retries: 3', /retries/],
    ])('refuses %s, with the entry id and the field', async (_what, data, message) => {
      const error = await app.expectRefused(`entries:\n  - { name: bad, ${data} }\n`, message);
      expect(
        JSON.stringify(error.details) + error.message + String((error.cause as Error | undefined)?.message),
      ).toContain('test:bad');
    });

    it('refuses deleting a function a listener still calls, and accepts it with the listener', async () => {
      await app.expectAccepted('entries:\n  - { name: l, kind: timer.interval, every: 1h, func: record }\n');
      await expect(app.remove('test:record')).rejects.toThrow(/timer\.interval test:l still call it/);
      await app.remove('test:record', 'test:l');
      expect(running()).toEqual({});
    });

    it('lists every caller of a function, dead-letter ones too, in the order they were added', async () => {
      await app.expectAccepted('entries:\n  - { name: z-first, kind: event.listener, pattern: a.b, func: record }\n');
      await app.expectAccepted(
        'entries:\n  - { name: a-second, kind: channel.consumer, channel: cards, func: declined, deadLetter: record }\n',
      );
      await expect(app.remove('test:record')).rejects.toThrow(
        'function.js test:record cannot be deleted: event.listener test:z-first, channel.consumer test:a-second still call it',
      );
      await expect(app.remove('test:declined')).rejects.toThrow(/channel\.consumer test:a-second still call it/);
      await app.remove('test:forward', 'test:slow');
    });

    it('follows a listener to its new function: the old one can go, the new one cannot', async () => {
      await app.expectAccepted('entries:\n  - { name: l, kind: event.listener, pattern: a.b, func: record }\n');
      await app.expectAccepted('entries:\n  - { name: l, kind: event.listener, pattern: a.b, func: forward }\n');
      await app.remove('test:record');
      await expect(app.remove('test:forward')).rejects.toThrow(/event\.listener test:l still call it/);
      await app.remove('test:forward', 'test:l');
      expect(running()).toEqual({});
    });

    it('leaves listeners, consumers and timers as they were when a batch is refused', async () => {
      await app.expectAccepted(
        'entries:\n' +
          '  - { name: l, kind: event.listener, pattern: keep.me, func: record }\n' +
          '  - { name: t, kind: timer.interval, every: 1h, func: record }\n' +
          '  - { name: c, kind: channel.consumer, channel: kept, func: record }\n',
      );
      const before = running();
      await app.expectRefused(
        'entries:\n' +
          '  - { name: l, kind: event.listener, pattern: moved.away, func: record }\n' +
          '  - { name: t, kind: timer.interval, every: 20ms, func: record }\n' +
          '  - { name: n, kind: timer.interval, every: 20ms, func: record }\n' +
          '  - { name: broken, kind: timer.cron, cron: "not cron", func: record }\n',
        /not a cron schedule/,
      );
      expect(running()).toEqual(before);
      bus().emit('moved.away', { lost: true });
      bus().emit('keep.me', { kept: true });
      await bus().channels.send('kept', { also: true });
      await until(() => callsOf('test:record').length === 2);
      expect(callsOf('test:record').map((call) => call.input)).toEqual(
        expect.arrayContaining([{ kept: true }, { also: true }]),
      );
    });
  });

  describe('channel.consumer', () => {
    it('dead-letters a message whose function keeps throwing, with the error, and calls the deadLetter function', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: pay, kind: channel.consumer, channel: cards, func: declined, maxRetries: 1, backoff: 1, deadLetter: record }\n',
      );
      await bus().channels.send('cards', { card: '4000-0000' }, { id: 'm1' });
      await until(() => callsOf('test:record').length === 1);
      expect(callsOf('test:declined')).toHaveLength(2);
      expect(callsOf('test:record')[0]?.input).toMatchObject({
        channel: 'cards',
        id: 'm1',
        data: { card: '4000-0000' },
        attempts: 2,
        error: 'card declined',
      });
      const letters = await bus().channels.deadLetters('cards');
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        id: 'm1',
        group: 'test:pay',
        error: expect.stringContaining('card declined'),
      });
    });

    it('moves to another channel when the entry changes, at commit', async () => {
      await app.expectAccepted('entries:\n  - { name: c, kind: channel.consumer, channel: first, func: record }\n');
      await app.expectAccepted('entries:\n  - { name: c, kind: channel.consumer, channel: second, func: record }\n');
      await bus().channels.send('second', { to: 'second' });
      await until(() => callsOf('test:record').length === 1);
      expect(callsOf('test:record')[0]?.input).toEqual({ to: 'second' });
    });
  });

  describe('timers', () => {
    it('calls the function on its interval, and a removed timer stops firing', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: tick, kind: timer.interval, every: 20ms, func: record, input: { say: hi } }\n' +
          '  - { name: clock, kind: timer.interval, every: 20ms, func: slow }\n',
      );
      const ticks = (): Call[] => callsOf('test:record');
      await until(() => ticks().length >= 2);
      expect(ticks()[0]?.input).toMatchObject({ timer: 'test:tick', input: { say: 'hi' } });
      expect(ticks()[0]?.caller).toMatchObject({ kind: 'timer.interval', id: 'test:tick' });
      await app.remove('test:tick');
      const after = ticks().length;
      // The clock timer keeps firing: several of its ticks pass with none of the removed one.
      const clockAt = callsOf('test:slow').length;
      await until(() => callsOf('test:slow').length >= clockAt + 3);
      expect(ticks().length).toBe(after);
      expect(Object.keys(running())).toEqual(['test:clock']);
    });

    it('skips a tick while the last call runs (overlap: skip, the default)', async () => {
      // A slow call of the test before (its app is gone) may still be running: wait it out.
      await until(() => (globalThis.__reactiveRunning ?? 0) === 0);
      globalThis.__reactiveMaxRunning = 0;
      await app.expectAccepted('entries:\n  - { name: busy, kind: timer.interval, every: 10ms, func: slow }\n');
      await until(() => (running()['test:busy']?.skipped ?? 0) >= 3 && callsOf('test:slow').length >= 2);
      expect(globalThis.__reactiveMaxRunning).toBe(1);
    });

    it('runs ticks side by side with overlap: allow', async () => {
      // A slow call of the test before (its app is gone) may still be running: wait it out.
      await until(() => (globalThis.__reactiveRunning ?? 0) === 0);
      globalThis.__reactiveMaxRunning = 0;
      await app.expectAccepted(
        'entries:\n  - { name: busy, kind: timer.interval, every: 10ms, overlap: allow, func: slow }\n',
      );
      await until(() => (globalThis.__reactiveMaxRunning ?? 0) >= 2);
      expect(running()['test:busy']?.skipped).toBe(0);
    });

    it('queues one tick with overlap: queue-one and skips the rest', async () => {
      // A slow call of the test before (its app is gone) may still be running: wait it out.
      await until(() => (globalThis.__reactiveRunning ?? 0) === 0);
      globalThis.__reactiveMaxRunning = 0;
      await app.expectAccepted(
        'entries:\n  - { name: busy, kind: timer.interval, every: 10ms, overlap: queue-one, func: slow }\n',
      );
      await until(() => callsOf('test:slow').length >= 3 && (running()['test:busy']?.skipped ?? 0) >= 1);
      expect(globalThis.__reactiveMaxRunning).toBe(1);
    });

    it('runs a cron schedule with seconds', async () => {
      await app.expectAccepted(
        'entries:\n  - { name: every-second, kind: timer.cron, cron: "* * * * * *", func: record }\n',
      );
      await until(() => callsOf('test:record').length >= 1);
      expect(callsOf('test:record')[0]?.input).toMatchObject({ timer: 'test:every-second' });
      expect(String((callsOf('test:record')[0]?.input as { scheduledAt: string }).scheduledAt)).toMatch(/:\d\d\.000Z$/);
    });
  });
});

declare global {
  var __reactiveRunning: number | undefined;
  var __reactiveMaxRunning: number | undefined;
}
