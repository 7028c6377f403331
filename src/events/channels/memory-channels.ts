import { KindlingError, messageOf } from '../../common/errors.js';
import { Fifo } from '../../common/fifo.js';
import { LogThrottle, silentLogger, type Logger } from '../../common/logger.js';
import type {
  ChannelPending,
  Channels,
  ChannelSendOptions,
  ChannelSubscribeOptions,
  ChannelSubscription,
  DeadLetter,
  RedriveFilter,
  RedriveResult,
} from '../core/channels.js';
import { carrierOf, telemetry, type Telemetry } from '../../telemetry/telemetry.js';
import { channelContext, type ChannelEventPublisher, type ContextHost } from './channel-context.js';
import {
  byChannelAndGroup,
  checkChannel,
  checkSubscribeOptions,
  CONTEXT_HEADERS,
  decodeChannelMessage,
  encodeChannelMessage,
  H,
  retryDelay,
} from './channel-wire.js';

/**
 * Limits of the in-process channels. Every store is bounded; what happens at each limit is said with
 * the limit.
 */
export interface MemoryChannelsOptions {
  /**
   * Messages kept, over all channels (default 100 000). A message stays until every group that exists
   * has handled it, and after that for groups that subscribe later while there is room: at a limit the
   * oldest messages every group has handled are dropped first; when none can be, `send` refuses with
   * `UNAVAILABLE` (retryable) and nothing unhandled is dropped.
   */
  readonly maxMessages?: number;
  /** Bytes kept (bodies and headers), over all channels (default 64 MiB); as `maxMessages`. */
  readonly maxBytes?: number;
  /** The largest message, body and headers, in bytes (default 1 MiB, NATS's default payload limit); larger: `INVALID`. */
  readonly maxMessageBytes?: number;
  /** The window in which a repeated message id of a channel is dropped as a duplicate, in ms (default 120 000). */
  readonly duplicateWindowMs?: number;
  /** Dead letters kept per channel (default 10 000); past it the oldest are dropped (counted and logged). */
  readonly deadLetterMaxMessages?: number;
  /** Dead-letter bytes kept in all (default 32 MiB); past it the oldest are dropped (counted and logged). */
  readonly deadLetterMaxBytes?: number;
  /** How long a dead letter is kept, in ms (default 604 800 000: 7 days). */
  readonly deadLetterMaxAgeMs?: number;
}

/** What {@link MemoryChannels} needs. */
export interface MemoryChannelsInit {
  /** This node: the `source` of the messages it sends. */
  readonly nodeID: string;
  readonly logger?: Logger;
  readonly options?: MemoryChannelsOptions;
}

const DEFAULTS = {
  maxMessages: 100_000,
  maxBytes: 64 * 1024 ** 2,
  maxMessageBytes: 1024 ** 2,
  duplicateWindowMs: 120_000,
  deadLetterMaxMessages: 10_000,
  deadLetterMaxBytes: 32 * 1024 ** 2,
  deadLetterMaxAgeMs: 7 * 24 * 3600 * 1000,
} as const;

/** One stored message. */
interface Stored {
  readonly seq: number;
  readonly id: string;
  readonly key: string | undefined;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly bytes: number;
  /** A re-driven message is for this group only. */
  readonly onlyGroup: string | undefined;
}

/** A message a group has taken and not yet acknowledged. */
interface Pending {
  readonly msg: Stored;
  attempt: number;
  /** Bumped at each delivery: a settlement of an older one is stale. */
  delivery: number;
  state: 'queued' | 'running' | 'waiting';
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Member {
  readonly subscription: MemoryChannelSubscription;
  readonly options: ChannelSubscribeOptions;
  readonly maxInFlight: number;
  inFlight: number;
  closed: boolean;
  /** Its neighbours in the ring of its group's members (itself when alone); set when it joins. */
  before?: Member | undefined;
  after?: Member | undefined;
}

interface StoredDeadLetter extends DeadLetter {
  readonly bytes: number;
}

/** The bytes a message or dead letter takes, roughly: its texts, counted as UTF-16 halves. */
function sizeOf(body: string, headers: Readonly<Record<string, string>>): number {
  let n = body.length;
  for (const [k, v] of Object.entries(headers)) n += k.length + v.length;
  return n;
}

function positive(value: number | undefined, fallback: number, name: string, min = 1): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new KindlingError('INVALID', `channels option ${name} must be an integer ≥ ${min}, got ${String(value)}`, {
      details: { [name]: value },
    });
  }
  return v;
}

