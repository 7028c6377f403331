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

/** Moleculer's rule: the first parameter is named `ctx` or `context`. */
function firstParameterName(fn: (...args: never[]) => unknown): string | undefined {
  const source = Function.prototype.toString.call(fn);
  const arrow = /^(?:async\s*)?([\w$]+)\s*=>/.exec(source);
  if (arrow !== null) return arrow[1];
  const open = source.indexOf('(');
  return open < 0 ? undefined : /^\s*([\w$]+)/.exec(source.slice(open + 1))?.[1];
}

/**
 * @internal The Moleculer face, hosted by the bus: `createService`, `emit` (balanced:
 * one handler per group and pattern), `broadcast`, `broadcastLocal`, lifecycle hooks and the
 * `$services.changed` event.
 */
export class ServiceEvents implements ContextPublisher {
  private readonly services: Service[] = [];
  private running = false;

  constructor(
    private readonly core: EventCore,
    private readonly broker: ServiceBroker,
  ) {}

  /** The services, in creation order. */
  list(): readonly Service[] {
    return this.services;
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
    this.services.push(service);
    this.core.internal('$services.changed', { localService: true });
    if (this.running) {
      this.startService(service).catch((error: unknown) =>
        this.core.report('service', error, { service: service.fullName }),
      );
    }
    return service;
  }

  async destroyService(service: Service): Promise<void> {
    const at = this.services.indexOf(service);
    if (at < 0) return;
    this.services.splice(at, 1);
    for (const registration of service.registrations.splice(0).reverse()) registration.dispose();
    await this.stopService(service);
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
    for (const service of [...this.services]) await this.startService(service);
  }

  /** Stops every started service in reverse order; failures are reported and do not stop the others. */
  async stopAll(): Promise<void> {
    this.running = false;
    for (const service of [...this.services].reverse()) {
      try {
        await this.stopService(service);
      } catch (error) {
        this.core.report('service', error, { service: service.fullName, phase: 'stopped' });
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
    const groups =
      options.groups === undefined ? undefined : typeof options.groups === 'string' ? [options.groups] : options.groups;
    this.core.settle(
      this.core.publish({
        name,
        data: payload,
        eventType,
        groups,
        meta,
        parentID: parent?.id,
        requestID: parent?.requestID,
        caller: parent?.service?.fullName,
      }),
      name,
    );
  }

  private register(
    service: Service,
    eventName: string,
    declaration: ServiceEventHandler | ServiceEventDefinition,
  ): Disposable {
    const definition: ServiceEventDefinition =
      typeof declaration === 'function' ? { handler: declaration } : declaration;
    const where = `service ${service.fullName}, event "${eventName}"`;
    const handler = definition?.handler;
    if (typeof handler !== 'function') {
      throw new KindlingError('INVALID', `${where} has no handler function`, {
        details: { service: service.fullName, event: eventName },
      });
    }
    const firstParameter = firstParameterName(handler);
    const withContext = definition.context ?? (firstParameter === 'ctx' || firstParameter === 'context');
    // Legacy handlers get the context as their fourth argument only when they declare one.
    const needsContext = withContext || handler.length >= 4;
    const validator = definition.params === undefined ? undefined : compileParamsValidator(definition.params, where);
    const localNode = this.core.nodeID;
    let deliver: (data: unknown, name: string, envelope: EventEnvelope | undefined) => unknown;
    if (!needsContext && validator === undefined) {
      deliver = (data, name, envelope) =>
        (handler as unknown as (this: Service, payload: unknown, sender: string, eventName: string) => unknown).call(
          service,
          data,
          envelope === undefined ? localNode : envelope.source,
          name,
        );
    } else {
      const invoke = (params: unknown, name: string, envelope: EventEnvelope | undefined): unknown => {
        if (withContext) {
          // Moleculer calls a context handler with the context alone.
          return (handler as unknown as (this: Service, ctx: EventContext) => unknown).call(
            service,
            new EventContext(this, envelope as EventEnvelope, params, service),
          );
        }
        const ctx = needsContext ? new EventContext(this, envelope as EventEnvelope, params, service) : undefined;
        return handler.call(
          service,
          params,
          envelope === undefined ? localNode : envelope.source,
          name,
          ctx as EventContext,
        );
      };
      deliver =
        validator === undefined
          ? invoke
          : (data, name, envelope) => {
              const check = validator(data);
              const run = (params: unknown): unknown => invoke(params, name, envelope);
              if (check instanceof Promise)
                return check.then((settled) => this.afterCheck(settled, service, name, run));
              return this.afterCheck(check, service, name, run);
            };
    }
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
    this.core.report(
      'validation',
      new KindlingError('INVALID', `parameters of "${name}" for service ${service.fullName} are invalid: ${summary}`, {
        details: { event: name, service: service.fullName, issues: check.issues },
      }),
      { event: name, service: service.fullName },
      'warn',
    );
    return undefined;
  }
}
