import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { JetStreamManager, NatsConnection } from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';
import { LogThrottle, REPEAT_WINDOW_MS, createConsoleLogger, type Logger } from '../../common/logger.js';
import type { EventEnvelope } from '../../events/core/event-envelope.js';
import type { NodeInfo, Transport, TransportReceiver, TransportSlot } from '../../events/core/transport.js';
import { JetStreamChannels } from './durable-channels.js';
import { EventSubscriptions } from './event-subscriptions.js';
import { Inbound } from './inbound.js';
import { NatsLink } from './nats-link.js';
import { OutgoingBatches } from './outgoing-batches.js';
import { NodePresence, badNodeID, isNodeID, type PresenceStats } from './presence.js';
import { SubjectCache } from './subject-cache.js';
import { checkOptions, type NatsTransportOptions } from './transport-options.js';
import { envelopeText } from './wire-format.js';

export type { NatsTransportOptions } from './transport-options.js';

/** Counters of a {@link NatsTransport}, for tests, health checks and metrics. */
export interface NatsTransportStats {
  /** The node table and presence traffic (zeros before connect). */
  readonly presence: PresenceStats;
  /** Received event messages that could not be decoded (each dead-lettered unless too many were pending). */
  readonly undecodable: number;
  /** Undecodable messages being written to the dead-letter stream now (at most `deadLetterMaxPending`). */
  readonly deadLettersPending: number;
  /** Undecodable messages not dead-lettered because `deadLetterMaxPending` were being written already. */
  readonly deadLettersSkipped: number;
  /** Event names whose subjects are cached (at most 16 384; the cache then starts over). */
  readonly cachedSubjects: number;
}

const DEFAULT_MAX_BATCH = 32;
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_576;
const DEFAULT_MAX_NAME_LENGTH = 1024;
const DEFAULT_DEAD_LETTER_MAX_PENDING = 64;
const NO_PRESENCE: PresenceStats = Object.freeze({ nodes: 0, departed: 0, refused: 0, replies: 0, repliesShared: 0 });

/**
 * The event bus over NATS: set it as the bus's transport and the same API spans
 * every node on the server. `emit` is published on `<prefix>.emit.<name>` where each balancing slot
 * (group, pattern) of each node is a member of one NATS queue group, so exactly one member per group
 * handles it; a subscriber without a group subscribes plainly. `broadcast` goes to
 * `<prefix>.bcast.<name>`, which every node receives once and routes through its own pattern trie;
 * `broadcastLocal` never leaves the node. Presence travels on `<prefix>.node.*`, durable channels on
 * JetStream (`<prefix>.chan.*`, dead letters `<prefix>.dlq.*`).
 *
 * @example
 * const bus = createEventBus({ nodeID: 'api-1', transport: new NatsTransport({ url: 'nats://127.0.0.1:4222' }) });
 * await bus.start(); // UNAVAILABLE naming the URL when NATS cannot be reached
 */
export class NatsTransport implements Transport {
  readonly remote = true;
  readonly url: string;
  readonly prefix: string;
  private readonly options: NatsTransportOptions;
  private readonly logger: Logger;
  private readonly storms: LogThrottle;
  private readonly subjects: SubjectCache;
  private readonly link: NatsLink;
  private readonly outgoing: OutgoingBatches;
  private readonly inbound: Inbound;
  private readonly subscriptions: EventSubscriptions;
  private receiver: TransportReceiver | undefined;
  private nodeID = '';
  /** Whether this node's id can stand on the header line as it is (no line break): {@link sendPlain} needs that. */
  private plainSource = false;
  private presence: NodePresence | undefined;
  /** The name and mode {@link sendPlain} took last, and their subject: names come in runs. */
  private plainName: string | undefined;
  private plainType: 'emit' | 'broadcast' = 'emit';
  private plainSubject = '';
  /** Fields of this node's description set by the bus (its services), kept across reconnects. */
  private announced: Record<string, unknown> = {};
  private channelStore: JetStreamChannels | undefined;

