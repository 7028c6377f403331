import type { Disposable } from '../../../common/disposable.js';
import { KindlingError } from '../../../common/errors.js';
import {
  EventContext,
  Service,
  toEmitOptions,
  type ContextPublisher,
  type EmitGroups,
  type EmitOptions,
  type ServiceBroker,
  type ServiceEventDefinition,
  type ServiceEventHandler,
  type ServiceSchema,
} from './service.js';
import type { EventCore } from '../../core/event-core.js';
import type { DeliveryMode, EventEnvelope } from '../../core/event-envelope.js';
import { compileParamsValidator, type ParamsCheck } from './params-validation.js';
import { ServiceCatalog, describeServices } from './service-catalog.js';
import type { CatalogService } from './service-registry.js';

/**
 * The `type` of each `$broker.error` this face reports: Moleculer's own constants (its
 * src/constants.js) where Moleculer reports the same fault, else a name of ours.
 */
export const BROKER_ERROR_TYPES = Object.freeze({
  /** A `started` hook failed for a service created on a running bus (Moleculer `FAILED_RESTART_SERVICE`). */
  serviceStart: 'failedServiceRestart',
  /** A `stopped` hook failed while the bus stopped (Moleculer `FAILED_STOPPING_SERVICES`). */
  servicesStop: 'failedServicesStop',
  /** A `stopped` hook failed in `destroyService` (Moleculer `FAILED_DESTRUCTION_SERVICE`). */
  serviceDestruction: 'failedServiceDestruction',
  /** Handing an event to the transport failed (Moleculer `FAILED_SEND_EVENT_PACKET`; reported by the bus core). */
  sendEvent: 'failedSendEventPacket',
  /**
   * An event's params were refused. Moleculer hands this to its `errorHandler` and publishes no
   * `$broker.error`; Kindling reports it, under a name of its own.
   */
  validation: 'validation',
});

/** The name of a function's first parameter, as written (Moleculer's rule looks at it). */
function firstParameterName(fn: (...args: never[]) => unknown): string | undefined {
  const source = Function.prototype.toString.call(fn);
  const arrow = /^(?:async\s*)?([\w$]+)\s*=>/.exec(source);
  if (arrow !== null) return arrow[1];
  const open = source.indexOf('(');
  return open < 0 ? undefined : /^\s*([\w$]+)/.exec(source.slice(open + 1))?.[1];
}

/** How one handler of an event is called. */
interface HandlerCaller {
  /** Whether it can see a context: then the bus builds an envelope for every event it gets. */
  readonly needsContext: boolean;
  call(service: Service, params: unknown, sender: string, name: string, ctx: EventContext | undefined): unknown;
}

/**
 * Whether a legacy handler could ever see a fourth argument. Moleculer always passes the context;
 * building it costs an envelope per event, so it is skipped only for a plain function that declares
 * one to three parameters and never reads `arguments` (it cannot tell the difference). Rest
 * parameters, mocks, bound and wrapped functions (length 0, or native code) get it.
 */
function mayReadFourthArgument(handler: (...args: never[]) => unknown): boolean {
  if (handler.length === 0 || handler.length >= 4) return true;
  const source = Function.prototype.toString.call(handler);
  return source.includes('arguments') || source.includes('[native code]');
}

/** Moleculer's rule: `context: true`, or a first parameter named `ctx` or `context` (any case), means the context alone. */
function handlerCaller(handler: ServiceEventHandler, context: boolean | undefined): HandlerCaller {
  const first = firstParameterName(handler)?.toLowerCase();
  if (context === true || first === 'ctx' || first === 'context') {
    return {
      needsContext: true,
      // eslint-disable-next-line @typescript-eslint/max-params -- Moleculer's legacy arguments, passed on
      call: (service, _params, _sender, _name, ctx) =>
        (handler as unknown as (this: Service, ctx: EventContext) => unknown).call(service, ctx as EventContext),
    };
  }
  return {
    needsContext: mayReadFourthArgument(handler),
    // eslint-disable-next-line @typescript-eslint/max-params -- Moleculer's legacy arguments, passed on
    call: (service, params, sender, name, ctx) => handler.call(service, params, sender, name, ctx as EventContext),
  };
}

/**
 * Several handlers of one event (Moleculer's handler array): each is called, a throw does not stop
 * the others; the result settles once they all have, failing with the first failure as Moleculer's
 * `Promise.all` does.
 */
// eslint-disable-next-line @typescript-eslint/max-params -- the handler's own arguments, passed on
function callEach(
  callers: readonly HandlerCaller[],
  service: Service,
  params: unknown,
  sender: string,
  name: string,
  ctx: EventContext | undefined,
): unknown {
  const results: unknown[] = [];
  let asynchronous = false;
  let failure: { error: unknown } | undefined;
  for (const caller of callers) {
    try {
      const result = caller.call(service, params, sender, name, ctx);
      if (result instanceof Promise) asynchronous = true;
      results.push(result);
    } catch (error) {
      failure ??= { error };
    }
  }
  if (!asynchronous) {
    if (failure !== undefined) throw failure.error;
    return undefined;
  }
  return Promise.all(results).then(() => {
    if (failure !== undefined) throw failure.error;
  });
}