/**
 * The dead letters of one channel, oldest first, with an index by message id. A letter taken out of
 * the middle (a re-drive) is only marked gone, and the gone ones are swept out in one pass once they
 * are half of the array: taking letters out one by one, or all in one call, costs the same per letter
 * at any number of letters.
 */
class DeadLetterList {
  /** Oldest first, gone ones among them; the first `head` are gone and no longer in `gone`. */
  private letters: StoredDeadLetter[] = [];
  private head = 0;
  private readonly gone = new Set<StoredDeadLetter>();
  private readonly byId = new Map<string, Set<StoredDeadLetter>>();

  get size(): number {
    return this.letters.length - this.head - this.gone.size;
  }

  get first(): StoredDeadLetter | undefined {
    for (;;) {
      const letter = this.letters[this.head];
      if (letter === undefined || !this.gone.has(letter)) return letter;
      this.gone.delete(letter);
      this.letters[this.head] = undefined as unknown as StoredDeadLetter;
      this.head++;
    }
  }

  push(letter: StoredDeadLetter): void {
    this.letters.push(letter);
    if (letter.id === undefined) return;
    let same = this.byId.get(letter.id);
    if (same === undefined) this.byId.set(letter.id, (same = new Set()));
    same.add(letter);
  }

  /** Takes out the oldest. */
  shift(): StoredDeadLetter | undefined {
    const letter = this.first;
    if (letter !== undefined) this.remove(letter);
    return letter;
  }

  /** Takes out `letter` (one of this list). */
  remove(letter: StoredDeadLetter): void {
    if (letter.id !== undefined) {
      const same = this.byId.get(letter.id);
      same?.delete(letter);
      if (same?.size === 0) this.byId.delete(letter.id);
    }
    if (letter === this.letters[this.head]) {
      this.letters[this.head] = undefined as unknown as StoredDeadLetter;
      this.head++;
    } else this.gone.add(letter);
    const dead = this.head + this.gone.size;
    if (dead > 1024 && dead * 2 > this.letters.length) {
      this.letters = this.list();
      this.head = 0;
      this.gone.clear();
    }
  }

  /** The letters kept, oldest first: all of them, or the first `max`. */
  list(max = Infinity): StoredDeadLetter[] {
    const out: StoredDeadLetter[] = [];
    for (let i = this.head; i < this.letters.length && out.length < max; i++) {
      const letter = this.letters[i] as StoredDeadLetter;
      if (!this.gone.has(letter)) out.push(letter);
    }
    return out;
  }

  /** The letters of these message ids, oldest first, found without walking the others. */
  withIds(ids: ReadonlySet<string>): StoredDeadLetter[] {
    const out: StoredDeadLetter[] = [];
    for (const id of ids) for (const letter of this.byId.get(id) ?? []) out.push(letter);
    return out.sort((a, b) => a.seq - b.seq);
  }
}

/** One channel: its messages (oldest first), its groups, the ids seen recently, its dead letters. */
class ChannelLog {
  readonly messages: Stored[] = [];
  /** How many messages at the head of `messages` were dropped (the array is compacted now and then). */
  head = 0;
  readonly groups = new Map<string, Group>();
  readonly recentIds = new Map<string, number>();
  readonly deadLetters = new DeadLetterList();
  /** The sequence of the first message while it waits in the store's heap of handled heads; -1 when it does not. */
  inHeap = -1;

  constructor(readonly name: string) {}

  get first(): Stored | undefined {
    return this.messages[this.head];
  }

  /** The first kept message with a sequence ≥ `seq`, as an index of `messages`. */
  indexFrom(seq: number): number {
    let lo = this.head;
    let hi = this.messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.messages[mid] as Stored).seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  dropFirst(): Stored {
    const msg = this.messages[this.head] as Stored;
    this.messages[this.head] = undefined as unknown as Stored;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.messages.length) {
      this.messages.splice(0, this.head);
      this.head = 0;
    }
    return msg;
  }

  /** Whether every group is done with `msg` and at least one group handled it. */
  handledByAll(msg: Stored): boolean {
    if (this.groups.size === 0) return false;
    let handled = false;
    for (const group of this.groups.values()) {
      if (!group.done(msg)) return false;
      if (msg.onlyGroup === undefined || msg.onlyGroup === group.name) handled = true;
    }
    return handled;
  }
}

/**
 * The channels whose first message every group has handled, smallest sequence first (a binary
 * min-heap): the store drops the oldest of those heads to make room without looking at the others.
 */
class HandledHeads {
  private readonly entries: { readonly seq: number; readonly log: ChannelLog }[] = [];

