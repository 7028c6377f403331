import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, Events, type JetStreamManager, type Msg, type NatsConnection, type Subscription } from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';
import { LogThrottle, REPEAT_WINDOW_MS, createConsoleLogger, type Logger } from '../../common/logger.js';
import type { EventEnvelope } from '../../events/core/event-envelope.js';
import { SENT, type NodeInfo, type Transport, type TransportReceiver, type TransportSlot } from '../../events/core/transport.js';
import { matchEventName } from '../../pattern/kind-pattern.js';
import { JetStreamChannels } from './durable-channels.js';
import { NodePresence, badNodeID, isNodeID, type PresenceStats } from './presence.js';
import { SubjectCache } from './subject-cache.js';
import { patternToSubject, queueName } from './subjects.js';
import { checkOptions, type NatsTransportOptions } from './transport-options.js';

export type { NatsTransportOptions } from './transport-options.js';
import { batchBytes, EnvelopeDecoder, envelopeText, plainEnvelopeText } from './wire-format.js';

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

/** Consecutive events of one subject, waiting for the end of the turn to leave as one message. */
interface Batch {
  readonly subject: string;
  readonly texts: string[];
  chars: number;
}

interface SlotSubscription {
  readonly slot: TransportSlot;
  sub: Subscription | undefined;
}

const DEFAULT_MAX_BATCH = 32;
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_576;
const DEFAULT_MAX_NAME_LENGTH = 1024;
const DEFAULT_DEAD_LETTER_MAX_PENDING = 64;
const NO_PRESENCE: PresenceStats = Object.freeze({ nodes: 0, departed: 0, refused: 0, replies: 0, repliesShared: 0 });

/**
 * A batch stays under this many UTF-16 units: a text under 4 KiB is encoded into Node's shared
 * buffer pool where a larger one allocates its own, and with events this large the per-message cost
 * NATS saves is already small. An event larger than this travels alone.
 */
