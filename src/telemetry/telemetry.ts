// OpenTelemetry traces and metrics, when the application has an SDK (docs/telemetry.md).
//
// `@opentelemetry/api` is an optional peer: it is loaded once, with `require`, the first time a
// core object (a registry, a bus, a channel store, an http service) asks whether telemetry is on,
// and only the types are imported here. Without the package, or with it but no SDK registered,
// `telemetry()` answers `undefined`, and each hot path pays one `undefined` check. Nothing in this
// folder is part of the public types: the objects that hold a `Telemetry` keep it private.

import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import { errorCodeOf, messageOf } from '../common/errors.js';
import type { ChannelSendOptions } from '../events/core/channels.js';

type Api = typeof OtelApi;
type Attributes = OtelApi.Attributes;

/** The carrier of a trace context: `traceparent` and, when there is one, `tracestate` (or more, by propagator). */
export type TraceCarrier = Readonly<Record<string, string>>;

/** The instrumentation scope of every span and instrument. */
export const SCOPE = 'kindling';
const VERSION = '0.1.0';

/** The `messaging.system` of spans of the bus and the durable channels. */
export const MESSAGING_SYSTEM = 'kindling';

let api: Api | null | undefined;

/** The api package, loaded once; `null` when it is not installed. */
function loadApi(): Api | null {
  if (api !== undefined) return api;
  try {
    api = createRequire(import.meta.url)('@opentelemetry/api') as Api;
  } catch {
    api = null;
  }
  return api;
}

let current: Telemetry | undefined;
let currentKey: { tracer: unknown; meter: unknown } | undefined;
/** Set while a telemetry is on, for the logger: the api, to read the active span. */
let forLogs: Api | undefined;

/**
 * The telemetry of the providers registered now, or `undefined` when no SDK is: `@opentelemetry/api`
 * is not installed, or neither a tracer provider nor a meter provider was registered with it. Core
 * objects ask once, when they are made (an SDK is registered before boot); the answer is shared
 * until the registered providers change.
 */
export function telemetry(): Telemetry | undefined {
  const otel = loadApi();
  if (otel === null) return undefined;
  const proxy = otel.trace.getTracerProvider() as OtelApi.TracerProvider & { getDelegate?: () => unknown };
  // A proxy with nothing behind it hands out the same no-op provider a fresh proxy does.
  const tracerDelegate = typeof proxy.getDelegate === 'function' ? proxy.getDelegate() : proxy;
  const noopTracer = new otel.ProxyTracerProvider().getDelegate();
  const meterProvider = otel.metrics.getMeterProvider();
  const noopMeter = otel.createNoopMeter().constructor;
  const tracing = tracerDelegate !== noopTracer;
  const metering = !(meterProvider.getMeter(SCOPE) instanceof noopMeter);
  if (!tracing && !metering) {
    current = undefined;
    currentKey = undefined;
    forLogs = undefined;
    return undefined;
  }
  if (
    current === undefined ||
    currentKey === undefined ||
    currentKey.tracer !== tracerDelegate ||
    currentKey.meter !== meterProvider
  ) {
    current = new Telemetry(otel, tracing);
    currentKey = { tracer: tracerDelegate, meter: meterProvider };
  }
  forLogs = tracing ? otel : undefined;
  return current;
}

/** The trace and span id of the active span, for log lines; `undefined` without one (or without an SDK). */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
  const otel = forLogs;
  if (otel === undefined) return undefined;
  const span = otel.trace.getSpan(otel.context.active());
  if (span === undefined) return undefined;
  const ids = span.spanContext();
  return otel.isSpanContextValid(ids) ? { traceId: ids.traceId, spanId: ids.spanId } : undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** A span in progress and the context it is the active span of. */
export interface OpenSpan {
  readonly span: OtelApi.Span;
  readonly context: OtelApi.Context;
}

/**
 * The spans and instruments of one registered SDK. Every method is called only behind a check that
 * telemetry is on, so none of them is on a path that runs without it.
 */
