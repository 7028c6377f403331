import { describe, expect, it } from 'vitest';
import { createEntry } from '../entry/entry.js';
import { HandlerRegistry } from '../handlers/handler-registry.js';
import { History, jsonBytes, type HistoryRecord } from './history.js';
import { Registry } from './registry.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A batch of `size` creates, each entry carrying `payload` characters of data. */
function batch(revision: number, size: number, payload = 0): HistoryRecord {
  const changes = Array.from({ length: size }, (_, i) => ({
    op: 'create' as const,
    revision,
    entry: createEntry({ id: `app:r${revision}-${i}`, kind: 'x.y', data: { text: 'x'.repeat(payload) } }),
  }));
  return { revision, transactionId: `t${revision}`, time: '2024-01-01T00:00:00.000Z', source: undefined, changes };
}

function revisions(history: History): number[] {
  return history.list().map((record) => record.revision);
}

describe('History', () => {
  it('keeps the latest batches up to the batch limit', () => {
    const history = new History({ batches: 3 });
    for (let r = 1; r <= 5; r++) history.add(batch(r, 1));
    expect(revisions(history)).toEqual([3, 4, 5]);
  });

  it('drops the oldest batches once the changes they hold exceed the change limit', () => {
    const history = new History({ changes: 250 });
    for (let r = 1; r <= 10; r++) history.add(batch(r, 100));
    expect(revisions(history)).toEqual([9, 10]);
    expect(history.size.changes).toBe(200);
    history.add(batch(11, 30));
    expect(revisions(history)).toEqual([9, 10, 11]);
  });

  it('drops the oldest batches once their estimated bytes exceed the byte limit', () => {
    const history = new History({ bytes: 50_000 });
    // Each batch: 10 entries of about 1 KB.
    for (let r = 1; r <= 20; r++) history.add(batch(r, 10, 1_000));
    const kept = revisions(history);
    expect(kept.at(-1)).toBe(20);
    expect(kept.length).toBeGreaterThanOrEqual(3);
    expect(kept.length).toBeLessThanOrEqual(5);
    expect(history.size.bytes).toBeLessThanOrEqual(50_000);
    expect(history.size.bytes).toBeGreaterThan(30_000);
  });

  it('keeps no batch that exceeds a limit on its own, and says which limit to raise', () => {
    const history = new History({ changes: 100 });
    history.add(batch(1, 10));
    history.add(batch(2, 500));
    expect(revisions(history)).toEqual([]);
    expect(() => history.after(1, 2)).toThrow(
      expect.objectContaining({ code: 'GONE', details: { revision: 1, oldestRetained: 2 } }),
    );
    expect(() => history.after(1, 2)).toThrow(/raise historyChangeLimit/);
    history.add(batch(3, 1));
    expect(history.after(2, 3).map((record) => record.revision)).toEqual([3]);
  });

  it('reads the batches after any retained revision, over thousands of drops', () => {
    const history = new History({ batches: 1_500 });
    for (let r = 1; r <= 10_000; r++) history.add(batch(r, 1));
    expect(history.size.batches).toBe(1_500);
    expect(history.after(8_500, 10_000).length).toBe(1_500);
    expect(history.after(9_997, 10_000).map((record) => record.revision)).toEqual([9_998, 9_999, 10_000]);
    expect(history.after(10_000, 10_000)).toEqual([]);
    expect(() => history.after(8_499, 10_000)).toThrow(expect.objectContaining({ code: 'GONE' }));
    expect(() => history.after(8_499, 10_000)).toThrow(/raise historyLimit/);
  });

  it('refuses limits that are not positive integers, naming the option', () => {
    expect(() => new History({ bytes: 0 })).toThrow(/historyByteLimit must be a positive integer, got 0/);
    expect(() => new History({ changes: 1.5 })).toThrow(/historyChangeLimit must be a positive integer/);
    expect(() => new History(-1)).toThrow(/historyLimit must be a positive integer, got -1/);
  });

  it('estimates JSON size without building the string, and stops past the cap', () => {
    const value = { a: [1, 'two', null, true], b: { c: 'x'.repeat(100) } };
    const estimate = jsonBytes(value, Infinity);
    const actual = JSON.stringify(value).length;
    expect(estimate).toBeGreaterThanOrEqual(actual * 0.8);
    expect(estimate).toBeLessThanOrEqual(actual * 1.5);
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    expect(jsonBytes(cyclic, 10_000)).toBeGreaterThan(10_000);
  });
});

describe('Registry history limits', () => {
  it('bounds history by changes and bytes as well as batches; rollback beyond it is GONE', async () => {
    const registry = new Registry({
      handlers: new HandlerRegistry(),
      acceptKinds: ['x.*'],
      logger: silent,
      historyChangeLimit: 2_500,
      historyByteLimit: 10_000_000,
    });
    await registry.apply(
      Array.from({ length: 1_000 }, (_, i) => ({
        op: 'create',
        entry: { id: `app:e${i}`, kind: 'x.y', data: { v: 0 } },
      })),
    );
    for (let v = 1; v <= 5; v++) {
      await registry.apply(
        Array.from({ length: 1_000 }, (_, i) => ({
          op: 'update',
          entry: { id: `app:e${i}`, kind: 'x.y', data: { v } },
        })),
      );
    }
    expect(registry.historyRecords().map((record) => record.revision)).toEqual([5, 6]);
    await expect(registry.rollbackTo(3)).rejects.toMatchObject({ code: 'GONE' });
    expect(() => registry.watch({ fromRevision: 3 })).toThrow(expect.objectContaining({ code: 'GONE' }));
    await registry.rollbackTo(4);
    expect(registry.get('app:e7')?.data).toEqual({ v: 3 });
  });

  it('drops by bytes when entries are large', async () => {
    const registry = new Registry({
      handlers: new HandlerRegistry(),
      acceptKinds: ['x.*'],
      logger: silent,
      historyByteLimit: 1_000_000,
    });
    for (let r = 0; r < 30; r++) {
      await registry.apply(
        Array.from({ length: 10 }, (_, i) => ({
          op: 'create',
          entry: { id: `app:r${r}-${i}`, kind: 'x.y', data: { text: 'y'.repeat(10_000) } },
        })),
      );
    }
    const kept = registry.historyRecords().map((record) => record.revision);
    expect(kept.at(-1)).toBe(30);
    expect(kept.length).toBeLessThan(10);
    expect(kept.length).toBeGreaterThanOrEqual(8);
  });
});
