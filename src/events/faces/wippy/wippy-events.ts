import { KindlingError, messageOf } from '../../../common/errors.js';
import { quote } from '../../../common/visible-text.js';
import { compilePattern } from '../../../pattern/kind-pattern.js';
import type { EventCore } from '../../core/event-core.js';
import { eventNameOf, type EventEnvelope } from '../../core/event-envelope.js';
import type { EventPermissionPolicy } from './event-permissions.js';
import type { BufferOptions, EventSubscription } from '../../core/event-subscription.js';

/** A Wippy event as a subscriber receives it: the bus envelope (`system`, `kind`, `path`, `data`, ...). */
export type WippyEvent<T = unknown> = EventEnvelope<T>;

/** A Wippy subscription: `channel()` to receive, `close()` to end. */
export type WippySubscription = EventSubscription<WippyEvent>;

const RESOLVED: Promise<void> = Promise.resolve();

function checkDotted(what: 'system' | 'kind', value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new KindlingError('INVALID', `the event ${what} is empty; give a non-empty ${what}`, {
      details: { [what]: value },
    });
  }
  if (value.startsWith('.') || value.endsWith('.') || value.includes('..') || /\s/.test(value)) {
    throw new KindlingError('INVALID', `the event ${what} ${quote(value)} has an empty segment or white space`, {
      details: { [what]: value },
    });
  }
}

/**
 * The Wippy face: `send(system, kind, path, data?)` and `subscribe(systemPattern, kind?)`
 * with a channel. It is also the bus's registry sink: the registry calls `send('registry',
 * 'entry.create', id, ...)` after each commit and `send('$registry', 'observer_error', ...)` on faults.
 *
 * An event sent here is named `${system}.${kind}` for the other faces (a Moleculer handler for
 * `registry.entry.*` or `$registry.*` receives it) and is delivered like Moleculer's `emit`. A
 * subscription's system pattern uses the kind dialect (`orders.*` is one or more
 * segments, `**` zero or more); its optional kind filter is exact, or a kind-dialect pattern when it
 * has `*` or `(a|b)`.
 *
 * Refusals (`INVALID`, `FORBIDDEN`, `UNAVAILABLE`) come back as a rejected promise that is already
 * marked handled and logged, so a fire-and-forget caller (the registry) cannot crash the process
 * with an unhandled rejection; a caller that awaits still sees the error.
 *
 * @example
 * const sub = bus.events.subscribe('orders.*', 'order.created');
 * await bus.events.send('orders.eu', 'order.created', '/orders/123', { total: 99.99 });
 * const { value, ok } = await sub.channel().receive();
 * sub.close();
 */
export class WippyEvents {
  /** @internal Made by the bus: `bus.events`. */
  constructor(
    private readonly core: EventCore,
    private readonly policy: EventPermissionPolicy | undefined,
  ) {}

  /**
   * Sends an event; resolves once every local subscriber accepted it (and the transport, when one
   * spans nodes). Empty system, kind or path → `INVALID`; denied by policy → `FORBIDDEN`; a full
   * buffer with policy `error` → `UNAVAILABLE` (retryable).
   *
   * @example
   * await bus.events.send('users', 'user.registered', `/users/${user.id}`, { email: user.email });
   */
  send(system: string, kind: string, path: string, data?: unknown): Promise<void> {
    try {
      checkDotted('system', system);
      checkDotted('kind', kind);
      if (typeof path !== 'string' || path.length === 0) {
        throw new KindlingError(
          'INVALID',
          `the event path is empty (system ${system}, kind ${kind}); give a path such as "/orders/123"`,
          {
            details: { system, kind, path },
          },
        );
      }
      if (this.policy !== undefined && !this.policy.allows('events.send', system)) {
        throw new KindlingError(
          'FORBIDDEN',
          `sending events to system ${quote(system)} is not allowed (permission events.send)`,
          {
            details: { action: 'events.send', system, kind },
          },
        );
      }
      const name = eventNameOf(system, kind);
      // Built eagerly: the path has no other carrier than the envelope.
      const init = { name, system, kind, path, data, eventType: 'emit' } as const;
      const outcome = this.core.publish(init, this.core.makeEnvelope(init));
      if (outcome === undefined) return RESOLVED;
      if (outcome.refused !== undefined) throw this.core.refusal(name, outcome.refused);
      if (outcome.remote === undefined) return RESOLVED;
      return this.handled(outcome.remote, system, kind);
    } catch (error) {
      return this.handled(Promise.reject(error), system, kind);
    }
  }