export class Telemetry {
  readonly api: Api;
  private readonly tracer: OtelApi.Tracer;
  /** False when only a meter provider is registered: spans are not made, contexts not carried. */
  readonly tracing: boolean;
  private readonly applies: OtelApi.Counter;
  private readonly refusals: OtelApi.Counter;
  private readonly listenerDuration: OtelApi.Histogram;
  private readonly sent: OtelApi.Counter;
  private readonly consumed: OtelApi.Counter;
  private readonly processDuration: OtelApi.Histogram;
  private readonly dropped: OtelApi.Counter;
  private readonly acks: OtelApi.Counter;
  private readonly retries: OtelApi.Counter;
  private readonly deadLetters: OtelApi.Counter;
  private readonly httpDuration: OtelApi.Histogram;

  constructor(otel: Api, tracing: boolean) {
    this.api = otel;
    this.tracing = tracing;
    this.tracer = otel.trace.getTracer(SCOPE, VERSION);
    const meter = otel.metrics.getMeter(SCOPE, VERSION);
    this.applies = meter.createCounter('kindling.registry.applies', {
      description: 'Batches applied to the registry, by outcome (committed, refused, dry_run, empty)',
      unit: '{batch}',
    });
    this.refusals = meter.createCounter('kindling.registry.refusals', {
      description: 'Batches refused by a check or a listener',
      unit: '{batch}',
    });
    this.listenerDuration = meter.createHistogram('kindling.registry.listener.duration', {
      description: 'Duration of listener and observer calls',
      unit: 's',
    });
    this.sent = meter.createCounter('messaging.client.sent.messages', {
      description: 'Events published and channel messages sent',
      unit: '{message}',
    });
    this.consumed = meter.createCounter('messaging.client.consumed.messages', {
      description: 'Events delivered to handlers and channel messages handed to handlers',
      unit: '{message}',
    });
    this.processDuration = meter.createHistogram('messaging.process.duration', {
      description: 'Duration of event and channel handler calls',
      unit: 's',
    });
    this.dropped = meter.createCounter('kindling.events.dropped', {
      description: 'Events dropped by full subscription buffers',
      unit: '{event}',
    });
    this.acks = meter.createCounter('kindling.channel.acks', {
      description: 'Channel messages handled and acknowledged',
      unit: '{message}',
    });
    this.retries = meter.createCounter('kindling.channel.retries', {
      description: 'Channel deliveries that failed and will be retried',
      unit: '{message}',
    });
    this.deadLetters = meter.createCounter('kindling.channel.dead_letters', {
      description: 'Channel messages given up on and dead-lettered',
      unit: '{message}',
    });
    this.httpDuration = meter.createHistogram('http.server.request.duration', {
      description: 'Duration of HTTP server requests',
      unit: 's',
    });
  }

  // ---------------------------------------------------------------- generic

  /** Starts a span under the active context (or `parent`); the context it is active in comes with it. */
  start(name: string, kind: OtelApi.SpanKind, attributes: Attributes, parent?: OtelApi.Context): OpenSpan {
    const otel = this.api;
    const base = parent ?? otel.context.active();
    const span = this.tracer.startSpan(name, { kind, attributes }, base);
    return { span, context: otel.trace.setSpan(base, span) };
  }

