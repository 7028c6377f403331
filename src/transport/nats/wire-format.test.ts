// The transport's fast path writes plain events without an envelope: its text must be exactly what
// the envelope encoder writes for the same event, and read back as that envelope.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_META, splitEventName, type EventEnvelope } from '../../events/core/event-envelope.js';
import { decodeEnvelope, EnvelopeDecoder, envelopeText, plainEnvelopeText } from './wire-format.js';

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
