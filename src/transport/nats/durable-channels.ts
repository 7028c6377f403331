import { carrierOf, telemetry, type Telemetry } from '../../telemetry/telemetry.js';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  headers as natsHeaders,
  nanos,
  StorageType,
  type Consumer,
  type ConsumerInfo,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgHdrs,
  type NatsConnection,
  type StoredMsg,
  type StreamConfig,
} from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';
import { LogThrottle, type Logger } from '../../common/logger.js';
import type {
  ChannelPending,
  Channels,
  ChannelSendOptions,
  ChannelSubscribeOptions,
  ChannelSubscription,
  DeadLetter,
  RedriveFilter,
  RedriveResult,
} from '../../events/core/channels.js';
import { channelContext, type ChannelEventPublisher, type ContextHost } from '../../events/channels/channel-context.js';
import {
  byChannelAndGroup,
  checkChannel,
  checkSubscribeOptions,
  CONTEXT_HEADERS,
  decodeChannelMessage,
  encodeChannelMessage,
  H,
  retryDelay,
} from '../../events/channels/channel-wire.js';
import { encodeToken, safeName } from './subjects.js';

/**
 * Stream settings of the durable channels and the dead-letter stream. Both streams are bounded. A
 * node creates them with its limits; on an existing stream it sets the limits it was given (the last
 * node to start with a given limit sets it) and fills in a default only where the stream has none
 * (a stream made before there were limits gets them, and a node left at the defaults never undoes
 * another node's setting).
 */
export interface ChannelsOptions {
  /** Keyed messages are spread over this many ordered lanes per channel (default 4). */
  readonly partitions?: number;
  /**
   * How long the channel stream keeps a message, in ms (default 0: until a count or size limit, so
   * that a message waits for a consumer that is down).
   */
  readonly channelMaxAgeMs?: number;
  /**
   * The channel stream holds at most this many messages (default 1 000 000); past it, or past
   * `channelMaxBytes`, a send is refused with `UNAVAILABLE` (retryable) and nothing stored is dropped.
   */
  readonly channelMaxMessages?: number;
  /** The channel stream holds at most this many bytes (default 1 GiB). */
  readonly channelMaxBytes?: number;
  /** The window in which a repeated message id is dropped as a duplicate, in ms (default 120 000). */
  readonly duplicateWindowMs?: number;
  /**
   * The dead-letter stream keeps at most this many messages per channel, and as many undecodable
   * event messages (default 10 000); past it the oldest are dropped.
   */
  readonly deadLetterMaxMessages?: number;
  /** The dead-letter stream holds at most this many bytes in all; past it the oldest are dropped (default 256 MiB). */
  readonly deadLetterMaxBytes?: number;
  /** How long the dead-letter stream keeps a message, in ms (default 604 800 000: 7 days). */
  readonly deadLetterMaxAgeMs?: number;
  /**
   * At most this many undecodable event messages are being written to the dead-letter stream at a
   * time; the others of a flood are counted, not stored (default 64).
   */
  readonly deadLetterMaxPending?: number;
  /** An undecodable event message is dead-lettered cut to this many bytes (default 65 536). */
  readonly deadLetterBodyBytes?: number;
}

/** The defaults of {@link ChannelsOptions}' limits. */
const CHANNEL_MAX_MESSAGES = 1_000_000;
const CHANNEL_MAX_BYTES = 1024 ** 3;
const DEAD_LETTER_MAX_MESSAGES = 10_000;
const DEAD_LETTER_MAX_BYTES = 256 * 1024 ** 2;
const DEAD_LETTER_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const DEAD_LETTER_BODY_BYTES = 65_536;

export type { DeadLetter } from '../../events/core/channels.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** How many dead letters one re-drive reads at most. */
const REDRIVE_MAX = 100_000;

/** nats.js's JetStreamManager has direct gets (`$JS.API.DIRECT.GET`) but its interface leaves them out. */
interface DirectGets {
  readonly direct: { getMessage(stream: string, query: { seq: number; next_by_subj: string }): Promise<StoredMsg> };
}

/** FNV-1a: a stable hash for key partitions. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** One consumer of a subscription: keyed lanes take one message at a time, in order. */
interface Lane {
  readonly consumer: Consumer;
  readonly ordered: boolean;
  messages: ConsumerMessages | undefined;
  done: Promise<void>;
}

