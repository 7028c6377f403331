import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleLogger, silentLogger } from '../common/logger.js';
import { DefaultEventBus } from '../events/event-bus.js';
import type { EventEnvelope } from '../events/core/event-envelope.js';
import type { ChannelContext } from '../events/core/channels.js';
import { HandlerRegistry } from '../handlers/handler-registry.js';
import { Registry } from '../registry/registry.js';
import { httpTelemetry } from './http-telemetry.js';
import { activeTraceIds, telemetry } from './telemetry.js';

// The api package is installed here (a dev dependency), with a context manager and a propagator,
// but no tracer or meter provider: that is "no SDK", and nothing may change.
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});

afterAll(() => {
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
});

describe('telemetry without an SDK registered', () => {
  it('is off', () => {
    expect(telemetry()).toBeUndefined();
    expect(httpTelemetry()).toBeUndefined();
    expect(activeTraceIds()).toBeUndefined();
  });

  it('leaves the bus, the registry, channels and the logger as they are', async () => {
    const bus = new DefaultEventBus({ nodeID: 'node-1', logger: silentLogger });
    const handlers = new HandlerRegistry();
    const added: string[] = [];
    handlers.registerListener('app.*', {
      add: (_ctx, entry) => void added.push(entry.id),
      update: () => undefined,
      delete: () => undefined,
    });
    const registry = new Registry({ handlers, logger: silentLogger });
    try {
      await bus.start();
      const seen: unknown[] = [];
      bus.on('order.placed', (payload) => seen.push(payload));
      bus.emit('order.placed', { id: 1 });
      expect(seen).toEqual([{ id: 1 }]);

      const sub = bus.events.subscribe('orders');
      await bus.events.send('orders', 'placed', 'app:o1', { id: 2 });
      const received = sub.channel().tryReceive();
      expect(received.ok).toBe(true);
      expect((received.value as EventEnvelope).traceContext).toBeUndefined();

      const messages: ChannelContext[] = [];
      const handled = new Promise<void>((resolve) => {
        void bus.channels.subscribe('jobs', {
          group: 'g',
          handler: (message) => {
            messages.push(message);
            resolve();
          },
        });
      });
      await bus.channels.send('jobs', { n: 1 });
      await handled;
      expect(messages[0]?.traceparent).toBeUndefined();

      const result = await registry.apply([{ op: 'create', entry: { id: 'app:a', kind: 'app.thing' } }]);
      expect(result.revision).toBe(1);
      expect(added).toEqual(['app:a']);

      const lines: string[] = [];
      createConsoleLogger('info', 'test', { write: (line) => void lines.push(line) }).info('plain', { n: 1 });
      expect(lines).toEqual(['[test] info  plain {"n":1}\n']);
    } finally {
      await bus.stop();
    }
  });

  it('makes no span from objects made before an SDK was registered', async () => {
    const bus = new DefaultEventBus({ nodeID: 'node-2', logger: silentLogger });
    const registry = new Registry({ handlers: new HandlerRegistry(), acceptKinds: ['x.*'], logger: silentLogger });
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    try {
      const seen: unknown[] = [];
      bus.on('tick', (payload) => seen.push(payload));
      bus.emit('tick', 1);
      await registry.apply([{ op: 'create', entry: { id: 'app:x', kind: 'x.y' } }]);
      expect(seen).toEqual([1]);
      expect(exporter.getFinishedSpans()).toEqual([]);
      // Objects made now see the SDK.
      expect(telemetry()).toBeDefined();
    } finally {
      await bus.stop();
      await provider.shutdown();
      trace.disable();
    }
    expect(telemetry()).toBeUndefined();
  });
});