  push(seq: number, log: ChannelLog): void {
    const entries = this.entries;
    const entry = { seq, log };
    let i = entries.length;
    entries.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const up = entries[parent] as { seq: number; log: ChannelLog };
      if (up.seq <= seq) break;
      entries[i] = up;
      i = parent;
    }
    entries[i] = entry;
  }

  pop(): { readonly seq: number; readonly log: ChannelLog } | undefined {
    const entries = this.entries;
    const top = entries[0];
    const last = entries.pop();
    if (top === undefined || last === undefined || entries.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= entries.length) break;
      const right = left + 1;
      const child =
        right < entries.length && (entries[right] as { seq: number }).seq < (entries[left] as { seq: number }).seq
          ? right
          : left;
      const down = entries[child] as { seq: number; log: ChannelLog };
      if (down.seq >= last.seq) break;
      entries[i] = down;
      i = child;
    }
    entries[i] = last;
    return top;
  }
}

/** The telemetry of each store, for its groups (a private field of the store would be out of their reach). */
const telemetryOf = new WeakMap<MemoryChannels, Telemetry>();

/**
 * One consumer group of a channel: where it is in the channel, what it has in hand, and its members.
 * It outlives its members (as a durable JetStream consumer does): messages sent while it has none
 * wait for the next.
 */
class Group {
  /** The sequence of the next message the group has not looked at. */
  next = 0;
  readonly pending = new Map<number, Pending>();
  /** How many of `pending` have been handed to a handler at least once (the others wait behind their key). */
  delivered = 0;
  /** Deliveries ready to run, oldest message first. */
  readonly queue = new Fifo<Pending>();
  /**
   * Keys with a message in hand (running, waiting for a retry or queued): later ones of the key wait
   * here, in a queue (one key may hold back every message of a long backlog).
   */
  readonly busyKeys = new Map<string, Fifo<Stored>>();
  /**
   * The open members, in a ring in the order they subscribed (a doubly linked list, so that a member
   * leaves without the others moving): `oldest` is where a new member goes before, `turn` is the next
   * one offered a message (round robin). Both undefined when there is none.
   */
  private oldest: Member | undefined;
  private turn: Member | undefined;
  private size = 0;
  maxRetries = 3;
  backoffMs: ChannelSubscribeOptions['backoffMs'];
  ackWaitMs = 30_000;
  /** Spans and metrics of deliveries, when an OpenTelemetry SDK is registered (private: no public type names it). */
  private readonly otel: Telemetry | undefined;

  constructor(
    readonly name: string,
    readonly log: ChannelLog,
    private readonly owner: MemoryChannels,
  ) {
    this.otel = telemetryOf.get(owner);
  }

  done(msg: Stored): boolean {
    return msg.seq < this.next && !this.pending.has(msg.seq);
  }

  /** Hands out what can be handled now to members with room. */
  pump(): void {
    for (;;) {
      const member = this.freeMember();
      if (member === undefined) return;
      const next = this.take();
      if (next === undefined) return;
      this.run(next, member);
    }
  }

  /** A new member: last in the ring, after every member already there. */
  join(member: Member): void {
    const oldest = this.oldest;
    if (oldest === undefined) {
      member.before = member.after = member;
      this.oldest = this.turn = member;
    } else {
      const newest = oldest.before as Member;
      member.before = newest;
      member.after = oldest;
      newest.after = oldest.before = member;
    }
    this.size++;
  }

  /** `member` has closed: out of the ring; if it was next in turn, the one after it is. */
  leave(member: Member): void {
    member.closed = true;
    this.size--;
    const { before, after } = member as { before: Member; after: Member };
    if (this.size === 0) this.oldest = this.turn = undefined;
    else {
      before.after = after;
      after.before = before;
      if (this.oldest === member) this.oldest = after;
      if (this.turn === member) this.turn = after;
    }
    member.before = member.after = undefined;
  }

  /** The next member with room, from `turn` on around the ring; the one after it is next in turn. */
  private freeMember(): Member | undefined {
    let member = this.turn;
    for (let i = 0; i < this.size && member !== undefined; i++, member = member.after) {
      if (member.inFlight < member.maxInFlight) {
        this.turn = member.after;
        return member;
      }
    }
    return undefined;
  }

