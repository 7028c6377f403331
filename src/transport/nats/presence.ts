import type { NatsConnection, Subscription } from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';
import { quote, show } from '../../common/visible-text.js';
import { LogThrottle, type Logger } from '../../common/logger.js';
import type { NodeInfo, TransportReceiver } from '../../events/core/transport.js';

/** Timing and limits of {@link NodePresence}. */
export interface PresenceOptions {
  /** How often this node announces itself, in ms (default 5 000). */
  readonly heartbeatMs?: number;
  /** After how long without a word a node is taken as gone, unexpectedly, in ms (default 15 000). */
  readonly nodeTimeoutMs?: number;
  /** At most this many other nodes are tracked; presence from more is refused and counted (default 1 000). */
  readonly maxNodes?: number;
  /** A presence message larger than this many bytes is refused (default 16 384). */
  readonly maxPresenceBytes?: number;
  /**
   * This node answers a `hello` at most once per this many ms; the hellos in between share the next
   * answer, so a flood of hellos gets a bounded number of replies (default 1 000).
   */
  readonly helloReplyIntervalMs?: number;
}

/** Counters of {@link NodePresence}, for tests, health checks and metrics. */
export interface PresenceStats {
  /** Other nodes tracked now (at most `maxNodes`). */
  readonly nodes: number;
  /** Departed nodes remembered, so that a return is `reconnected` (at most `maxNodes`). */
  readonly departed: number;
  /** Presence messages refused: oversized, malformed, a bad node id, a forged `bye`, or over `maxNodes`. */
  readonly refused: number;
  /** `info` replies sent to hellos. */
  readonly replies: number;
  /** Hellos that shared a reply with others instead of getting one of their own. */
  readonly repliesShared: number;
}

type PresenceKind = 'hello' | 'info' | 'heartbeat' | 'update' | 'bye';

const KINDS: ReadonlySet<string> = new Set<PresenceKind>(['hello', 'info', 'heartbeat', 'update', 'bye']);

interface PresenceMessage {
  readonly v: 1;
  readonly type: PresenceKind;
  readonly node: NodeInfo;
}

interface KnownNode {
  info: NodeInfo;
  lastSeen: number;
}

const DEFAULT_MAX_NODES = 1000;
const DEFAULT_MAX_PRESENCE_BYTES = 16_384;
const DEFAULT_HELLO_REPLY_INTERVAL_MS = 1000;

/**
 * The grammar of a node id that travels over NATS: 1 to 256 characters from `A–Z a–z 0–9 _ . : @ + -`
 * (a host name, a pid, a UUID all fit). No spaces, line breaks or control characters, so an id can
 * stand in a log line or a header as it is.
 */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.:@+-]{1,256}$/;

/** Whether `id` follows {@link NODE_ID_PATTERN}. */
export function isNodeID(id: unknown): id is string {
  return typeof id === 'string' && NODE_ID_PATTERN.test(id);
}

