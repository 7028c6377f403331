import type { Disposable } from '../../../common/disposable.js';
import { toDisposable } from '../../../common/disposable.js';
import { KindlingError } from '../../../common/errors.js';
import type { EventCore } from '../../core/event-core.js';

/** A class whose instances are events, commands or queries (abstract classes too). */
export type MessageClass<T extends object> = abstract new (...args: never[]) => T;

/**
 * The base of a query (as in Grafana's bus): a command whose handler returns or sets `result`. The result type
 * follows from the class, so `dispatch(new FindDashboardQuery('foo'))` is a `Promise<Dashboard>`.
 *
 * @example
 * class FindDashboardQuery extends Query<Dashboard> {
 *   constructor(readonly id: string) { super(); }
 * }
 */
export abstract class Query<R> {
  /** Set by the handler, or filled from its return value. */
  result: R | undefined = undefined;
}

/** What a handler of `M` may return: the result for a query, nothing for a command. */
export type HandlerResult<M> = M extends Query<infer R> ? R | undefined | void : void;

/** A command or query handler: exactly one per class. It may fail; it receives the caller's signal. */
export type MessageHandler<M extends object> = (
  message: M,
  signal: AbortSignal,
) => HandlerResult<M> | Promise<HandlerResult<M>>;

/** A listener of one event class, called in registration order. */
export type GrafanaEventListener<E extends object> = (event: E) => unknown;

/** The system under which Grafana-face events travel: `grafana.<EventName>`. */
export const GRAFANA_SYSTEM = 'grafana';

const NEVER_ABORTED = new AbortController().signal;

function nameOf(messageClass: MessageClass<object>): string {
  const declared = (messageClass as unknown as { eventName?: unknown }).eventName;
  const name = typeof declared === 'string' ? declared : messageClass.name;
  if (name.length === 0 || /[\s*?]/.test(name)) {
    throw new KindlingError(
      'INVALID',
      `an event class needs a name without white space or wildcards (got "${name}"); name the class or give it a static eventName`,
      {
        details: { name },
      },
    );
  }
  return name;
}

function aborted(signal: AbortSignal, what: string): KindlingError {
  return new KindlingError('ABORTED', `${what} was aborted`, { cause: signal.reason, details: { message: what } });
}

/**
 * The Grafana face: events go to every listener of their class in registration order;
 * commands and queries go to exactly one handler (`HANDLER_NOT_FOUND` without one) and may fail.
 * Events travel on the core bus as `grafana.<ClassName>` (or the class's static `eventName`), so a
 * Moleculer handler or Wippy subscription for system `grafana` sees them too; a listener only gets
 * instances of its class. Commands and queries are request/reply: they go straight to their handler
 * and never fan out.
 *
 * @example
 * class UserCreated { constructor(readonly userId: string) {} }
 * bus.grafana.addEventListener(UserCreated, (event) => audit(event.userId));
 * bus.grafana.publish(new UserCreated('taylor'));
 *
 * bus.grafana.addHandler(FindDashboardQuery, async (query) => dashboards.get(query.id));
 * const dashboard = await bus.grafana.dispatch(new FindDashboardQuery('foo'));
 */
export class GrafanaBus {
  private readonly classes = new Map<string, MessageClass<object>>();
  private readonly eventNames = new WeakMap<object, string>();
  private readonly handlers = new Map<unknown, MessageHandler<object>>();

  /** @internal Made by the bus: `bus.grafana`. */
  constructor(private readonly core: EventCore) {}

  /** Adds a listener for one event class; dispose to remove it. */
  addEventListener<E extends object>(eventClass: MessageClass<E>, listener: GrafanaEventListener<E>): Disposable {
    const name = this.eventName(eventClass);
    return this.core.subscribe({
      pattern: name,
      needsEnvelope: false,
      label: `grafana listener of ${name}`,
      deliver: (data) => (data instanceof eventClass ? listener(data) : undefined),
    });
  }

  /**
   * Publishes an event to every listener, synchronously and in registration order. A listener's
   * throw or rejection is reported and never stops the others. Throws `ABORTED` when `signal`
   * already aborted.
   */
  publish(event: object, signal?: AbortSignal): void {
    if (signal?.aborted === true) throw aborted(signal, `publish of ${event.constructor.name}`);
    this.core.emit(this.eventName(event.constructor as MessageClass<object>), event);
  }

  /** Registers the one handler of a command or query class; a second one is a `CONFLICT`. */
  addHandler<M extends object>(messageClass: MessageClass<M>, handler: MessageHandler<M>): Disposable {
    if (this.handlers.has(messageClass)) {
      throw new KindlingError(
        'CONFLICT',
        `${messageClass.name} already has a handler; a command or query has exactly one`,
        {
          details: { message: messageClass.name },
        },
      );
    }
    this.handlers.set(messageClass, handler as MessageHandler<object>);
    return toDisposable(() => {
      if (this.handlers.get(messageClass) === handler) this.handlers.delete(messageClass);
    });
  }

  /**
   * Runs the one handler of a query and resolves with its result (returned, or set on
   * `query.result`); fails with `HANDLER_NOT_FOUND` without a handler, `ABORTED` when `signal`
   * aborts first, `INTERNAL` when the handler produced no result, or the handler's own error.
   */
  dispatch<R>(query: Query<R>, signal?: AbortSignal): Promise<R>;
  /** Runs the one handler of a command; fails like the query form, or with the handler's error. */
  dispatch(command: object, signal?: AbortSignal): Promise<void>;
  async dispatch(message: object, signal: AbortSignal = NEVER_ABORTED): Promise<unknown> {
    const messageName = message.constructor.name;
    const handler = this.handlers.get(message.constructor);
    if (handler === undefined) {
      throw new KindlingError('HANDLER_NOT_FOUND', `no handler is registered for ${messageName}`, {
        details: { message: messageName },
      });
    }
    if (signal.aborted) throw aborted(signal, `dispatch of ${messageName}`);
    let onAbort: (() => void) | undefined;
    try {
      const abortion = new Promise<never>((_, reject) => {
        onAbort = () => reject(aborted(signal, `dispatch of ${messageName}`));
        signal.addEventListener('abort', onAbort, { once: true });
      });
      const returned = await Promise.race([Promise.resolve().then(() => handler(message, signal)), abortion]);
      if (!(message instanceof Query)) return undefined;
      const query: Query<unknown> = message;
      if (returned !== undefined) query.result = returned;
      if (query.result === undefined) {
        throw new KindlingError('INTERNAL', `the handler of ${messageName} neither returned nor set a result`, {
          details: { message: messageName },
        });
      }
      return query.result;
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }

  private eventName(eventClass: MessageClass<object>): string {
    let name = this.eventNames.get(eventClass);
    if (name !== undefined) return name;
    name = `${GRAFANA_SYSTEM}.${nameOf(eventClass)}`;
    const known = this.classes.get(name);
    if (known !== undefined && known !== eventClass) {
      throw new KindlingError('CONFLICT', `two event classes share the name ${name}; give one a static eventName`, {
        details: { name },
      });
    }
    this.classes.set(name, eventClass);
    this.eventNames.set(eventClass, name);
    return name;
  }
}
