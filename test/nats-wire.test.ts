// The wire envelope (no server needed): version 2 round trips, defaults elided, version 1 still read,
// undecodable input refused with a reason.
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, WIRE_VERSION, type EventEnvelope } from 'kindling';

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
  it('writes version 2 as a compact array: only the payload beside id, name, source and time', () => {
    expect(WIRE_VERSION).toBe(2);
    expect(text(encodeEnvelope(base))).toBe('[2,0,"n1-7","user.created","n1",1700000000000,0,{"id":1,"name":"taylor"}]');
    expect(decodeEnvelope(encodeEnvelope(base))).toEqual(base);
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
    const broker: EventEnvelope = { ...base, name: 'broker.user-created', system: 'broker', kind: 'user-created', data: { type: 'user-created', timestamp: at } };
    expect((decodeEnvelope(encodeEnvelope(broker)).data as { timestamp: Date }).timestamp).toEqual(at);
  });

  it('still reads version 1 (the object earlier nodes wrote)', () => {
    const v1 = { v: 1, ...base, meta: { m: 1 }, groups: ['g'] };
    expect(decodeEnvelope(new TextEncoder().encode(JSON.stringify(v1)))).toEqual({ ...base, meta: { m: 1 }, groups: ['g'] });
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
    expect(bad('nope')).toMatchObject({ code: 'INVALID', message: expect.stringMatching(/not UTF-8 JSON/) });
    expect(bad(new Uint8Array([0x5b, 0xff, 0x5d]))).toMatchObject({ code: 'INVALID', message: expect.stringMatching(/not UTF-8 JSON/) });
    expect(bad('[3,0,"i","n","s",1,0]')).toMatchObject({ message: expect.stringMatching(/format version 3 is not supported/) });
    expect(bad('[2,7,"i","n","s",1,0]')).toMatchObject({ message: expect.stringMatching(/delivery mode 7/) });
    expect(bad('[2,0,1,"n","s",1,0]')).toMatchObject({ message: expect.stringMatching(/field id/) });
    expect(bad('[2,0,"i","n","s",1,{"g":[1]}]')).toMatchObject({ message: expect.stringMatching(/groups/) });
    expect(bad('[2,0,"i","n","s",1,"x"]')).toMatchObject({ message: expect.stringMatching(/extras/) });
    expect(bad('"text"')).toMatchObject({ message: expect.stringMatching(/not a JSON array or object/) });
    expect(bad('{"v":1}')).toMatchObject({ message: expect.stringMatching(/eventType/) });
  });

  it('refuses data JSON cannot encode with INVALID', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => encodeEnvelope({ ...base, data: cyclic })).toThrow(expect.objectContaining({ code: 'INVALID' }));
    expect(() => encodeEnvelope({ ...base, data: 1n })).toThrow(expect.objectContaining({ code: 'INVALID' }));
  });
});