  /** The next delivery: a queued retry or redelivery first, else the next message of the channel. */
  private take(): Pending | undefined {
    const queued = this.queue.shift();
    if (queued !== undefined) return queued;
    const log = this.log;
    for (let i = log.indexFrom(this.next); i < log.messages.length; i = log.indexFrom(this.next)) {
      const msg = log.messages[i] as Stored;
      this.next = msg.seq + 1;
      if (msg.onlyGroup !== undefined && msg.onlyGroup !== this.name) {
        if (msg === log.first) this.owner.headMayBeHandled(log);
        continue;
      }
      const pending: Pending = { msg, attempt: 0, delivery: 0, state: 'queued', timer: undefined };
      this.pending.set(msg.seq, pending);
      if (msg.key !== undefined) {
        const waiting = this.busyKeys.get(msg.key);
        if (waiting !== undefined) {
          waiting.push(msg);
          continue;
        }
        this.busyKeys.set(msg.key, new Fifo());
      }
      return pending;
    }
    return undefined;
  }

  private run(p: Pending, member: Member): void {
    if (p.attempt === 0) this.delivered++;
    p.attempt++;
    p.state = 'running';
    const delivery = ++p.delivery;
    member.inFlight++;
    const attempt = p.attempt;
    p.timer = setTimeout(() => this.expired(p, delivery), this.ackWaitMs);
    p.timer.unref?.();
    const decoded = decodeChannelMessage({
      channel: this.log.name,
      group: this.name,
      text: p.msg.body,
      get: (name) => p.msg.headers[name],
      id: p.msg.id,
      attempt,
    });
    const task = (async (): Promise<void> => {
      // Never inside the caller of send(): the handler starts on a later tick.
      await Promise.resolve();
      if (!decoded.ok) return this.settle(p, delivery, decoded.error, true);
      try {
        const otel = this.otel;
        const handler = member.options.handler;
        const ctx = this.owner.contextOf(decoded.message);
        await (otel === undefined
          ? handler(ctx)
          : otel.channelDelivery(decoded.message, () => Promise.resolve(handler(ctx))));
      } catch (error) {
        return this.settle(p, delivery, messageOf(error), false);
      }
      return this.settle(p, delivery, undefined, false);
    })().finally(() => {
      member.inFlight--;
      member.subscription.running.delete(task);
      if (!member.closed) this.pump();
    });
    member.subscription.running.add(task);
  }

  /** A delivery ended: `error` undefined is a success. A stale failure is ignored; a stale success still acks. */
  private settle(p: Pending, delivery: number, error: string | undefined, final: boolean): void {
    if (this.pending.get(p.msg.seq) !== p) return;
    const otel = this.otel;
    if (error === undefined) {
      otel?.channelAcked(this.log.name, this.name);
      this.finish(p);
      return;
    }
    if (delivery !== p.delivery) return;
    clearTimeout(p.timer);
    if (final || p.attempt >= this.maxRetries + 1) {
      this.owner.deadLetter(this.log, this.name, p, error);
      this.finish(p);
      return;
    }
    otel?.channelRetry(this.log.name, this.name);
    p.state = 'waiting';
    p.timer = setTimeout(
      () => {
        p.state = 'queued';
        p.timer = undefined;
        this.queue.push(p);
        this.pump();
      },
      retryDelay(this.backoffMs, p.attempt),
    );
    p.timer.unref?.();
  }

  /** The handler of this delivery has not answered within `ackWaitMs`: another delivery, or the dead letters. */
  private expired(p: Pending, delivery: number): void {
    if (this.pending.get(p.msg.seq) !== p || delivery !== p.delivery || p.state !== 'running') return;
    p.delivery++;
    if (p.attempt >= this.maxRetries + 1) {
      this.owner.deadLetter(
        this.log,
        this.name,
        p,
        `no acknowledgement after ${p.attempt} deliveries (the handler timed out)`,
      );
      this.finish(p);
      return;
    }
    this.otel?.channelRetry(this.log.name, this.name);
    p.state = 'queued';
    p.timer = undefined;
    this.queue.push(p);
    this.pump();
  }

  /** The group is done with `p`: acknowledged or dead-lettered. Its key's next message may go. */
  private finish(p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(p.msg.seq);
    if (p.msg === this.log.first) this.owner.headMayBeHandled(this.log);
    if (p.attempt > 0) this.delivered--;
    // Only a delivery that went back to the queue (it timed out, then succeeded late) is still in it.
    if (p.state === 'queued') this.queue.delete(p);
    const key = p.msg.key;
    if (key !== undefined) {
      const waiting = this.busyKeys.get(key);
      const following = waiting?.shift();
      if (following === undefined) this.busyKeys.delete(key);
      else {
        const next = this.pending.get(following.seq) as Pending;
        // Keyed messages keep their order: the next of the key goes first.
        this.queue.unshift(next);
      }
    }
    this.pump();
  }