  constructor(options: NatsTransportOptions) {
    this.options = options;
    this.url = typeof options.url === 'string' ? options.url : options.url.join(',');
    this.prefix = options.prefix ?? 'kindling';
    this.subjects = new SubjectCache(this.prefix);
    this.logger = options.logger ?? createConsoleLogger('warn', 'kindling:nats');
    checkOptions(options);
    this.storms = new LogThrottle(this.logger, { windowMs: options.logRepeatWindowMs ?? REPEAT_WINDOW_MS });
    this.link = new NatsLink(this.url, this.logger);
    this.outgoing = new OutgoingBatches({
      link: this.link,
      storms: this.storms,
      maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH,
    });
    this.inbound = new Inbound({
      storms: this.storms,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      maxNameLength: options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH,
      deadLetterMaxPending: options.deadLetterMaxPending ?? DEFAULT_DEAD_LETTER_MAX_PENDING,
      receiver: () => this.receiver,
      channels: () => this.channelStore,
    });
    this.subscriptions = new EventSubscriptions({
      prefix: this.prefix,
      subjects: this.subjects,
      inbound: this.inbound,
      logger: this.logger,
    });
  }

  /** Durable channels on JetStream; available once connected. Throws `UNAVAILABLE` before. */
  get channels(): JetStreamChannels {
    if (this.channelStore === undefined) {
      throw new KindlingError(
        'UNAVAILABLE',
        `durable channels need a connected NATS transport (${this.url}) with JetStream enabled`,
      );
    }
    return this.channelStore;
  }

  /** Durable channels when connected with JetStream, else `undefined`. */
  get openChannels(): JetStreamChannels | undefined {
    return this.channelStore;
  }

  /** The NATS connection (for tests and tools); `undefined` before connect. */
  get connection(): NatsConnection | undefined {
    return this.link.connection;
  }

  async connect(nodeID: string, receiver: TransportReceiver): Promise<void> {
    // Peers refuse presence and events from an id outside the grammar: refuse it here, before anything is sent.
    if (!isNodeID(nodeID)) throw badNodeID(nodeID, `cannot join NATS at ${this.url}`);
    this.nodeID = nodeID;
    this.plainSource = !nodeID.includes('\n') && !nodeID.includes('\r');
    this.outgoing.source = nodeID;
    this.receiver = receiver;
    const nc = await this.link.open(this.options, nodeID, {
      disconnected: () => this.receiver?.internal('$transporter.disconnected', { url: this.url, unexpected: true }),
      reconnected: () => {
        this.presence?.reconnected();
        this.channelStore?.reconnected();
        this.link.logConnected('reconnected', this.nodeID, this.channelStore !== undefined);
        this.receiver?.internal('$transporter.connected', { url: this.url, reconnected: true });
      },
    });
    this.outgoing.fitTo(nc.info?.max_payload);
    this.subscriptions.attach(nc, nodeID, receiver);
    const info: NodeInfo = {
      hostname: hostname(),
      pid: process.pid,
      instanceID: randomUUID(),
      startedAt: Date.now(),
      ...(this.options.metadata === undefined ? {} : { metadata: this.options.metadata }),
      ...this.announced,
      id: nodeID,
    };
    // Subscriptions first, so that a node that hears our hello can already reach us.
    await nc.flush();
    await this.startChannels(nc);
    this.presence = new NodePresence({
      nc,
      base: `${this.prefix}.node`,
      self: info,
      receiver,
      logger: this.logger,
      options: this.options,
      storms: this.storms,
    });
    this.presence.start();
    await nc.flush();
    this.link.logConnected('connected', nodeID, this.channelStore !== undefined);
    receiver.internal('$transporter.connected', { url: this.url, reconnected: false });
  }