/** The wait before a lane whose consumer stopped unasked consumes again, in ms. */
const LANE_RESTART_MS = 1000;

/** What a {@link JetStreamChannels} works over, and for whom. */
export interface JetStreamChannelsInit {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly js: JetStreamClient;
  /** The subject prefix of the transport: streams and subjects are named after it. */
  readonly prefix: string;
  /** This node: named in dead letters and consumer descriptions. */
  readonly nodeID: string;
  readonly logger: Logger;
  readonly options?: ChannelsOptions;
  /** Where storms of channel faults are counted (default: a throttle of its own over `logger`). */
  readonly storms?: LogThrottle;
}

/**
 * {@link Channels} on JetStream. One stream `<PREFIX>_CHANNELS` holds every channel
 * (`<prefix>.chan.<channel>.<lane>`), one `<PREFIX>_DLQ` the dead letters (`<prefix>.dlq.<channel>`).
 * Each (channel, group) has durable pull consumers with explicit acks and `max_deliver = maxRetries + 1`:
 * one for unkeyed messages (lane `_`, handled `maxInFlight` at a time per member) and one per key
 * partition (lanes `p0`…, `max_ack_pending` 1, so one message of a partition at a time across the
 * whole group: per-key order). Success acks; failure naks with the backoff delay; the last failure
 * publishes the message to the dead-letter stream with its error in headers, then terms it.
 */
export class JetStreamChannels implements Channels, ContextHost {
  readonly stream: string;
  readonly dlqStream: string;
  /** @internal Where storms of channel faults are counted (the transport's). */
  readonly storms: LogThrottle;
  private readonly nc: NatsConnection;
  private readonly jsm: JetStreamManager;
  private readonly js: JetStreamClient;
  private readonly prefix: string;
  private readonly nodeID: string;
  private readonly logger: Logger;
  private readonly options: ChannelsOptions;
  private readonly partitions: number;
  private readonly subscriptions = new Set<JetStreamChannelSubscription>();
  /** Spans and metrics, when an OpenTelemetry SDK is registered (docs/telemetry.md). */
  private readonly otel: Telemetry | undefined = telemetry();
  private events: ChannelEventPublisher | undefined;

  constructor(init: JetStreamChannelsInit) {
    this.nc = init.nc;
    this.jsm = init.jsm;
    this.js = init.js;
    this.prefix = init.prefix;
    this.nodeID = init.nodeID;
    this.logger = init.logger;
    this.options = init.options ?? {};
    this.storms = init.storms ?? new LogThrottle(init.logger);
    const base = safeName(this.prefix).toUpperCase();
    this.stream = `${base}_CHANNELS`;
    this.dlqStream = `${base}_DLQ`;
    this.partitions = Math.max(1, this.options.partitions ?? 4);
  }

  /** @internal The bus tells where a handler context's events go. */
  attachEvents(publisher: ChannelEventPublisher): void {
    this.events = publisher;
  }

  /** @internal The handler context of a decoded message. */
  contextOf(message: Parameters<typeof channelContext>[0]): ReturnType<typeof channelContext> {
    return channelContext(message, this, () => this.events);
  }

  /** @internal Creates the channel and dead-letter streams, or gives existing ones this node's limits. */
  async ensureStreams(): Promise<void> {
    const o = this.options;
    const maxAge = o.channelMaxAgeMs ?? 0;
    // JetStream refuses a duplicate window longer than the stream's max age.
    const duplicateWindow = Math.min(o.duplicateWindowMs ?? 120_000, maxAge > 0 ? maxAge : Number.POSITIVE_INFINITY);
    await this.ensure(this.stream, `${this.prefix}.chan.>`, [
      limit('max_msgs', o.channelMaxMessages, CHANNEL_MAX_MESSAGES),
      limit('max_bytes', o.channelMaxBytes, CHANNEL_MAX_BYTES),
      limit('max_age', o.channelMaxAgeMs === undefined ? undefined : nanos(maxAge), 0),
      // A full channel refuses the send (the sender can retry) rather than drop a message nobody handled.
      { key: 'discard', value: DiscardPolicy.New, apply: 'always' },
      {
        key: 'duplicate_window',
        value: nanos(duplicateWindow),
        apply: o.duplicateWindowMs === undefined ? 'create' : 'given',
      },
    ]);
    await this.ensure(this.dlqStream, `${this.prefix}.dlq.>`, [
      // Per subject: a flood of undecodable messages never pushes out a channel's dead letters.
      limit('max_msgs_per_subject', o.deadLetterMaxMessages, DEAD_LETTER_MAX_MESSAGES),
      limit('max_bytes', o.deadLetterMaxBytes, DEAD_LETTER_MAX_BYTES),
      limit(
        'max_age',
        o.deadLetterMaxAgeMs === undefined ? undefined : nanos(o.deadLetterMaxAgeMs),
        nanos(DEAD_LETTER_MAX_AGE_MS),
      ),
      { key: 'discard', value: DiscardPolicy.Old, apply: 'always' },
      // Tools read one subject's dead letters with direct gets, skipping the other subjects.
      { key: 'allow_direct', value: true, apply: 'always' },
    ]);
  }