/** The `INVALID` error for a node id outside {@link NODE_ID_PATTERN}, quoting at most 64 characters of it. */
export function badNodeID(id: unknown, where: string): KindlingError {
  const shown = typeof id === 'string' ? quote(id, 64) : typeof id;
  return new KindlingError(
    'INVALID',
    `${where}: node id ${shown} is not 1–256 characters from A–Z a–z 0–9 _ . : @ + -`,
    {
      details: { nodeID: typeof id === 'string' ? id.slice(0, 256) : undefined },
    },
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Keys a JSON object from a peer may not carry: they would reach an object's prototype once merged. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Where a {@link NodePresence} speaks, as which node, and to whom it reports. */
export interface NodePresenceInit {
  readonly nc: NatsConnection;
  /** The subject base: messages go to `<base>.<type>`. */
  readonly base: string;
  /** This node's description, as announced. */
  readonly self: NodeInfo;
  /** The bus, which hears `$node.*`. */
  readonly receiver: TransportReceiver;
  readonly logger: Logger;
  readonly options?: PresenceOptions;
  /** Where refusals are counted (the transport's, so that one window covers all its storms). */
  readonly storms?: LogThrottle;
}

/**
 * Node presence over plain NATS subjects `<prefix>.node.<type>`: a node says `hello` when it connects
 * (and after every reconnect), everyone answers with `info` (at most once per `helloReplyIntervalMs`),
 * `heartbeat`s keep it alive, `update` carries a changed description and `bye` a graceful leave. A
 * node silent for `nodeTimeoutMs` is gone unexpectedly. Each change reaches the bus as
 * `$node.connected` / `$node.updated` / `$node.disconnected`.
 *
 * Presence messages are data from peers: each is decoded strictly (size, UTF-8, JSON, version, type,
 * node id grammar) and refused otherwise; at most `maxNodes` nodes are tracked; a `bye` must come
 * from the instance it names. Refusals are counted and logged once per window.
 *
 * After a reconnect the transport holds outgoing events until every node it knew has spoken again
 * (whose subscriptions are then back on the server, since a client re-subscribes before it
 * publishes) or `nodeTimeoutMs` passed: see {@link NodePresence.settled}.
 */
export class NodePresence {
  private readonly known = new Map<string, KnownNode>();
  /** Nodes that left, oldest first: a return is `reconnected`. Bounded by `maxNodes`. */
  private readonly departed = new Set<string>();
  private readonly heartbeatMs: number;
  private readonly nodeTimeoutMs: number;
  private readonly maxNodes: number;
  private readonly maxBytes: number;
  private readonly replyIntervalMs: number;
  private subscription: Subscription | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private awaiting: Set<string> | undefined;
  private awaitTimer: ReturnType<typeof setTimeout> | undefined;
  private settledWaiters: (() => void)[] = [];
  private lastReply = Number.NEGATIVE_INFINITY;
  private replyTimer: ReturnType<typeof setTimeout> | undefined;
  private refusedCount = 0;
  private replyCount = 0;
  private sharedCount = 0;
  private omittedWarned = false;
  private readonly nc: NatsConnection;
  private readonly base: string;
  private self: NodeInfo;
  private readonly receiver: TransportReceiver;
  private readonly logger: Logger;
  private readonly storms: LogThrottle;

  constructor(init: NodePresenceInit) {
    this.nc = init.nc;
    this.base = init.base;
    this.self = init.self;
    this.receiver = init.receiver;
    this.logger = init.logger;
    this.storms = init.storms ?? new LogThrottle(init.logger);
    const options = init.options ?? {};
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.nodeTimeoutMs = options.nodeTimeoutMs ?? 15_000;
    this.maxNodes = options.maxNodes ?? DEFAULT_MAX_NODES;
    this.maxBytes = options.maxPresenceBytes ?? DEFAULT_MAX_PRESENCE_BYTES;
    this.replyIntervalMs = options.helloReplyIntervalMs ?? DEFAULT_HELLO_REPLY_INTERVAL_MS;
  }

  /** Subscribes, says hello and starts the heartbeat. */
  start(): void {
    this.subscription = this.nc.subscribe(`${this.base}.*`, {
      callback: (error, msg) => {
        if (error === null) this.receive(msg.subject, msg.data);
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

  /** Counters of the node table and of the presence traffic. */
  stats(): PresenceStats {
    return {
      nodes: this.known.size,
      departed: this.departed.size,
      refused: this.refusedCount,
      replies: this.replyCount,
      repliesShared: this.sharedCount,
    };
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
    if (this.replyTimer !== undefined) clearTimeout(this.replyTimer);
    this.replyTimer = undefined;
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
    try {
      this.nc.publish(`${this.base}.${type}`, this.encodeSelf(type));
    } catch (error) {
      this.logger.debug(`presence ${type} not sent: ${messageOf(error)}`);
    }
  }

  /**
   * This node's presence message. When its description is larger than `maxPresenceBytes` (the
   * limit its peers hold it to, when they share the setting) it goes without its `services` list,
   * marked `servicesOmitted`, and that is logged once: a node whose presence is refused would
   * disappear altogether.
   */
  private encodeSelf(type: PresenceKind): Uint8Array {
    const bytes = encoder.encode(JSON.stringify({ v: 1, type, node: this.self } satisfies PresenceMessage));
    if (bytes.length <= this.maxBytes || this.self['services'] === undefined) return bytes;
    const { services, ...rest } = this.self;
    if (!this.omittedWarned) {
      this.omittedWarned = true;
      this.logger.warn(
        `the presence of node ${this.self.id} is ${bytes.length} bytes, more than maxPresenceBytes (${this.maxBytes}); ` +
          `it goes without its ${Array.isArray(services) ? services.length : 0} service(s), which other nodes will not list`,
      );
    }
    const node: NodeInfo = { ...rest, id: this.self.id, servicesOmitted: true };
    return encoder.encode(JSON.stringify({ v: 1, type, node } satisfies PresenceMessage));
  }

  /**
   * Answers a hello with this node's `info`, at most once per interval: a hello inside the interval
   * waits for the one reply scheduled at its end, shared by every hello until then.
   */
  private reply(): void {
    if (this.replyTimer !== undefined) {
      this.sharedCount++;
      return;
    }
    const wait = this.lastReply + this.replyIntervalMs - Date.now();
    if (wait <= 0) {
      this.sendReply();
      return;
    }
    this.sharedCount++;
    this.replyTimer = setTimeout(() => {
      this.replyTimer = undefined;
      this.sendReply();
    }, wait);
  }

  private sendReply(): void {
    this.lastReply = Date.now();
    this.replyCount++;
    this.say('info');
  }

  /** Counts a refusal; the first of each kind per window is logged, the rest counted. */
  private refuse(
    kind: 'malformed' | 'clash' | 'forged' | 'full',
    subject: string,
    reason: string,
    node?: string,
  ): void {
    this.refusedCount++;
    const from = node === undefined ? '' : ` from node ${node}`;
    this.storms.warn(`presence-${kind}`, `refused a presence message on ${subject}${from}: ${reason}`, { subject });
  }

  /** The message, or why it is refused. */
  private decode(subject: string, data: Uint8Array): PresenceMessage | string {
    if (data.length > this.maxBytes) return `${data.length} bytes is more than maxPresenceBytes (${this.maxBytes})`;
    const type = subject.slice(this.base.length + 1);
    if (!KINDS.has(type)) return `${quote(type, 32)} is not a presence type (hello, info, heartbeat, update, bye)`;
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(data), (key, value: unknown) => {
        if (FORBIDDEN_KEYS.has(key)) throw new Error(`the key ${quote(key, 32)} is not allowed`);
        return value;
      });
    } catch (error) {
      return `not a UTF-8 JSON presence message (${messageOf(error, 200)})`;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not a JSON object';
    const message = raw as Record<string, unknown>;
    if (message['v'] !== 1) return `version ${show(message['v'], 16)} is not supported (this node reads 1)`;
    if (message['type'] !== type) return `its type ${show(message['type'], 32)} is not its subject's (${type})`;
    const node = message['node'];
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return 'field node is not an object';
    const id = (node as NodeInfo).id;
    if (!isNodeID(id)) return badNodeID(id, 'field node.id').message.replace(/^field node\.id: /, '');
    const instanceID = (node as NodeInfo)['instanceID'];
    if (instanceID !== undefined && (typeof instanceID !== 'string' || instanceID.length > 128))
      return 'field node.instanceID is not a string of at most 128 characters';
    return { v: 1, type: type as PresenceKind, node: node as NodeInfo };
  }

  private receive(subject: string, data: Uint8Array): void {
    const message = this.decode(subject, data);
    if (typeof message === 'string') {
      this.refuse('malformed', subject, message);
      return;
    }
    const node = message.node;
    if (node.id === this.self.id) {
      // Our own messages come back to us; another instance with our id is a clash (or a forgery).
      if (node['instanceID'] !== this.self['instanceID'])
        this.refuse('clash', subject, "another instance claims this node's id", node.id);
      return;
    }
    const known = this.known.get(node.id);
    if (message.type === 'bye') {
      if (known === undefined) return;
      if (node['instanceID'] !== known.info['instanceID']) {
        this.refuse('forged', subject, 'a bye from another instance than the one known', node.id);
        return;
      }
      this.known.delete(node.id);
      this.forget(node.id);
      this.receiver.nodeDisconnected(known.info, false);
      this.heard(node.id);
      return;
    }
    if (known === undefined) {
      if (this.known.size >= this.maxNodes) {
        this.refuse('full', subject, `this node already tracks ${this.maxNodes} nodes (maxNodes)`, node.id);
        return;
      }
      this.known.set(node.id, { info: node, lastSeen: Date.now() });
      this.receiver.nodeConnected(node, this.departed.delete(node.id));
    } else {
      known.lastSeen = Date.now();
      if (
        message.type === 'update' ||
        (message.type !== 'heartbeat' && node['instanceID'] !== known.info['instanceID'])
      ) {
        known.info = node;
        this.receiver.nodeUpdated(node);
      }
    }
    this.heard(node.id);
    // A newcomer (or a node back from a reconnect) learns who is there.
    if (message.type === 'hello') this.reply();
  }

  /** A node spoke: one fewer to wait for after a reconnect. */
  private heard(id: string): void {
    if (this.awaiting?.delete(id) === true && this.awaiting.size === 0) this.settle();
  }

  /** Remembers that `id` left, forgetting the oldest departure past `maxNodes`. */
  private forget(id: string): void {
    this.departed.delete(id);
    this.departed.add(id);
    if (this.departed.size > this.maxNodes) {
      const oldest = this.departed.values().next();
      if (oldest.done !== true) this.departed.delete(oldest.value);
    }
  }

  private expire(): void {
    const deadline = Date.now() - this.nodeTimeoutMs;
    for (const [id, node] of this.known) {
      if (node.lastSeen >= deadline) continue;
      this.known.delete(id);
      this.forget(id);
      this.receiver.nodeDisconnected(node.info, true);
    }
  }
}