  /**
   * Publishes an envelope. A plain send resolves at once (`SENT`): the envelope joins the
   * batch of its subject, which leaves at the end of the turn (nats.js then writes it with the turn's
   * other messages), as fire-and-forget as Moleculer's emit; it rejects (`UNAVAILABLE`, retryable)
   * while the connection is down or settling after a reconnect, and `INVALID` for data JSON cannot
   * encode. With `confirm` (`resilientPublish`) it resolves only after a server round trip (one
   * PING/PONG shared by every confirmed send of the same turn) and rejects when the connection
   * dropped first.
   */
  send(envelope: EventEnvelope, confirm = false): Promise<void> {
    const down = this.link.refusal(this.presence?.isSettled === false);
    if (down !== undefined) return down;
    const emit = envelope.eventType === 'emit';
    const name = envelope.name;
    const subject = this.subjects.subject(emit, name);
    let text: string;
    try {
      text = envelopeText(envelope, this.subjects.carriesName(subject, emit, name));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.outgoing.enqueue(this.link.connection as NatsConnection, subject, text, confirm, envelope.traceContext);
  }

  /**
   * {@link send} of a plain `emit`/`broadcast` from its parts (no envelope built): taken when the
   * name travels in the subject unescaped and this node's id has no line break, else `undefined`.
   */
  // eslint-disable-next-line @typescript-eslint/max-params -- Transport.sendPlain, the fast path of every plain emit: no options object per event
  sendPlain(
    eventType: 'emit' | 'broadcast',
    name: string,
    data: unknown,
    sequence: number,
    time: number,
  ): Promise<void> | undefined {
    if (!this.plainSource) return undefined;
    const down = this.link.refusal(this.presence?.isSettled === false);
    if (down !== undefined) return down;
    let subject: string;
    if (name === this.plainName && eventType === this.plainType) subject = this.plainSubject;
    else {
      const emit = eventType === 'emit';
      subject = this.subjects.subject(emit, name);
      if (!this.subjects.carriesName(subject, emit, name)) return undefined;
      this.plainName = name;
      this.plainType = eventType;
      this.plainSubject = subject;
    }
    return this.outgoing.enqueuePlain(
      this.link.connection as NatsConnection,
      subject,
      eventType,
      sequence,
      time,
      name,
      data,
    );
  }

  slotAdded(slot: TransportSlot): void {
    this.subscriptions.add(slot);
  }

  slotRemoved(key: string): void {
    this.subscriptions.remove(key);
  }

  nodes(): readonly NodeInfo[] {
    return this.presence?.nodes() ?? [];
  }

  /** Counters of the stores and storms this transport bounds. */
  stats(): NatsTransportStats {
    return {
      presence: this.presence?.stats() ?? NO_PRESENCE,
      ...this.inbound.stats(),
      cachedSubjects: this.subjects.size,
    };
  }

  /** Announces changed fields of this node's description to the others (`$node.updated`). */
  updateNodeInfo(fields: Readonly<Record<string, unknown>>): void {
    this.announced = { ...this.announced, ...fields };
    this.presence?.update(fields);
  }

  /** Resolves once outgoing events flow again after a reconnect (every known node spoke again). */
  settled(): Promise<void> {
    return this.presence?.settled() ?? Promise.resolve();
  }

  async disconnect(): Promise<void> {
    if (this.link.connection === undefined) return;
    this.outgoing.flush();
    const nc = this.link.detach() as NatsConnection;
    await this.channelStore?.close();
    this.presence?.stop(!nc.isClosed());
    this.presence = undefined;
    this.subscriptions.detach();
    await this.link.close(nc);
    this.storms.flush();
  }

  /**
   * @internal Counts an undecodable message and dead-letters it with its reason (when JetStream is
   * there and fewer than `deadLetterMaxPending` are being written: a flood is counted, not queued).
   */
  deadLetter(subject: string, data: Uint8Array, reason: string): void {
    this.inbound.deadLetter(subject, data, reason);
  }

  private async startChannels(nc: NatsConnection): Promise<void> {
    let jsm: JetStreamManager;
    try {
      jsm = await nc.jetstreamManager();
    } catch (error) {
      this.logger.warn(
        `JetStream is not available at ${this.url} (${messageOf(error)}); durable channels and the dead-letter stream are off`,
      );
      return;
    }
    this.channelStore = new JetStreamChannels({
      nc,
      jsm,
      js: nc.jetstream(),
      prefix: this.prefix,
      nodeID: this.nodeID,
      logger: this.logger,
      options: this.options,
      storms: this.storms,
    });
    await this.channelStore.ensureStreams();
  }
}