  /** The subject of a channel lane. */
  subject(channel: string, lane: string): string {
    return `${this.prefix}.chan.${encodeToken(channel)}.${lane}`;
  }

  /** The subject of a channel's dead letters. */
  dlqSubject(channel: string): string {
    return `${this.prefix}.dlq.${encodeToken(channel)}`;
  }

  /** The lane of a key (`_` for none). */
  private lane(key: string | undefined): string {
    return key === undefined ? '_' : `p${hash(key) % this.partitions}`;
  }

  send(channel: string, payload: unknown, options: ChannelSendOptions = {}): Promise<void> {
    const otel = this.otel;
    if (otel !== undefined)
      return otel.channelSend(channel, options, (traced) => this.sendNow(channel, payload, traced));
    return this.sendNow(channel, payload, options);
  }

  private async sendNow(channel: string, payload: unknown, options: ChannelSendOptions): Promise<void> {
    const encoded = encodeChannelMessage(channel, payload, options, this.nodeID);
    const { id } = encoded;
    // Buffer.from: a slice of Node's pool, several times cheaper than TextEncoder for small texts.
    const body = Buffer.from(encoded.body, 'utf8');
    const h = natsHeaders();
    for (const [name, value] of Object.entries(encoded.headers)) h.set(name, value);
    try {
      await this.js.publish(this.subject(channel, this.lane(encoded.key)), body, { msgID: id, headers: h });
    } catch (error) {
      const reason = jetStreamReason(error);
      const full = /maximum (messages|bytes) exceeded/i.test(reason)
        ? ` (the channel stream ${this.stream} is full: channelMaxMessages / channelMaxBytes)`
        : '';
      throw new KindlingError(
        'UNAVAILABLE',
        `JetStream did not store the message for channel ${channel}: ${reason}${full}`,
        {
          cause: error,
          retryable: true,
          details: { channel, id },
        },
      );
    }
  }

  async subscribe<T = unknown>(channel: string, options: ChannelSubscribeOptions<T>): Promise<ChannelSubscription> {
    checkSubscribeOptions(channel, options);
    const maxRetries = options.maxRetries ?? 3;
    const maxInFlight = options.maxInFlight ?? 16;
    const ackWait = nanos(options.ackWaitMs ?? 30_000);
    const lanes = ['_', ...Array.from({ length: this.partitions }, (_, i) => `p${i}`)];
    const consumers: string[] = [];
    for (const lane of lanes) {
      const durable = safeName(`${channel}__${options.group}__${lane}`);
      const config = {
        durable_name: durable,
        description: consumerDescription(channel, options.group),
        filter_subject: this.subject(channel, lane),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        // One delivery more than the handler gets: a message whose acks timed out is dead-lettered on it.
        max_deliver: maxRetries + 2,
        ack_wait: ackWait,
        max_ack_pending: lane === '_' ? Math.max(maxInFlight * 64, 1000) : 1,
      };
      try {
        await this.jsm.consumers.add(this.stream, config);
      } catch (error) {
        // An existing durable with other settings: take the new settings where JetStream allows it.
        try {
          await this.jsm.consumers.update(this.stream, durable, {
            description: config.description,
            max_deliver: config.max_deliver,
            ack_wait: ackWait,
            max_ack_pending: config.max_ack_pending,
          });
        } catch {
          throw new KindlingError(
            'UNAVAILABLE',
            `cannot create the consumer of group ${options.group} on channel ${channel}: ${messageOf(error)}`,
            {
              cause: error,
            },
          );
        }
      }
      consumers.push(durable);
    }
    const subscription = new JetStreamChannelSubscription(this, channel, options as ChannelSubscribeOptions, {
      maxRetries,
      maxInFlight,
    });
    await subscription.start(this.js, this.stream, consumers, lanes);
    this.subscriptions.add(subscription);
    subscription.onClose = () => this.subscriptions.delete(subscription);
    return subscription;
  }

