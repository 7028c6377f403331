import { KindlingError } from '../../common/errors.js';

/**
 * The context a channel message is sent from: an event handler's `ctx` (Moleculer face) or a channel
 * handler's. Its `meta` is carried (under the send's own `meta`), its id becomes the message's
 * `parentID`, its `requestID` the message's, and its trace context (`traceparent` / `tracestate`, or
 * the same keys in its `meta`) the message's.
 */
export interface ChannelParent {
  readonly id: string;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly requestID?: string | undefined;
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
  /** An event context's service: its full name is the message's `caller`. */
  readonly service?: { readonly fullName: string } | undefined;
  /** A channel context's group: the message's `caller` when there is no service. */
  readonly group?: string | undefined;
}

/** Options of {@link Channels.send}. */
export interface ChannelSendOptions {
  /** Messages with the same key are handled in order, one at a time per group. */
  readonly key?: string;
  /** The deduplication id: a publisher retrying with the same id stores the message once. */
  readonly id?: string;
  /** Metadata carried to the handler's `meta` (a plain JSON object, at most 16 KiB encoded). */
  readonly meta?: Readonly<Record<string, unknown>>;
  /** The W3C trace context of the sender (`00-<trace-id>-<parent-id>-<flags>`); the parent's by default. */
  readonly traceparent?: string;
  /** The W3C `tracestate` that goes with `traceparent`. */
  readonly tracestate?: string;
  /** The handler context the message is sent from: its meta, ids and trace context are carried. */
  readonly parentCtx?: ChannelParent;
}

/** One message as a channel handler sees it. */
export interface ChannelMessage<T = unknown> {
  readonly channel: string;
  readonly data: T;
  /** The message id (given to `send`, or generated). */
  readonly id: string;
  readonly key: string | undefined;
  /** Which delivery this is, from 1. */
  readonly attempt: number;
  /** The node that sent it. */
  readonly source: string;
  /** The consumer group handling it. */
  readonly group: string;
  /** Metadata given at send (a fresh copy per delivery); `{}` when none. */
  readonly meta: Readonly<Record<string, unknown>>;
  /** The sender's W3C `traceparent`, when it had one. */
  readonly traceparent: string | undefined;
  /** The sender's W3C `tracestate`, when it had one. */
  readonly tracestate: string | undefined;
  /** The id of the first event or message of the causal chain (this message's id when it starts one). */
  readonly requestID: string;
  /** The id of the event or message whose handler sent this one. */
  readonly parentID: string | undefined;
  /** The service (or channel group) that sent it from a handler. */
  readonly caller: string | undefined;
  /** When it was sent, in epoch milliseconds. */
  readonly time: number;
}

