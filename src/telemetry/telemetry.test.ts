import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { useInMemorySdk } from '../../test/support/otel-sdk.js';
import { KindlingError } from '../common/errors.js';
import { createConsoleLogger, silentLogger } from '../common/logger.js';
import { DefaultEventBus } from '../events/event-bus.js';
import type { EventEnvelope } from '../events/core/event-envelope.js';
import type { EventContext } from '../events/index.js';
import { HandlerRegistry } from '../handlers/handler-registry.js';
import { Registry } from '../registry/registry.js';
import { httpTelemetry } from './http-telemetry.js';
import { telemetry } from './telemetry.js';

const { spans, metricExporter, reader } = useInMemorySdk();

const buses: DefaultEventBus[] = [];
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.stop();
  spans.reset();
});

function newBus(nodeID = 'node-1'): DefaultEventBus {
  const bus = new DefaultEventBus({ nodeID, logger: silentLogger });
  buses.push(bus);
  return bus;
}

function named(name: string): ReadableSpan[] {
  return spans.getFinishedSpans().filter((span) => span.name === name);
}

function one(name: string): ReadableSpan {
  const found = named(name);
  expect(found.map((span) => span.name)).toEqual([name]);
  return found[0] as ReadableSpan;
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

function isChild(child: ReadableSpan, parent: ReadableSpan): boolean {
  return (
    child.spanContext().traceId === parent.spanContext().traceId && parentOf(child) === parent.spanContext().spanId
  );
}

async function metricPoints(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]> {
  await reader.forceFlush();
  const exported = metricExporter.getMetrics();
  const last = exported[exported.length - 1];
  const points: { attributes: Record<string, unknown>; value: unknown }[] = [];
  for (const scope of last?.scopeMetrics ?? [])
    for (const metric of scope.metrics)
      if (metric.descriptor.name === name)
        for (const point of metric.dataPoints) points.push({ attributes: point.attributes, value: point.value });
  return points;
}

function tracer() {
  return trace.getTracer('test');
}

describe('telemetry with an SDK registered', () => {
  it('is on', () => {
    expect(telemetry()).toBeDefined();
  });

  describe('registry.apply', () => {
    it('makes one span per apply with a child per listener call and per observer', async () => {
      const handlers = new HandlerRegistry();
      handlers.registerListener(
        'app.*',
        { add: () => undefined, update: () => undefined, delete: () => undefined, commit: () => undefined },
        { name: 'apps' },
      );
      handlers.registerObserver('app.*', { add: async () => Promise.resolve() }, { name: 'watcher' });
      const registry = new Registry({ handlers, logger: silentLogger });
      await registry.apply(
        [
          { op: 'create', entry: { id: 'app:a', kind: 'app.thing' } },
          { op: 'create', entry: { id: 'app:b', kind: 'app.thing' } },
        ],
        { source: 'test' },
      );
      const apply = one('registry.apply');
      expect(apply.attributes).toMatchObject({
        'kindling.registry.ops': 2,
        'kindling.registry.source': 'test',
        'kindling.registry.dry_run': false,
        'kindling.registry.revision': 1,
        'kindling.outcome': 'committed',
      });
      const adds = named('registry.listener create');
      expect(adds.map((span) => span.attributes['kindling.entry.id'])).toEqual(['app:a', 'app:b']);
      for (const span of adds) {
        expect(isChild(span, apply)).toBe(true);
        expect(span.attributes).toMatchObject({ 'kindling.listener': 'apps', 'kindling.outcome': 'ok' });
      }
      expect(isChild(one('registry.listener commit'), apply)).toBe(true);
      const observed = named('registry.observer create');
      expect(observed).toHaveLength(2);
      for (const span of observed) expect(isChild(span, apply)).toBe(true);
      const durations = await metricPoints('kindling.registry.listener.duration');
      expect(durations.some((p) => p.attributes['kindling.listener'] === 'apps')).toBe(true);
    });

    it('names the refusing entry and listener of a refused batch and counts the refusal', async () => {
      const handlers = new HandlerRegistry();
      handlers.registerListener(
        'app.*',
        {
          add: (_ctx, entry) => {
            if (entry.id === 'app:bad') throw new Error('no bad entries');
          },
          update: () => undefined,
          delete: () => undefined,
        },
        { name: 'picky' },
      );
      const registry = new Registry({ handlers, logger: silentLogger });
      await expect(
        registry.apply([
          { op: 'create', entry: { id: 'app:good', kind: 'app.thing' } },
          { op: 'create', entry: { id: 'app:bad', kind: 'app.thing' } },
        ]),
      ).rejects.toMatchObject({ code: 'REJECTED' });
      const apply = one('registry.apply');
      expect(apply.attributes).toMatchObject({
        'kindling.outcome': 'refused',
        'kindling.registry.refusing.entry': 'app:bad',
        'kindling.registry.refusing.listener': 'picky',
        'error.type': 'REJECTED',
      });
      expect(apply.status.code).toBe(SpanStatusCode.ERROR);
      const failed = named('registry.listener create').find(
        (span) => span.attributes['kindling.entry.id'] === 'app:bad',
      );
      expect(failed?.attributes['kindling.outcome']).toBe('error');
      const refusals = await metricPoints('kindling.registry.refusals');
      expect(refusals.some((p) => p.attributes['error.type'] === 'REJECTED' && (p.value as number) >= 1)).toBe(true);
    });

    it('marks a dry run', async () => {
      const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['x.*'], logger: silentLogger });
      await registry.apply([{ op: 'create', entry: { id: 'app:a', kind: 'x.y' } }], { dryRun: true });
      expect(one('registry.apply').attributes).toMatchObject({
        'kindling.registry.dry_run': true,
        'kindling.outcome': 'dry_run',
      });
    });
  });

  describe('events', () => {
    it('makes a producer span per publish and a consumer span per handler call, by the messaging conventions', () => {
      const bus = newBus();
      bus.on('order.*', () => undefined);
      bus.on('order.placed', () => undefined);
      bus.emit('order.placed', { id: 1 });
      const send = one('send order.placed');
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(send.attributes).toMatchObject({
        'messaging.system': 'kindling',
        'messaging.destination.name': 'order.placed',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'emit',
      });
      const processes = named('process order.placed');
      expect(processes).toHaveLength(2);
      for (const span of processes) {
        expect(span.kind).toBe(SpanKind.CONSUMER);
        expect(span.attributes).toMatchObject({
          'messaging.system': 'kindling',
          'messaging.destination.name': 'order.placed',
          'messaging.operation.type': 'process',
        });
        expect(isChild(span, send)).toBe(true);
      }
    });

    it('continues the trace when a handler emits: its consumer span is the active context', async () => {
      const bus = newBus();
      const done = new Promise<void>((resolve) => {
        bus.createService({
          name: 'billing',
          events: {
            'order.placed': async (ctx: EventContext) => {
              await Promise.resolve();
              ctx.emit('invoice.due', { order: 1 });
            },
            'invoice.due': () => resolve(),
          },
        });
      });
      await bus.start();
      tracer().startActiveSpan('request', (root) => {
        bus.emit('order.placed', { id: 1 });
        root.end();
      });
      await done;
      await new Promise((resolve) => setTimeout(resolve, 1)); // the first handler's promise settles after the second ran
      const root = one('request');
      const placed = one('send order.placed');
      const processPlaced = one('process order.placed');
      const due = one('send invoice.due');
      const processDue = one('process invoice.due');
      expect(isChild(placed, root)).toBe(true);
      expect(isChild(processPlaced, placed)).toBe(true);
      expect(isChild(due, processPlaced)).toBe(true);
      expect(isChild(processDue, due)).toBe(true);
      expect(processPlaced.attributes['messaging.consumer.group.name']).toBe('billing');
    });

    it('records a failing handler on its span and still reports the failure', () => {
      const bus = newBus();
      const errors: unknown[] = [];
      bus.on('$broker.error', (payload) => errors.push(payload));
      bus.on('boom', () => {
        throw new KindlingError('INVALID', 'bad payload');
      });
      bus.emit('boom');
      const failed = one('process boom');
      expect(failed.status.code).toBe(SpanStatusCode.ERROR);
      expect(failed.attributes['error.type']).toBe('INVALID');
      expect(errors).toHaveLength(1);
    });

    it('puts the trace context of each publish in its envelope', () => {
      const bus = newBus();
      const seen: EventEnvelope[] = [];
      const sub = bus.events.subscribe('orders');
      void bus.events.send('orders', 'placed', 'app:o1', { id: 1 });
      void bus.events.send('orders', 'placed', 'app:o2', { id: 2 });
      for (let next = sub.channel().tryReceive(); next.ok; next = sub.channel().tryReceive()) seen.push(next.value);
      const sends = named('send orders.placed');
      expect(sends).toHaveLength(2);
      expect(seen.map((envelope) => envelope.traceContext?.['traceparent'])).toEqual(
        sends.map((span) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`),
      );
    });

    it('counts published and consumed events', async () => {
      const bus = newBus();
      bus.on('counted.event', () => undefined);
      bus.emit('counted.event');
      const sent = await metricPoints('messaging.client.sent.messages');
      expect(sent.some((p) => p.attributes['messaging.destination.name'] === 'counted.event')).toBe(true);
      const consumed = await metricPoints('messaging.client.consumed.messages');
      expect(consumed.some((p) => p.attributes['messaging.destination.name'] === 'counted.event')).toBe(true);
    });
  });

  describe('durable channels (in memory)', () => {
    it('carries the sender context to the delivery span, and makes retries and dead letters spans', async () => {
      const bus = newBus();
      await bus.start();
      let calls = 0;
      const dead = new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          void bus.channels.deadLetterCounts().then((counts) => {
            if (counts['jobs'] === 1) {
              clearInterval(timer);
              resolve();
            }
          });
        }, 5);
      });
      await bus.channels.subscribe('jobs', {
        group: 'workers',
        maxRetries: 1,
        backoffMs: 1,
        handler: () => {
          calls++;
          throw new Error(`attempt ${calls} failed`);
        },
      });
      await tracer().startActiveSpan('request', async (root) => {
        await bus.channels.send('jobs', { n: 1 }, { id: 'job-1' });
        root.end();
      });
      await dead;
      const root = one('request');
      const send = one('send jobs');
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(isChild(send, root)).toBe(true);
      const deliveries = named('process jobs');
      expect(deliveries.map((span) => span.attributes['kindling.channel.attempt'])).toEqual([1, 2]);
      expect(deliveries.map((span) => span.attributes['kindling.channel.retry'])).toEqual([false, true]);
      for (const span of deliveries) {
        expect(isChild(span, send)).toBe(true);
        expect(span.attributes).toMatchObject({
          'messaging.consumer.group.name': 'workers',
          'messaging.message.id': 'job-1',
        });
        expect(span.status.code).toBe(SpanStatusCode.ERROR);
      }
      const letter = one('dead_letter jobs');
      expect(isChild(letter, send)).toBe(true);
      expect(letter.attributes['kindling.channel.attempts']).toBe(2);
      expect(await metricPoints('kindling.channel.retries')).toEqual([
        expect.objectContaining({ value: 1 }) as unknown,
      ]);
      expect((await metricPoints('kindling.channel.dead_letters'))[0]?.value).toBe(1);
    });

    it('counts acknowledgements', async () => {
      const bus = newBus();
      await bus.start();
      const handled = new Promise<void>((resolve) => {
        void bus.channels.subscribe('acked', { group: 'g', handler: () => resolve() });
      });
      await bus.channels.send('acked', 1);
      await handled;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const acks = await metricPoints('kindling.channel.acks');
      expect(acks.some((p) => p.attributes['messaging.destination.name'] === 'acked' && p.value === 1)).toBe(true);
    });
  });

  describe('http', () => {
    it('makes a server span named by the route template, continuing the caller traceparent', () => {
      const http = httpTelemetry();
      const caller = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const span = http?.request('GET', '/users/42?x=1', { traceparent: caller });
      span?.run(() => tracer().startActiveSpan('inner', (inner) => inner.end()));
      span?.matched('/users/:id');
      span?.end(200);
      const server = one('GET /users/:id');
      expect(server.kind).toBe(SpanKind.SERVER);
      expect(server.attributes).toMatchObject({
        'http.request.method': 'GET',
        'http.route': '/users/:id',
        'http.response.status_code': 200,
        'url.path': '/users/42',
      });
      expect(server.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(parentOf(server)).toBe('b7ad6b7169203331');
      expect(isChild(one('inner'), server)).toBe(true);
    });
  });

  describe('logger', () => {
    it('writes the trace and span id of the active span on each line', () => {
      const lines: string[] = [];
      const logger = createConsoleLogger('info', 'test', { write: (line) => void lines.push(line) });
      logger.info('outside');
      tracer().startActiveSpan('work', (span) => {
        logger.info('inside', { n: 1 });
        span.end();
      });
      const work = one('work');
      expect(lines[0]).not.toContain('traceId');
      expect(lines[1]).toContain(`"traceId":"${work.spanContext().traceId}"`);
      expect(lines[1]).toContain(`"spanId":"${work.spanContext().spanId}"`);
      expect(lines[1]).toContain('"n":1');
    });
  });
});
