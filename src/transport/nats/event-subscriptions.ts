import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from '../../common/logger.js';
import type { TransportReceiver, TransportSlot } from '../../events/core/transport.js';
import { matchEventName } from '../../pattern/kind-pattern.js';
import type { Inbound } from './inbound.js';
import type { SubjectCache } from './subject-cache.js';
import { patternToSubject, queueName } from './subjects.js';

interface SlotSubscription {
  readonly slot: TransportSlot;
  sub: Subscription | undefined;
}

/** What {@link EventSubscriptions} subscribes with. */
export interface EventSubscriptionsInit {
  readonly prefix: string;
  readonly subjects: SubjectCache;
  readonly inbound: Inbound;
  readonly logger: Logger;
}

/**
 * The NATS subscriptions of the bus's events: `<prefix>.bcast.>` once per node (our own echo
 * dropped), and one per balancing slot on `<prefix>.emit.<pattern>`, in the slot's queue group when
 * it is shared. Slots known before connect are subscribed on connect.
 */
export class EventSubscriptions {
  private readonly slots = new Map<string, SlotSubscription>();
  /** Patterns already warned about (not expressible as a subject). */
  private readonly warned = new Set<string>();
  private nc: NatsConnection | undefined;
  private receiver: TransportReceiver | undefined;

  constructor(private readonly init: EventSubscriptionsInit) {}

  /** Subscribes to broadcasts and every known slot over a new connection. */
  attach(nc: NatsConnection, nodeID: string, receiver: TransportReceiver): void {
    this.nc = nc;
    this.receiver = receiver;
    const { inbound, subjects } = this.init;
    nc.subscribe(`${this.init.prefix}.bcast.>`, {
      callback: (error, msg) => {
        if (error !== null) return;
        const envelopes = inbound.decode(msg, subjects.bcastBase, undefined);
        // A batch comes from one node: its first envelope says whether it is our own echo.
        if (envelopes === undefined || envelopes[0]?.source === nodeID) return;
        for (const envelope of envelopes) receiver.deliver(envelope);
      },
    });
    for (const entry of this.slots.values()) this.subscribe(entry);
  }

  /** Forgets the subscriptions of a connection being drained (which ends them). */
  detach(): void {
    this.nc = undefined;
    for (const entry of this.slots.values()) entry.sub = undefined;
  }

  add(slot: TransportSlot): void {
    const entry: SlotSubscription = { slot, sub: undefined };
    this.slots.set(slot.key, entry);
    if (this.nc !== undefined) this.subscribe(entry);
  }

  remove(key: string): void {
    const entry = this.slots.get(key);
    if (entry === undefined) return;
    this.slots.delete(key);
    entry.sub?.unsubscribe();
  }

  private subscribe(entry: SlotSubscription): void {
    const nc = this.nc;
    const receiver = this.receiver;
    if (nc === undefined || receiver === undefined) return;
    const { inbound, subjects, prefix, logger } = this.init;
    const { key, group, pattern, shared } = entry.slot;
    const { subject, exact } = patternToSubject(`${prefix}.emit`, pattern);
    // A pattern without wildcards is the one name its subject carries.
    const literal = exact && !/[*?]/.test(pattern) ? pattern : undefined;
    if (!exact && !this.warned.has(pattern)) {
      this.warned.add(pattern);
      logger.warn(
        `pattern "${pattern}" cannot be expressed as a NATS subject; subscribed to ${subject} and filtered on this node`,
      );
    }
    entry.sub = nc.subscribe(subject, {
      ...(shared ? { queue: queueName(group, pattern) } : {}),
      callback: (error, msg) => {
        if (error !== null) return;
        const envelopes = inbound.decode(msg, subjects.emitBase, literal);
        if (envelopes === undefined) return;
        for (const envelope of envelopes) {
          if (exact || matchEventName(pattern, envelope.name)) receiver.deliverToSlot(envelope, key);
        }
      },
    });
  }
}