/** @internal Where an event that follows from another message comes from. */
export interface FollowUpLineage {
  readonly groups?: EmitGroups | undefined;
  readonly meta?: Readonly<Record<string, unknown>> | undefined;
  readonly parentID?: string | undefined;
  readonly requestID?: string | undefined;
  readonly caller?: string | undefined;
}

/**
 * @internal The Moleculer face, hosted by the bus: `createService`, `emit` (balanced:
 * one handler per group and pattern), `broadcast`, `broadcastLocal`, lifecycle hooks and the
 * `$services.changed` event.
 */
export class ServiceEvents implements ContextPublisher {
  /** The services, in creation order (a Set: destroying one takes constant time). */
  private readonly services = new Set<Service>();
  /** {@link list}, made when first asked for after a change. */
  private listed: readonly Service[] | undefined;
  /** Whether an announcement of the services is due at the end of this turn. */
  private announcing = false;
  private running = false;
  /** Every node's services: this node's, and the others' from presence. */
  readonly catalog: ServiceCatalog;

  constructor(
    private readonly core: EventCore,
    private readonly broker: ServiceBroker,
    /** Tells the other nodes this node's services (presence); omitted when no transport spans nodes. */
    private readonly announce?: (services: CatalogService[]) => void,
  ) {
    this.catalog = new ServiceCatalog(
      core.nodeID,
      () => this.list(),
      () => core.internal('$services.changed', { localService: false }),
    );
  }

  /** The description of this node's services, as presence carries it. */
  describe(): CatalogService[] {
    return describeServices(this.list());
  }

  /** The services, in creation order. */
  list(): readonly Service[] {
    return (this.listed ??= [...this.services]);
  }

  /**
   * The services changed: they are announced once at the end of this turn of the event loop,
   * whatever the number of changes, and only when a transport spans nodes. Each announcement
   * describes every service, so services created one after another, each awaited (as the reactive
   * component starts its listeners), would otherwise be described once per service: 4,000 created
   * that way cost 4,000 announcements and 650 MB of descriptions when each microtask announced.
   */
  private changed(): void {
    this.listed = undefined;
    if (this.announce === undefined || this.announcing) return;
    this.announcing = true;
    setImmediate(() => {
      this.announcing = false;
      this.announce?.(this.describe());
    });
  }

  createService(schema: ServiceSchema): Service {
    if (typeof schema?.name !== 'string' || schema.name.length === 0) {
      throw new KindlingError('INVALID', 'a service needs a non-empty name', { details: { name: schema?.name } });
    }
    const service = new Service(schema, this.broker, this.core.logger);
    try {
      for (const [eventName, declaration] of Object.entries(schema.events ?? {})) {
        service.registrations.push(this.register(service, eventName, declaration));
      }
      schema.created?.call(service);
    } catch (error) {
      for (const registration of service.registrations.splice(0).reverse()) registration.dispose();
      throw error;
    }
    this.services.add(service);
    this.changed();
    this.core.internal('$services.changed', { localService: true });
    if (this.running) {
      this.startService(service).catch((error: unknown) =>
        this.core.report(BROKER_ERROR_TYPES.serviceStart, error, { service: service.fullName, phase: 'started' }),
      );
    }
    return service;
  }

  async destroyService(service: Service): Promise<void> {
    if (!this.services.delete(service)) return;
    this.listed = undefined;
    for (const registration of service.registrations.splice(0).reverse()) registration.dispose();
    try {
      await this.stopService(service);
    } catch (error) {
      // As Moleculer: the service is gone all the same; its failing `stopped` hook is reported.
      this.core.report(BROKER_ERROR_TYPES.serviceDestruction, error, { service: service.fullName, phase: 'stopped' });
    }
    this.changed();
    this.core.internal('$services.changed', { localService: true });
  }

