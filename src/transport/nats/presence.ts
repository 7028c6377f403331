import type { NatsConnection, Subscription } from 'nats';
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { NodeInfo, TransportReceiver } from '../../events/transport.js';

/** Timing of {@link NodePresence}. */
export interface PresenceOptions {
  /** How often this node announces itself, in ms (default 5 000). */
  readonly heartbeatMs?: number;
  /** After how long without a word a node is taken as gone, unexpectedly, in ms (default 15 000). */
  readonly nodeTimeoutMs?: number;
}

type PresenceKind = 'hello' | 'info' | 'heartbeat' | 'update' | 'bye';

interface PresenceMessage {
  readonly v: 1;
  readonly type: PresenceKind;
  readonly node: NodeInfo;
}

interface KnownNode {
  info: NodeInfo;
  lastSeen: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Node presence over plain NATS subjects `<prefix>.node.<type>`: a node says `hello` when it connects
 * (and after every reconnect), everyone answers with `info`, `heartbeat`s keep it alive, `update`
 * carries a changed description and `bye` a graceful leave. A node silent for `nodeTimeoutMs` is gone
 * unexpectedly. Each change reaches the bus as `$node.connected` / `$node.updated` /
 * `$node.disconnected`.
 *
 * After a reconnect the transport holds outgoing events until every node it knew has spoken again
 * (whose subscriptions are then back on the server, since a client re-subscribes before it
 * publishes) or `nodeTimeoutMs` passed: see {@link NodePresence.settled}.
 */
export class NodePresence {
  private readonly known = new Map<string, KnownNode>();
  private readonly everSeen = new Set<string>();
  private readonly heartbeatMs: number;
  private readonly nodeTimeoutMs: number;
  private subscription: Subscription | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private awaiting: Set<string> | undefined;
  private awaitTimer: ReturnType<typeof setTimeout> | undefined;
  private settledWaiters: (() => void)[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly base: string,
    private self: NodeInfo,
    private readonly receiver: TransportReceiver,
    private readonly logger: Logger,
    options: PresenceOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.nodeTimeoutMs = options.nodeTimeoutMs ?? 15_000;
  }

  /** Subscribes, says hello and starts the heartbeat. */
  start(): void {
    this.subscription = this.nc.subscribe(`${this.base}.*`, {
      callback: (error, msg) => {
        if (error === null) this.receive(msg.data);
      },
    });
    this.say('hello');
    this.timer = setInterval(() => {
      this.say('heartbeat');
      this.expire();
    }, this.heartbeatMs);
  }

  /** The other nodes known now. */
  nodes(): readonly NodeInfo[] {
    return [...this.known.values()].map((n) => n.info);
  }

  /** Whether outgoing events may flow (not waiting for the nodes to come back after a reconnect). */
  get isSettled(): boolean {
    return this.awaiting === undefined;
  }

  /** Resolves once {@link isSettled}. */
  settled(): Promise<void> {
    if (this.awaiting === undefined) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** The connection came back: say hello again and wait for the known nodes to answer. */
  reconnected(): void {
    const ids = [...this.known.keys()];
    if (ids.length > 0) {
      this.awaiting = new Set(ids);
      if (this.awaitTimer !== undefined) clearTimeout(this.awaitTimer);
      this.awaitTimer = setTimeout(() => this.settle(), this.nodeTimeoutMs);
    }
    this.say('hello');
  }

  /** Announces a changed description of this node (`$node.updated` elsewhere). */
  update(fields: Readonly<Record<string, unknown>>): void {
    this.self = { ...this.self, ...fields, id: this.self.id };
    this.say('update');
  }

  /** Says bye (when `graceful`), stops the heartbeat and unsubscribes. */
  stop(graceful: boolean): void {
    if (graceful) this.say('bye');
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.settle();
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private settle(): void {
    if (this.awaitTimer !== undefined) clearTimeout(this.awaitTimer);
    this.awaitTimer = undefined;
    this.awaiting = undefined;
    for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  private say(type: PresenceKind): void {
    const message: PresenceMessage = { v: 1, type, node: this.self };
    try {
      this.nc.publish(`${this.base}.${type}`, encoder.encode(JSON.stringify(message)));
    } catch (error) {
      this.logger.debug(`presence ${type} not sent: ${messageOf(error)}`);
    }
  }

  private receive(data: Uint8Array): void {
    let message: PresenceMessage;
    try {
      message = JSON.parse(decoder.decode(data)) as PresenceMessage;
      if (typeof message.node?.id !== 'string') throw new Error('no node id');
    } catch (error) {
      this.logger.warn(`ignored an undecodable presence message: ${messageOf(error)}`);
      return;
    }
    const node = message.node;
    if (node.id === this.self.id) return;
    if (this.awaiting?.delete(node.id) === true && this.awaiting.size === 0) this.settle();
    const known = this.known.get(node.id);
    if (message.type === 'bye') {
      if (known === undefined) return;
      this.known.delete(node.id);
      this.receiver.nodeDisconnected(known.info, false);
      return;
    }
    if (known === undefined) {
      this.known.set(node.id, { info: node, lastSeen: Date.now() });
      this.receiver.nodeConnected(node, this.everSeen.has(node.id));
      this.everSeen.add(node.id);
    } else {
      known.lastSeen = Date.now();
      if (message.type === 'update' || (message.type !== 'heartbeat' && node['instanceID'] !== known.info['instanceID'])) {
        known.info = node;
        this.receiver.nodeUpdated(node);
      }
    }
    // A newcomer (or a node back from a reconnect) learns who is there.
    if (message.type === 'hello') this.say('info');
  }

  private expire(): void {
    const deadline = Date.now() - this.nodeTimeoutMs;
    for (const [id, node] of this.known) {
      if (node.lastSeen >= deadline) continue;
      this.known.delete(id);
      this.receiver.nodeDisconnected(node.info, true);
    }
  }
}
