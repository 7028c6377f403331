import type { Disposable } from '../../../common/disposable.js';
import { toDisposable } from '../../../common/disposable.js';
import { KindlingError, messageOf } from '../../../common/errors.js';
import { show } from '../../../common/visible-text.js';
import { Fifo } from '../../../common/fifo.js';
import type { EventCore, Slot } from '../../core/event-core.js';
import type { EventEnvelope } from '../../core/event-envelope.js';
import type { BufferOptions, EventSubscription } from '../../core/event-subscription.js';

/**
 * An event of the Go event-broker face. `body` is the JSON text of the data (the Go broker's
 * `[]byte`, "must be marshaled to JSON"); {@link decodeEvent} reads it back.
 */
export interface BrokerEvent {
  readonly aggregateId: string;
  /** `{noun}-{action}`, lowercase, snake_case parts: `user-created`, `user-logged_in`. */
  readonly type: string;
  readonly body: string;
  readonly timestamp: Date;
}

/** A handler of broker events: a function, or an object with `handle` (the Go broker's `Handler`). */
export type BrokerHandler = ((event: BrokerEvent) => unknown) | { handle(event: BrokerEvent): unknown };

/** A `consume` stream: competing with every other consumer of the same queue name. */
export type EventConsumer = EventSubscription<BrokerEvent>;

/** Options of {@link EventBroker.consume}. */
export interface ConsumeOptions extends BufferOptions {
  /** Aborting it closes the consumer (the Go broker's `context.Context`). */
  readonly signal?: AbortSignal;
}

/** Retry settings of {@link EventBroker.resilientPublish}. */
export interface ResilientPublishOptions {
  /** How many events may wait for a retry; beyond it the oldest is given up and reported (default 1 024). */
  readonly bufferSize?: number;
  /** The first retry delay in ms, doubled at each attempt (default 50). */
  readonly initialDelayMs?: number;
  /** The longest retry delay in ms (default 5 000). */
  readonly maxDelayMs?: number;
}

/** The system under which broker events travel: `broker.<type>`, path = aggregate id. */
export const BROKER_SYSTEM = 'broker';

