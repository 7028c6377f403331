import type { Disposable } from '../../common/disposable.js';
import { KindlingError, errorCodeOf, messageOf } from '../../common/errors.js';
import { SequenceIds } from '../../common/sequence-ids.js';
import { quote } from '../../common/visible-text.js';
import { LogThrottle, REPEAT_WINDOW_MS, type Logger } from '../../common/logger.js';
import { PatternSet, type PatternRegistration } from '../../pattern/pattern-trie.js';
import type { ResolutionCache } from '../../pattern/resolution-cache.js';
import { COMPILE_AFTER_CALLS, compileDelivery, type CompiledDelivery } from './compiled-delivery.js';
import type { ChannelOverflow, OverflowPolicy } from './event-channel.js';
import {
  EMPTY_META,
  splitEventName,
  type DeliveryMode,
  type EnvelopeInit,
  type EventEnvelope,
} from './event-envelope.js';
import { EventSubscription, type BufferOptions, type SubscriptionOwner } from './event-subscription.js';
import { SENT, type NodeInfo, type Transport, type TransportReceiver } from './transport.js';
import { telemetry, type Telemetry } from '../../telemetry/telemetry.js';

/** @internal Returned by a buffered subscriber whose full buffer refuses the event (policy `error`). */
export const REFUSED: unique symbol = Symbol('kindling.events.refused');

/**
 * @internal How the core hands an event to one subscriber. The envelope is passed only when some
 * subscriber of the name declared `needsEnvelope` (or the event came with one); otherwise it is
 * `undefined` and never built.
 */
export type DeliverFunction = (data: unknown, name: string, envelope: EventEnvelope | undefined) => unknown;

/** @internal What a face registers in the core. */
export interface SubscriberSpec {
  /** An event-dialect pattern over event names. */
  readonly pattern: string;
  /** The balancing group; omitted, the subscriber is a group of its own (it gets every `emit`). */
  readonly group?: string | undefined;
  readonly needsEnvelope: boolean;
  /**
   * Who this is, for error reports (`service users, event user.created`); omitted, `on("<pattern>")`,
   * made only when a report needs it.
   */
  readonly label?: string | undefined;
  readonly deliver: DeliverFunction;
}

/** @internal Subscribers that share a group and a pattern: an `emit` reaches one of them. */
export interface Slot {
  readonly key: string;
  readonly group: string;
  readonly pattern: string;
  readonly members: Subscriber[];
  next: number;
}

/**
 * @internal One registration in the trie, and the handle that removes it. Kept small: a subscriber
 * without a group gets its balancing slot only when something asks for it (a balanced plan, a
 * remote transport, a redelivery).
 */
export class Subscriber implements Disposable {
  /** Set by {@link EventCore.subscribe} right after construction. */
  registration!: PatternRegistration<Subscriber>;
  /**
   * @internal The plan of every name this subscriber alone matches, made the first time one is published. It
   * depends on nothing else: a second match, or a second member of its slot, matches the same names.
   */
  soloPlan: Plan | undefined = undefined;
  /** @internal Its place in its slot's `members`, so that leaving the slot takes constant time. */
  slotIndex = 0;
  private ownSlot: Slot | undefined;

  // eslint-disable-next-line @typescript-eslint/max-params -- one per subscription: fields set directly, no options object to allocate
  constructor(
    readonly id: number,
    readonly pattern: string,
    /** The balancing group; `undefined` for a subscriber that is a group of its own. */
    readonly group: string | undefined,
    readonly needsEnvelope: boolean,
    private ownLabel: string | undefined,
    readonly deliver: DeliverFunction,
    private readonly core: EventCore,
    slot: Slot | undefined,
  ) {
    this.ownSlot = slot;
  }

  /** Who this is, for error reports: the face's label, or `on("<pattern>")`. */
  get label(): string {
    return (this.ownLabel ??= `on("${this.pattern}")`);
  }

  /** The slot an `emit` balances over: the shared one of its group, or one of its own. */
  get slot(): Slot {
    return (this.ownSlot ??= soloSlot(this));
  }

  /** The slot, when one exists already. */
  get slotIfAny(): Slot | undefined {
    return this.ownSlot;
  }

