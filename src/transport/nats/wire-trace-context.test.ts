import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../events/core/event-envelope.js';
import { decodeEnvelopes, encodeEnvelopes, envelopeText } from './wire-format.js';

const PARENTS = [
  '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  '00-11111111111111111111111111111111-2222222222222222-00',
];

function envelope(i: number, traceContext?: Readonly<Record<string, string>>): EventEnvelope {
  return {
    id: `node-1-${i + 1}`,
    name: 'orders.placed',
    system: 'orders',
    kind: 'placed',
    path: '',
    data: { i },
    meta: {},
    time: 1,
    trace: { requestID: `node-1-${i + 1}`, parentID: undefined, caller: undefined },
    source: 'node-1',
    eventType: 'emit',
    groups: undefined,
    ...(traceContext === undefined ? {} : { traceContext }),
  };
}

describe('trace context on the wire (docs/telemetry.md)', () => {
  it('travels per event inside a batch, each event its own', () => {
    const envelopes = PARENTS.map((traceparent, i) =>
      envelope(i, i === 1 ? { traceparent, tracestate: 'vendor=1' } : { traceparent }),
    );
    const decoded = decodeEnvelopes(encodeEnvelopes(envelopes, true), 'orders.placed');
    expect(decoded.map((e) => e.traceContext)).toEqual(envelopes.map((e) => e.traceContext));
    expect(decoded.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  it('is in the extras line as x, and absent without telemetry', () => {
    expect(envelopeText(envelope(0, { traceparent: PARENTS[0] as string }), true).split('\n')[1]).toBe(
      `{"x":{"traceparent":"${PARENTS[0]}"}}`,
    );
    const plain = envelopeText(envelope(0), true);
    expect(plain).toBe('2 e 1 1 node-1\n{"i":0}');
    expect(decodeEnvelopes(Buffer.from(plain), 'orders.placed')[0]?.traceContext).toBeUndefined();
  });

  it('leaves out a malformed context a peer sent, and still delivers the event', () => {
    for (const x of ['"text"', '{"traceparent":7}', '{"tracestate":"a=1"}', `{"traceparent":"${'0'.repeat(600)}"}`]) {
      const [decoded] = decodeEnvelopes(Buffer.from(`2 e+ 1 5 peer\n{"x":${x}}\n{"a":1}`), 'a.b');
      expect(decoded?.data).toEqual({ a: 1 });
      expect(decoded?.traceContext).toBeUndefined();
    }
  });
});