  /** Reads up to `max` dead letters of a channel, oldest first. */
  deadLetters(channel: string, max = 100): Promise<DeadLetter[]> {
    checkChannel(channel);
    return this.readDeadLetters(this.dlqSubject(channel), channel, max);
  }

  async deadLetterCounts(): Promise<Readonly<Record<string, number>>> {
    const info = await this.jsm.streams
      .info(this.dlqStream, { subjects_filter: `${this.prefix}.dlq.>` })
      .catch(() => undefined);
    const counts: Record<string, number> = {};
    const base = `${this.prefix}.dlq.`;
    for (const [subject, count] of Object.entries(info?.state.subjects ?? {})) {
      if (!subject.startsWith(base) || subject === this.undecodableSubject) continue;
      const channel = decodeToken(subject.slice(base.length));
      if (channel !== undefined && count > 0) counts[channel] = count;
    }
    return counts;
  }

  /**
   * Read from the consumers of the channel stream, whichever node made them: `num_pending` is waiting,
   * `num_ack_pending` in flight, summed over the lanes of a group.
   */
  async pendingCounts(): Promise<readonly ChannelPending[]> {
    const groups = new Map<string, { channel: string; group: string; waiting: number; inFlight: number }>();
    try {
      for await (const info of this.jsm.consumers.list(this.stream)) {
        const owner = this.consumerOwner(info);
        if (owner === undefined) continue;
        const id = JSON.stringify([owner.channel, owner.group]);
        const counts = groups.get(id) ?? { ...owner, waiting: 0, inFlight: 0 };
        counts.waiting += info.num_pending;
        counts.inFlight += info.num_ack_pending;
        groups.set(id, counts);
      }
    } catch (error) {
      // No stream yet: no channel has a group.
      if (isStreamNotFound(error)) return [];
      throw new KindlingError(
        'UNAVAILABLE',
        `cannot read the consumers of the JetStream stream ${this.stream} for the pending counts: ${jetStreamReason(error)}`,
        { cause: error, retryable: true, details: { stream: this.stream } },
      );
    }
    return [...groups.values()].sort(byChannelAndGroup);
  }

