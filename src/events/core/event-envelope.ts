/**
 * How an event is delivered:
 * - `emit`: balanced, one subscriber per group and pattern (Moleculer `emit`, Wippy `send`, Grafana
 *   `publish`, broker `publish`);
 * - `broadcast`: every subscriber, on every node;
 * - `broadcastLocal`: every subscriber of this node only.
 */
export type DeliveryMode = 'emit' | 'broadcast' | 'broadcastLocal';

/** Where an event came from, for tracing a chain of events (Moleculer's `requestID` / `parentID`). */
export interface EventTrace {
  /** The id shared by every event of one causal chain (the first event's id). */
  readonly requestID: string;
  /** The id of the event whose handler sent this one, when there was one. */
  readonly parentID: string | undefined;
  /** The name of the service that sent the event from a handler, when there was one. */
  readonly caller: string | undefined;
}

/**
 * The one envelope every face of the bus shares. `name` is the routing key of the pattern trie and is
 * always `${system}.${kind}`; an event published by name (Moleculer face) is split at its first dot
 * (`user.created` → system `user`, kind `created`; a dotless name `tick` → system `tick`, kind `''`).
 *
 * @example
 * bus.events.subscribe('orders'); // receives envelopes with system 'orders', any kind
 */
export interface EventEnvelope<T = unknown> {
  /** Unique per bus: `${nodeID}-${sequence}`. */
  readonly id: string;
  /** The event name, `${system}.${kind}`. */
  readonly name: string;
  readonly system: string;
  readonly kind: string;
  /** The Wippy routing path (an entry id for registry events); `''` for events published by name. */
  readonly path: string;
  readonly data: T;
  /** Metadata carried from handler to handler (Moleculer `ctx.meta`). */
  readonly meta: Readonly<Record<string, unknown>>;
  /** When the event was published, in epoch milliseconds. */
  readonly time: number;
  readonly trace: EventTrace;
  /** The node that published the event. */
  readonly source: string;
  /** How it is delivered. */
  readonly eventType: DeliveryMode;
  /** The groups the delivery is limited to, when the publisher named some. */
  readonly groups: readonly string[] | undefined;
  /**
   * An `emit` whose sender preferred its own members (local preference): the balancing slots
   * (`group NUL pattern`) it served itself, which the other nodes skip; the sender drops its own copy.
   */
  readonly servedSlots?: readonly string[] | undefined;
  /**
   * The W3C trace context of the publish (`traceparent`, `tracestate`), when an OpenTelemetry SDK
   * is registered (docs/telemetry.md): the handlers' spans, on this node and the others, continue it.
   */
  readonly traceContext?: Readonly<Record<string, string>> | undefined;
}

/** The fields of an envelope that a publisher chooses; the bus fills in the rest. */
export interface EnvelopeInit<T = unknown> {
  readonly name: string;
  readonly system?: string | undefined;
  readonly kind?: string | undefined;
  readonly path?: string | undefined;
  readonly data: T;
  readonly meta?: Readonly<Record<string, unknown>> | undefined;
  readonly parentID?: string | undefined;
  readonly requestID?: string | undefined;
  readonly caller?: string | undefined;
  readonly eventType: DeliveryMode;
  readonly groups?: readonly string[] | undefined;
  readonly servedSlots?: readonly string[] | undefined;
  readonly traceContext?: Readonly<Record<string, string>> | undefined;
}

/** Shared empty metadata, so that envelopes without meta allocate nothing. */
export const EMPTY_META: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * The event name of a Wippy-style event: `${system}.${kind}`.
 *
 * @example
 * eventNameOf('registry', 'entry.create'); // 'registry.entry.create'
 */
export function eventNameOf(system: string, kind: string): string {
  return kind === '' ? system : `${system}.${kind}`;
}

/**
 * The system and kind of an event name: split at the first dot.
 *
 * @example
 * splitEventName('$registry.observer_error'); // { system: '$registry', kind: 'observer_error' }
 */
export function splitEventName(name: string): { system: string; kind: string } {
  const dot = name.indexOf('.');
  return dot < 0 ? { system: name, kind: '' } : { system: name.slice(0, dot), kind: name.slice(dot + 1) };
}