/** Options of an event emitted from a channel handler's context. */
export interface ChannelEmitOptions {
  /** Only these groups (services) receive the event. */
  readonly groups?: string | readonly string[];
  /** Metadata merged over the message's. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/**
 * What a channel handler receives: the message, as `params` too, and follow-ups that carry its meta —
 * events (`emit`, `broadcast`, `broadcastLocal`, as an event handler's context has) and channel
 * messages (`send`, which also carries its trace context and names it as the parent).
 */
export interface ChannelContext<T = unknown> extends ChannelMessage<T> {
  /** The payload (the same as `data`, as an event context calls it). */
  readonly params: T;
  /** The node that sent the message (the same as `source`). */
  readonly nodeID: string;
  /** Emits a balanced event carrying this message's meta. */
  emit(name: string, payload?: unknown, options?: ChannelEmitOptions): void;
  /** Broadcasts an event carrying this message's meta. */
  broadcast(name: string, payload?: unknown, options?: ChannelEmitOptions): void;
  /** Broadcasts an event to this node only, carrying this message's meta. */
  broadcastLocal(name: string, payload?: unknown, options?: ChannelEmitOptions): void;
  /** Sends a channel message carrying this message's meta and trace context, with this one as its parent. */
  send(channel: string, payload: unknown, options?: ChannelSendOptions): Promise<void>;
}

/** Options of {@link Channels.subscribe}. */
export interface ChannelSubscribeOptions<T = unknown> {
  /** The consumer group: each message is handled by one member of each group, durably. */
  readonly group: string;
  /** Handles one message; a throw or rejection is a failure (retried, then dead-lettered). */
  readonly handler: (message: ChannelContext<T>) => unknown;
  /** How many messages this member handles at once (default 16). */
  readonly maxInFlight?: number;
  /** Retries after the first failure before the message is dead-lettered (default 3). */
  readonly maxRetries?: number;
  /** The first retry delay in ms, doubled at each attempt up to 60 s, or a function of the attempt (default 1 000). */
  readonly backoffMs?: number | ((attempt: number) => number);
  /** How long a handler may take before the message is given to another member, in ms (default 30 000). */
  readonly ackWaitMs?: number;
}

/** A running channel subscription. */
export interface ChannelSubscription {
  /** Stops taking messages and waits for the ones in hand; the group's position is kept. */
  close(): Promise<void>;
}

/** A message its group gave up on, with the error of its last attempt. */
export interface DeadLetter {
  readonly channel: string;
  readonly group: string | undefined;
  readonly error: string;
  readonly attempts: number;
  /** The message id. */
  readonly id: string | undefined;
  /** The original message body (the wire JSON). */
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Its position in the dead-letter store (the JetStream sequence on NATS). */
  readonly seq: number;
  /** When it was dead-lettered, in epoch milliseconds. */
  readonly time: number;
}

/** Which dead letters {@link Channels.redrive} sends again; none given means all of the channel. */
export interface RedriveFilter {
  /** Only the dead letters of these message ids. */
  readonly ids?: readonly string[];
  /** Only those dead-lettered more than this many ms ago. */
  readonly olderThanMs?: number;
  /** Only those of this group. */
  readonly group?: string;
}

/** What {@link Channels.redrive} did. */
export interface RedriveResult {
  /** How many dead letters went back to their group. */
  readonly redriven: number;
  /** Their message ids, in the order they were sent again. */
  readonly ids: readonly string[];
}

/**
 * The messages one consumer group of a channel has not acknowledged yet: {@link Channels.pendingCounts}.
 * Its pending messages are `waiting + inFlight`.
 */
export interface ChannelPending {
  /** The channel. */
  readonly channel: string;
  /** The consumer group: its counts are those of all its members, on every node. */
  readonly group: string;
  /** Messages stored for the group and not yet handed to a handler. */
  readonly waiting: number;
  /** Messages handed to a handler and not yet acknowledged: running, or waiting for a retry or a redelivery. */
  readonly inFlight: number;
}

/**
 * Durable channels (Moleculer's `moleculer-channels`): at-least-once messages that wait for their
 * consumers, with consumer groups, retries with backoff and dead letters. In-process by default
 * ({@link MemoryChannels}), on JetStream when the bus has a NATS transport; both keep the same
 * contract.
 *
 * @example
 * await bus.channels.subscribe('orders', { group: 'billing', handler: (m) => bill(m.data) });
 * await bus.channels.send('orders', { id: 7 }, { key: 'customer-3' });
 */
export interface Channels {
  /** Stores a message in the channel; resolves once it is stored. */
  send(channel: string, payload: unknown, options?: ChannelSendOptions): Promise<void>;
  /** Starts handling the channel's messages as a member of `options.group`. */
  subscribe<T = unknown>(channel: string, options: ChannelSubscribeOptions<T>): Promise<ChannelSubscription>;
  /** Reads up to `max` dead letters of a channel (default 100), oldest first. */
  deadLetters(channel: string, max?: number): Promise<DeadLetter[]>;
  /** How many dead letters each channel holds (channels with none are left out). */
  deadLetterCounts(): Promise<Readonly<Record<string, number>>>;
  /**
   * What each consumer group of each channel has not acknowledged yet: messages waiting for a handler
   * and messages in flight, sorted by channel, then group. A group counts from its first subscription
   * on, and keeps counting while it has no member (its messages wait for the next).
   */
  pendingCounts(): Promise<readonly ChannelPending[]>;
  /**
   * Sends dead letters of a channel again, each to the group that gave up on it only, and removes
   * them from the dead-letter store. Same id, key, meta and trace context; attempts start again at 1.
   */
  redrive(channel: string, filter?: RedriveFilter): Promise<RedriveResult>;
}

/** Why a bus has no durable channels at this moment. */
export type ChannelsAbsence = 'not-started' | 'no-jetstream' | 'stopped';

/**
 * What the bus offers while it has no durable channels: every call refuses with `UNAVAILABLE` naming
 * the reason and the fix.
 */
export function unavailableChannels(absence: ChannelsAbsence): Channels {
  const refuse = (): Promise<never> => Promise.reject(noChannels(absence));
  return {
    send: refuse,
    subscribe: refuse,
    deadLetters: refuse,
    deadLetterCounts: refuse,
    pendingCounts: refuse,
    redrive: refuse,
  };
}

const ABSENCE_MESSAGES: Record<ChannelsAbsence, string> = {
  'not-started':
    'durable channels on NATS open once the bus has connected: await bus.start() before using bus.channels',
  'no-jetstream':
    'durable channels on NATS need JetStream, and the NATS server the bus is connected to has it off: start nats-server with -js (--jetstream)',
  stopped: 'the event bus has stopped; its durable channels are closed',
};

function noChannels(absence: ChannelsAbsence): KindlingError {
  return new KindlingError('UNAVAILABLE', ABSENCE_MESSAGES[absence]);
}