  /**
   * The channel and group of one of our consumers: its channel from its filter subject, its group from
   * its description, or else from its durable name; `undefined` for a consumer someone else added.
   */
  private consumerOwner(info: ConsumerInfo): { channel: string; group: string } | undefined {
    const base = `${this.prefix}.chan.`;
    const subject = info.config.filter_subject ?? '';
    const dot = subject.lastIndexOf('.');
    if (!subject.startsWith(base) || dot < base.length) return undefined;
    const channel = decodeToken(subject.slice(base.length, dot));
    if (channel === undefined) return undefined;
    const described = groupOfDescription(info.config.description, channel);
    if (described !== undefined) return { channel, group: described };
    // Made before consumers had a description: safeName(`${channel}__${group}__${lane}`).
    const durable = info.config.durable_name ?? '';
    const head = `${safeName(channel)}__`;
    const tail = `__${subject.slice(dot + 1)}`;
    if (!durable.startsWith(head) || !durable.endsWith(tail) || durable.length <= head.length + tail.length)
      return undefined;
    const group = durable
      .slice(head.length, durable.length - tail.length)
      .replace(/_([0-9a-f]{1,6})_/g, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)));
    return { channel, group };
  }

  async redrive(channel: string, filter: RedriveFilter = {}): Promise<RedriveResult> {
    checkChannel(channel);
    const letters = await this.readDeadLetters(this.dlqSubject(channel), channel, REDRIVE_MAX);
    const wanted = filter.ids === undefined ? undefined : new Set(filter.ids);
    const now = Date.now();
    const ids: string[] = [];
    for (const letter of letters) {
      if (wanted !== undefined && (letter.id === undefined || !wanted.has(letter.id))) continue;
      if (filter.group !== undefined && letter.group !== filter.group) continue;
      if (filter.olderThanMs !== undefined && now - letter.time <= filter.olderThanMs) continue;
      if (letter.group === undefined || letter.id === undefined) continue;
      let key: string | undefined;
      try {
        const raw = JSON.parse(letter.body) as { key?: unknown };
        key = typeof raw.key === 'string' ? raw.key : undefined;
      } catch {
        continue; // An undecodable message stays a dead letter: sending it again would fail again.
      }
      const h = natsHeaders();
      for (const name of CONTEXT_HEADERS) {
        const value = letter.headers[name];
        if (value !== undefined && value !== '') h.set(name, value);
      }
      h.set(H.id, letter.id);
      h.set(H.onlyGroup, letter.group);
      try {
        // A new transport id (the original may be in the duplicate window), the same for a repeated re-drive.
        await this.js.publish(this.subject(channel, this.lane(key)), Buffer.from(letter.body, 'utf8'), {
          msgID: `redrive:${this.dlqStream}:${letter.seq}`,
          headers: h,
        });
      } catch (error) {
        throw new KindlingError(
          'UNAVAILABLE',
          `JetStream did not take a re-driven message of channel ${channel} (${ids.length} re-driven before it): ${jetStreamReason(error)}`,
          { cause: error, retryable: true, details: { channel, id: letter.id, redriven: ids } },
        );
      }
      await this.jsm.streams.deleteMessage(this.dlqStream, letter.seq).catch(() => false);
      ids.push(letter.id);
    }
    return { redriven: ids.length, ids };
  }

  /**
   * Reads up to `max` event messages no node could decode (for tools and tests), oldest first: the
   * reason is `error`, the subject they came on the `Kindling-Subject` header, `channel` is empty.
   */
  undecodable(max = 100): Promise<DeadLetter[]> {
    return this.readDeadLetters(this.undecodableSubject, '', max);
  }

  /** Where undecodable event messages go: `~events` is no escaped channel name (`~` always is `~7E`). */
  private get undecodableSubject(): string {
    return `${this.prefix}.dlq.~events`;
  }

  private async readDeadLetters(subject: string, channel: string, max: number): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    let seq = 0;
    while (out.length < max) {
      // The next message of this subject from `seq` on; none left (or no stream) ends the list.
      const msg = await (this.jsm as unknown as DirectGets).direct
        .getMessage(this.dlqStream, { seq, next_by_subj: subject })
        .catch(() => undefined);
      if (msg === undefined) break;
      seq = msg.seq + 1;
      const headers: Record<string, string> = {};
      for (const [k, v] of msg.header ?? []) headers[k] = v.join(',');
      out.push({
        channel,
        group: headers['Kindling-Group'],
        error: headers['Kindling-Error'] ?? '',
        attempts: Number(headers['Kindling-Attempts'] ?? 0),
        id: headers['Kindling-Id'],
        body: new TextDecoder().decode(msg.data),
        headers,
        seq: msg.seq,
        time: msg.time.getTime(),
      });
    }
    return out;
  }

  /** @internal Publishes a dead letter: the original body, the error and where it came from in headers. */
  async deadLetter(channel: string, group: string, msg: JsMsg, error: string): Promise<void> {
    const otel = this.otel;
    if (otel !== undefined) {
      const traceparent = msg.headers?.get(H.traceparent);
      const tracestate = msg.headers?.get(H.tracestate);
      otel.channelDeadLetter(
        channel,
        group,
        messageId(msg) || undefined,
        msg.info.redeliveryCount,
        error,
        carrierOf(traceparent || undefined, tracestate || undefined),
      );
    }
    const h = errorHeaders(error);
    h.set('Kindling-Channel', channel);
    h.set('Kindling-Group', group);
    h.set('Kindling-Attempts', String(msg.info.redeliveryCount));
    h.set('Kindling-Original-Subject', msg.subject);
    h.set('Kindling-Original-Sequence', String(msg.seq));
    const id = messageId(msg);
    if (id !== '') h.set('Kindling-Id', id);
    // The context travels with the dead letter, so that a re-drive sends it again.
    for (const name of CONTEXT_HEADERS) {
      const value = msg.headers?.get(name);
      if (value !== undefined && value !== '') h.set(name, value);
    }
    await this.js.publish(this.dlqSubject(channel), msg.data, { headers: h });
  }

  /**
   * @internal Dead-letters an event message no node could decode: the body as it came (its first
   * `deadLetterBodyBytes`, with `Kindling-Bytes` giving the whole size when cut), the reason and its
   * subject in headers.
   */
  async deadLetterUndecodable(subject: string, data: Uint8Array, reason: string): Promise<void> {
    const h = errorHeaders(reason);
    h.set('Kindling-Subject', subject);
    const keep = this.options.deadLetterBodyBytes ?? DEAD_LETTER_BODY_BYTES;
    if (data.length > keep) h.set('Kindling-Bytes', String(data.length));
    await this.js.publish(this.undecodableSubject, data.length > keep ? data.subarray(0, keep) : data, { headers: h });
  }

  /** @internal The connection came back; the consume loops resume by themselves. */
  reconnected(): void {
    this.logger.debug('durable channels: NATS reconnected');
  }

  /** @internal Stops every subscription of this node. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
  }

  /** Creates the stream with `settings`, or applies to the existing one those that {@link StreamSetting} says apply. */
  private async ensure(name: string, subject: string, settings: readonly StreamSetting[]): Promise<void> {
    const all = Object.fromEntries(settings.map((s) => [s.key, s.value])) as Partial<StreamConfig>;
    const existing = await this.jsm.streams.info(name).catch(() => undefined);
    if (existing === undefined) {
      try {
        await this.jsm.streams.add({ name, subjects: [subject], storage: StorageType.File, ...all });
        return;
      } catch (error) {
        // Another node may have created it meanwhile: then it gets these limits below.
        if ((await this.jsm.streams.info(name).catch(() => undefined)) === undefined) {
          throw new KindlingError(
            'UNAVAILABLE',
            `cannot create the JetStream stream ${name}: ${jetStreamReason(error)}${storageHint(error, all)}`,
            { cause: error },
          );
        }
      }
    }
    const config = existing?.config ?? (await this.jsm.streams.info(name)).config;
    const current = config as unknown as Record<string, unknown>;
    const limits: Record<string, unknown> = {};
    for (const { key, value, apply } of settings) {
      const now = current[key];
      const applies =
        apply === 'always' || apply === 'given' || (apply === 'fill' && (now === undefined || now === -1 || now === 0));
      if (applies && now !== value) limits[key] = value;
    }
    if (Object.keys(limits).length === 0) return;
    try {
      await this.jsm.streams.update(name, { ...config, ...limits });
    } catch (error) {
      throw new KindlingError(
        'UNAVAILABLE',
        `cannot set the limits of the JetStream stream ${name}: ${jetStreamReason(error)}`,
        {
          cause: error,
          details: { stream: name, limits },
        },
      );
    }
  }
}

