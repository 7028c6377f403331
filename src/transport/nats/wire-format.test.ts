// The transport's fast path writes plain events without an envelope: its text must be exactly what
// the envelope encoder writes for the same event, and read back as that envelope.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_META, splitEventName, type EventEnvelope } from '../../events/core/event-envelope.js';
import {
  dataJSON,
  decodeEnvelope,
  decodeEnvelopes,
  EnvelopeDecoder,
  envelopeText,
  plainEnvelopeText,
  plainRunText,
} from './wire-format.js';

describe('plainEnvelopeText', () => {
  it('writes what envelopeText writes for the same plain envelope, and it decodes back to it', () => {
    const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    fc.assert(
      fc.property(
        fc.record({
          eventType: fc.constantFrom('emit' as const, 'broadcast' as const),
          name: fc.stringMatching(/^[a-z]{1,8}(\.[a-z0-9_-]{1,8}){0,3}$/),
          sequence: fc.integer({ min: 1, max: 2 ** 48 }),
          time: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          source: fc.stringMatching(/^[^\r\n]{0,12}$/),
          data: fc.option(json, { nil: undefined }),
        }),
        ({ eventType, name, sequence, time, source, data }) => {
          const id = `${source}-${sequence}`;
          const { system, kind } = splitEventName(name);
          const envelope: EventEnvelope = {
            id,
            name,
            system,
            kind,
            path: '',
            data,
            meta: EMPTY_META,
            time,
            trace: { requestID: id, parentID: undefined, caller: undefined },
            source,
            eventType,
            groups: undefined,
          };
          const text = plainEnvelopeText(eventType, name, sequence, time, source, data);
          expect(text).toBe(envelopeText(envelope, true));
          expect(decodeEnvelope(Buffer.from(text, 'utf8'), name)).toEqual(envelope);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses data JSON cannot encode with INVALID naming the event', () => {
    expect(() => plainEnvelopeText('emit', 'a.b', 1, 0, 'n', 1n)).toThrow(
      expect.objectContaining({ code: 'INVALID', message: expect.stringMatching(/event a\.b cannot be encoded/) }),
    );
  });
});

describe('EnvelopeDecoder', () => {
  const text = (source: string, sequence: number, name: string): Uint8Array =>
    Buffer.from(plainEnvelopeText('emit', name, sequence, 7, source, { n: sequence }), 'utf8');

  it('reads runs and changes of source and name alike, whichever decoder read what before', () => {
    const first = new EnvelopeDecoder();
    const second = new EnvelopeDecoder();
    expect(first.decode(text('a', 1, 'x.one'), 'x.one')).toMatchObject({
      id: 'a-1',
      source: 'a',
      system: 'x',
      kind: 'one',
    });
    expect(second.decode(text('b', 2, 'y.two'), 'y.two')).toMatchObject({
      id: 'b-2',
      source: 'b',
      system: 'y',
      kind: 'two',
    });
    expect(first.decode(text('a', 3, 'x.one'), 'x.one')).toMatchObject({
      id: 'a-3',
      source: 'a',
      system: 'x',
      kind: 'one',
    });
    expect(first.decode(text('c', 4, 'z.three'), 'z.three')).toMatchObject({
      id: 'c-4',
      source: 'c',
      system: 'z',
      kind: 'three',
    });
    expect(second.decode(text('b', 5, 'y.two'), 'y.two')).toMatchObject({
      id: 'b-5',
      source: 'b',
      system: 'y',
      kind: 'two',
    });
  });

  it('reads a batch after a refused one as if nothing had come before', () => {
    const decoder = new EnvelopeDecoder();
    const good = (n: number): string => plainEnvelopeText('emit', 'a.b', n, 0, 'node', undefined);
    expect(() => decoder.decodeAll(Buffer.from(`2* 3\n${good(1)}\n${good(2)}\n`, 'utf8'), 'a.b')).toThrow(
      /the batch ends after 2 envelope/,
    );
    expect(decoder.decodeAll(Buffer.from(`2* 2\n${good(3)}\n${good(4)}\n`, 'utf8'), 'a.b').map((e) => e.id)).toEqual([
      'node-3',
      'node-4',
    ]);
  });
});

describe('plainRunText', () => {
  /** The run of `datas` from `first`, each with its time, as the transport writes it. */
  function run(eventType: 'emit' | 'broadcast', first: number, times: readonly number[], datas: readonly unknown[]) {
    let changes = String(times[0]);
    for (let i = 1; i < times.length; i++) if (times[i] !== times[i - 1]) changes += `,${i}:${times[i]}`;
    const jsons = datas.map((data, i) => dataJSON(`event ${i}`, data) as string);
    return Buffer.from(plainRunText(eventType, first, changes, 'node-1', jsons), 'utf8');
  }

  it('decodes to the envelopes the same events decode to one by one', () => {
    const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    fc.assert(
      fc.property(
        fc.record({
          eventType: fc.constantFrom('emit' as const, 'broadcast' as const),
          name: fc.stringMatching(/^[a-z]{1,8}(\.[a-z0-9_-]{1,8}){0,3}$/),
          first: fc.integer({ min: 1, max: 2 ** 48 }),
          events: fc.array(fc.record({ time: fc.integer({ min: 0, max: 2 ** 45 }), data: json }), {
            minLength: 2,
            maxLength: 40,
          }),
        }),
        ({ eventType, name, first, events }) => {
          const bytes = run(
            eventType,
            first,
            events.map((e) => e.time),
            events.map((e) => e.data),
          );
          const oneByOne = events.map(({ time, data }, i) =>
            decodeEnvelope(
              Buffer.from(plainEnvelopeText(eventType, name, first + i, time, 'node-1', data), 'utf8'),
              name,
            ),
          );
          expect(decodeEnvelopes(bytes, name)).toEqual(oneByOne);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes one header line and the data as one JSON array; only decodeEnvelopes reads it', () => {
    const bytes = run('emit', 7, [100, 100, 101], [{ a: 1 }, 'two', null]);
    expect(bytes.toString('utf8')).toBe('2= 3 e 7 100,2:101 node-1\n[{"a":1},"two",null]');
    expect(decodeEnvelopes(bytes, 'a.b').map((e) => [e.id, e.time, e.data, e.eventType])).toEqual([
      ['node-1-7', 100, { a: 1 }, 'emit'],
      ['node-1-8', 100, 'two', 'emit'],
      ['node-1-9', 101, null, 'emit'],
    ]);
    expect(() => decodeEnvelope(bytes, 'a.b')).toThrow(/a batch of envelopes/);
  });

  it('numbers the events of a run across a hundreds boundary, and keeps ids apart per source', () => {
    const decoder = new EnvelopeDecoder();
    const ids = (source: string, first: number, count: number): string[] => {
      const jsons = Array.from({ length: count }, (_, i) => String(i));
      const bytes = Buffer.from(plainRunText('emit', first, '5', source, jsons), 'utf8');
      return decoder.decodeAll(bytes, 'a.b').map((e) => `${e.id} ${e.trace.requestID}`);
    };
    const expected = (source: string, first: number, count: number): string[] =>
      Array.from({ length: count }, (_, i) => `${source}-${first + i} ${source}-${first + i}`);
    expect(ids('n1', 95, 10)).toEqual(expected('n1', 95, 10));
    expect(ids('n2', 1_999_990, 20)).toEqual(expected('n2', 1_999_990, 20));
    expect(ids('n1', 105, 3)).toEqual(expected('n1', 105, 3));
    expect(ids('n1', 3, 2)).toEqual(expected('n1', 3, 2));
  });

  it('revives the timestamps of a run of broker events, and of no other run', () => {
    const at = '2026-01-02T03:04:05.000Z';
    const jsons = [JSON.stringify({ timestamp: at }), JSON.stringify({ timestamp: at })];
    const decode = (name: string): unknown[] =>
      decodeEnvelopes(Buffer.from(plainRunText('emit', 1, '5', 'n', [...jsons]), 'utf8'), name).map(
        (e) => (e.data as { timestamp: unknown }).timestamp,
      );
    expect(decode('broker.published')).toEqual([new Date(at), new Date(at)]);
    expect(decode('brokers.published')).toEqual([at, at]);
  });

  it('refuses a damaged run whole, naming why', () => {
    const bad = (text: string): string => {
      try {
        new EnvelopeDecoder().decodeAll(Buffer.from(text, 'utf8'), 'a.b');
      } catch (error) {
        expect(error).toMatchObject({ code: 'INVALID' });
        return (error as Error).message;
      }
      return 'decoded';
    };
    expect(bad('2= 2 e 1 5 n\n[1,2]')).toBe('decoded');
    expect(bad('2= 2 e 1 5,1:6 n\n[1,2]')).toBe('decoded');
    expect(bad('2= 2 e 1 5 n')).toMatch(/the run line "2= 2 e 1 5 n" is not "2= <count>/);
    expect(bad('2= 2 e 1 n\n[1,2]')).toMatch(/the run line .* is not/);
    expect(bad('2= x e 1 5 n\n[1,2]')).toMatch(/run count "x" is not a number above 1/);
    expect(bad('2= 1 e 1 5 n\n[1]')).toMatch(/run count "1" is not a number above 1/);
    expect(bad('2= 2 l 1 5 n\n[1,2]')).toMatch(/delivery mode "l" is unknown/);
    expect(bad('2= 2 ee 1 5 n\n[1,2]')).toMatch(/delivery mode "ee" is unknown/);
    expect(bad('2= 2 e -1 5 n\n[1,2]')).toMatch(/first sequence number "-1" is not a number/);
    expect(bad(`2= 3 e ${Number.MAX_SAFE_INTEGER - 1} 5 n\n[1,2,3]`)).toMatch(/first sequence number/);
    expect(bad('2= 2 e 1 soon n\n[1,2]')).toMatch(/time "soon" is not a number/);
    expect(bad('2= 3 e 1 5,2:6,1:7 n\n[1,2,3]')).toMatch(/the time change "1:7" is not "<index>:<time>"/);
    expect(bad('2= 2 e 1 5,2:6 n\n[1,2]')).toMatch(/the time change "2:6"/);
    expect(bad('2= 2 e 1 5,0:6 n\n[1,2]')).toMatch(/the time change "0:6"/);
    expect(bad('2= 2 e 1 5,1 n\n[1,2]')).toMatch(/the time change "1"/);
    expect(bad('2= 2 e 1 5, n\n[1,2]')).toMatch(/the time change ""/);
    expect(() => decodeEnvelopes(Buffer.from('2= 2 e 1 5 n\n[1,2]', 'utf8'))).toThrow(
      /the name is neither in the message nor in its subject/,
    );
    expect(bad('2= 2 e 1 5 n\n{"0":1}')).toMatch(/the data of a run is not a JSON array/);
    expect(bad('2= 2 e 1 5 n\n[1,2,3]')).toMatch(/not a JSON array of the 2 events the run line announces/);
    expect(bad('2= 2 e 1 5 n\n[1,')).toMatch(/the data is not JSON/);
  });
});