const EVENT_TYPE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*-[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

/**
 * Whether `type` follows `{noun}-{action}`: lowercase, parts in snake_case.
 *
 * @example
 * isValidEventType('changed_password_notification-sent'); // true
 * isValidEventType('UserCreated'); // false
 */
export function isValidEventType(type: string): boolean {
  return typeof type === 'string' && EVENT_TYPE.test(type);
}

function invalidType(type: unknown): KindlingError {
  return new KindlingError(
    'INVALID',
    `event type ${show(type, 64)} must be lowercase "{noun}-{action}" with snake_case parts, as in "user-created" or "user-logged_in"`,
    { details: { type } },
  );
}

/**
 * Makes an event with its data encoded as JSON (the Go broker's `MakeEvent`). Throws `INVALID` for a type
 * that is not `{noun}-{action}` or data that cannot be encoded (a cycle, a BigInt, a function,
 * `undefined`).
 *
 * @example
 * const event = makeEvent('user', 'user-created', { id: 'taylor' });
 * await bus.broker.publish(event);
 */
export function makeEvent(aggregateId: string, type: string, data: unknown): BrokerEvent {
  if (!isValidEventType(type)) throw invalidType(type);
  let body: string | undefined;
  try {
    // JSON.stringify gives undefined for undefined, a function or a symbol, whatever its type says.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- see above
    body = JSON.stringify(data) as string | undefined;
  } catch (error) {
    throw new KindlingError('INVALID', `the data of a ${type} event cannot be encoded as JSON: ${messageOf(error)}`, {
      cause: error,
      details: { aggregateId, type },
    });
  }
  if (body === undefined) {
    throw new KindlingError('INVALID', `the data of a ${type} event cannot be encoded as JSON (got ${typeof data})`, {
      details: { aggregateId, type },
    });
  }
  return Object.freeze({ aggregateId, type, body, timestamp: new Date() });
}

/**
 * Decodes an event's JSON body.
 *
 * @example
 * const user = decodeEvent<{ id: string }>(event);
 */
export function decodeEvent<T = unknown>(event: BrokerEvent): T {
  return JSON.parse(event.body) as T;
}

/** The encoding problem of an event, if any: a bad type, a body that is not JSON text. */
function checkEvent(event: BrokerEvent): KindlingError | undefined {
  if (typeof event !== 'object' || event === null) {
    return new KindlingError('INVALID', 'a broker event must be an object made by makeEvent', {
      details: { event: String(event) },
    });
  }
  if (!isValidEventType(event.type)) return invalidType(event.type);
  if (typeof event.aggregateId !== 'string') {
    return new KindlingError('INVALID', `the aggregateId of a ${event.type} event must be a string`, {
      details: { type: event.type },
    });
  }
  if (typeof event.body !== 'string') {
    return new KindlingError(
      'INVALID',
      `the body of a ${event.type} event must be JSON text; build events with makeEvent`,
      {
        details: { type: event.type },
      },
    );
  }
  try {
    JSON.parse(event.body);
  } catch (error) {
    return new KindlingError('INVALID', `the body of a ${event.type} event is not valid JSON: ${messageOf(error)}`, {
      cause: error,
      details: { type: event.type },
    });
  }
  return undefined;
}

function isBrokerEvent(data: unknown): data is BrokerEvent {
  return (
    typeof data === 'object' &&
    data !== null &&
    typeof (data as BrokerEvent).type === 'string' &&
    typeof (data as BrokerEvent).body === 'string' &&
    (data as BrokerEvent).timestamp instanceof Date
  );
}

/** An event that reached `broker.<type>` from another face is wrapped the way `makeEvent` would. */
function asBrokerEvent(data: unknown, name: string, envelope: EventEnvelope | undefined): BrokerEvent {
  if (isBrokerEvent(data)) return data;
  return makeEvent(envelope?.path ?? '', name.slice(BROKER_SYSTEM.length + 1), data);
}

interface PendingEvent {
  readonly event: BrokerEvent;
  readonly name: string;
  envelope: EventEnvelope | undefined;
  /** The slots still to reach; `undefined` while the whole publish is still to do. */
  targets: Slot[] | undefined;
  /** The remote hand-off still to do (when a remote transport refused it). */
  remote: boolean;
  attempt: number;
  /** Whether it waits in the retry queue (set by enqueue, cleared when it leaves). */
  queued?: boolean;
}

/**
 * The Go event-broker face: `publish`, `resilientPublish`, `consume(queue, type)` and
 * `subscribe(handler, ...types)`. Events travel as `broker.<type>` with the aggregate id as the
 * path, delivered like Moleculer's `emit`: consumers of one queue name compete (a queue is a
 * balancing group), different queue names each get a copy, every `subscribe` gets every event.
 *
 * @example
 * const consumer = bus.broker.consume('mailer', 'user-created');
 * bus.broker.resilientPublish(makeEvent('user', 'user-created', { id: 'taylor' }));
 * for await (const event of consumer) sendWelcomeMail(decodeEvent(event));
 */
export class EventBroker {
  /** Events waiting for a retry, oldest first (up to `bufferSize`, which may be large). */
  private readonly queue = new Fifo<PendingEvent>();
  private readonly bufferSize: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private draining = false;
  private flushWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private closed = false;

  /** @internal Made by the bus: `bus.broker`. */
  constructor(
    private readonly core: EventCore,
    options: ResilientPublishOptions = {},
  ) {
    this.bufferSize = options.bufferSize ?? 1024;
    this.initialDelayMs = options.initialDelayMs ?? 50;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
  }

  /** How many events wait for a retry of {@link resilientPublish}. */
  get pending(): number {
    return this.queue.size;
  }

  /**
   * Publishes an event; resolves once every consumer and subscriber accepted it. Rejects with
   * `INVALID` for a malformed event, `ABORTED` when `signal` aborted, `UNAVAILABLE` (retryable) when a
   * full buffer with policy `error` refused it or the bus is stopped.
   */
  publish(event: BrokerEvent, signal?: AbortSignal): Promise<void> {
    try {
      const invalid = checkEvent(event);
      if (invalid !== undefined) throw invalid;
      if (signal?.aborted === true) {
        throw new KindlingError('ABORTED', `publish of ${event.type} was aborted`, { cause: signal.reason });
      }
      const name = `${BROKER_SYSTEM}.${event.type}`;
      const outcome = this.core.publish(this.init(event, name));
      if (outcome === undefined) return Promise.resolve();
      if (outcome.refused !== undefined) throw this.core.refusal(name, outcome.refused);
      return outcome.remote ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Publishes an event and keeps retrying, with exponential backoff, the consumers that could not
   * take it (full buffers with policy `error`, a failing transport) until they do. Returns only an
   * encoding error; everything else is retried. The retry buffer is bounded: beyond it the oldest
   * waiting event is given up and reported (`$broker.error`, type `resilient`), as is an event whose
   * queue lost its last consumer or that was still waiting when the bus stopped.
   *
   * @example
   * const error = bus.broker.resilientPublish(makeEvent('user', 'user-created', user));
   * if (error) throw error; // only an encoding error
   */
  resilientPublish(event: BrokerEvent): KindlingError | undefined {
    const invalid = checkEvent(event);
    if (invalid !== undefined) return invalid;
    const name = `${BROKER_SYSTEM}.${event.type}`;
    const pending: PendingEvent = { event, name, envelope: undefined, targets: undefined, remote: false, attempt: 0 };
    // Behind events already waiting, so that every consumer still sees them in order.
    if (this.queue.size > 0 || this.closed) {
      this.enqueue(pending);
      return undefined;
    }
    if (!this.attempt(pending)) this.enqueue(pending);
    return undefined;
  }

  /**
   * Streams the events of one type for one queue (the Go broker's `Consume`). Consumers with the same queue
   * name compete for each event; each queue name gets its own copy. Throws `INVALID` for an empty
   * queue name or a malformed type.
   */
  consume(queue: string, type: string, options: ConsumeOptions = {}): EventConsumer {
    if (typeof queue !== 'string' || queue.length === 0) {
      throw new KindlingError('INVALID', 'the queue name of a consumer is empty', { details: { queue, type } });
    }
    if (!isValidEventType(type)) throw invalidType(type);
    const signal = options.signal;
    const consumer = this.core.openChannel<BrokerEvent>(
      `broker.consume("${queue}", "${type}")`,
      [{ pattern: `${BROKER_SYSTEM}.${type}`, group: queue, needsEnvelope: false, accept: asBrokerEvent }],
      options,
    );
    if (signal !== undefined) {
      if (signal.aborted) {
        consumer.close();
      } else {
        const onAbort = (): void => consumer.close();
        signal.addEventListener('abort', onAbort, { once: true });
        consumer.onClose(() => signal.removeEventListener('abort', onAbort));
      }
    }
    return consumer;
  }

  /**
   * Calls `handler` for every event of the given types, or of every type when none is given (the Go
   * broker's `Subscribe`). A handler's throw is reported and never reaches the publisher.
   */
  subscribe(handler: BrokerHandler, ...types: string[]): Disposable {
    for (const type of types) if (!isValidEventType(type)) throw invalidType(type);
    const handle = typeof handler === 'function' ? handler : (event: BrokerEvent): unknown => handler.handle(event);
    const patterns =
      types.length === 0 ? [`${BROKER_SYSTEM}.*`] : [...new Set(types)].map((type) => `${BROKER_SYSTEM}.${type}`);
    const registrations = patterns.map((pattern) =>
      this.core.subscribe({
        pattern,
        needsEnvelope: false,
        label: `broker.subscribe(${types.join(', ') || '*'})`,
        deliver: (data, name, envelope) => handle(asBrokerEvent(data, name, envelope)),
      }),
    );
    return toDisposable(() => {
      for (const registration of registrations) registration.dispose();
    });
  }

  /** Resolves once no event waits for a retry; rejects with `UNAVAILABLE` if the bus stops first. */
  flush(): Promise<void> {
    if (this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
  }

  /** @internal Gives up the waiting events (each reported) and clears the retry timer; the bus calls it on stop. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const abandoned = [...this.queue];
    this.queue.clear();
    for (const pending of abandoned) pending.queued = false;
    if (abandoned.length > 0) {
      this.core.report(
        'resilient',
        new KindlingError(
          'UNAVAILABLE',
          `the bus stopped with ${abandoned.length} event(s) still waiting for a retry; they were given up`,
          {
            details: { events: abandoned.map((p) => p.name) },
          },
        ),
        { abandoned: abandoned.length },
      );
    }
    const waiters = this.flushWaiters.splice(0);
    for (const waiter of waiters)
      waiter.reject(new KindlingError('UNAVAILABLE', 'the bus stopped before every event was delivered'));
  }

  private init(
    event: BrokerEvent,
    name: string,
  ): { name: string; system: string; kind: string; path: string; data: BrokerEvent; eventType: 'emit' } {
    return { name, system: BROKER_SYSTEM, kind: event.type, path: event.aggregateId, data: event, eventType: 'emit' };
  }

  /** One delivery attempt; true when nothing is left to do for this event. */
  private attempt(pending: PendingEvent): boolean {
    if (pending.targets === undefined) {
      let outcome;
      try {
        // Confirmed: the remote hand-off settles only once the network took the event.
        outcome = this.core.publish(this.init(pending.event, pending.name), undefined, true);
      } catch (error) {
        this.giveUp(pending, error);
        return true;
      }
      if (outcome === undefined) return true;
      pending.envelope = outcome.envelope;
      pending.targets = outcome.refused === undefined ? [] : [...new Set(outcome.refused.map((s) => s.slot))];
      if (outcome.remote !== undefined) this.watchRemote(pending, outcome.remote);
      return pending.targets.length === 0 && !pending.remote;
    }
    const still: Slot[] = [];
    for (const slot of pending.targets) {
      try {
        if (!this.core.redeliver(slot, pending.name, pending.event, pending.envelope)) still.push(slot);
      } catch (error) {
        this.giveUp(pending, error, slot.group);
      }
    }
    pending.targets = still;
    return still.length === 0 && !pending.remote;
  }

  /**
   * Broker events are balanced (`emit`), which a remote transport delivers entirely (the core
   * delivers nothing locally), so a failed hand-off is retried as a whole publish.
   */
  private watchRemote(pending: PendingEvent, remote: Promise<void>): void {
    pending.remote = true;
    remote.then(
      () => {
        pending.remote = false;
        if (this.queue.peek() === pending) this.drain();
      },
      (error: unknown) => {
        this.core.storms.warn('resilient-refused', `the transport refused ${pending.name}; it will be retried`, {
          error: messageOf(error),
        });
        pending.remote = false;
        pending.targets = undefined;
        if (pending.queued === true) this.schedule();
        else this.enqueue(pending);
      },
    );
  }

  private giveUp(pending: PendingEvent, error: unknown, queue?: string): void {
    const reason = KindlingError.is(error, 'NOT_FOUND')
      ? `queue ${queue ?? '?'} has no consumer any more`
      : messageOf(error);
    this.core.report(
      'resilient',
      new KindlingError('UNAVAILABLE', `gave up delivering ${pending.name}: ${reason}`, {
        cause: error,
        details: { event: pending.name },
      }),
      { event: pending.name },
    );
  }

  private enqueue(pending: PendingEvent): void {
    if (this.closed) {
      this.giveUp(pending, new KindlingError('UNAVAILABLE', 'the bus is stopped'));
      return;
    }
    if (this.queue.size >= this.bufferSize) {
      const oldest = this.queue.shift() as PendingEvent;
      oldest.queued = false;
      this.giveUp(
        oldest,
        new KindlingError(
          'UNAVAILABLE',
          `the retry buffer is full (${this.bufferSize}); the oldest waiting event was given up`,
        ),
      );
    }
    this.queue.push(pending);
    pending.queued = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed || this.queue.size === 0) return;
    const head = this.queue.peek() as PendingEvent;
    const delay = Math.min(this.initialDelayMs * 2 ** head.attempt, this.maxDelayMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, delay);
  }

  /** Retries waiting events in order; stops at the first that still cannot be delivered. */
  private drain(): void {
    if (this.draining || this.closed) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.draining = true;
    try {
      while (this.queue.size > 0) {
        const head = this.queue.peek() as PendingEvent;
        if (!this.attempt(head)) {
          head.attempt++;
          break;
        }
        this.queue.shift();
        head.queued = false;
      }
    } finally {
      this.draining = false;
    }
    if (this.queue.size === 0) {
      for (const waiter of this.flushWaiters.splice(0)) waiter.resolve();
    } else {
      this.schedule();
    }
  }
}