/**
 * One setting of a stream and when it applies to a stream that exists already: `always` (Kindling's
 * design: discard policy, direct gets), `given` (an option this node was given), `fill` (a default:
 * only where the stream has no limit, so that a node left at the defaults never undoes another's
 * setting, while a stream made before there were limits gets them), `create` (only when created).
 */
interface StreamSetting {
  readonly key: keyof StreamConfig;
  readonly value: unknown;
  readonly apply: 'always' | 'given' | 'fill' | 'create';
}

function limit(key: keyof StreamConfig, given: number | undefined, fallback: number): StreamSetting {
  return given === undefined ? { key, value: fallback, apply: 'fill' } : { key, value: given, apply: 'given' };
}

/** What JetStream said: nats.js puts the server's words in `api_error` and only the status code in the message. */
function jetStreamReason(error: unknown): string {
  const api = (error as { api_error?: { description?: unknown; err_code?: unknown } } | undefined)?.api_error;
  return typeof api?.description === 'string'
    ? `${api.description} (JetStream error ${String(api.err_code)})`
    : messageOf(error);
}

/**
 * What to do when JetStream has no storage left to reserve: it sets aside each stream's `max_bytes`
 * whether or not anything is stored, so streams of buses nobody runs any more count as well.
 */
function storageHint(error: unknown, config: Partial<StreamConfig>): string {
  const code = (error as { api_error?: { err_code?: unknown } } | undefined)?.api_error?.err_code;
  if (code !== 10047) return '';
  const reserve =
    typeof config.max_bytes === 'number' && config.max_bytes > 0 ? `${config.max_bytes} bytes` : 'its byte limit';
  return `; JetStream reserves ${reserve} for this stream up front: lower the byte limit (channelMaxBytes, deadLetterMaxBytes), or delete the streams of buses no longer used`;
}

