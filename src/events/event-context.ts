import type { DeliveryMode, EventEnvelope } from './event-envelope.js';
import type { Service } from './service-events.js';

/** Groups an event is limited to: one name or several (Moleculer's third argument). */
export type EmitGroups = string | readonly string[];

/** Options of `emit` / `broadcast` / `broadcastLocal` beyond the payload. */
export interface EmitOptions {
  /** Only these groups (services) receive the event. */
  readonly groups?: EmitGroups | undefined;
  /** Metadata carried to the handlers' `ctx.meta` (merged over the parent context's). */
  readonly meta?: Readonly<Record<string, unknown>> | undefined;
  /** The context of the handler that emits, for tracing (`ctx.emit` sets it). */
  readonly parentCtx?: EventContext | undefined;
}

/** @internal What a context needs to emit follow-up events. */
export interface ContextPublisher {
  emit(name: string, payload: unknown, options: EmitOptions): void;
  broadcast(name: string, payload: unknown, options: EmitOptions): void;
  broadcastLocal(name: string, payload: unknown, options: EmitOptions): void;
}

/** @internal Normalises Moleculer's `groups | options` third argument. */
export function toEmitOptions(options: EmitGroups | EmitOptions | undefined): EmitOptions {
  if (options === undefined) return {};
  if (typeof options === 'string' || Array.isArray(options)) return { groups: options as EmitGroups };
  return options as EmitOptions;
}

/**
 * The context a Moleculer-style event handler receives (seed 004, "context-based handlers"): the
 * payload as `params`, a private copy of `meta`, the sender's `nodeID`, the `eventName`, and
 * `emit` / `broadcast` that carry the meta and this event's id as the parent of the next.
 *
 * @example
 * bus.createService({
 *   name: 'accounts',
 *   events: {
 *     'user.created'(ctx: EventContext<{ user: User }>) {
 *       ctx.emit('accounts.created', { user: ctx.params.user });
 *     },
 *   },
 * });
 */
export class EventContext<P = unknown> {
  /** The event's id (the envelope id); follow-up events name it as their `parentID`. */
  readonly id: string;
  /** Metadata: a copy per handler, so that one handler's changes reach only its own follow-ups. */
  meta: Record<string, unknown>;
  /** The node that sent the event. */
  readonly nodeID: string;
  /** The name the event was sent with (not the pattern that matched it). */
  readonly eventName: string;
  /** `emit`, `broadcast` or `broadcastLocal`. */
  readonly eventType: DeliveryMode;
  /** The groups the sender limited the event to, if any. */
  readonly eventGroups: readonly string[] | undefined;
  /** The id of the first event of the chain. */
  readonly requestID: string;
  /** The id of the event whose handler sent this one. */
  readonly parentID: string | undefined;
  /** The service that sent this event from a handler, if any. */
  readonly caller: string | undefined;

  /** @internal Made by the bus for each handler call. */
  constructor(
    private readonly publisher: ContextPublisher,
    /** The envelope as the bus carries it. */
    readonly envelope: EventEnvelope,
    /** The payload, after `params` validation when the event declares it. */
    readonly params: P,
    /** The service whose handler runs. */
    readonly service: Service | undefined,
  ) {
    this.id = envelope.id;
    this.meta = { ...envelope.meta };
    this.nodeID = envelope.source;
    this.eventName = envelope.name;
    this.eventType = envelope.eventType;
    this.eventGroups = envelope.groups;
    this.requestID = envelope.trace.requestID;
    this.parentID = envelope.trace.parentID;
    this.caller = envelope.trace.caller;
  }

  /** Emits a balanced follow-up event carrying this context's meta and id. */
  emit(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void {
    this.publisher.emit(name, payload, { ...toEmitOptions(options), parentCtx: this });
  }

  /** Broadcasts a follow-up event carrying this context's meta and id. */
  broadcast(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void {
    this.publisher.broadcast(name, payload, { ...toEmitOptions(options), parentCtx: this });
  }

  /** Broadcasts a follow-up event to this node only. */
  broadcastLocal(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void {
    this.publisher.broadcastLocal(name, payload, { ...toEmitOptions(options), parentCtx: this });
  }
}
