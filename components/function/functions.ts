import type { Logger } from 'kindling';
import type { FaultOrigin } from 'kindling/boot';
import type { ChannelSendOptions, EmitOptions } from 'kindling/events';

/** Options of a function's `emit` and `broadcast`: the groups, and meta merged over the call's. */
export type FunctionEmitOptions = Pick<EmitOptions, 'groups' | 'meta'>;

/** Options of a function's `channels.send`: key, id and meta (merged over the call's). */
export type FunctionSendOptions = Pick<ChannelSendOptions, 'key' | 'id' | 'meta'>;

/**
 * Who called a function: the kind and id of the entry that did (`event.listener app:orders-view`,
 * `timer.cron app:report`), and what that caller adds (the event name, the channel message id).
 * Passed through as it is; a tracer may add its own fields.
 */
export interface FunctionCaller {
  /** The kind of the calling entry (`event.listener`, `channel.consumer`, `timer.cron`...). */
  readonly kind: string;
  /** The id of the calling entry. */
  readonly id: string;
  /** What the caller adds: the event name, the channel message id and attempt, the scheduled time. */
  readonly [key: string]: unknown;
}

/** What a function receives besides its input. */
export interface FunctionContext {
  /** The id of the `function.js` entry being called. */
  readonly id: string;
  readonly logger: Logger;
  /**
   * The caller's metadata (an event's or a channel message's `meta`; `{}` when the caller has none).
   * `emit`, `broadcast` and `channels.send` carry it on.
   */
  readonly meta: Readonly<Record<string, unknown>>;
  /** Who called, when an entry did (event listeners, channel consumers and timers say). */
  readonly caller?: FunctionCaller | undefined;
  /**
   * The caller's trace, when an OpenTelemetry SDK is registered and a span is active (the HTTP
   * request's, the event handler's, the channel delivery's): its W3C trace id and span id. `emit`,
   * `broadcast` and `channels.send` continue it on their own.
   */
  readonly trace?: { readonly traceId: string; readonly spanId: string } | undefined;
  /**
   * Emits a balanced event on the app's bus (Moleculer `emit`: one handler per group), carrying
   * {@link meta}. Called from an event or a channel message, the new event names it as its parent.
   * Throws `UNAVAILABLE` when the app has no events component.
   */
  emit(name: string, payload?: unknown, options?: FunctionEmitOptions): void;
  /** Broadcasts an event to every handler on every node (Moleculer `broadcast`), carrying {@link meta}. */
  broadcast(name: string, payload?: unknown, options?: FunctionEmitOptions): void;
  /** Wippy's `send`: the event `<system>.<kind>` with a path and data, as the registry announces its changes. */
  send(system: string, kind: string, path: string, data?: unknown): Promise<void>;
  /** The app's durable channels: `send` stores a message, carrying {@link meta}; resolves once it is stored. */
  readonly channels: {
    send(channel: string, payload: unknown, options?: FunctionSendOptions): Promise<void>;
  };
  /** Anything else the caller adds (the http component adds `endpoint`, the endpoint entry id). */
  readonly [key: string]: unknown;
}

/** A function loaded from a `function.js` entry. */
export interface LoadedFunction {
  readonly id: string;
  /** Absolute path of the module file. */
  readonly file: string;
  readonly exportName: string;
  /** A hash of the module file's content: a new version after each change. */
  readonly version: string;
  readonly fn: (input: unknown, context: FunctionContext) => unknown;
}

/** The functions of the committed registry state, by entry id. */
export interface Functions {
  /** The committed function with this id. */
  get(id: string): LoadedFunction | undefined;
  /** Ids of the committed functions, sorted. */
  ids(): string[];
  /**
   * Calls the committed function `id` with `input`. Throws `NOT_FOUND` when there is none; whatever
   * the function throws propagates.
   */
  call(id: string, input: unknown, context?: Record<string, unknown>): Promise<unknown>;
  /**
   * The function a fault came from: the call whose async context it happened in (a rejection
   * nobody handled, a throw in a timer the function set), else the top-most stack frame in a
   * function's module file. Undefined when neither tells. A `FaultAttributor` (kindling/boot) for the
   * process guard.
   */
  originOf(fault: unknown): FaultOrigin | undefined;
}
/** Token of the boot's {@link Functions}, bound by the `function` component. */
export const Functions: unique symbol = Symbol.for('kindling.Functions');