/** What JetStream answers for a stream that does not exist. */
function isStreamNotFound(error: unknown): boolean {
  return (error as { api_error?: { err_code?: unknown } } | undefined)?.api_error?.err_code === 10059;
}

/** A channel consumer's description: who it is for, readable by operators and by {@link groupOfDescription}. */
function consumerDescription(channel: string, group: string): string {
  return `kindling channel ${JSON.stringify(channel)} group ${JSON.stringify(group)}`;
}

/** The group a {@link consumerDescription} names, when it is one for `channel`. */
function groupOfDescription(description: string | undefined, channel: string): string | undefined {
  const match = /^kindling channel ("(?:[^"\\]|\\.)*") group ("(?:[^"\\]|\\.)*")$/.exec(description ?? '');
  if (match === null) return undefined;
  try {
    const named = JSON.parse(match[1] as string) as string;
    return named === channel ? (JSON.parse(match[2] as string) as string) : undefined;
  } catch {
    return undefined;
  }
}

/** Dead-letter headers starting with `Kindling-Error`: one header line, at most 4 000 characters. */
function errorHeaders(error: string): MsgHdrs {
  const h = natsHeaders();
  h.set('Kindling-Error', error.slice(0, 4000).replace(/[\r\n]+/g, ' '));
  return h;
}

/** The id of a channel message: a re-driven one carries it in `Kindling-Id`, any other is its `Nats-Msg-Id`. */
function messageId(msg: JsMsg): string {
  const h = msg.headers;
  if (h === undefined) return '';
  const redriven = h.get(H.id);
  return redriven !== '' ? redriven : h.get('Nats-Msg-Id');
}