  /** Ends a span as failed by `error`. */
  fail(span: OtelApi.Span, error: unknown, outcome = 'error'): void {
    span.setAttribute('kindling.outcome', outcome);
    const code = errorCodeOf(error);
    if (code !== undefined) span.setAttribute('error.type', code);
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: messageOf(error, 500) });
    span.end();
  }

  /**
   * Runs `fn` with `open` as the active span and ends it when `fn` returns or settles: `outcome` on
   * success, failed on a throw or rejection (which go on to the caller). `done` sees the outcome
   * and the duration in seconds.
   */
  run<T>(open: OpenSpan, fn: () => T, done?: (outcome: string, seconds: number) => void): T {
    const started = done === undefined ? 0 : performance.now();
    const finish = (outcome: string, error?: unknown): void => {
      if (error === undefined) {
        open.span.setAttribute('kindling.outcome', outcome);
        open.span.end();
      } else this.fail(open.span, error, outcome);
      done?.(outcome, (performance.now() - started) / 1000);
    };
    let result: T;
    try {
      result = this.api.context.with(open.context, fn);
    } catch (error) {
      finish('error', error);
      throw error;
    }
    if (isThenable(result)) {
      return result.then(
        (value) => {
          finish('ok');
          return value;
        },
        (error: unknown) => {
          finish('error', error ?? new Error('rejected'));
          throw error;
        },
      ) as T;
    }
    finish('ok');
    return result;
  }

  // ---------------------------------------------------------------- context propagation

  /** The trace context of `ctx` (the active one by default) as a carrier, or `undefined` when it has none. */
  inject(ctx: OtelApi.Context = this.api.context.active()): TraceCarrier | undefined {
    if (!this.tracing) return undefined;
    const carrier: Record<string, string> = {};
    this.api.propagation.inject(ctx, carrier);
    return carrier['traceparent'] === undefined ? undefined : carrier;
  }

  /**
   * The context a carrier continues; without one, a new trace. Never the active context: what
   * arrives (a request, a message) runs in the async context of whatever started the server or the
   * subscription (a registry apply, say), which it is no part of.
   */
  extract(carrier: TraceCarrier | undefined): OtelApi.Context {
    const root = this.api.ROOT_CONTEXT;
    return carrier === undefined ? root : this.api.propagation.extract(root, carrier);
  }

  // ---------------------------------------------------------------- registry

  /** The span of one `registry.apply`, active while the batch runs. */
  applySpan(ops: number, source: string | undefined, dryRun: boolean): OpenSpan {
    return this.start('registry.apply', this.api.SpanKind.INTERNAL, {
      'kindling.registry.ops': ops,
      'kindling.registry.source': source ?? '',
      'kindling.registry.dry_run': dryRun,
    });
  }

  /** Ends an apply span: the revision and outcome, or the refusal and the entry and listener it names. */
  applyEnded(open: OpenSpan, outcome: 'committed' | 'dry_run' | 'empty', revision: number, faults: number): void {
    open.span.setAttribute('kindling.registry.revision', revision);
    open.span.setAttribute('kindling.outcome', outcome);
    if (faults > 0) open.span.setAttribute('kindling.registry.faults', faults);
    open.span.end();
    this.applies.add(1, { 'kindling.outcome': outcome });
  }

  /** Ends an apply span as refused. */
  applyRefused(open: OpenSpan, error: unknown): void {
    const details = detailsOf(error);
    const entry = details?.['entryId'];
    const listener = details?.['listener'];
    if (typeof entry === 'string') open.span.setAttribute('kindling.registry.refusing.entry', entry);
    if (typeof listener === 'string') open.span.setAttribute('kindling.registry.refusing.listener', listener);
    this.fail(open.span, error, 'refused');
    const code = errorCodeOf(error) ?? 'error';
    this.applies.add(1, { 'kindling.outcome': 'refused' });
    this.refusals.add(1, { 'error.type': code });
  }

  /** A listener or observer call: its span is active while it runs; the duration is measured. */
  // eslint-disable-next-line @typescript-eslint/max-params -- the fields of one call, as the registry has them
  handlerCall<T>(kind: 'listener' | 'observer', name: string, entryId: string | undefined, op: string, fn: () => T): T {
    const attributes: Attributes = { [`kindling.${kind}`]: name, 'kindling.registry.op': op };
    if (entryId !== undefined) attributes['kindling.entry.id'] = entryId;
    const open = this.start(`registry.${kind} ${op}`, this.api.SpanKind.INTERNAL, attributes);
    return this.run(open, fn, (outcome, seconds) =>
      this.listenerDuration.record(seconds, {
        [`kindling.${kind}`]: name,
        'kindling.registry.op': op,
        'kindling.outcome': outcome,
      }),
    );
  }

  // ---------------------------------------------------------------- events

  /** The producer span of one publish (`send <name>`). */
  publishSpan(name: string, mode: string): OpenSpan {
    this.sent.add(1, { 'messaging.system': MESSAGING_SYSTEM, 'messaging.destination.name': name });
    return this.start(`send ${name}`, this.api.SpanKind.PRODUCER, {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.destination.name': name,
      'messaging.operation.type': 'send',
      'messaging.operation.name': mode,
    });
  }

  /** A consumer span per handler call (`process <name>`), active while the handler runs. */
  // eslint-disable-next-line @typescript-eslint/max-params -- called per delivery with what the core has at hand
  consume<T>(
    name: string,
    subscriber: string,
    group: string | undefined,
    messageId: string | undefined,
    fn: () => T,
  ): T {
    const attributes: Attributes = {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.destination.name': name,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'kindling.subscriber': subscriber,
    };
    if (group !== undefined && !group.startsWith('\u0000')) attributes['messaging.consumer.group.name'] = group;
    if (messageId !== undefined) attributes['messaging.message.id'] = messageId;
    const open = this.start(`process ${name}`, this.api.SpanKind.CONSUMER, attributes);
    const metric = { 'messaging.system': MESSAGING_SYSTEM, 'messaging.destination.name': name };
    this.consumed.add(1, metric);
    return this.run(open, fn, (outcome, seconds) =>
      this.processDuration.record(seconds, { ...metric, 'kindling.outcome': outcome }),
    );
  }

  /** Counts events a full buffer dropped. */
  droppedEvent(): void {
    this.dropped.add(1);
  }

  // ---------------------------------------------------------------- channels

  /** The producer span of one channel send (`send <channel>`). */
  channelSendSpan(channel: string, messageId: string | undefined, parent?: OtelApi.Context): OpenSpan {
    this.sent.add(1, { 'messaging.system': MESSAGING_SYSTEM, 'messaging.destination.name': channel });
    const attributes: Attributes = {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.destination.name': channel,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
    };
    if (messageId !== undefined) attributes['messaging.message.id'] = messageId;
    return this.start(`send ${channel}`, this.api.SpanKind.PRODUCER, attributes, parent);
  }

  /**
   * A channel send inside its producer span (`send <channel>`). The span continues the trace context
   * the send names (its `traceparent`, or its parent context's), else the active one; unless the
   * caller gave a `traceparent` of its own, the message carries the producer span's context.
   */
  channelSend(
    channel: string,
    options: ChannelSendOptions,
    send: (options: ChannelSendOptions) => Promise<void>,
  ): Promise<void> {
    const parentCtx = options.parentCtx;
    let named: TraceCarrier | undefined;
    if (options.traceparent !== undefined) named = carrierOf(options.traceparent, options.tracestate);
    else if (parentCtx !== undefined) {
      const traceparent = parentCtx.traceparent ?? parentCtx.meta['traceparent'];
      const tracestate = parentCtx.traceparent === undefined ? parentCtx.meta['tracestate'] : parentCtx.tracestate;
      if (typeof traceparent === 'string')
        named = carrierOf(traceparent, typeof tracestate === 'string' && tracestate !== '' ? tracestate : undefined);
    }
    const span = this.channelSendSpan(channel, options.id, named === undefined ? undefined : this.extract(named));
    let next = options;
    if (options.traceparent === undefined) {
      const carrier = this.inject(span.context);
      const traceparent = carrier?.['traceparent'];
      if (traceparent !== undefined) {
        const tracestate = carrier?.['tracestate'];
        next = tracestate === undefined ? { ...options, traceparent } : { ...options, traceparent, tracestate };
      }
    }
    return this.run(span, () => send(next));
  }

  /**
   * The consumer span of one channel delivery (`process <channel>`), continuing the sender's trace
   * context and active while the handler runs; a retry (attempt above 1) says so.
   */
  channelDelivery<T>(
    message: {
      readonly channel: string;
      readonly group: string;
      readonly id: string;
      readonly attempt: number;
      readonly traceparent: string | undefined;
      readonly tracestate: string | undefined;
    },
    fn: () => Promise<T>,
  ): Promise<T> {
    const parent = this.extract(carrierOf(message.traceparent, message.tracestate));
    const open = this.start(
      `process ${message.channel}`,
      this.api.SpanKind.CONSUMER,
      {
        'messaging.system': MESSAGING_SYSTEM,
        'messaging.destination.name': message.channel,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.consumer.group.name': message.group,
        'messaging.message.id': message.id,
        'kindling.channel.attempt': message.attempt,
        'kindling.channel.retry': message.attempt > 1,
      },
      parent,
    );
    const metric = { 'messaging.system': MESSAGING_SYSTEM, 'messaging.destination.name': message.channel };
    this.consumed.add(1, metric);
    return this.run(open, fn, (outcome, seconds) =>
      this.processDuration.record(seconds, { ...metric, 'kindling.outcome': outcome }),
    );
  }

  /** A delivery was acknowledged. */
  channelAcked(channel: string, group: string): void {
    this.acks.add(1, { 'messaging.destination.name': channel, 'messaging.consumer.group.name': group });
  }

  /** A delivery failed and will be retried (the retry is a delivery span of its own, `kindling.channel.retry`). */
  channelRetry(channel: string, group: string): void {
    this.retries.add(1, { 'messaging.destination.name': channel, 'messaging.consumer.group.name': group });
  }

  /** A message was dead-lettered: a span of its own in the message's trace, and a count. */
  // eslint-disable-next-line @typescript-eslint/max-params -- the fields of one dead letter
  channelDeadLetter(
    channel: string,
    group: string,
    id: string | undefined,
    attempts: number,
    error: string,
    carrier: TraceCarrier | undefined,
  ): void {
    this.deadLetters.add(1, { 'messaging.destination.name': channel, 'messaging.consumer.group.name': group });
    const attributes: Attributes = {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.destination.name': channel,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'dead_letter',
      'messaging.consumer.group.name': group,
      'kindling.channel.attempts': attempts,
      'kindling.channel.error': error.slice(0, 500),
    };
    if (id !== undefined) attributes['messaging.message.id'] = id;
    const open = this.start(`dead_letter ${channel}`, this.api.SpanKind.PRODUCER, attributes, this.extract(carrier));
    open.span.setAttribute('kindling.outcome', 'dead_letter');
    open.span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: error.slice(0, 500) });
    open.span.end();
  }

  // ---------------------------------------------------------------- http

  /** The server span of one HTTP request, continuing the caller's `traceparent` when it sent one. */
  httpRequest(method: string, target: string, headers: Readonly<Record<string, unknown>>): HttpSpan {
    const carrier: Record<string, string> = {};
    const parent = headers['traceparent'];
    if (typeof parent === 'string') carrier['traceparent'] = parent;
    const state = headers['tracestate'];
    if (typeof state === 'string') carrier['tracestate'] = state;
    const open = this.start(
      method,
      this.api.SpanKind.SERVER,
      { 'http.request.method': method, 'url.path': target.split('?')[0] ?? target },
      this.extract(carrier['traceparent'] === undefined ? undefined : carrier),
    );
    return new HttpSpan(this, open, method);
  }

  /** @internal Records one request's duration. */
  httpDone(seconds: number, attributes: Attributes): void {
    this.httpDuration.record(seconds, attributes);
  }
}

