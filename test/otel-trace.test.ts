import { SpanKind, trace } from '@opentelemetry/api';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useInMemorySdk } from './support/otel-sdk.js';
import { HttpServers } from 'kindling/components';
import { bootTestApp } from 'kindling/testing';
import { connect } from 'nats';
import { createNatsEventBus } from 'kindling/nats';
import type { EventContext } from 'kindling/events';
import { ChildNode, NATS_URL, removeStreams, skipNats, uniquePrefix, until } from './support/nats-harness.js';

// One trace across two processes: an HTTP request (this process) calls a function.js entry that
// emits an event; NATS carries it to a second process, whose handler sends a durable channel
// message that a channel handler there takes. Every span must be in the request's trace, each
// under the one before it.

const NODE = fileURLToPath(new URL('./fixtures/otel/node.mjs', import.meta.url));

interface SpanLine {
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly attributes: Record<string, unknown>;
}

const { spans, metricExporter, reader } = useInMemorySdk();

describe.skipIf(skipNats)('OpenTelemetry across processes', () => {
  it('an HTTP request, a function, NATS, a second process and a durable channel handler make one trace', async () => {
    const prefix = uniquePrefix();
    const peer = new ChildNode({ url: NATS_URL, prefix, nodeID: 'otel-peer' }, NODE);
    try {
      await peer.ready();
      await using app = await bootTestApp({
        components: ['function', 'http'],
        config: { http: { shutdownGraceMs: 0 }, events: { nodeID: 'otel-front', nats: { url: NATS_URL, prefix } } },
      });
      // The function emits through its context, and answers with the trace it was called in.
      await app.write(
        'orders.js',
        `export const place = (request, context) => {
  context.emit('order.placed', { order: Number(request.params.id) });
  return { status: 202, body: { placed: request.params.id, trace: context.trace } };
};
`,
      );
      await app.expectAccepted(`
entries:
  - { name: server, kind: http.service, addr: ":0" }
  - { name: api, kind: http.router, server: server, prefix: /api }
  - { name: place, kind: function.js, file: ./orders.js, export: place }
  - { name: place-endpoint, kind: http.endpoint, router: api, method: POST, path: "/orders/:id", func: place }
`);
      const address = app.get<HttpServers>(HttpServers).address('test:server');
      const response = await fetch(`${address?.url ?? ''}/api/orders/7`, { method: 'POST' });
      expect(response.status).toBe(202);
      const answer = (await response.json()) as { trace?: { traceId: string; spanId: string } };
      await peer.waitFor((line) => 'shipped' in line, 'the channel handler in the second process', 15_000);
      peer.send({ cmd: 'dump' });
      const dump = await peer.waitFor((line) => 'spans' in line, 'the spans of the second process');
      const remote = dump['spans'] as SpanLine[];
      const local = spans.getFinishedSpans().map((span): SpanLine => ({
        name: span.name,
        kind: span.kind,
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentSpanId: span.parentSpanContext?.spanId,
        attributes: span.attributes,
      }));
      const find = (list: SpanLine[], name: string): SpanLine => {
        const found = list.filter((span) => span.name === name);
        expect(
          found.map((span) => span.name),
          `spans named ${name}`,
        ).toEqual([name]);
        return found[0] as SpanLine;
      };
      const server = find(local, 'POST /api/orders/:id');
      expect(server.kind).toBe(SpanKind.SERVER);
      expect(server.attributes['http.route']).toBe('/api/orders/:id');
      expect(server.attributes['http.response.status_code']).toBe(202);
      expect(server.parentSpanId).toBeUndefined();
      // The function's context named the request's span: its trace, and the span it ran in.
      expect(answer.trace).toEqual({ traceId: server.traceId, spanId: server.spanId });
      const send = find(local, 'send order.placed');
      expect(send.kind).toBe(SpanKind.PRODUCER);
      const processEvent = find(remote, 'process order.placed');
      expect(processEvent.kind).toBe(SpanKind.CONSUMER);
      expect(processEvent.attributes['messaging.consumer.group.name']).toBe('shipping');
      const sendChannel = find(remote, 'send shipments');
      const processChannel = find(remote, 'process shipments');
      expect(processChannel.attributes).toMatchObject({
        'messaging.destination.name': 'shipments',
        'messaging.consumer.group.name': 'shippers',
        'messaging.message.id': 'ship-7',
      });
      // One trace, each span under the one before it.
      const chain = [server, send, processEvent, sendChannel, processChannel];
      for (const span of chain) expect(span.traceId).toBe(server.traceId);
      expect(send.parentSpanId).toBe(server.spanId);
      expect(processEvent.parentSpanId).toBe(send.spanId);
      expect(sendChannel.parentSpanId).toBe(processEvent.spanId);
      expect(processChannel.parentSpanId).toBe(sendChannel.spanId);

      await reader.forceFlush();
      const names = metricExporter
        .getMetrics()
        .flatMap((m) => m.scopeMetrics.flatMap((s) => s.metrics.map((metric) => metric.descriptor.name)));
      expect(names).toContain('http.server.request.duration');
      expect(names).toContain('messaging.client.sent.messages');
    } finally {
      await peer.stop();
      await removeStreams(prefix);
    }
  });

  it('each event of a batched NATS message carries its own context; a message of one event has it in headers too', async () => {
    const prefix = uniquePrefix();
    const sender = createNatsEventBus({ nodeID: 'otel-sender', nats: { url: NATS_URL, prefix } });
    const receiver = createNatsEventBus({ nodeID: 'otel-receiver', nats: { url: NATS_URL, prefix } });
    try {
      const got: number[] = [];
      receiver.createService({
        name: 'tally',
        events: { 'tally.*': (ctx: EventContext) => void got.push((ctx.params as { n: number }).n) },
      });
      await receiver.start();
      await sender.start();
      await until(() => sender.nodes().some((node) => node.id === 'otel-receiver'), 'the sender to see the receiver');
      const nc = await connect({ servers: NATS_URL });
      const headers: (string | undefined)[] = [];
      const raw = nc.subscribe(`${prefix}.emit.tally.>`, {
        callback: (_error, msg) => void headers.push(msg.headers?.get('traceparent')),
      });
      await nc.flush();
      spans.reset();
      const tracer = trace.getTracer('test');
      // Three events in one turn: one NATS message (a batch), three parents.
      for (let n = 1; n <= 3; n++)
        tracer.startActiveSpan(`parent ${n}`, (span) => {
          sender.emit('tally.batch', { n });
          span.end();
        });
      await until(() => got.length === 3, 'the three events');
      // Then one alone.
      tracer.startActiveSpan('parent 4', (span) => {
        sender.emit('tally.single', { n: 4 });
        span.end();
      });
      await until(() => got.length === 4 && headers.length === 2, 'the fourth event and both raw messages');
      // Four events, two messages: the batch of three and the one alone.
      expect(headers).toHaveLength(2);
      raw.unsubscribe();
      await nc.close();
      const finished = spans.getFinishedSpans();
      const byName = (name: string) => finished.filter((span) => span.name === name);
      for (let n = 1; n <= 3; n++) {
        const parent = byName(`parent ${n}`)[0];
        const send = byName('send tally.batch').find(
          (span) => span.parentSpanContext?.spanId === parent?.spanContext().spanId,
        );
        expect(send, `the send under parent ${n}`).toBeDefined();
        const processes = byName('process tally.batch').filter(
          (span) => span.parentSpanContext?.spanId === send?.spanContext().spanId,
        );
        expect(processes).toHaveLength(1);
        expect(processes[0]?.spanContext().traceId).toBe(parent?.spanContext().traceId);
      }
      const single = byName('send tally.single')[0];
      expect(headers[1]).toBe(`00-${single?.spanContext().traceId}-${single?.spanContext().spanId}-01`);
      // The batch message's headers name its first event's context.
      const first = byName('send tally.batch')[0];
      expect(headers[0]).toBe(`00-${first?.spanContext().traceId}-${first?.spanContext().spanId}-01`);
    } finally {
      await sender.stop();
      await receiver.stop();
      await removeStreams(prefix);
    }
  });
});