  /**
   * Subscribes to the events of every system matching `systemPattern`, optionally of one kind. An
   * empty kind means no kind filter, as in Wippy (`subscribe(system, "")`). Empty pattern or a kind
   * that is not a string → `INVALID`; denied by policy → `FORBIDDEN`.
   *
   * @example
   * const sub = bus.events.subscribe('registry');
   * for await (const event of sub) console.log(event.kind, event.path);
   */
  subscribe(systemPattern: string, kindFilter?: string, options?: BufferOptions): WippySubscription {
    // Wippy's `subscribe(system, "")`: every kind.
    const kind = kindFilter === '' ? undefined : kindFilter;
    if (typeof systemPattern !== 'string' || systemPattern.length === 0) {
      throw new KindlingError(
        'INVALID',
        'the system to subscribe to is empty; give a system or a pattern such as "orders.*"',
        {
          details: { system: systemPattern },
        },
      );
    }
    if (kind !== undefined && typeof kind !== 'string') {
      throw new KindlingError(
        'INVALID',
        `the kind filter of a subscription to ${quote(systemPattern)} is not a string; omit it or give a kind`,
        {
          details: { system: systemPattern, kind },
        },
      );
    }
    const system = compilePattern(systemPattern, 'kind');
    const kindExact = kind === undefined || !/[*(]/.test(kind);
    const kindPattern = kind !== undefined && !kindExact ? compilePattern(kind, 'kind') : undefined;
    const policy = this.policy;
    if (policy !== undefined && !policy.allows('events.subscribe', systemPattern)) {
      throw new KindlingError(
        'FORBIDDEN',
        `subscribing to system ${quote(systemPattern)} is not allowed (permission events.subscribe)`,
        {
          details: { action: 'events.subscribe', system: systemPattern },
        },
      );
    }
    // A wildcard subscription under a policy checks each concrete system it receives, once.
    const verdicts = policy !== undefined && !system.exact ? new Map<string, boolean>() : undefined;
    const accept = (_data: unknown, _name: string, envelope: EventEnvelope | undefined): WippyEvent | undefined => {
      const event = envelope as EventEnvelope;
      if (system.exact ? event.system !== systemPattern : !system.test(event.system)) return undefined;
      if (kind !== undefined && (kindPattern === undefined ? event.kind !== kind : !kindPattern.test(event.kind)))
        return undefined;
      if (verdicts !== undefined) {
        let allowed = verdicts.get(event.system);
        if (allowed === undefined) {
          allowed = (policy as EventPermissionPolicy).allows('events.subscribe', event.system);
          verdicts.set(event.system, allowed);
        }
        if (!allowed) return undefined;
      }
      return event;
    };
    // The trie is keyed by event name (`system.kind`); these event-dialect patterns select a superset
    // of candidates by the system's literal prefix, and `accept` applies the exact kind-dialect test.
    const prefix = system.prefix.join('.');
    const patterns =
      system.exact && kind !== undefined && kindExact
        ? [eventNameOf(systemPattern, kind)]
        : prefix === ''
          ? ['**']
          : kind === undefined
            ? [`${prefix}.**`, prefix] // the bare prefix catches dotless names (`tick` has system `tick`)
            : [`${prefix}.**`];
    const label =
      kind === undefined ? `events.subscribe("${systemPattern}")` : `events.subscribe("${systemPattern}", "${kind}")`;
    return this.core.openChannel<WippyEvent>(
      label,
      patterns.map((pattern) => ({ pattern, needsEnvelope: true, accept })),
      options,
    );
  }

  /**
   * The same face under another permission policy, for code that must not send or listen
   * everywhere (an application sandbox). The bus's own policy does not apply to it.
   *
   * @example
   * const sandboxed = bus.events.withPermissions(allowEvents([{ action: '*', system: 'app.*' }]));
   */
  withPermissions(policy: EventPermissionPolicy): WippyEvents {
    return new WippyEvents(this.core, policy);
  }

  private handled(promise: Promise<void>, system: unknown, kind: unknown): Promise<void> {
    promise.catch((error: unknown) => {
      this.core.storms.warn('events.send', `events.send refused: ${messageOf(error)}`, { system, kind });
    });
    return promise;
  }
}