  /**
   * What the group has not acknowledged, without walking the messages: those past its position in the
   * channel (a re-drive for another group among them counts until the group passes it, as on
   * JetStream) and those taken but never handed out (behind their key) wait; the others are in flight.
   */
  counts(): ChannelPending {
    const log = this.log;
    const unread = log.messages.length - log.indexFrom(this.next);
    const waiting = unread + this.pending.size - this.delivered;
    return { channel: log.name, group: this.name, waiting, inFlight: this.delivered };
  }

  /** Stops every timer (the bus stops). */
  stop(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
  }
}

/** What close() of a subscription with no handler running returns: shared, as there is nothing to wait for. */
const CLOSED: Promise<void> = Promise.resolve();

/** One member of a group on this bus. */
class MemoryChannelSubscription implements ChannelSubscription {
  readonly running = new Set<Promise<void>>();
  /** Where it is in the store's list of open subscriptions. */
  slot = -1;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly group: Group,
    private readonly member: () => Member | undefined,
    /** Called once the member is closed and its handlers have ended: the store forgets it. */
    private readonly closed: (subscription: MemoryChannelSubscription) => void,
  ) {}

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    const member = this.member();
    if (member === undefined) return (this.closing = CLOSED);
    this.group.leave(member);
    // With no handler running (the usual case) it is done now: no promise of its own to keep.
    this.closing = this.running.size === 0 ? CLOSED : this.drain();
    if (this.closing === CLOSED) this.done();
    return this.closing;
  }

  private async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.done();
  }

  private done(): void {
    // What the member had in hand and did not finish goes to the others when its ack wait ends.
    this.group.pump();
    this.closed(this);
  }
}

/**
 * {@link Channels} in this process: the default of a bus without NATS, with the contract of the
 * JetStream channels — at-least-once to the handler, acknowledged when it succeeds, retried with
 * backoff, dead-lettered with the error of the last attempt; per-key order (one message of a key at a
 * time per group), `maxInFlight` per member, consumer groups (each message to one member of each
 * group; each group gets every message), redelivery after `ackWaitMs`, deduplication by id, and a
 * group that subscribes late gets the messages still kept. Messages live as long as the process:
 * durable across members, not across restarts.
 *
 * @example
 * const channels = new MemoryChannels({ nodeID: 'api-1', options: { maxMessages: 10_000 } });
 * await channels.subscribe('orders', { group: 'billing', handler: (m) => bill(m.data) });
 * await channels.send('orders', { total: 12 });
 */
export class MemoryChannels implements Channels, ContextHost {
  private readonly nodeID: string;
  private readonly storms: LogThrottle;
  private readonly limits: Required<MemoryChannelsOptions>;
  private readonly logs = new Map<string, ChannelLog>();
  /** Every channel whose first message all its groups have handled is here (with, now and then, one that no longer is). */
  private readonly handledHeads = new HandledHeads();
  private seq = 0;
  private deadLetterSeq = 0;
  private storedMessages = 0;
  private storedBytes = 0;
  private deadLetterBytes = 0;
  private droppedDeadLetters = 0;
  private events: ChannelEventPublisher | undefined;
  /**
   * The subscriptions not closed yet, in the order they were made, for close(). A closed one leaves
   * a hole at its slot, swept out once holes are half of the list: closing costs the same at any
   * number of subscriptions, and nothing stays behind for a closed one.
   */
  private subscriptions: (MemoryChannelSubscription | undefined)[] = [];
  private holes = 0;
  private closed = false;
  /** Spans and metrics, when an OpenTelemetry SDK is registered (docs/telemetry.md). */
  private readonly otel: Telemetry | undefined = telemetry();

  constructor(init: MemoryChannelsInit) {
    if (this.otel !== undefined) telemetryOf.set(this, this.otel);
    this.nodeID = init.nodeID;
    this.storms = new LogThrottle(init.logger ?? silentLogger);
    const o = init.options ?? {};
    this.limits = {
      maxMessages: positive(o.maxMessages, DEFAULTS.maxMessages, 'maxMessages'),
      maxBytes: positive(o.maxBytes, DEFAULTS.maxBytes, 'maxBytes'),
      maxMessageBytes: positive(o.maxMessageBytes, DEFAULTS.maxMessageBytes, 'maxMessageBytes'),
      duplicateWindowMs: positive(o.duplicateWindowMs, DEFAULTS.duplicateWindowMs, 'duplicateWindowMs', 0),
      deadLetterMaxMessages: positive(o.deadLetterMaxMessages, DEFAULTS.deadLetterMaxMessages, 'deadLetterMaxMessages'),
      deadLetterMaxBytes: positive(o.deadLetterMaxBytes, DEFAULTS.deadLetterMaxBytes, 'deadLetterMaxBytes'),
      deadLetterMaxAgeMs: positive(o.deadLetterMaxAgeMs, DEFAULTS.deadLetterMaxAgeMs, 'deadLetterMaxAgeMs'),
    };
  }