  /** Unsubscribes; idempotent. */
  dispose(): void {
    this.core.unsubscribe(this);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The slot of a subscriber without a group. NUL cannot clash with a user's group name. */
function soloSlot(subscriber: Subscriber): Slot {
  const group = `\u0000${subscriber.id}`;
  return {
    key: `${group}\u0000${subscriber.pattern}`,
    group,
    pattern: subscriber.pattern,
    members: [subscriber],
    next: 0,
  };
}

/**
 * Removes a member from its slot in constant time, whichever it is (a queue's consumers often leave
 * oldest first): the last member takes its place. The member due next stays due next (the leaver's
 * successor, when the leaver was due): the round robin goes on from where it was.
 */
function leaveSlot(slot: Slot, subscriber: Subscriber): void {
  const members = slot.members;
  const at = subscriber.slotIndex;
  if (members[at] !== subscriber) return;
  const count = members.length;
  let due = slot.next % count;
  // The leaver was due: the one after it is.
  if (due === at) due = at + 1 === count ? 0 : at + 1;
  const last = members.pop() as Subscriber;
  if (last !== subscriber) {
    members[at] = last;
    last.slotIndex = at;
  }
  if (due === count - 1) due = at;
  slot.next = due;
}

/** Lists of groups up to this long are searched; a longer one is marked on the plan's group index. */
const SHORT_GROUPS = 8;

/** Which subscribers and slots of a plan (by their index in it) a publish that names groups reaches. */
interface NamedGroups {
  subscriber(index: number): boolean;
  slot(index: number): boolean;
}

/** Each distinct group of a plan's subscribers, numbered, and the number of each subscriber's and slot's group. */
interface GroupIndex {
  readonly ids: ReadonlyMap<string, number>;
  /** Per subscriber, its group's number; -1 for a subscriber without a group. */
  readonly subscriberIds: Int32Array;
  readonly slotIds: Int32Array;
}

function groupIndexOf(plan: Plan): GroupIndex {
  const ids = new Map<string, number>();
  const idOf = (group: string): number => {
    let id = ids.get(group);
    if (id === undefined) ids.set(group, (id = ids.size));
    return id;
  };
  const subscriberIds = Int32Array.from(plan.subscribers, ({ group }) => (group === undefined ? -1 : idOf(group)));
  const slotIds = Int32Array.from(plan.slots, ({ group }) => idOf(group));
  return { ids, subscriberIds, slotIds };
}

/**
 * What a publish that names `groups` reaches of `plan`: made once per publish. A short list is
 * searched; a longer one marks its groups on the plan's group index (made once per plan), so that
 * naming many groups costs a lookup per group named and a read per subscriber, not a new Set.
 */
function namedGroups(plan: Plan, groups: readonly string[]): NamedGroups {
  const { subscribers, slots } = plan;
  if (groups.length <= SHORT_GROUPS) {
    return {
      subscriber: (index) => {
        const group = (subscribers[index] as Subscriber).group;
        return group !== undefined && groups.includes(group);
      },
      slot: (index) => groups.includes((slots[index] as Slot).group),
    };
  }
  const { ids, subscriberIds, slotIds } = (plan.groups ??= groupIndexOf(plan));
  const marked = new Uint8Array(ids.size);
  for (let i = 0; i < groups.length; i++) {
    const id = ids.get(groups[i] as string);
    if (id !== undefined) marked[id] = 1;
  }
  return {
    subscriber: (index) => {
      const id = subscriberIds[index] as number;
      return id >= 0 && marked[id] === 1;
    },
    slot: (index) => marked[slotIds[index] as number] === 1,
  };
}

/** @internal Everything precomputed about one event name; rebuilt after a change of a pattern that matches it. */
class Plan {
  // eslint-disable-next-line @typescript-eslint/max-params -- a record of precomputed flags, built only by planFor
  constructor(
    /** Matching subscribers in registration order. */
    readonly subscribers: readonly Subscriber[],
    /** Their distinct balancing slots, in order of first registration (only when `balanced`). */
    readonly slots: readonly Slot[],
    /** Whether some slot has several members (an `emit` must pick). */
    readonly balanced: boolean,
    readonly needsEnvelope: boolean,
    /** `emit` may run the tight loop: local transport, no envelope, nothing to balance. */
    readonly fastEmit: boolean,
    /** `broadcast` may run the tight loop. */
    readonly fastBroadcast: boolean,
    /** `broadcastLocal` may run the tight loop. */
    readonly fastLocal: boolean,
    /** The only subscriber, when `emit` may call it without a loop (the common one-handler case). */
    readonly single: Subscriber | undefined,
    /** Its `deliver`, kept here so that `emit` reads one object less per event. */
    readonly singleDeliver: DeliverFunction | undefined = single?.deliver,
  ) {}

  /** Tight loops run over this plan; at {@link COMPILE_AFTER_CALLS} its delivery is compiled. */
  calls = 0;
  /** The loop written for these subscribers (compiled-delivery.ts), once the plan is hot. */
  compiled: CompiledDelivery | undefined = undefined;
  /** Its subscribers' groups, numbered: made when a publish first names many groups ({@link namedGroups}). */
  groups: GroupIndex | undefined = undefined;
}

/** @internal What a publish left to settle: refusals (overflow `error`) and the remote hand-off. */
export interface PublishOutcome {
  readonly refused: readonly Subscriber[] | undefined;
  readonly remote: Promise<void> | undefined;
  readonly envelope: EventEnvelope | undefined;
}

/** Counters of a bus, for tests, health checks and metrics. */
export interface EventBusStats {
  /** Registrations in the pattern trie (handlers, listeners, channel subscriptions). */
  readonly subscriptions: number;
  /** Open buffered subscriptions (Wippy `subscribe`, broker `consume`). */
  readonly channels: number;
  /**
   * Event names whose delivery plan is cached: names published more than once, at most 16,384 (the
   * cache keeps the names in use).
   */
  readonly cachedNames: number;
  /** Events dropped by full buffers (each one also reported). */
  readonly dropped: number;
  /** Handler throws and rejections (each one also reported). */
  readonly handlerErrors: number;
}

/** @internal Options of the core; the bus fills the defaults. */
export interface EventCoreOptions {
  readonly nodeID: string;
  readonly logger: Logger;
  readonly transport: Transport;
  readonly bufferSize: number;
  readonly overflow: OverflowPolicy;
  /** Repeats of a fault report within this many ms are counted, not logged (default 10 000; 0 logs each). */
  readonly logRepeatWindowMs?: number;
  /**
   * Over a remote transport, an `emit` goes to this node's own member of a group when it has one,
   * synchronously, and only the other groups through the network (Moleculer's `preferLocal`; default
   * true). False: the network balances every group over all members, this node's included.
   */
  readonly preferLocal?: boolean;
}

const NO_SUBSCRIBERS: readonly Subscriber[] = Object.freeze([]);
const NO_SLOTS: readonly Slot[] = Object.freeze([]);
/** The plan of every name once the core is closed: nothing is fast, so each publish reports the closure. */
const CLOSED_PLAN = new Plan(NO_SUBSCRIBERS, NO_SLOTS, false, false, false, false, false, undefined);

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * @internal The one bus behind every face: one envelope, one event-dialect {@link PatternSet} with
 * its lookup cache, one delivery loop. Faces translate their API into {@link SubscriberSpec}s and
 * {@link EnvelopeInit}s; nothing here knows about Wippy, Moleculer, Grafana or the Go broker.
 */
export class EventCore implements TransportReceiver, SubscriptionOwner {
  readonly nodeID: string;
  readonly logger: Logger;
  readonly bufferSize: number;
  readonly overflow: OverflowPolicy;
  private readonly transport: Transport;
  private readonly remote: boolean;
  /** Remote and preferring local members (see {@link EventCoreOptions.preferLocal}). */
  private readonly preferLocal: boolean;
  /** The transport's `sendPlain`, bound, when it is remote and has one. */
  private readonly sendPlain: Transport['sendPlain'];
  private readonly trie = new PatternSet<Subscriber>('event');
  /** Delivery plans by event name, bounded; the trie forgets those a subscription change touches. */
  private readonly plans: ResolutionCache<Plan> = this.trie.createCache<Plan>();
  /** Shared slots (and, over a remote transport, every slot) by key. */
  private readonly slots = new Map<string, Slot>();
  private readonly channels = new Set<EventSubscription<unknown>>();
  /** This node's event ids, `${nodeID}-${sequence}`. */
  private readonly ids: SequenceIds;
  private subscriberSeq = 0;
  private envelopeSeq = 0;
  private open = true;
  private reporting = 0;
  private droppedCount = 0;
  private handlerErrorCount = 0;
  /** @internal Fault storms (refused sends, full buffers, a handler failing on every event) are counted, not logged per event. */
  readonly storms: LogThrottle;
  /**
   * Spans and metrics, when an OpenTelemetry SDK is registered (docs/telemetry.md). Then no plan is
   * fast and there is no `sendPlain`: every publish takes {@link publish}, and the fast paths
   * (which never build an envelope) stay as they are, without even a check.
   */
  private readonly otel: Telemetry | undefined = telemetry();

  constructor(options: EventCoreOptions) {
    this.nodeID = options.nodeID;
    this.logger = options.logger;
    this.storms = new LogThrottle(options.logger, { windowMs: options.logRepeatWindowMs ?? REPEAT_WINDOW_MS });
    this.transport = options.transport;
    this.remote = options.transport.remote;
    this.preferLocal = this.remote && options.preferLocal !== false;
    // With telemetry, each event carries its own trace context: none is sent in a plain run.
    this.sendPlain =
      this.remote && this.otel === undefined ? options.transport.sendPlain?.bind(options.transport) : undefined;
    this.bufferSize = options.bufferSize;
    this.overflow = options.overflow;
    this.ids = new SequenceIds(`${options.nodeID}-`);
  }

  /** Whether the core still accepts events (false once closed). */
  get isOpen(): boolean {
    return this.open;
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Registers a subscriber; dispose it to remove it (constant time). Throws `INVALID` for a bad
   * pattern. Only the plans of names the pattern matches are rebuilt.
   */
  subscribe(spec: SubscriberSpec): Disposable {
    if (!this.open) throw this.closedError('subscribe');
    const id = ++this.subscriberSeq;
    const pattern = spec.pattern;
    const group = spec.group;
    let slot: Slot | undefined;
    let newSlot = false;
    if (group !== undefined) {
      const key = `${group}\u0000${pattern}`;
      slot = this.slots.get(key);
      if (slot === undefined) {
        slot = { key, group, pattern, members: [], next: 0 };
        newSlot = true;
      }
    }
    const subscriber = new Subscriber(id, pattern, group, spec.needsEnvelope, spec.label, spec.deliver, this, slot);
    subscriber.registration = this.trie.add(pattern, subscriber); // throws INVALID before any change
    if (slot !== undefined) {
      subscriber.slotIndex = slot.members.length;
      slot.members.push(subscriber);
    } else if (this.remote) {
      slot = subscriber.slot;
      newSlot = true;
    }
    // Only a remote transport needs to know the slots (to join NATS queue groups).
    if (newSlot && slot !== undefined) {
      this.slots.set(slot.key, slot);
      if (this.remote)
        this.transport.slotAdded?.({ key: slot.key, group: slot.group, pattern, shared: group !== undefined });
    }
    return subscriber;
  }

  /** @internal Removes a subscriber ({@link Subscriber.dispose}); idempotent. */
  unsubscribe(subscriber: Subscriber): void {
    const registration = subscriber.registration;
    if (!registration.active) return;
    registration.dispose();
    const slot = subscriber.slotIfAny;
    if (slot === undefined) return;
    leaveSlot(slot, subscriber);
    if (slot.members.length === 0 && this.slots.get(slot.key) === slot) {
      this.slots.delete(slot.key);
      if (this.remote) this.transport.slotRemoved?.(slot.key);
    }
  }

  /**
   * Opens a buffered subscription: each spec's `accept` turns a delivery into a channel value, or
   * `undefined` when the event is not for this subscription (a post-filter on trie candidates).
   */
  openChannel<T>(
    label: string,
    specs: readonly (Omit<SubscriberSpec, 'deliver' | 'label'> & {
      readonly accept: (data: unknown, name: string, envelope: EventEnvelope | undefined) => T | undefined;
    })[],
    options: BufferOptions = {},
  ): EventSubscription<T> {
    if (!this.open) throw this.closedError(label);
    const capacity = options.bufferSize ?? this.bufferSize;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new KindlingError('INVALID', `bufferSize must be a positive integer, got ${String(capacity)}`, {
        details: { bufferSize: capacity },
      });
    }
    const subscription = new EventSubscription<T>(label, capacity, options.overflow ?? this.overflow, this);
    try {
      for (const spec of specs) {
        const accept = spec.accept;
        const registration = this.subscribe({
          pattern: spec.pattern,
          group: spec.group,
          needsEnvelope: spec.needsEnvelope,
          label,
          deliver: (data, name, envelope) => {
            const value = accept(data, name, envelope);
            if (value === undefined) return undefined;
            return subscription.offer(value) ? undefined : REFUSED;
          },
        });
        subscription.onClose(() => registration.dispose());
      }
    } catch (error) {
      subscription.close();
      throw error;
    }
    this.channels.add(subscription as EventSubscription<unknown>);
    return subscription;
  }

  // ---------------------------------------------------------------- publishing

  /** Balanced delivery by name, the hot path of Moleculer's `emit`. Throws `UNAVAILABLE` on refusal. */
  emit(name: string, data: unknown): void {
    const plan = this.plans.get(name) ?? this.plan(name);
    const deliver = plan.singleDeliver;
    if (deliver !== undefined) {
      let result: unknown;
      try {
        result = deliver(data, name, undefined);
      } catch (error) {
        this.handlerFailed(plan.single as Subscriber, name, error);
        return;
      }
      if (result !== undefined) {
        const single = plan.single as Subscriber;
        if (this.afterDelivery(single, name, result)) throw this.refusal(name, [single]);
      }
    } else if (plan.fastEmit) {
      this.loop(plan, name, data);
    } else {
      this.settle(this.publishPlain(name, data, 'emit'), name);
    }
  }

  /** Delivery to every subscriber on every node. Throws `UNAVAILABLE` on refusal. */
  broadcast(name: string, data: unknown): void {
    const plan = this.plans.get(name) ?? this.plan(name);
    if (plan.fastBroadcast) this.loop(plan, name, data);
    else this.settle(this.publishPlain(name, data, 'broadcast'), name);
  }

  /** Delivery to every subscriber of this node. Throws `UNAVAILABLE` on refusal. */
  broadcastLocal(name: string, data: unknown): void {
    const plan = this.plans.get(name) ?? this.plan(name);
    if (plan.fastLocal) this.loop(plan, name, data);
    else this.settle(this.publish({ name, data, eventType: 'broadcastLocal' }), name);
  }

  /**
   * The general publish: builds the envelope when a subscriber or the transport needs it, delivers
   * locally and hands off remotely as {@link Transport} describes. Returns what is left to settle, or
   * `undefined` when everything was accepted. `confirm` asks the transport to settle the hand-off
   * only once the network took it (`resilientPublish`); otherwise a remote send is fire-and-forget
   * and a synchronous acceptance ({@link SENT}) leaves nothing to settle. Throws `UNAVAILABLE` once
   * closed.
   */
  publish(init: EnvelopeInit, prebuilt?: EventEnvelope, confirm = false): PublishOutcome | undefined {
    if (!this.open) throw this.closedError(`publish "${init.name}"`);
    const otel = this.otel;
    if (otel !== undefined && init.name.charCodeAt(0) !== 36) return this.tracedPublish(otel, init, prebuilt, confirm);
    return this.publishNow(init, prebuilt, confirm);
  }

  /**
   * {@link publishNow} inside a producer span (`send <name>`), whose trace context the envelope
   * carries (to this node's handlers and over the transport).
   */
  private tracedPublish(
    otel: Telemetry,
    init: EnvelopeInit,
    prebuilt: EventEnvelope | undefined,
    confirm: boolean,
  ): PublishOutcome | undefined {
    const open = otel.publishSpan(init.name, init.eventType);
    const carrier = otel.inject(open.context);
    let outcome: PublishOutcome | undefined;
    try {
      outcome = otel.api.context.with(open.context, () =>
        carrier === undefined
          ? this.publishNow(init, prebuilt, confirm)
          : this.publishNow(
              { ...init, traceContext: carrier },
              prebuilt === undefined ? undefined : Object.freeze({ ...prebuilt, traceContext: carrier }),
              confirm,
            ),
      );
    } catch (error) {
      otel.fail(open.span, error);
      throw error;
    }
    if (outcome?.envelope !== undefined) open.span.setAttribute('messaging.message.id', outcome.envelope.id);
    if (outcome?.refused !== undefined) otel.fail(open.span, this.refusal(init.name, outcome.refused), 'refused');
    else {
      open.span.setAttribute('kindling.outcome', 'ok');
      open.span.end();
    }
    return outcome;
  }

  /** The publish itself (see {@link publish}). */
  private publishNow(
    init: EnvelopeInit,
    prebuilt: EventEnvelope | undefined,
    confirm: boolean,
  ): PublishOutcome | undefined {
    const name = init.name;
    const plan = this.plans.get(name) ?? this.plan(name);
    const toRemote = this.remote && init.eventType !== 'broadcastLocal';
    if (toRemote && this.preferLocal && init.eventType === 'emit' && plan.subscribers.length > 0)
      return this.publishPreferringLocal(plan, init, prebuilt, confirm);
    let envelope = prebuilt;
    if (envelope === undefined && (plan.needsEnvelope || toRemote)) envelope = this.makeEnvelope(init);
    let remote: Promise<void> | undefined;
    if (toRemote) {
      remote = this.transport.send(envelope as EventEnvelope, confirm);
      if (remote === SENT && !confirm) remote = undefined;
      // A remote transport balances `emit` across nodes itself and hands this node its share back.
      if (init.eventType === 'emit') return remote === undefined ? undefined : { refused: undefined, remote, envelope };
    }
    const refused = this.deliverLocal(plan, name, init.data, init.eventType, init.groups, envelope);
    return refused === undefined && remote === undefined ? undefined : { refused, remote, envelope };
  }

  /**
   * {@link publish} of an `emit`/`broadcast` without options. Over a transport with `sendPlain`, no
   * envelope is built when no local subscriber needs one (an `emit` over a remote transport is not
   * delivered locally here at all): the transport encodes the event from its parts.
   */
  private publishPlain(name: string, data: unknown, eventType: 'emit' | 'broadcast'): PublishOutcome | undefined {
    const sendPlain = this.sendPlain;
    if (sendPlain === undefined || !this.open) return this.publish({ name, data, eventType });
    const plan = this.plans.get(name) ?? this.plan(name);
    if (eventType === 'broadcast' ? plan.needsEnvelope : this.preferLocal && plan.subscribers.length > 0)
      return this.publish({ name, data, eventType });
    let remote = sendPlain(eventType, name, data, this.envelopeSeq + 1, Date.now());
    if (remote === undefined) return this.publish({ name, data, eventType });
    this.envelopeSeq++;
    if (remote === SENT) remote = undefined;
    if (eventType === 'emit')
      return remote === undefined ? undefined : { refused: undefined, remote, envelope: undefined };
    const refused = this.deliverLocal(plan, name, data, eventType, undefined, undefined);
    return refused === undefined && remote === undefined ? undefined : { refused, remote, envelope: undefined };
  }

  /**
   * An `emit` over a remote transport from a node that has subscribers of the name (local
   * preference): this node's members get it now, as in one process, and the envelope sent names the
   * shared slots they served, so that the other nodes' members of those slots skip it. A subscriber
   * without a group is served here too; the network's copy of the event coming back is dropped.
   */
  private publishPreferringLocal(
    plan: Plan,
    init: EnvelopeInit,
    prebuilt: EventEnvelope | undefined,
    confirm: boolean,
  ): PublishOutcome | undefined {
    const groups = init.groups;
    const named = groups === undefined ? undefined : namedGroups(plan, groups);
    const keys = new Set<string>();
    const subscribers = plan.subscribers;
    for (let i = 0; i < subscribers.length; i++) {
      const subscriber = subscribers[i] as Subscriber;
      if (subscriber.group === undefined || (named !== undefined && !named.subscriber(i))) continue;
      keys.add((subscriber.slotIfAny as Slot).key);
    }
    const served = [...keys];
    const envelope =
      prebuilt === undefined
        ? this.makeEnvelope({ ...init, servedSlots: served })
        : Object.freeze({ ...prebuilt, servedSlots: served });
    let remote: Promise<void> | undefined = this.transport.send(envelope, confirm);
    if (remote === SENT && !confirm) remote = undefined;
    const refused = this.deliverLocal(plan, init.name, init.data, 'emit', groups, envelope);
    return refused === undefined && remote === undefined ? undefined : { refused, remote, envelope };
  }

  /**
   * Delivers again to the slot of a subscriber that refused (resilient publishing). Returns false
   * while the slot still refuses; throws `NOT_FOUND` when the slot has no member any more.
   */
  redeliver(slot: Slot, name: string, data: unknown, envelope: EventEnvelope | undefined): boolean {
    if (!this.open) throw this.closedError(`redeliver "${name}"`);
    if (slot.members.length === 0) {
      throw new KindlingError('NOT_FOUND', `nobody listens on ${quote(slot.group)} for ${quote(name)} any more`, {
        details: { event: name, group: slot.group },
      });
    }
    let env = envelope;
    if (env === undefined && slot.members.some((member) => member.needsEnvelope)) {
      env = this.makeEnvelope({ name, data, eventType: 'emit' });
    }
    return this.offerToSlot(slot, name, data, env) === undefined;
  }

  /** Builds an envelope stamped with this node, a fresh id and the current time. */
  makeEnvelope<T>(init: EnvelopeInit<T>): EventEnvelope<T> {
    const id = this.ids.idOf(++this.envelopeSeq);
    let system = init.system;
    let kind = init.kind;
    if (system === undefined || kind === undefined) ({ system, kind } = splitEventName(init.name));
    return Object.freeze({
      id,
      name: init.name,
      system,
      kind,
      path: init.path ?? '',
      data: init.data,
      meta: init.meta ?? EMPTY_META,
      time: Date.now(),
      trace: Object.freeze({ requestID: init.requestID ?? id, parentID: init.parentID, caller: init.caller }),
      source: this.nodeID,
      eventType: init.eventType,
      groups: init.groups,
      servedSlots: init.servedSlots,
      traceContext: init.traceContext,
    });
  }

  /** Turns an outcome into the synchronous API's answer: throw on refusal, report a failed hand-off. */
  settle(outcome: PublishOutcome | undefined, name: string): void {
    if (outcome === undefined) return;
    if (outcome.remote !== undefined) {
      outcome.remote.then(undefined, (error: unknown) => this.report('failedSendEventPacket', error, { event: name }));
    }
    if (outcome.refused !== undefined) throw this.refusal(name, outcome.refused);
  }

  /** The `UNAVAILABLE` error for subscribers whose full buffers refused an event. */
  refusal(name: string, refused: readonly Subscriber[]): KindlingError {
    return new KindlingError(
      'UNAVAILABLE',
      `${refused.length} subscriber(s) refused ${quote(name)} because their buffers are full (overflow policy "error"): ` +
        refused.map((s) => s.label).join(', '),
      { retryable: true, details: { event: name, subscribers: refused.map((s) => s.label) } },
    );
  }

  // ---------------------------------------------------------------- reports

  /**
   * Reports a fault: to the logger, and as a `$broker.error` event (Moleculer's payload shape,
   * `{ error, module, type, ... }`). A fault raised while a report is being delivered is only
   * logged, so a failing `$broker.error` handler cannot loop.
   */
  report(
    type: string,
    error: unknown,
    fields: Readonly<Record<string, unknown>>,
    level: 'warn' | 'error' = 'error',
  ): void {
    const message = messageOf(error);
    // One storm per kind of fault and who had it: the first line of each is logged, the rest counted.
    const who = fields['subscriber'] ?? fields['subscription'] ?? fields['service'] ?? '';
    this.storms.log(
      level,
      `${type}\u0000${typeof who === 'string' || typeof who === 'number' ? who : ''}\u0000${errorCodeOf(error) ?? ''}`,
      `event bus ${type}: ${message}`,
      { ...fields, error: message },
    );
    if (this.reporting > 0 || !this.open) return;
    this.reporting++;
    try {
      const outcome = this.publish({
        name: '$broker.error',
        data: { error, module: 'broker', type, ...fields },
        eventType: 'broadcastLocal',
      });
      if (outcome?.refused !== undefined) {
        this.storms.warn('report-refused', 'a $broker.error report was refused by full buffers', {
          subscribers: outcome.refused.map((s) => s.label),
        });
      }
    } finally {
      this.reporting--;
    }
  }

  /** @internal {@link SubscriptionOwner}: a channel dropped events. */
  onOverflow(subscription: EventSubscription<unknown>, overflow: ChannelOverflow): void {
    const what = overflow.drained
      ? `dropped ${overflow.episodeDrops} event(s) before its reader caught up`
      : `is full (${overflow.capacity}) and dropped an event`;
    this.report(
      'overflow',
      new KindlingError('UNAVAILABLE', `subscription ${subscription.label} ${what} (policy ${overflow.policy})`, {
        retryable: true,
      }),
      { subscription: subscription.label, ...overflow },
      'warn',
    );
  }

  /** @internal {@link SubscriptionOwner}: counts drops. */
  onDrop(): void {
    this.droppedCount++;
    this.otel?.droppedEvent();
  }

  /** @internal {@link SubscriptionOwner}: forgets a closed subscription. */
  onClose(subscription: EventSubscription<unknown>): void {
    this.channels.delete(subscription);
  }

  // ---------------------------------------------------------------- transport

  /** @internal {@link TransportReceiver}: an envelope from another node. */
  deliver(envelope: EventEnvelope): void {
    if (!this.open) return;
    const otel = this.otel;
    // The handlers' spans continue the sender's trace (or start one), not the subscription's context.
    if (otel !== undefined) {
      otel.api.context.with(otel.extract(envelope.traceContext), () => this.deliverNow(envelope));
      return;
    }
    this.deliverNow(envelope);
  }

  private deliverNow(envelope: EventEnvelope): void {
    // Our own `emit` sent with local preference: this node served it already.
    if (envelope.servedSlots !== undefined && envelope.source === this.nodeID) return;
    const plan = this.plans.get(envelope.name) ?? this.plan(envelope.name);
    const refused = this.deliverLocal(
      plan,
      envelope.name,
      envelope.data,
      envelope.eventType,
      envelope.groups,
      envelope,
    );
    if (refused !== undefined)
      this.report('refused', this.refusal(envelope.name, refused), { event: envelope.name }, 'warn');
  }

  /** @internal {@link TransportReceiver}: an `emit` routed by the network to one slot of this node. */
  deliverToSlot(envelope: EventEnvelope, slotKey: string): void {
    if (!this.open) return;
    const otel = this.otel;
    if (otel !== undefined) {
      otel.api.context.with(otel.extract(envelope.traceContext), () => this.deliverToSlotNow(envelope, slotKey));
      return;
    }
    this.deliverToSlotNow(envelope, slotKey);
  }

  private deliverToSlotNow(envelope: EventEnvelope, slotKey: string): void {
    const slot = this.slots.get(slotKey);
    if (slot === undefined) return;
    const groups = envelope.groups;
    if (groups !== undefined && !groups.includes(slot.group)) return;
    // Local preference: the sender served these slots (and all of its own) itself.
    const served = envelope.servedSlots;
    if (served !== undefined && (envelope.source === this.nodeID || served.includes(slotKey))) return;
    const refusedBy = this.offerToSlot(slot, envelope.name, envelope.data, envelope);
    if (refusedBy !== undefined)
      this.report('refused', this.refusal(envelope.name, [refusedBy]), { event: envelope.name }, 'warn');
  }

  /** @internal {@link TransportReceiver}. */
  nodeConnected(node: NodeInfo, reconnected: boolean): void {
    this.internal('$node.connected', { node, reconnected });
  }

  /** @internal {@link TransportReceiver}. */
  nodeUpdated(node: NodeInfo): void {
    this.internal('$node.updated', { node });
  }

  /** @internal {@link TransportReceiver}. */
  nodeDisconnected(node: NodeInfo, unexpected: boolean): void {
    this.internal('$node.disconnected', { node, unexpected });
  }

  /** Broadcasts an internal (`$`) event locally; a refusal is reported, never thrown. */
  internal(name: string, data: unknown): void {
    if (!this.open) return;
    const outcome = this.publish({ name, data, eventType: 'broadcastLocal' });
    if (outcome?.refused !== undefined)
      this.report('refused', this.refusal(name, outcome.refused), { event: name }, 'warn');
  }

  // ---------------------------------------------------------------- lifecycle

  /** Counters for tests and health checks. */
  stats(): EventBusStats {
    return {
      subscriptions: this.trie.size,
      channels: this.channels.size,
      cachedNames: this.plans.size,
      dropped: this.droppedCount,
      handlerErrors: this.handlerErrorCount,
    };
  }

  /** Closes every buffered subscription, removes every subscriber and refuses further events. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    // Cleared first, so that each removal below has no cached plan to look through.
    this.plans.clear();
    for (const subscription of [...this.channels]) subscription.close();
    for (const registration of this.trie.registrations()) registration.value.dispose();
    this.plans.clear();
    this.storms.flush();
  }

  // ---------------------------------------------------------------- delivery

  /** The tight loop: no envelope, no balancing, one try/catch per subscriber, no allocation. */
  private loop(plan: Plan, name: string, data: unknown): void {
    const subscribers = plan.subscribers;
    const compiled = plan.compiled;
    if (compiled !== undefined) {
      const refusedAt = compiled(name, data);
      if (refusedAt !== undefined)
        throw this.refusal(
          name,
          refusedAt.map((index) => subscribers[index] as Subscriber),
        );
      return;
    }
    if (++plan.calls === COMPILE_AFTER_CALLS) this.compile(plan);
    let refused: Subscriber[] | undefined;
    for (let i = 0; i < subscribers.length; i++) {
      const subscriber = subscribers[i] as Subscriber;
      const deliver = subscriber.deliver;
      try {
        const result = deliver(data, name, undefined);
        if (result !== undefined && this.afterDelivery(subscriber, name, result)) (refused ??= []).push(subscriber);
      } catch (error) {
        this.handlerFailed(subscriber, name, error);
      }
    }
    if (refused !== undefined) throw this.refusal(name, refused);
  }

  /** Writes the delivery of a hot plan (compiled-delivery.ts); where that cannot be done, the loop stays. */
  private compile(plan: Plan): void {
    const subscribers = plan.subscribers;
    plan.compiled = compileDelivery(
      subscribers.map((subscriber) => subscriber.deliver),
      {
        after: (index, name, result) => this.afterDelivery(subscribers[index] as Subscriber, name, result),
        failed: (index, name, error) => this.handlerFailed(subscribers[index] as Subscriber, name, error),
      },
    );
  }

  // eslint-disable-next-line @typescript-eslint/max-params -- the hot path of every publish: no options object per event
  private deliverLocal(
    plan: Plan,
    name: string,
    data: unknown,
    mode: DeliveryMode,
    groups: readonly string[] | undefined,
    envelope: EventEnvelope | undefined,
  ): Subscriber[] | undefined {
    let refused: Subscriber[] | undefined;
    const named = groups === undefined ? undefined : namedGroups(plan, groups);
    if (mode === 'emit' && plan.balanced) {
      const slots = plan.slots;
      for (let i = 0; i < slots.length; i++) {
        if (named !== undefined && !named.slot(i)) continue;
        const refusedBy = this.offerToSlot(slots[i] as Slot, name, data, envelope);
        if (refusedBy !== undefined) (refused ??= []).push(refusedBy);
      }
      return refused;
    }
    const subscribers = plan.subscribers;
    for (let i = 0; i < subscribers.length; i++) {
      const subscriber = subscribers[i] as Subscriber;
      // A subscriber without a group is in no named group.
      if (named !== undefined && !named.subscriber(i)) continue;
      if (this.call(subscriber, name, data, envelope)) (refused ??= []).push(subscriber);
    }
    return refused;
  }

  /** Round robin within a slot; a member whose buffer refuses passes the event to the next one. */
  private offerToSlot(
    slot: Slot,
    name: string,
    data: unknown,
    envelope: EventEnvelope | undefined,
  ): Subscriber | undefined {
    const members = slot.members;
    const count = members.length;
    if (count === 0) return undefined;
    const start = slot.next++ % count;
    if (slot.next >= Number.MAX_SAFE_INTEGER) slot.next = 0;
    for (let i = 0; i < count; i++) {
      const member = members[(start + i) % count] as Subscriber;
      if (!this.call(member, name, data, envelope)) return undefined;
    }
    return members[start];
  }

  /** Calls one subscriber; true when it refused the event. */
  private call(subscriber: Subscriber, name: string, data: unknown, envelope: EventEnvelope | undefined): boolean {
    const deliver = subscriber.deliver;
    const otel = this.otel;
    try {
      const result =
        otel === undefined || name.charCodeAt(0) === 36
          ? deliver(data, name, envelope)
          : otel.consume(name, subscriber.label, subscriber.group, envelope?.id, () => deliver(data, name, envelope));
      return result !== undefined && this.afterDelivery(subscriber, name, result);
    } catch (error) {
      this.handlerFailed(subscriber, name, error);
      return false;
    }
  }

  /** Handles what a subscriber returned: a refusal (true) or a promise whose rejection is reported. */
  private afterDelivery(subscriber: Subscriber, name: string, result: unknown): boolean {
    if (result === REFUSED) return true;
    if (isThenable(result)) result.then(undefined, (error: unknown) => this.handlerFailed(subscriber, name, error));
    return false;
  }

  private handlerFailed(subscriber: Subscriber, name: string, error: unknown): void {
    this.handlerErrorCount++;
    this.report('handler', error, { event: name, subscriber: subscriber.label });
  }

  /** Resolves and caches the plan of `name` (a closed core gets an empty plan, not cached). */
  private plan(name: string): Plan {
    if (!this.open) return CLOSED_PLAN;
    // A plain fresh array: frozen arrays are iterated several times slower by V8.
    const subscribers = this.trie.resolve(name);
    let plan: Plan;
    if (subscribers.length === 1) {
      // The common case, one subscriber of a name: its plan is made once and outlives cache turns and
      // subscriptions coming and going beside it, instead of a new one after every change.
      const only = subscribers[0] as Subscriber;
      plan = only.soloPlan ??= this.newPlan(subscribers);
    } else {
      plan = this.newPlan(subscribers);
    }
    // A name published once (a unique id in it) is delivered with a plan that is not kept.
    this.plans.offer(name, plan);
    return plan;
  }

  /** The plan of `subscribers`, the matches of a name in registration order. */
  private newPlan(subscribers: Subscriber[]): Plan {
    let balanced = false;
    let needsEnvelope = false;
    for (let i = 0; i < subscribers.length; i++) {
      const subscriber = subscribers[i] as Subscriber;
      if (subscriber.needsEnvelope) needsEnvelope = true;
      if (!balanced && subscriber.group !== undefined && (subscriber.slotIfAny as Slot).members.length > 1)
        balanced = true;
    }
    let slots = NO_SLOTS;
    if (balanced) {
      const distinct = new Set<Slot>();
      for (const subscriber of subscribers) distinct.add(subscriber.slot);
      slots = [...distinct];
    }
    // With telemetry on, every publish takes the general path, which makes the spans.
    const local = !needsEnvelope && this.otel === undefined;
    const fastEmit = local && !balanced && !this.remote;
    return new Plan(
      subscribers,
      slots,
      balanced,
      needsEnvelope,
      fastEmit,
      local && !this.remote,
      local,
      fastEmit && subscribers.length === 1 ? subscribers[0] : undefined,
    );
  }

  private closedError(what: string): KindlingError {
    return new KindlingError('UNAVAILABLE', `the event bus of node ${this.nodeID} is stopped; cannot ${what}`, {
      details: { nodeID: this.nodeID },
    });
  }
}