/** The span of one HTTP request (see {@link Telemetry.httpRequest}). */
export class HttpSpan {
  private route: string | undefined;
  private readonly started = performance.now();

  constructor(
    private readonly telemetry: Telemetry,
    readonly open: OpenSpan,
    private readonly method: string,
  ) {}

  /** Runs `fn` with the request span active. */
  run<T>(fn: () => T): T {
    return this.telemetry.api.context.with(this.open.context, fn);
  }

  /** The route template the request matched: the span is named after it. */
  matched(route: string): void {
    this.route = route;
    this.open.span.setAttribute('http.route', route);
    this.open.span.updateName(`${this.method} ${route}`);
  }

  /** Ends the span with the answer's status (a 5xx is an error). */
  end(status: number, error?: string): void {
    const span = this.open.span;
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) {
      span.setAttribute('error.type', String(status));
      span.setStatus({
        code: this.telemetry.api.SpanStatusCode.ERROR,
        ...(error === undefined ? {} : { message: error }),
      });
    }
    span.end();
    const attributes: Attributes = { 'http.request.method': this.method, 'http.response.status_code': status };
    if (this.route !== undefined) attributes['http.route'] = this.route;
    if (status >= 500) attributes['error.type'] = String(status);
    this.telemetry.httpDone((performance.now() - this.started) / 1000, attributes);
  }
}

/** A carrier of a `traceparent` and `tracestate`, when there is a traceparent. */
export function carrierOf(traceparent: string | undefined, tracestate: string | undefined): TraceCarrier | undefined {
  if (traceparent === undefined) return undefined;
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

function detailsOf(error: unknown): Record<string, unknown> | undefined {
  try {
    const details: unknown = (error as { details?: unknown } | undefined)?.details;
    return typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