  /** @internal The bus tells where a handler context's events go. */
  attachEvents(publisher: ChannelEventPublisher): void {
    this.events = publisher;
  }

  /** What is kept now: messages and bytes, dead letters and bytes, and dead letters dropped at a limit. */
  stats(): {
    messages: number;
    bytes: number;
    deadLetters: number;
    deadLetterBytes: number;
    droppedDeadLetters: number;
  } {
    let deadLetters = 0;
    for (const log of this.logs.values()) deadLetters += log.deadLetters.size;
    return {
      messages: this.storedMessages,
      bytes: this.storedBytes,
      deadLetters,
      deadLetterBytes: this.deadLetterBytes,
      droppedDeadLetters: this.droppedDeadLetters,
    };
  }

  send(channel: string, payload: unknown, options: ChannelSendOptions = {}): Promise<void> {
    const otel = this.otel;
    if (otel !== undefined)
      return otel.channelSend(channel, options, (traced) => this.sendNow(channel, payload, traced));
    return this.sendNow(channel, payload, options);
  }

  private sendNow(channel: string, payload: unknown, options: ChannelSendOptions): Promise<void> {
    try {
      this.checkOpen();
      const encoded = encodeChannelMessage(channel, payload, options, this.nodeID);
      const log = this.log(channel);
      const now = Date.now();
      this.forgetIds(log, now);
      if (options.id !== undefined && log.recentIds.has(options.id)) return Promise.resolve();
      this.store(log, encoded, undefined);
      if (options.id !== undefined) log.recentIds.set(options.id, now);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  subscribe<T = unknown>(channel: string, options: ChannelSubscribeOptions<T>): Promise<ChannelSubscription> {
    try {
      this.checkOpen();
      checkSubscribeOptions(channel, options);
      const log = this.log(channel);
      let group = log.groups.get(options.group);
      if (group === undefined) {
        group = new Group(options.group, log, this);
        // A new group starts at the oldest message kept, as a new JetStream consumer does.
        group.next = log.first?.seq ?? this.seq + 1;
        log.groups.set(options.group, group);
      }
      // The latest subscriber's settings are the group's, as a JetStream consumer takes the latest.
      group.maxRetries = options.maxRetries ?? 3;
      group.backoffMs = options.backoffMs;
      group.ackWaitMs = options.ackWaitMs ?? 30_000;
      const members: Member[] = [];
      const subscription = new MemoryChannelSubscription(
        group,
        () => members[0],
        (closed) => this.forget(closed),
      );
      const member: Member = {
        subscription,
        options: options as ChannelSubscribeOptions,
        maxInFlight: options.maxInFlight ?? 16,
        inFlight: 0,
        closed: false,
      };
      members.push(member);
      group.join(member);
      subscription.slot = this.subscriptions.length;
      this.subscriptions.push(subscription);
      group.pump();
      return Promise.resolve(subscription);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  deadLetters(channel: string, max = 100): Promise<DeadLetter[]> {
    checkChannel(channel);
    const log = this.logs.get(channel);
    if (log === undefined) return Promise.resolve([]);
    this.expireDeadLetters(Date.now());
    return Promise.resolve(log.deadLetters.list(max).map(({ bytes: _bytes, ...letter }) => letter));
  }

  deadLetterCounts(): Promise<Readonly<Record<string, number>>> {
    this.expireDeadLetters(Date.now());
    const counts: Record<string, number> = {};
    for (const log of this.logs.values()) if (log.deadLetters.size > 0) counts[log.name] = log.deadLetters.size;
    return Promise.resolve(counts);
  }

  pendingCounts(): Promise<readonly ChannelPending[]> {
    const counts: ChannelPending[] = [];
    for (const log of this.logs.values()) for (const group of log.groups.values()) counts.push(group.counts());
    return Promise.resolve(counts.sort(byChannelAndGroup));
  }

  redrive(channel: string, filter: RedriveFilter = {}): Promise<RedriveResult> {
    try {
      this.checkOpen();
      checkChannel(channel);
      const log = this.logs.get(channel);
      const ids: string[] = [];
      if (log === undefined) return Promise.resolve({ redriven: 0, ids });
      const now = Date.now();
      this.expireDeadLetters(now);
      const wanted = filter.ids === undefined ? undefined : new Set(filter.ids);
      // With ids, only their letters are looked at; each letter re-driven is taken out without moving the others.
      const letters = wanted === undefined ? log.deadLetters.list() : log.deadLetters.withIds(wanted);
      for (const letter of letters) {
        if (!matches(letter, wanted, filter, now)) continue;
        const headers: Record<string, string> = {};
        for (const name of CONTEXT_HEADERS) {
          const value = letter.headers[name];
          if (value !== undefined) headers[name] = value;
        }
        // Stored first, then removed: at a full store the dead letter stays and the call refuses.
        this.store(log, { id: letter.id ?? '', key: keyOf(letter.body), body: letter.body, headers }, letter.group);
        log.deadLetters.remove(letter);
        this.deadLetterBytes -= letter.bytes;
        ids.push(letter.id ?? '');
      }
      return Promise.resolve({ redriven: ids.length, ids });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Stops handing out messages and waits for the handlers in hand; the bus calls it when it stops. */
  async close(): Promise<void> {
    this.closed = true;
    const open = this.subscriptions.filter((s) => s !== undefined);
    await Promise.all(open.map((s) => s.close()));
    for (const log of this.logs.values()) for (const group of log.groups.values()) group.stop();
    this.storms.flush();
  }

  /** A subscription has closed: its slot becomes a hole. */
  private forget(subscription: MemoryChannelSubscription): void {
    if (this.subscriptions[subscription.slot] !== subscription) return;
    this.subscriptions[subscription.slot] = undefined;
    this.holes++;
    if (this.holes <= 64 || this.holes * 2 <= this.subscriptions.length) return;
    const open = this.subscriptions.filter((s) => s !== undefined);
    open.forEach((s, i) => (s.slot = i));
    this.subscriptions = open;
    this.holes = 0;
  }

  /** @internal The handler context of a decoded message. */
  contextOf(message: Parameters<typeof channelContext>[0]): ReturnType<typeof channelContext> {
    return channelContext(message, this, () => this.events);
  }

  /** @internal Keeps a dead letter, dropping the oldest past the limits. */
  deadLetter(log: ChannelLog, group: string, { msg, attempt: attempts }: Pending, error: string): void {
    const now = Date.now();
    this.otel?.channelDeadLetter(
      log.name,
      group,
      msg.id,
      attempts,
      error,
      carrierOf(msg.headers[H.traceparent], msg.headers[H.tracestate]),
    );
    const headers: Record<string, string> = {
      'Kindling-Error': error.slice(0, 4000).replace(/[\r\n]+/g, ' '),
      'Kindling-Channel': log.name,
      'Kindling-Group': group,
      'Kindling-Attempts': String(attempts),
      'Kindling-Id': msg.id,
    };
    for (const [name, value] of Object.entries(msg.headers)) if (name !== H.onlyGroup) headers[name] ??= value;
    const bytes = sizeOf(msg.body, headers);
    log.deadLetters.push({
      channel: log.name,
      group,
      error: headers['Kindling-Error'] as string,
      attempts,
      id: msg.id,
      body: msg.body,
      headers,
      seq: ++this.deadLetterSeq,
      time: now,
      bytes,
    });
    this.deadLetterBytes += bytes;
    this.expireDeadLetters(now);
    let dropped = 0;
    while (log.deadLetters.size > this.limits.deadLetterMaxMessages) {
      this.deadLetterBytes -= (log.deadLetters.shift() as StoredDeadLetter).bytes;
      dropped++;
    }
    while (this.deadLetterBytes > this.limits.deadLetterMaxBytes) {
      const oldest = this.oldestDeadLetters();
      if (oldest === undefined) break;
      this.deadLetterBytes -= (oldest.deadLetters.shift() as StoredDeadLetter).bytes;
      dropped++;
    }
    if (dropped > 0) {
      this.droppedDeadLetters += dropped;
      this.storms.warn(
        `channel-dead-letters-full`,
        `the dead-letter store is full (deadLetterMaxMessages ${this.limits.deadLetterMaxMessages} per channel, deadLetterMaxBytes ${this.limits.deadLetterMaxBytes}): dropped ${dropped} oldest, ${this.droppedDeadLetters} in all`,
      );
    }
  }

  private oldestDeadLetters(): ChannelLog | undefined {
    let oldest: ChannelLog | undefined;
    for (const log of this.logs.values()) {
      const first = log.deadLetters.first;
      if (first !== undefined && (oldest === undefined || first.seq < (oldest.deadLetters.first as DeadLetter).seq))
        oldest = log;
    }
    return oldest;
  }

  private expireDeadLetters(now: number): void {
    const before = now - this.limits.deadLetterMaxAgeMs;
    for (const log of this.logs.values()) {
      while (log.deadLetters.size > 0 && (log.deadLetters.first as DeadLetter).time < before)
        this.deadLetterBytes -= (log.deadLetters.shift() as StoredDeadLetter).bytes;
    }
  }

  private forgetIds(log: ChannelLog, now: number): void {
    const before = now - this.limits.duplicateWindowMs;
    for (const [id, time] of log.recentIds) {
      if (time >= before && log.recentIds.size <= this.limits.maxMessages) break;
      log.recentIds.delete(id);
    }
  }

  private store(
    log: ChannelLog,
    message: {
      readonly id: string;
      readonly key: string | undefined;
      readonly body: string;
      headers: Record<string, string>;
    },
    onlyGroup: string | undefined,
  ): void {
    const { id, key, body } = message;
    let headers = message.headers;
    if (onlyGroup !== undefined) headers = { ...headers, [H.onlyGroup]: onlyGroup };
    const bytes = sizeOf(body, headers);
    if (bytes > this.limits.maxMessageBytes) {
      throw new KindlingError(
        'INVALID',
        `the message for channel ${log.name} is ${bytes} bytes; at most ${this.limits.maxMessageBytes} (maxMessageBytes)`,
        { details: { channel: log.name, id, bytes } },
      );
    }
    this.makeRoom(bytes, log.name, id);
    const msg: Stored = { seq: ++this.seq, id, key, body, headers, bytes, onlyGroup };
    log.messages.push(msg);
    this.storedMessages++;
    this.storedBytes += bytes;
    for (const group of log.groups.values()) group.pump();
  }

  /** Drops the oldest messages every group has handled until `bytes` more fit; refuses when they cannot. */
  private makeRoom(bytes: number, channel: string, id: string): void {
    while (this.storedMessages + 1 > this.limits.maxMessages || this.storedBytes + bytes > this.limits.maxBytes) {
      const victim = this.oldestHandledHead();
      if (victim === undefined) {
        throw new KindlingError(
          'UNAVAILABLE',
          `the in-process channel store is full (${this.storedMessages} messages, ${this.storedBytes} bytes; maxMessages ${this.limits.maxMessages}, maxBytes ${this.limits.maxBytes}) with messages not yet handled by every group: the message for channel ${channel} is refused`,
          { retryable: true, details: { channel, id } },
        );
      }
      const dropped = victim.dropFirst();
      this.storedMessages--;
      this.storedBytes -= dropped.bytes;
      this.headMayBeHandled(victim);
    }
  }

  /**
   * @internal The first message of `log` may now be handled by every group (a group finished it or
   * passed it, or it just became the first): if so, it joins the heads that can be dropped.
   */
  headMayBeHandled(log: ChannelLog): void {
    const first = log.first;
    if (first === undefined || log.inHeap === first.seq || !log.handledByAll(first)) return;
    log.inHeap = first.seq;
    this.handledHeads.push(first.seq, log);
  }

  /**
   * The channel whose first message is the oldest of those every group has handled, taken out of the
   * heap. An entry whose channel has since gained a group that has not handled it is dropped: that
   * group's finishing it puts the channel back.
   */
  private oldestHandledHead(): ChannelLog | undefined {
    for (;;) {
      const top = this.handledHeads.pop();
      if (top === undefined) return undefined;
      const { seq, log } = top;
      if (log.inHeap !== seq) continue;
      log.inHeap = -1;
      const first = log.first;
      if (first !== undefined && first.seq === seq && log.handledByAll(first)) return log;
    }
  }

  private log(channel: string): ChannelLog {
    let log = this.logs.get(channel);
    if (log === undefined) {
      log = new ChannelLog(channel);
      this.logs.set(channel, log);
    }
    return log;
  }

  private checkOpen(): void {
    if (this.closed)
      throw new KindlingError('UNAVAILABLE', 'the in-process durable channels are closed (the bus stopped)');
  }
}

function matches(letter: DeadLetter, ids: Set<string> | undefined, filter: RedriveFilter, now: number): boolean {
  if (ids !== undefined && (letter.id === undefined || !ids.has(letter.id))) return false;
  if (filter.group !== undefined && letter.group !== filter.group) return false;
  if (filter.olderThanMs !== undefined && now - letter.time <= filter.olderThanMs) return false;
  return true;
}

/** The key of a stored body (only our own bodies reach here). */
function keyOf(body: string): string | undefined {
  try {
    const key = (JSON.parse(body) as { key?: unknown }).key;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}
