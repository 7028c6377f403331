import { KindlingError } from '../../common/errors.js';

/** Options of {@link Channels.send}. */
export interface ChannelSendOptions {
  /** Messages with the same key are handled in order, one at a time per group. */
  readonly key?: string;
  /** The deduplication id: a publisher retrying with the same id stores the message once. */
  readonly id?: string;
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
}

/** Options of {@link Channels.subscribe}. */
export interface ChannelSubscribeOptions<T = unknown> {
  /** The consumer group: each message is handled by one member of each group, durably. */
  readonly group: string;
  /** Handles one message; a throw or rejection is a failure (retried, then dead-lettered). */
  readonly handler: (message: ChannelMessage<T>) => unknown;
  /** How many unkeyed messages this member handles at once (default 16). */
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
  /** Stops taking messages and waits for the ones in hand; the group's position stays in JetStream. */
  close(): Promise<void>;
}

/**
 * Durable channels (Moleculer's `moleculer-channels`): at-least-once messages that wait for their
 * consumers, with consumer groups, retries with backoff and a dead-letter stream.
 *
 * @example
 * await bus.channels.subscribe('orders', { group: 'billing', handler: (m) => bill(m.data) });
 * await bus.channels.send('orders', { id: 7 }, { key: 'customer-3' });
 */
export interface Channels {
  /** Stores a message in the channel; resolves once JetStream has it. */
  send(channel: string, payload: unknown, options?: ChannelSendOptions): Promise<void>;
  /** Starts handling the channel's messages as a member of `options.group`. */
  subscribe<T = unknown>(channel: string, options: ChannelSubscribeOptions<T>): Promise<ChannelSubscription>;
}

/** Why a bus has no durable channels at this moment. */
export type ChannelsAbsence = 'no-transport' | 'not-started' | 'no-jetstream';

/**
 * What the bus offers while it has no durable channels: every call refuses with `UNAVAILABLE` naming
 * the reason and the fix.
 */
export function unavailableChannels(absence: ChannelsAbsence): Channels {
  return {
    send: () => Promise.reject(noChannels(absence)),
    subscribe: () => Promise.reject(noChannels(absence)),
  };
}

const ABSENCE_MESSAGES: Record<ChannelsAbsence, string> = {
  'no-transport':
    'durable channels need NATS with JetStream: configure a NATS URL (KINDLING_NATS_URL, the events component config nats.url, or createNatsEventBus({ nats: { url } }) of kindling/nats)',
  'not-started':
    'durable channels open once the bus has connected to NATS: await bus.start() before using bus.channels',
  'no-jetstream':
    'durable channels need JetStream, and the NATS server the bus is connected to has it off: start nats-server with -js (--jetstream)',
};

function noChannels(absence: ChannelsAbsence): KindlingError {
  return new KindlingError('UNAVAILABLE', ABSENCE_MESSAGES[absence]);
}