/** The channel name of a subject token ({@link encodeToken} reversed); `undefined` for a malformed one. */
function decodeToken(token: string): string | undefined {
  if (token === '~') return '';
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const ch = token.charCodeAt(i);
    if (token[i] === '~') {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(ch);
  }
  try {
    return decoder.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/** One member of a channel group on this node. */
class JetStreamChannelSubscription implements ChannelSubscription {
  onClose: (() => void) | undefined;
  private lanes: Lane[] = [];
  private closing: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Lanes waiting for a free place in {@link inFlight}: each finished message wakes one. */
  private readonly waitingForRoom: (() => void)[] = [];
  private readonly sleepers = new Set<() => void>();
  private readonly maxRetries: number;
  private readonly maxInFlight: number;
  /** Spans and metrics of deliveries, when an OpenTelemetry SDK is registered. */
  private readonly otel: Telemetry | undefined = telemetry();

  constructor(
    private readonly owner: JetStreamChannels,
    private readonly channel: string,
    private readonly options: ChannelSubscribeOptions,
    { maxRetries, maxInFlight }: { readonly maxRetries: number; readonly maxInFlight: number },
  ) {
    this.maxRetries = maxRetries;
    this.maxInFlight = maxInFlight;
  }

  async start(
    js: JetStreamClient,
    stream: string,
    consumers: readonly string[],
    lanes: readonly string[],
  ): Promise<void> {
    for (let i = 0; i < consumers.length; i++) {
      const consumer = await js.consumers.get(stream, consumers[i]);
      const ordered = lanes[i] !== '_';
      const lane: Lane = {
        consumer,
        ordered,
        messages: await consumer.consume(this.consumeOptions(ordered)),
        done: Promise.resolve(),
      };
      lane.done = this.run(lane);
      this.lanes.push(lane);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const lane of this.lanes) lane.messages?.stop();
      for (const wake of this.sleepers) wake();
      await Promise.all(this.lanes.map((lane) => lane.done));
      await Promise.all([...this.inFlight]);
      this.onClose?.();
    })();
    return this.closing;
  }

  private consumeOptions(ordered: boolean): { max_messages: number } {
    return { max_messages: ordered ? 1 : this.maxInFlight };
  }

  /**
   * Handles a lane's messages until the subscription closes. A consumer that stops unasked (a server
   * error, or a status message forged by a peer on its inbox, which nats.js obeys) is taken up again
   * after {@link LANE_RESTART_MS}: nothing a peer sends ends the subscription.
   */
  private async run(lane: Lane): Promise<void> {
    for (;;) {
      const messages = lane.messages;
      if (messages !== undefined) {
        try {
          for await (const msg of messages) {
            if (lane.ordered) {
              await this.handle(msg);
              continue;
            }
            const task = this.handle(msg).finally(() => {
              this.inFlight.delete(task);
              this.waitingForRoom.shift()?.();
            });
            this.inFlight.add(task);
            // One waiter per full lane, woken by the next message done: no handler per pending
            // promise at every wait (Promise.race over them grew with the square of maxInFlight).
            while (this.inFlight.size >= this.maxInFlight)
              await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
          }
        } catch (error) {
          if (this.closing === undefined)
            this.owner.storms.error(
              `channel-stopped ${this.channel}`,
              `channel ${this.channel} (${this.options.group}) stopped consuming: ${messageOf(error)}; consuming again`,
            );
        }
      }
      if (this.closing !== undefined) return;
      await this.sleep(LANE_RESTART_MS);
      if (this.closing !== undefined) return;
      lane.messages = await lane.consumer.consume(this.consumeOptions(lane.ordered)).catch((error: unknown) => {
        this.owner.storms.error(
          `channel-restart ${this.channel}`,
          `channel ${this.channel} (${this.options.group}) cannot consume: ${messageOf(error)}`,
        );
        return undefined;
      });
      // A close that came while consume() was on its way did not see these messages.
      if (this.closing !== undefined) lane.messages?.stop();
    }
  }

  /** Waits `ms`, or less when the subscription closes. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /** Handles one delivery; never rejects (an unordered lane does not await it). */
  private async handle(msg: JsMsg): Promise<void> {
    try {
      await this.process(msg);
    } catch (error) {
      this.owner.storms.error(
        `channel-message ${this.channel}`,
        `channel ${this.channel} (${this.options.group}) could not handle a delivery: ${messageOf(error)}`,
      );
    }
  }

  private async process(msg: JsMsg): Promise<void> {
    const attempt = msg.info.redeliveryCount;
    if (attempt > this.maxRetries + 1) {
      await this.fail(
        msg,
        `no acknowledgement after ${attempt - 1} deliveries (the handler timed out or its node died)`,
        true,
      );
      return;
    }
    const only = msg.headers?.get(H.onlyGroup);
    if (only !== undefined && only !== '' && only !== this.options.group) {
      // A re-drive for another group of this channel.
      msg.ack();
      return;
    }
    let text: string;
    try {
      text = decoder.decode(msg.data);
    } catch {
      await this.fail(msg, 'undecodable message: the body is not UTF-8', true);
      return;
    }
    const decoded = decodeChannelMessage({
      channel: this.channel,
      group: this.options.group,
      text,
      get: (name) => {
        const value = msg.headers?.get(name);
        return value === undefined || value === '' ? undefined : value;
      },
      id: messageId(msg),
      attempt,
    });
    if (!decoded.ok) {
      await this.fail(msg, decoded.error, true);
      return;
    }
    try {
      const otel = this.otel;
      const handler = this.options.handler;
      const ctx = this.owner.contextOf(decoded.message);
      await (otel === undefined
        ? handler(ctx)
        : otel.channelDelivery(decoded.message, () => Promise.resolve(handler(ctx))));
    } catch (error) {
      await this.fail(msg, messageOf(error), attempt >= this.maxRetries + 1);
      return;
    }
    msg.ack();
    this.otel?.channelAcked(this.channel, this.options.group);
  }

  private async fail(msg: JsMsg, error: string, last: boolean): Promise<void> {
    if (!last) {
      this.otel?.channelRetry(this.channel, this.options.group);
      msg.nak(this.delay(msg.info.redeliveryCount));
      return;
    }
    try {
      await this.owner.deadLetter(this.channel, this.options.group, msg, error);
      msg.term();
    } catch (dlqError) {
      // Not terminated: JetStream redelivers it after ack_wait, and the dead letter is tried again.
      this.owner.storms.error(
        `channel-dead-letter ${this.channel}`,
        `channel ${this.channel}: could not dead-letter a message (${messageOf(dlqError)}); it stays pending`,
      );
    }
  }

  private delay(attempt: number): number {
    return retryDelay(this.options.backoffMs, attempt);
  }
}
