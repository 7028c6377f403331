// A Moleculer-style service and the context its handlers receive. They share a file because each
// names the other: a context knows its service, and a service's handlers take a context.
import type { DeliveryMode, EventEnvelope } from '../../core/event-envelope.js';
import type { Disposable } from '../../../common/disposable.js';
import type { Logger } from '../../../common/logger.js';
import type { ParamsSchema } from './params-validation.js';
import type { ServiceRegistry } from './service-registry.js';

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
 * The context a Moleculer-style event handler receives (Moleculer's "context-based handlers"): the
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
  /** The private copy of the envelope's meta, made when first read (most handlers never do). */
  private ownMeta: Record<string, unknown> | undefined = undefined;

  /** @internal Made by the bus for each handler call. */
  constructor(
    private readonly publisher: ContextPublisher,
    /** The envelope as the bus carries it. */
    readonly envelope: EventEnvelope,
    /** The payload, after `params` validation when the event declares it. */
    readonly params: P,
    /** The service whose handler runs. */
    readonly service: Service | undefined,
  ) {}

  // The fields below read the envelope when asked: a context is made for every handler call, and
  // most handlers read only `params`.

  /** The event's id (the envelope id); follow-up events name it as their `parentID`. */
  get id(): string {
    return this.envelope.id;
  }

  /** Metadata: a copy per handler, so that one handler's changes reach only its own follow-ups. */
  get meta(): Record<string, unknown> {
    return (this.ownMeta ??= { ...this.envelope.meta });
  }

  set meta(value: Record<string, unknown>) {
    this.ownMeta = value;
  }

  /** The node that sent the event. */
  get nodeID(): string {
    return this.envelope.source;
  }

  /** The name the event was sent with (not the pattern that matched it). */
  get eventName(): string {
    return this.envelope.name;
  }

  /** `emit`, `broadcast` or `broadcastLocal`. */
  get eventType(): DeliveryMode {
    return this.envelope.eventType;
  }

  /** The groups the sender limited the event to, if any. */
  get eventGroups(): readonly string[] | undefined {
    return this.envelope.groups;
  }

  /** The id of the first event of the chain. */
  get requestID(): string {
    return this.envelope.trace.requestID;
  }

  /** The id of the event whose handler sent this one. */
  get parentID(): string | undefined {
    return this.envelope.trace.parentID;
  }

  /** The service that sent this event from a handler, if any. */
  get caller(): string | undefined {
    return this.envelope.trace.caller;
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

/**
 * A Moleculer-style event handler, called with the service as `this`. Moleculer's rule decides the
 * signature: a handler whose first parameter is named `ctx` or `context` (or declared with
 * `context: true`) receives an {@link EventContext}; any other receives the legacy
 * `(payload, sender, eventName, ctx)`. The first parameter is `any` so that both
 * `(ctx: EventContext<User>)` and `(payload: User)` fit without a cast.
 */
// eslint-disable-next-line @typescript-eslint/max-params -- Moleculer's legacy signature
export type ServiceEventHandler = (
  this: Service,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- `any` as said above
  payloadOrContext: any,
  sender: string,
  eventName: string,
  ctx: EventContext,
) => unknown;

/** The long form of an event declaration. */
export interface ServiceEventDefinition {
  /**
   * The handler. An array of handlers is accepted too, as Moleculer does (each is called with the
   * same context); it is typed as one handler, as in Moleculer's typings, so that `handler: vi.fn()`
   * keeps its type.
   */
  readonly handler: ServiceEventHandler;
  /** The event name or pattern to listen on, when it is not the key (Moleculer's `name`). */
  readonly name?: string;
  /** The balancing group (default: the service name). */
  readonly group?: string;
  /** Validated before the handler runs; a failure is reported (`$broker.error`), never thrown at the sender. */
  readonly params?: ParamsSchema;
  /**
   * `true` forces the context signature. Otherwise, as in Moleculer, a handler whose first parameter
   * is named `ctx` or `context` gets the context alone, and any other the legacy arguments.
   */
  readonly context?: boolean;
}

/** A service declaration, as in Moleculer: a name and the events it handles, keyed by name or pattern. */
export interface ServiceSchema {
  readonly name: string;
  readonly version?: string | number;
  /** Handlers by event name: a function, a definition, or (as Moleculer) an array of functions, each called. */
  readonly events?: Readonly<
    Record<string, ServiceEventHandler | ServiceEventDefinition | readonly ServiceEventHandler[]>
  >;
  /** Called once the service is registered. */
  readonly created?: (this: Service) => void;
  /** Called when the bus starts (or at once, when it already runs). */
  readonly started?: (this: Service) => void | Promise<void>;
  /** Called when the bus stops or the service is destroyed. */
  readonly stopped?: (this: Service) => void | Promise<void>;
}

/**
 * A running service: the `this` of its handlers and hooks.
 *
 * @example
 * const service = bus.createService({ name: 'mail', events: { 'user.created'(user) { send(user) } } });
 * await bus.destroyService(service);
 */
export class Service {
  readonly name: string;
  readonly version: string | number | undefined;
  /** `v2.users` for a numeric version, `staging.users` for a string one, else the name. */
  readonly fullName: string;
  /** @internal */
  readonly registrations: Disposable[] = [];
  /** @internal */
  isStarted = false;

  /** @internal Made by `createService`. */
  constructor(
    readonly schema: ServiceSchema,
    /** The bus the service lives on (Moleculer's `this.broker`). */
    readonly broker: ServiceBroker,
    readonly logger: Logger,
  ) {
    this.name = schema.name;
    this.version = schema.version;
    this.fullName =
      schema.version === undefined
        ? schema.name
        : `${typeof schema.version === 'number' ? `v${schema.version}` : schema.version}.${schema.name}`;
  }

  /** The node the service runs on. */
  get nodeID(): string {
    return this.broker.nodeID;
  }
}

/**
 * The bus as a service sees it (Moleculer's `this.broker`): its node, and the Moleculer calls. The
 * event bus implements it; its other faces are on the bus itself.
 */
export interface ServiceBroker {
  readonly nodeID: string;
  /** Moleculer `emit`: balanced, one handler per group (the groups may be limited). Synchronous. */
  emit(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void;
  /** Moleculer `broadcast`: every handler on every node. */
  broadcast(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void;
  /** Moleculer `broadcastLocal`: every handler on this node. */
  broadcastLocal(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void;
  /** Registers a Moleculer-style service; throws `INVALID` for a bad declaration. */
  createService(schema: ServiceSchema): Service;
  /** Removes a service (its `stopped` hook runs when it was started). */
  destroyService(service: Service): Promise<void>;
  /** The services of this node, in creation order. */
  services(): readonly Service[];
  /**
   * Moleculer's `broker.registry`: the services and nodes of the whole bus, this node's and those
   * the other nodes announce (`getServiceList`, `getNodeList`).
   */
  readonly registry: ServiceRegistry;
}
