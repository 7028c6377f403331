// The wire envelope (no server needed): version 2 (header line + JSON payload) round trips, defaults elided, version 1 still read,
// undecodable input refused with a reason.
import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from 'kindling/events';
import {
  decodeEnvelope,
  decodeEnvelopes,
  encodeEnvelope,
  encodeEnvelopes,
  WIRE_VERSION,
} from '../src/transport/nats/wire-format.js';

const base: EventEnvelope = {
  id: 'n1-7',
  name: 'user.created',
  system: 'user',
  kind: 'created',
  path: '',
  data: { id: 1, name: 'taylor' },
  meta: {},
  time: 1_700_000_000_000,
  trace: { requestID: 'n1-7', parentID: undefined, caller: undefined },
  source: 'n1',
  eventType: 'emit',
  groups: undefined,
};
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

describe('wire envelope', () => {
  it('writes version 2 as a header line (mode, sequence, time, source) and the payload JSON', () => {
    expect(WIRE_VERSION).toBe(2);
    expect(text(encodeEnvelope(base))).toBe('2 e+ 7 1700000000000 n1\n{"n":"user.created"}\n{"id":1,"name":"taylor"}');
    expect(decodeEnvelope(encodeEnvelope(base))).toEqual(base);
    // The name left to the subject (the transport does that for unescaped names).
    expect(text(encodeEnvelope(base, true))).toBe('2 e 7 1700000000000 n1\n{"id":1,"name":"taylor"}');
    expect(decodeEnvelope(encodeEnvelope(base, true), 'user.created')).toEqual(base);
    expect(() => decodeEnvelope(encodeEnvelope(base, true))).toThrow(
      /the name is neither in the message nor in its subject/,
    );
  });

  it('sends an id that is not `${source}-${sequence}`, an odd source or time in the extras', () => {
    for (const id of ['n1-07', 'x-7', 'n1-', 'n1-1234567890123456', 'n1-7a', 'a b']) {
      const envelope: EventEnvelope = { ...base, id, trace: { ...base.trace, requestID: id } };
      expect(text(encodeEnvelope(envelope, true))).toContain(`"i":${JSON.stringify(id)}`);
      expect(decodeEnvelope(encodeEnvelope(envelope, true), 'user.created')).toEqual(envelope);
    }
    for (const source of ['node with spaces', 'line\nbreak', '']) {
      const envelope: EventEnvelope = {
        ...base,
        source,
        id: `${source}-3`,
        trace: { ...base.trace, requestID: `${source}-3` },
      };
      expect(decodeEnvelope(encodeEnvelope(envelope, true), 'user.created')).toEqual(envelope);
    }
    for (const time of [1.5, -1, Number.MAX_SAFE_INTEGER]) {
      const envelope: EventEnvelope = { ...base, time };
      expect(decodeEnvelope(encodeEnvelope(envelope, true), 'user.created')).toEqual(envelope);
    }
  });

  it('round trips every optional field', () => {
    const full: EventEnvelope = {
      ...base,
      name: 'orders.eu.order.created',
      system: 'orders.eu',
      kind: 'order.created',
      path: '/orders/1',
      meta: { user: 'ann' },
      trace: { requestID: 'n0-1', parentID: 'n0-2', caller: 'v1.billing' },
      eventType: 'broadcast',
      groups: ['a', 'b'],
      data: undefined,
    };
    expect(decodeEnvelope(encodeEnvelope(full))).toEqual(full);
    const dotless: EventEnvelope = { ...base, name: 'tick', system: 'tick', kind: '' };
    expect(decodeEnvelope(encodeEnvelope(dotless))).toEqual(dotless);
  });

  it('revives a broker event timestamp as a Date', () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const broker: EventEnvelope = {
      ...base,
      name: 'broker.user-created',
      system: 'broker',
      kind: 'user-created',
      data: { type: 'user-created', timestamp: at },
    };
    expect((decodeEnvelope(encodeEnvelope(broker)).data as { timestamp: Date }).timestamp).toEqual(at);
  });

  it('still reads version 1 (the object earlier nodes wrote)', () => {
    const v1 = { v: 1, ...base, meta: { m: 1 }, groups: ['g'] };
    expect(decodeEnvelope(new TextEncoder().encode(JSON.stringify(v1)))).toEqual({
      ...base,
      meta: { m: 1 },
      groups: ['g'],
    });
  });

  it('refuses what it cannot decode, naming the reason', () => {
    const bad = (s: string | Uint8Array): unknown => {
      try {
        decodeEnvelope(typeof s === 'string' ? new TextEncoder().encode(s) : s);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(bad('nope')).toMatchObject({
      code: 'INVALID',
      message: expect.stringMatching(/not a kindling event envelope/),
    });
    expect(bad(new Uint8Array([0x32, 0x20, 0xff]))).toMatchObject({
      code: 'INVALID',
      message: expect.stringMatching(/not UTF-8/),
    });
    expect(bad('{"v": nope')).toMatchObject({ message: expect.stringMatching(/the message is not JSON/) });
    expect(bad('3 e 1 1 s\n{}')).toMatchObject({ message: expect.stringMatching(/format version 3 is not supported/) });
    expect(bad('2 x 1 1 s\n{}')).toMatchObject({ message: expect.stringMatching(/delivery mode "x"/) });
    expect(bad('2 e 1 1 s')).toMatchObject({ message: expect.stringMatching(/no header line/) });
    expect(bad('2 e 1 s\n{}')).toMatchObject({ message: expect.stringMatching(/header line is not/) });
    expect(bad('2 e x1 1 s\n{}')).toMatchObject({ message: expect.stringMatching(/id "x1"/) });
    expect(bad('2 e 1 soon s\n{}')).toMatchObject({ message: expect.stringMatching(/time "soon"/) });
    expect(bad('2 e 1 1 s\n{bad')).toMatchObject({ message: expect.stringMatching(/the data is not JSON/) });
    expect(bad('2 e+ 1 1 s\n{"n":"a"}')).toMatchObject({ message: expect.stringMatching(/extras line is missing/) });
    expect(bad('2 e+ 1 1 s\n[1]\n{}')).toMatchObject({
      message: expect.stringMatching(/extras line is not a JSON object/),
    });
    expect(bad('2 e+ 1 1 s\n{"n":"a","g":[1]}\n{}')).toMatchObject({ message: expect.stringMatching(/groups/) });
    expect(bad('2 e+ 1 1 s\n{"n":"a","m":[]}\n{}')).toMatchObject({ message: expect.stringMatching(/meta/) });
    expect(bad('2 e+ - 1 s\n{"n":"a"}\n{}')).toMatchObject({ message: expect.stringMatching(/field id/) });
    expect(bad('{"v":1}')).toMatchObject({ message: expect.stringMatching(/eventType/) });
    expect(bad('{"v":3}')).toMatchObject({ message: expect.stringMatching(/format version 3/) });
  });

  it('quotes at most 64 characters of what a peer sent in a reason', () => {
    const reasons: string[] = [];
    const long = 'x'.repeat(500_000);
    for (const text of [
      `2 ${long} 1 1 s\n{}`,
      `2 e ${long} 1 s\n{}`,
      `2 e 1 ${long} s\n{}`,
      `2* ${long}\n`,
      JSON.stringify({ v: long }),
      JSON.stringify({ v: 1, eventType: long }),
    ]) {
      try {
        decodeEnvelopes(new TextEncoder().encode(text), 'a.b');
      } catch (error) {
        reasons.push((error as Error).message);
      }
    }
    expect(reasons).toHaveLength(6);
    for (const reason of reasons) expect(reason.length).toBeLessThan(200);
  });

  it('carries several envelopes of one subject as one batch, each with its own header, in order', () => {
    const second: EventEnvelope = { ...base, id: 'n1-8', trace: { ...base.trace, requestID: 'n1-8' }, data: undefined };
    const third: EventEnvelope = {
      ...base,
      id: 'n1-9',
      trace: { requestID: 'r', parentID: 'p', caller: undefined },
      meta: { m: 1 },
      groups: ['g'],
      data: 'a\nb',
    };
    const batch = encodeEnvelopes([base, second, third], true);
    expect(text(batch)).toBe(
      '2* 3\n' +
        '2 e 7 1700000000000 n1\n{"id":1,"name":"taylor"}\n' +
        '2 e 8 1700000000000 n1\n\n' + // no data: an empty line
        '2 e+ 9 1700000000000 n1\n{"m":{"m":1},"r":"r","q":"p","g":["g"]}\n"a\\nb"\n',
    );
    expect(decodeEnvelopes(batch, 'user.created')).toEqual([base, second, third]);
    // A single envelope reads the same either way; a batch only through decodeEnvelopes.
    expect(decodeEnvelopes(encodeEnvelope(base))).toEqual([base]);
    expect(encodeEnvelopes([base])).toEqual(encodeEnvelope(base));
    expect(() => decodeEnvelope(batch, 'user.created')).toThrow(/a batch of envelopes/);
  });

  it('refuses a damaged batch whole, naming the envelope', () => {
    const bad = (s: string): string => {
      try {
        decodeEnvelopes(new TextEncoder().encode(s), 'a.b');
      } catch (error) {
        expect(error).toMatchObject({ code: 'INVALID' });
        return (error as Error).message;
      }
      return 'decoded';
    };
    const one = '2 e 1 1 s\n{}\n';
    expect(bad(`2* 2\n${one}${one}`)).toBe('decoded');
    expect(bad(`2* x\n${one}`)).toMatch(/the batch line "2\* x" is not "2\* <count>"/);
    expect(bad(`2* 0\n`)).toMatch(/is not "2\* <count>"/);
    expect(bad(`2* 3\n${one}${one}`)).toMatch(/envelope 3 of 3: the batch ends after 2 envelope\(s\)/);
    expect(bad(`2* 1\n${one}${one}`)).toMatch(/more text after the 1 envelope\(s\)/);
    expect(bad(`2* 2\n${one}{"v":1}\n`)).toMatch(/envelope 2 of 2: not a version-2 envelope/);
    expect(bad(`2* 2\n${one}2 e 2 1 s\n{}`)).toMatch(/envelope 2 of 2: the batch ends inside an envelope/);
    expect(bad(`2* 2\n${one}2 e 2 1 s\n{nope\n`)).toMatch(/envelope 2 of 2: the data is not JSON/);
  });

  it('refuses data JSON cannot encode with INVALID', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => encodeEnvelope({ ...base, data: cyclic })).toThrow(expect.objectContaining({ code: 'INVALID' }));
    expect(() => encodeEnvelope({ ...base, data: 1n })).toThrow(expect.objectContaining({ code: 'INVALID' }));
  });
});