  emit(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void {
    if (options === undefined) this.core.emit(name, payload);
    else this.publish(name, payload, toEmitOptions(options), 'emit');
  }

  broadcast(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void {
    if (options === undefined) this.core.broadcast(name, payload);
    else this.publish(name, payload, toEmitOptions(options), 'broadcast');
  }

  broadcastLocal(name: string, payload?: unknown, options?: EmitGroups | EmitOptions): void {
    if (options === undefined) this.core.broadcastLocal(name, payload);
    else this.publish(name, payload, toEmitOptions(options), 'broadcastLocal');
  }

  /** Starts every service in creation order; the first failure rejects. */
  async startAll(): Promise<void> {
    this.running = true;
    for (const service of this.list()) await this.startService(service);
  }

  /** Stops every started service in reverse order; failures are reported and do not stop the others. */
  async stopAll(): Promise<void> {
    this.running = false;
    for (const service of [...this.list()].reverse()) {
      try {
        await this.stopService(service);
      } catch (error) {
        this.core.report(BROKER_ERROR_TYPES.servicesStop, error, { service: service.fullName, phase: 'stopped' });
      }
    }
  }

  private async startService(service: Service): Promise<void> {
    if (service.isStarted) return;
    await service.schema.started?.call(service);
    service.isStarted = true;
  }

  private async stopService(service: Service): Promise<void> {
    if (!service.isStarted) return;
    service.isStarted = false;
    await service.schema.stopped?.call(service);
  }

  private publish(name: string, payload: unknown, options: EmitOptions, eventType: DeliveryMode): void {
    const parent = options.parentCtx;
    const meta =
      parent === undefined
        ? options.meta
        : options.meta === undefined
          ? parent.meta
          : { ...parent.meta, ...options.meta };
    this.followUp(name, payload, eventType, {
      groups: options.groups,
      meta,
      parentID: parent?.id,
      requestID: parent?.requestID,
      caller: parent?.service?.fullName,
    });
  }

  /**
   * An event that follows from another message (a handler's `ctx.emit`, a channel handler's): the
   * lineage — parent id, request id, caller — and the meta are given as they are.
   */
  followUp(name: string, payload: unknown, eventType: DeliveryMode, lineage: FollowUpLineage): void {
    const groups = lineage.groups;
    this.core.settle(
      this.core.publish({
        name,
        data: payload,
        eventType,
        groups: groups === undefined ? undefined : typeof groups === 'string' ? [groups] : groups,
        meta: lineage.meta,
        parentID: lineage.parentID,
        requestID: lineage.requestID,
        caller: lineage.caller,
      }),
      name,
    );
  }

  private register(
    service: Service,
    key: string,
    declaration: ServiceEventHandler | ServiceEventDefinition | readonly ServiceEventHandler[],
  ): Disposable {
    // A function or an array of functions is the handler; anything else is a definition.
    const definition: ServiceEventDefinition =
      typeof declaration === 'function' || Array.isArray(declaration)
        ? ({ handler: declaration } as ServiceEventDefinition)
        : (declaration as ServiceEventDefinition);
    // Moleculer listens on the definition's own `name` when it has one, else on the key.
    const ownName = (definition as { name?: unknown } | undefined)?.name;
    if (ownName !== undefined && (typeof ownName !== 'string' || ownName === '')) {
      throw new KindlingError(
        'INVALID',
        `service ${service.fullName}, event "${key}": name must be a non-empty string`,
        {
          details: { service: service.fullName, event: key },
        },
      );
    }
    const eventName = ownName ?? key;
    const where = `service ${service.fullName}, event "${eventName}"`;
    const declared: unknown = definition?.handler;
    const handlers: readonly unknown[] = Array.isArray(declared) ? declared : [declared];
    if (handlers.length === 0 || handlers.some((handler) => typeof handler !== 'function')) {
      throw new KindlingError('INVALID', `${where} has no handler function`, {
        details: { service: service.fullName, event: eventName },
      });
    }
    const callers = (handlers as ServiceEventHandler[]).map((handler) => handlerCaller(handler, definition.context));
    const needsContext = callers.some((caller) => caller.needsContext);
    const validator = definition.params === undefined ? undefined : compileParamsValidator(definition.params, where);
    const localNode = this.core.nodeID;
    const only = callers.length === 1 ? callers[0] : undefined;
    const invoke = (params: unknown, name: string, envelope: EventEnvelope | undefined): unknown => {
      const sender = envelope === undefined ? localNode : envelope.source;
      const ctx = needsContext ? new EventContext(this, envelope as EventEnvelope, params, service) : undefined;
      if (only !== undefined) return only.call(service, params, sender, name, ctx);
      return callEach(callers, service, params, sender, name, ctx);
    };
    const deliver: (data: unknown, name: string, envelope: EventEnvelope | undefined) => unknown =
      validator === undefined
        ? invoke
        : (data, name, envelope) => {
            const check = validator(data);
            const run = (params: unknown): unknown => invoke(params, name, envelope);
            if (check instanceof Promise) return check.then((settled) => this.afterCheck(settled, service, name, run));
            return this.afterCheck(check, service, name, run);
          };
    return this.core.subscribe({
      pattern: eventName,
      group: definition.group ?? service.name,
      needsEnvelope: needsContext,
      label: where,
      deliver,
    });
  }

  /** Runs the handler with the checked params, or reports why they were refused. */
  private afterCheck(check: ParamsCheck, service: Service, name: string, run: (params: unknown) => unknown): unknown {
    if (check.ok) return run(check.value);
    const summary = check.issues
      .map((issue) => (issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`))
      .join('; ');
    const details: Record<string, unknown> = { event: name, service: service.fullName, issues: check.issues };
    // fastest-validator's field list, as Moleculer's ValidationError carries it in `data`.
    if (check.data !== undefined) details['data'] = check.data.map((error) => ({ ...error, event: name }));
    this.core.report(
      BROKER_ERROR_TYPES.validation,
      new KindlingError('INVALID', `parameters of "${name}" for service ${service.fullName} are invalid: ${summary}`, {
        details,
      }),
      { event: name, service: service.fullName },
      'warn',
    );
    return undefined;
  }
}
