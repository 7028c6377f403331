import type { Channels } from './channels.js';
import type { EventEnvelope } from './event-envelope.js';

/** What a transport knows about another node (Moleculer's `$node.*` payload `node`). */
export interface NodeInfo {
  readonly id: string;
  readonly [field: string]: unknown;
}

/**
 * The answer of {@link Transport.send} for an envelope the transport accepted synchronously (an
 * already settled promise: the core skips the bookkeeping of a pending hand-off for it).
 */
export const SENT: Promise<void> = Promise.resolve();

/** The bus side of a transport: where envelopes and node news from other nodes come in. */
export interface TransportReceiver {
  /**
   * Delivers an envelope to this node's subscribers according to its `eventType` and `groups`
   * (`emit` balanced among this node's subscribers, `broadcast` to all of them). Never re-sent.
   */
  deliver(envelope: EventEnvelope): void;
  /**
   * Delivers an `emit` envelope that the network routed to this node's member of one balancing
   * slot (a NATS queue group): only that slot gets it, limited by the envelope's `groups`.
   */
  deliverToSlot(envelope: EventEnvelope, slotKey: string): void;
  /** Another node joined (`$node.connected`). */
  nodeConnected(node: NodeInfo, reconnected: boolean): void;
  /** Another node announced a change (`$node.updated`). */
  nodeUpdated(node: NodeInfo): void;
  /** Another node left (`$node.disconnected`). */
  nodeDisconnected(node: NodeInfo, unexpected: boolean): void;
  /** Broadcasts an internal `$` event on this node (`$transporter.connected`, ...). */
  internal(name: string, data: unknown): void;
}

/**
 * A balancing slot of this node as a remote transport sees it: the subscribers that share a group and
 * a pattern. `shared` is false for a subscriber without a group (a group of its own), which a
 * transport subscribes plainly rather than in a queue group.
 */
export interface TransportSlot {
  readonly key: string;
  readonly group: string;
  readonly pattern: string;
  readonly shared: boolean;
}

/**
 * The seam between the bus and the network. The core always delivers `broadcast` and
 * `broadcastLocal` to local subscribers itself; with a `remote` transport it also hands `broadcast`
 * envelopes to {@link Transport.send} for the other nodes, and hands `emit` envelopes **only** to the
 * transport, which balances them across nodes (NATS queue groups) and gives this node its share back
 * through {@link TransportReceiver.deliver}. The default {@link LocalTransport} is not remote: the
 * core then delivers everything in-process and never builds an envelope it does not need.
 *
 * @example
 * const bus = new DefaultEventBus({ transport: new LocalTransport() }); // the default
 * const spanning = new DefaultEventBus({ transport: new NatsTransport({ url }) }); // kindling/nats
 */
export interface Transport {
  /** Whether other nodes exist behind this transport. */
  readonly remote: boolean;
  connect(nodeID: string, receiver: TransportReceiver): Promise<void>;
  /**
   * Hands an envelope to other nodes. Without `confirm` it may resolve as soon as the transport has
   * buffered it (a plain `emit`/`broadcast` is fire-and-forget; return {@link SENT} then, which the
   * core recognises and attaches nothing to); with `confirm` it resolves only once the network has
   * taken it and rejects when it may not have (what `resilientPublish` retries on).
   */
  send(envelope: EventEnvelope, confirm?: boolean): Promise<void>;
  /**
   * Optional fast path of a plain send for an event whose optional fields all have their defaults
   * (no path, meta, groups or trace of its own): the transport encodes it from its parts, so the
   * core builds no envelope. `sequence` is the number of its id (`${nodeID}-${sequence}`), `time` its
   * time. Returns what {@link send} would, or `undefined` when the transport cannot take this event
   * this way (the core then builds the envelope and calls `send`).
   */
  sendPlain?(
    eventType: 'emit' | 'broadcast',
    name: string,
    data: unknown,
    sequence: number,
    time: number,
  ): Promise<void> | undefined;
  disconnect(): Promise<void>;
  /** A remote transport learns each slot of this node (called only when `remote`; may come before `connect`). */
  slotAdded?(slot: TransportSlot): void;
  /** The slot of this key has no member any more. */
  slotRemoved?(key: string): void;
  /** The other nodes this transport knows about (presence), when it tracks them. */
  nodes?(): readonly NodeInfo[];
  /**
   * Changed fields of this node's description (the bus sets `services`), for the other nodes'
   * `$node.updated`; fields set before `connect` are part of the first announcement.
   */
  updateNodeInfo?(fields: Readonly<Record<string, unknown>>): void;
  /** Durable channels, when this transport offers them and is connected (`undefined` otherwise). */
  readonly openChannels?: Channels | undefined;
}

/**
 * The in-process transport: no other nodes, nothing to send. The default of every bus.
 *
 * @example
 * new DefaultEventBus({ transport: new LocalTransport() });
 */
export class LocalTransport implements Transport {
  readonly remote = false;

  connect(): Promise<void> {
    return Promise.resolve();
  }

  send(): Promise<void> {
    return SENT;
  }

  disconnect(): Promise<void> {
    return Promise.resolve();
  }
}
