import { describe, expect, it, vi } from 'vitest';
import { EventChannel, type ChannelHooks, type ChannelOverflow, type OverflowPolicy } from './event-channel.js';

function channel(capacity: number, overflow: OverflowPolicy = 'drop-oldest') {
  const reports: ChannelOverflow[] = [];
  const onDrop = vi.fn();
  const onReturn = vi.fn();
  const hooks: ChannelHooks = { onOverflow: (o) => reports.push(o), onDrop, onReturn };
  return { ch: new EventChannel<number>(capacity, overflow, hooks), reports, hooks: { onDrop, onReturn } };
}

async function drain(ch: EventChannel<number>): Promise<number[]> {
  const out: number[] = [];
  for (let r = ch.tryReceive(); r.ok; r = ch.tryReceive()) out.push(r.value);
  return out;
}

describe('EventChannel', () => {
  describe('.receive', () => {
    it('returns buffered values in the order they were offered', async () => {
      const { ch } = channel(4);
      [1, 2, 3].forEach((v) => ch.offer(v));
      expect([await ch.receive(), await ch.receive(), await ch.receive()]).toEqual([
        { value: 1, ok: true },
        { value: 2, ok: true },
        { value: 3, ok: true },
      ]);
    });

    it('waits for the next value when the buffer is empty', async () => {
      const { ch } = channel(4);
      const pending = ch.receive();
      ch.offer(7);
      await expect(pending).resolves.toEqual({ value: 7, ok: true });
    });

    it('answers ok: false to a waiting reader when the channel ends', async () => {
      const { ch } = channel(4);
      const pending = ch.receive();
      ch.end();
      await expect(pending).resolves.toEqual({ value: undefined, ok: false });
    });

    it('still yields values buffered before the end, then ok: false', async () => {
      const { ch } = channel(4);
      ch.offer(1);
      ch.end();
      expect(await ch.receive()).toEqual({ value: 1, ok: true });
      expect(await ch.receive()).toEqual({ value: undefined, ok: false });
    });
  });

  describe('.offer', () => {
    it('drops the oldest value when full under drop-oldest, and reports it', async () => {
      const { ch, reports, hooks } = channel(2, 'drop-oldest');
      [1, 2, 3].forEach((v) => ch.offer(v));
      expect(await drain(ch)).toEqual([2, 3]);
      expect(ch.dropped).toBe(1);
      expect(hooks.onDrop).toHaveBeenCalledTimes(1);
      expect(reports).toEqual([{ policy: 'drop-oldest', capacity: 2, episodeDrops: 1, totalDrops: 1, drained: false }]);
    });

    it('drops the arriving value when full under drop-newest', async () => {
      const { ch } = channel(2, 'drop-newest');
      [1, 2, 3].forEach((v) => ch.offer(v));
      expect(await drain(ch)).toEqual([1, 2]);
      expect(ch.dropped).toBe(1);
    });

    it('refuses the arriving value when full under error, dropping nothing', async () => {
      const { ch, reports } = channel(2, 'error');
      expect([1, 2, 3].map((v) => ch.offer(v))).toEqual([true, true, false]);
      expect(await drain(ch)).toEqual([1, 2]);
      expect(ch.dropped).toBe(0);
      expect(reports).toEqual([]);
    });

    it('reports once per overflow episode, then a summary when the reader catches up', async () => {
      const { ch, reports } = channel(1, 'drop-oldest');
      [1, 2, 3, 4].forEach((v) => ch.offer(v));
      expect(reports).toHaveLength(1);
      await ch.receive();
      expect(reports.map((r) => [r.episodeDrops, r.drained])).toEqual([
        [1, false],
        [3, true],
      ]);
    });

    it('ignores values offered after the end', async () => {
      const { ch } = channel(2);
      ch.end();
      expect(ch.offer(1)).toBe(true);
      expect(ch.size).toBe(0);
    });

    it('keeps FIFO order across buffer compaction', async () => {
      const { ch } = channel(5000);
      for (let i = 0; i < 3000; i++) ch.offer(i);
      const first = [];
      for (let i = 0; i < 2000; i++) first.push((await ch.receive()).value);
      for (let i = 3000; i < 3500; i++) ch.offer(i);
      const rest = await drain(ch);
      expect([...first, ...rest]).toEqual(Array.from({ length: 3500 }, (_, i) => i));
    });
  });

  describe('[Symbol.asyncIterator]', () => {
    it('iterates until the channel ends', async () => {
      const { ch } = channel(4);
      [1, 2].forEach((v) => ch.offer(v));
      ch.end();
      const seen: number[] = [];
      for await (const v of ch) seen.push(v);
      expect(seen).toEqual([1, 2]);
    });

    it('tells its owner when a loop leaves early', async () => {
      const { ch, hooks } = channel(4);
      ch.offer(1);
      for await (const v of ch) {
        expect(v).toBe(1);
        break;
      }
      expect(hooks.onReturn).toHaveBeenCalledTimes(1);
    });
  });
});
