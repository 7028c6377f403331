// Plain events leave in runs whose data is kept as snapshots until the end of the turn: what the
// receiver reads must be the data as it was at emit, whatever the caller does with it afterwards.
import fc from 'fast-check';
import type { NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../../common/logger.js';
import type { NatsLink } from './nats-link.js';
import { OutgoingBatches } from './outgoing-batches.js';
import { decodeEnvelopes } from './wire-format.js';

const SUBJECT = 'k.emit.user.created';
const NAME = 'user.created';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Batches over a connection that records what it publishes, fitted to `maxPayload`. */
function recorder(maxPayload = 1_048_576, maxBatch = 32) {
  const sent: Uint8Array[] = [];
  const nc = {
    publish: (_subject: string, data: Uint8Array) => void sent.push(data),
    info: { max_payload: maxPayload },
  } as unknown as NatsConnection;
  const link = { connection: nc, connected: true } as unknown as NatsLink;
  const batches = new OutgoingBatches({ link, storms: new LogThrottle(quiet), maxBatch });
  batches.source = 'n1';
  batches.fitTo(maxPayload);
  let sequence = 0;
  return {
    sent,
    emit: (data: unknown, time = 1000): Promise<void> =>
      batches.enqueuePlain(nc, SUBJECT, 'emit', ++sequence, time, NAME, data),
    flush: () => batches.flush(),
    /** The data of every event published so far, in order. */
    received: (): unknown[] => sent.flatMap((bytes) => decodeEnvelopes(bytes, NAME).map((e) => e.data)),
  };
}

describe('OutgoingBatches, plain runs', () => {
  it('sends the data as it was at emit when the caller changes it before the run leaves', async () => {
    const r = recorder();
    const flat = { n: 1, name: 'taylor', ok: true, gone: undefined, none: null };
    const nested = { n: 2, tags: ['a'] };
    const withGetter = {
      n: 3,
      get stamp() {
        return flat.n;
      },
    };
    // One turn (no await between): the events wait for its end as one run.
    const sends = [r.emit(flat), r.emit('text'), r.emit(withGetter)];
    flat.n = 100;
    flat.name = 'changed';
    sends.push(r.emit(nested));
    nested.tags.push('b');
    sends.push(r.emit(flat));
    flat.n = 200;
    r.flush();
    await Promise.all(sends);
    // One run: the nested object made the whole run JSON text, the snapshots taken before kept.
    expect(r.sent).toHaveLength(1);
    expect(r.received()).toEqual([
      { n: 1, name: 'taylor', ok: true, none: null },
      'text',
      { n: 3, stamp: 1 },
      { n: 2, tags: ['a'] },
      { n: 100, name: 'changed', ok: true, none: null },
    ]);
  });

  it('encodes what JSON.stringify encodes at emit: toJSON, dates, odd numbers, prototypes', async () => {
    const r = recorder();
    class Money {
      constructor(readonly cents: number) {}
      toJSON(): string {
        return `${this.cents / 100} EUR`;
      }
    }
    const day = new Date(0);
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    const events: unknown[] = [new Money(250), { at: day }, { x: Number.NaN, y: -0, z: 1e300 }, bare, 7, null];
    const sends = events.map((data) => r.emit(data));
    day.setTime(86_400_000);
    r.flush();
    await Promise.all(sends);
    expect(r.sent).toHaveLength(1);
    expect(r.received()).toEqual(
      events.map((data, i) => (i === 1 ? { at: new Date(0).toISOString() } : JSON.parse(JSON.stringify(data)))),
    );
  });

  it('reads each getter of the data once, whether the data is kept or encoded at emit', async () => {
    const r = recorder(3072);
    let reads = 0;
    const getter = <T>(value: T) => ({
      get value(): T {
        reads++;
        return value;
      },
    });
    // Kept; nested (encoded at emit); too large to keep (encoded at emit).
    const datas = [getter(1), getter({ nested: true }), getter('x'.repeat(500))];
    const sends = datas.map((data) => r.emit(data));
    r.flush();
    await Promise.all(sends);
    expect(reads).toBe(3);
    expect(r.received()).toEqual([{ value: 1 }, { value: { nested: true } }, { value: 'x'.repeat(500) }]);
  });

  it('refuses data that cannot be read with INVALID, and sends the rest', async () => {
    const r = recorder();
    const sent = r.emit({ n: 1 });
    const bad = {
      get boom(): number {
        throw new Error('no');
      },
    };
    await expect(r.emit(bad)).rejects.toMatchObject({ code: 'INVALID', message: /user\.created cannot be encoded/ });
    await expect(r.emit({ big: 1n })).rejects.toMatchObject({ code: 'INVALID' });
    r.flush();
    await sent;
    expect(r.received()).toEqual([{ n: 1 }]);
  });

  it('splits a run whose escapes make it longer than the payload limit', async () => {
    const r = recorder(3072, 32);
    // Each control character takes 6 bytes as JSON: 32 of these are about 15 KB.
    const s = '\u0001'.repeat(25);
    const datas = Array.from({ length: 32 }, () => ({ a: s, b: s, c: s }));
    const sends = datas.map((data) => r.emit(data));
    r.flush();
    await Promise.all(sends);
    expect(r.sent.length).toBeGreaterThan(1);
    for (const bytes of r.sent) expect(bytes.length).toBeLessThanOrEqual(3072);
    expect(r.received()).toEqual(datas);
  });

  it('keeps every message within the payload limit, whatever escapes the data needs', async () => {
    const text = fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\u0001', 'é', '\ud800'), maxLength: 40 });
    const flat = fc.dictionary(
      fc.constantFrom('a', 'b', '"k"', 'é'),
      fc.oneof(text, fc.double(), fc.boolean(), fc.constant(null)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(flat, text, fc.jsonValue()), { minLength: 1, maxLength: 80 }),
        async (datas) => {
          // max_payload 3 KiB: a batch holds about 1000 UTF-16 units.
          const r = recorder(3072, 32);
          const expected = datas.map((data) => JSON.parse(JSON.stringify(data)) as unknown);
          for (const data of datas) await r.emit(data);
          r.flush();
          for (const bytes of r.sent) expect(bytes.length).toBeLessThanOrEqual(3072);
          // At most 32 events a message: fewer messages than events unless the data is large.
          expect(r.sent.length).toBeGreaterThanOrEqual(Math.ceil(datas.length / 32));
          expect(r.received()).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