const BATCH_CHARS = 4000;

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
  private readonly slots = new Map<string, SlotSubscription>();
  private readonly storms: LogThrottle;
  private readonly maxMessageBytes: number;
  private readonly maxNameLength: number;
  private readonly deadLetterMaxPending: number;
  /** The last envelope source that passed the node id grammar: sources come in runs. */
  private goodSource = '';
  private undecodableCount = 0;
  private deadLettersPending = 0;
  private deadLettersSkipped = 0;
  private readonly warned = new Set<string>();
  /** Reads received messages, reusing what a run of them from one node about one name shares. */
  private readonly decoder = new EnvelopeDecoder();
  private readonly subjects: SubjectCache;
  private nc: NatsConnection | undefined;
  private receiver: TransportReceiver | undefined;
  private nodeID = '';
  /** Whether this node's id can stand on the header line as it is (no line break): {@link sendPlain} needs that. */
  private plainSource = false;
  private presence: NodePresence | undefined;
  private channelStore: JetStreamChannels | undefined;
  private connected = false;
  private confirming: Promise<void> | undefined;
  private statusLoop: Promise<void> | undefined;
  private statusStop: (() => void) | undefined;
  private readonly maxBatch: number;
  /** The UTF-16 units a batch may hold: {@link BATCH_CHARS}, less when the server's payload limit is lower. */
  private batchChars = BATCH_CHARS;
  private batch: Batch | undefined;
  private flushQueued = false;
  /** Why a batch was lost since the last confirmation (which then fails, so that it is retried). */
  private lostSince: string | undefined;
  private readonly flushTask = (): void => {
    this.flushQueued = false;
    this.flushBatch();
  };

  constructor(options: NatsTransportOptions) {
    this.options = options;
    this.url = typeof options.url === 'string' ? options.url : options.url.join(',');
    this.prefix = options.prefix ?? 'kindling';
    this.subjects = new SubjectCache(this.prefix);
    this.logger = options.logger ?? createConsoleLogger('warn', 'kindling:nats');
    checkOptions(options);
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxNameLength = options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH;
    this.deadLetterMaxPending = options.deadLetterMaxPending ?? DEFAULT_DEAD_LETTER_MAX_PENDING;
    this.storms = new LogThrottle(this.logger, { windowMs: options.logRepeatWindowMs ?? REPEAT_WINDOW_MS });
  }

  /** Durable channels on JetStream; available once connected. Throws `UNAVAILABLE` before. */
  get channels(): JetStreamChannels {
    if (this.channelStore === undefined) {
      throw new KindlingError('UNAVAILABLE', `durable channels need a connected NATS transport (${this.url}) with JetStream enabled`);
    }
    return this.channelStore;
  }

  /** Durable channels when connected with JetStream, else `undefined`. */
  get openChannels(): JetStreamChannels | undefined {
    return this.channelStore;
  }

  /** The NATS connection (for tests and tools); `undefined` before connect. */
  get connection(): NatsConnection | undefined {
    return this.nc;
  }

  async connect(nodeID: string, receiver: TransportReceiver): Promise<void> {
    // Peers refuse presence and events from an id outside the grammar: refuse it here, before anything is sent.
    if (!isNodeID(nodeID)) throw badNodeID(nodeID, `cannot join NATS at ${this.url}`);
    this.nodeID = nodeID;
    this.plainSource = !nodeID.includes('\n') && !nodeID.includes('\r');
    this.receiver = receiver;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: typeof this.options.url === 'string' ? this.options.url : [...this.options.url],
        name: nodeID,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: this.options.reconnectTimeWaitMs ?? 500,
        timeout: this.options.connectTimeoutMs ?? 5000,
      });
    } catch (error) {
      throw new KindlingError('UNAVAILABLE', `cannot connect to NATS at ${this.url}: ${messageOf(error)}; is nats-server running there?`, {
        cause: error,
        retryable: true,
        details: { url: this.url },
      });
    }
    this.nc = nc;
    this.connected = true;
    // At most 3 UTF-8 bytes per UTF-16 unit, plus the batch line and line breaks: never over max_payload.
    this.batchChars = Math.max(0, Math.min(BATCH_CHARS, Math.floor((nc.info?.max_payload ?? 1_048_576) / 3) - 64));
    this.statusLoop = this.watchStatus(nc);
    nc.subscribe(`${this.prefix}.bcast.>`, {
      callback: (error, msg) => {
        if (error !== null) return;
        const envelopes = this.decode(msg, this.subjects.bcastBase, undefined);
        // A batch comes from one node: its first envelope says whether it is our own echo.
        if (envelopes === undefined || envelopes[0]?.source === this.nodeID) return;
        for (const envelope of envelopes) receiver.deliver(envelope);
      },
    });
    for (const entry of this.slots.values()) this.subscribeSlot(entry);
    const info: NodeInfo = {
      id: nodeID,
      hostname: hostname(),
      pid: process.pid,
      instanceID: randomUUID(),
      startedAt: Date.now(),
      ...(this.options.metadata === undefined ? {} : { metadata: this.options.metadata }),
    };
    // Subscriptions first, so that a node that hears our hello can already reach us.
    await nc.flush();
    await this.startChannels(nc);
    this.presence = new NodePresence({ nc, base: `${this.prefix}.node`, self: info, receiver, logger: this.logger, options: this.options, storms: this.storms });
    this.presence.start();
    await nc.flush();
    this.logConnected(nc, 'connected');
    receiver.internal('$transporter.connected', { url: this.url, reconnected: false });
  }

  /**
   * Publishes an envelope. A plain send resolves at once ({@link SENT}): the envelope joins the
   * batch of its subject, which leaves at the end of the turn (nats.js then writes it with the turn's
   * other messages), as fire-and-forget as Moleculer's emit; it rejects (`UNAVAILABLE`, retryable)
   * while the connection is down or settling after a reconnect, and `INVALID` for data JSON cannot
   * encode. With `confirm` (`resilientPublish`) it resolves only after a server round trip (one
   * PING/PONG shared by every confirmed send of the same turn) and rejects when the connection
   * dropped first.
   */
  send(envelope: EventEnvelope, confirm = false): Promise<void> {
    const nc = this.nc;
    const down = this.down(nc);
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
    return this.enqueue(nc as NatsConnection, subject, text, confirm);
  }

  /**
   * {@link send} of a plain `emit`/`broadcast` from its parts (no envelope built): taken when the
   * name travels in the subject unescaped and this node's id has no line break, else `undefined`.
   */
  // eslint-disable-next-line @typescript-eslint/max-params -- Transport.sendPlain, the fast path of every plain emit: no options object per event
  sendPlain(eventType: 'emit' | 'broadcast', name: string, data: unknown, sequence: number, time: number): Promise<void> | undefined {
    if (!this.plainSource) return undefined;
    const nc = this.nc;
    const down = this.down(nc);
    if (down !== undefined) return down;
    const emit = eventType === 'emit';
    const subject = this.subjects.subject(emit, name);
    if (!this.subjects.carriesName(subject, emit, name)) return undefined;
    let text: string;
    try {
      text = plainEnvelopeText(eventType, name, sequence, time, this.nodeID, data);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(nc as NatsConnection, subject, text, false);
  }

  /** The refusal of a send while the connection cannot take one, or `undefined` when it can. */
  private down(nc: NatsConnection | undefined): Promise<void> | undefined {
    if (nc === undefined || !this.connected || this.presence?.isSettled === false) {
      return Promise.reject(this.unavailable(nc === undefined ? 'the transport is not connected' : 'NATS is reconnecting'));
    }
    // What nc.publish would throw, known now rather than when the batch leaves.
    if (nc.isClosed() || nc.isDraining()) return Promise.reject(this.unavailable(`the NATS connection is ${nc.isClosed() ? 'closed' : 'draining'}`));
    return undefined;
  }

  /** Adds an encoded envelope to its subject's batch (or publishes it alone); see {@link send}. */
  private enqueue(nc: NatsConnection, subject: string, text: string, confirm: boolean): Promise<void> {
    try {
      const batch = this.batch;
      if (batch !== undefined && batch.subject === subject && batch.texts.length < this.maxBatch && batch.chars + text.length <= this.batchChars) {
        batch.texts.push(text);
        batch.chars += text.length;
      } else {
        if (batch !== undefined) this.flushBatch();
        if (this.maxBatch === 1 || text.length > this.batchChars) {
          // Alone: published now, so that a refusal (too large for the server) reaches the caller.
          nc.publish(subject, batchBytes([text]));
        } else {
          this.batch = { subject, texts: [text], chars: text.length };
          if (!this.flushQueued) {
            this.flushQueued = true;
            queueMicrotask(this.flushTask);
          }
        }
      }
    } catch (error) {
      if ((error as { code?: unknown }).code === 'MAX_PAYLOAD_EXCEEDED') {
        const maxPayload = nc.info?.max_payload;
        return Promise.reject(
          new KindlingError('INVALID', `an event on ${subject} is larger than the NATS server accepts (max_payload ${String(maxPayload)} bytes)`, {
            cause: error,
            details: { subject, maxPayload },
          }),
        );
      }
      return Promise.reject(error instanceof KindlingError ? error : this.unavailable(messageOf(error), error));
    }
    return confirm ? this.confirm() : SENT;
  }

  slotAdded(slot: TransportSlot): void {
    const entry: SlotSubscription = { slot, sub: undefined };
    this.slots.set(slot.key, entry);
    if (this.nc !== undefined) this.subscribeSlot(entry);
  }

  slotRemoved(key: string): void {
    const entry = this.slots.get(key);
    if (entry === undefined) return;
    this.slots.delete(key);
    entry.sub?.unsubscribe();
  }

  nodes(): readonly NodeInfo[] {
    return this.presence?.nodes() ?? [];
  }

  /** Counters of the stores and storms this transport bounds. */
  stats(): NatsTransportStats {
    return {
      presence: this.presence?.stats() ?? NO_PRESENCE,
      undecodable: this.undecodableCount,
      deadLettersPending: this.deadLettersPending,
      deadLettersSkipped: this.deadLettersSkipped,
      cachedSubjects: this.subjects.size,
    };
  }

  /** Announces changed fields of this node's description to the others (`$node.updated`). */
  updateNodeInfo(fields: Readonly<Record<string, unknown>>): void {
    this.presence?.update(fields);
  }

  /** Resolves once outgoing events flow again after a reconnect (every known node spoke again). */
  settled(): Promise<void> {
    return this.presence?.settled() ?? Promise.resolve();
  }

  async disconnect(): Promise<void> {
    const nc = this.nc;
    if (nc === undefined) return;
    this.flushBatch();
    this.nc = undefined;
    await this.channelStore?.close();
    this.presence?.stop(!nc.isClosed());
    this.presence = undefined;
    for (const entry of this.slots.values()) entry.sub = undefined;
    try {
      if (!nc.isClosed()) await nc.drain();
    } catch (error) {
      this.logger.warn(`draining the NATS connection to ${this.url} failed: ${messageOf(error)}`);
      await nc.close().catch(() => undefined);
    }
    // The status iterator does not end by itself when the connection closes.
    this.statusStop?.();
    await this.statusLoop;
    this.connected = false;
    this.storms.flush();
  }

  /**
   * @internal Counts an undecodable message and dead-letters it with its reason (when JetStream is
   * there and fewer than `deadLetterMaxPending` are being written: a flood is counted, not queued).
   */
  deadLetter(subject: string, data: Uint8Array, reason: string): void {
    this.undecodableCount++;
    this.storms.warn('undecodable', `refused an undecodable message on ${subject}: ${reason}`, { subject });
    this.receiver?.internal('$transporter.undecodable', { subject, reason });
    const store = this.channelStore;
    if (store === undefined) return;
    if (this.deadLettersPending >= this.deadLetterMaxPending) {
      this.deadLettersSkipped++;
      this.storms.warn('dead-letter-skipped', `an undecodable message on ${subject} was not dead-lettered: ${this.deadLetterMaxPending} are being written already (deadLetterMaxPending)`);
      return;
    }
    this.deadLettersPending++;
    store.deadLetterUndecodable(subject, data, reason).then(
      () => this.deadLettersPending--,
      (error: unknown) => {
        this.deadLettersPending--;
        this.storms.error('dead-letter-failed', `could not dead-letter an undecodable message from ${subject}: ${messageOf(error)}`);
      },
    );
  }

  /**
   * Decodes a message (one envelope or a batch); an undecodable one is dead-lettered whole and
   * `undefined` returned. `name` is the event name the subject carries when the subscription's
   * subject is a literal name (no need to read the subject then); otherwise it is read from the
   * subject after `base`.
   */
  private decode(msg: Msg, base: string, name: string | undefined): EventEnvelope[] | undefined {
    const data = msg.data;
    try {
      if (data.length > this.maxMessageBytes) {
        throw new KindlingError('INVALID', `undecodable event envelope: ${data.length} bytes is more than maxMessageBytes (${this.maxMessageBytes})`);
      }
      const envelopes = this.decoder.decodeAll(data, name ?? msg.subject.slice(base.length));
      for (const envelope of envelopes) this.checkEnvelope(envelope);
      return envelopes;
    } catch (error) {
      this.deadLetter(msg.subject, data, messageOf(error, 1000));
      return undefined;
    }
  }

  /** What the wire format leaves to the transport: names and sources a peer cannot use to bloat or forge. */
  private checkEnvelope(envelope: EventEnvelope): void {
    if (envelope.name.length > this.maxNameLength) {
      throw new KindlingError('INVALID', `undecodable event envelope: a name of ${envelope.name.length} characters is longer than maxNameLength (${this.maxNameLength})`);
    }
    const source = envelope.source;
    if (source === this.goodSource) return;
    if (!isNodeID(source)) throw badNodeID(source, 'undecodable event envelope: field source');
    this.goodSource = source;
  }


  private async startChannels(nc: NatsConnection): Promise<void> {
    let jsm: JetStreamManager;
    try {
      jsm = await nc.jetstreamManager();
    } catch (error) {
      this.logger.warn(`JetStream is not available at ${this.url} (${messageOf(error)}); durable channels and the dead-letter stream are off`);
      return;
    }
    this.channelStore = new JetStreamChannels({ nc, jsm, js: nc.jetstream(), prefix: this.prefix, nodeID: this.nodeID, logger: this.logger, options: this.options, storms: this.storms });
    await this.channelStore.ensureStreams();
  }

  private subscribeSlot(entry: SlotSubscription): void {
    const nc = this.nc;
    const receiver = this.receiver;
    if (nc === undefined || receiver === undefined) return;
    const { key, group, pattern, shared } = entry.slot;
    const { subject, exact } = patternToSubject(`${this.prefix}.emit`, pattern);
    // A pattern without wildcards is the one name its subject carries.
    const literal = exact && !/[*?]/.test(pattern) ? pattern : undefined;
    if (!exact && !this.warned.has(pattern)) {
      this.warned.add(pattern);
      this.logger.warn(`pattern "${pattern}" cannot be expressed as a NATS subject; subscribed to ${subject} and filtered on this node`);
    }
    entry.sub = nc.subscribe(subject, {
      ...(shared ? { queue: queueName(group, pattern) } : {}),
      callback: (error, msg) => {
        if (error !== null) return;
        const envelopes = this.decode(msg, this.subjects.emitBase, literal);
        if (envelopes === undefined) return;
        for (const envelope of envelopes) {
          if (exact || matchEventName(pattern, envelope.name)) receiver.deliverToSlot(envelope, key);
        }
      },
    });
  }

  /** Publishes the waiting batch (a failure loses it: it was fire-and-forget, so it is logged). */
  private flushBatch(): void {
    const batch = this.batch;
    if (batch === undefined) return;
    this.batch = undefined;
    try {
      if (this.nc === undefined) throw new Error('the transport disconnected');
      this.nc.publish(batch.subject, batchBytes(batch.texts));
    } catch (error) {
      const reason = `${batch.texts.length} event(s) on ${batch.subject} were not sent: ${messageOf(error)}`;
      this.storms.error('lost-batch', reason);
      // A confirmed send of this turn may have been in it: the confirmation must not succeed.
      this.lostSince ??= reason;
    }
  }

  /**
   * One server round trip (PING/PONG) shared by every send of the same turn: it resolves once the
   * server has processed them, and rejects when the connection drops first, so that
   * `resilientPublish` retries what NATS may not have taken.
   */
  private confirm(): Promise<void> {
    this.confirming ??= Promise.resolve().then(() => {
      this.confirming = undefined;
      const nc = this.nc;
      if (nc === undefined || !this.connected) throw this.unavailable('NATS disconnected before confirming');
      this.flushBatch();
      const lost = this.lostSince;
      this.lostSince = undefined;
      if (lost !== undefined) throw this.unavailable(lost);
      return nc.flush().catch((error: unknown) => {
        throw this.unavailable(`NATS did not confirm: ${messageOf(error)}`, error);
      });
    });
    return this.confirming;
  }

  private unavailable(reason: string, cause?: unknown): KindlingError {
    return new KindlingError('UNAVAILABLE', `NATS at ${this.url}: ${reason}`, {
      retryable: true,
      details: { url: this.url },
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /** One info line per (re)connect: which server, as which node, with or without JetStream. */
  private logConnected(nc: NatsConnection, what: 'connected' | 'reconnected'): void {
    const server = nc.getServer();
    // nats.js names the server host:port; give it the scheme the configured URL used.
    const scheme = /^[a-z]+:\/\//i.exec(this.url)?.[0] ?? 'nats://';
    const at = /^[a-z]+:\/\//i.test(server) ? server : `${scheme}${server}`;
    this.logger.info(`${what} to NATS at ${at} as node ${this.nodeID} (JetStream: ${this.channelStore === undefined ? 'off' : 'on'})`, {
      url: at,
      nodeID: this.nodeID,
    });
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    const statuses = nc.status();
    this.statusStop = () => (statuses as unknown as { stop(): void }).stop();
    for await (const status of statuses) {
      if (status.type === Events.Disconnect) {
        this.connected = false;
        this.receiver?.internal('$transporter.disconnected', { url: this.url, unexpected: true });
      } else if (status.type === Events.Reconnect) {
        this.connected = true;
        this.presence?.reconnected();
        this.channelStore?.reconnected();
        this.logConnected(nc, 'reconnected');
        this.receiver?.internal('$transporter.connected', { url: this.url, reconnected: true });
      }
    }
  }
}
