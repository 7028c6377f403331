import { KindlingError, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { ChannelsOptions } from './durable-channels.js';
import type { PresenceOptions } from './presence.js';

/** Options of `NatsTransport`. */
export interface NatsTransportOptions extends PresenceOptions, ChannelsOptions {
  /** The NATS server(s): `nats://127.0.0.1:4222`, or several for a cluster. */
  readonly url: string | readonly string[];
  /**
   * The first subject token(s) of everything this bus sends (default `kindling`): buses with
   * different prefixes on one NATS server do not see each other.
   */
  readonly prefix?: string;
  /** Where the transport logs (default: warnings and errors to stderr). */
  readonly logger?: Logger;
  /** How long the first connection may take, in ms (default 5 000). */
  readonly connectTimeoutMs?: number;
  /** The wait between reconnect attempts, in ms (default 500); attempts never stop. */
  readonly reconnectTimeWaitMs?: number;
  /** Extra fields of this node's {@link NodeInfo} (others see them in `$node.*`). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /**
   * At most this many consecutive events of one subject, sent in the same turn (a loop of `emit`s),
   * travel as one NATS message (default 32; `1` sends one message per event). Nothing waits for a
   * batch to fill: it leaves at the end of the turn, or as soon as another subject is sent. Order is
   * kept. NATS balances messages, so each batch goes to one member of each group: lower it when a
   * burst must spread over few, slow handlers.
   */
  readonly maxBatch?: number;
  /**
   * A received event message larger than this many bytes is undecodable: refused, counted and
   * dead-lettered cut to `deadLetterBodyBytes` (default 1 048 576, NATS's own default `max_payload`).
   */
  readonly maxMessageBytes?: number;
  /** A received event whose name is longer than this many characters is undecodable (default 1 024). */
  readonly maxNameLength?: number;
  /**
   * Repeats of a transport fault (undecodable messages, refused presence, lost batches) within this
   * many ms are counted and logged as one summary line (default 10 000; 0 logs each).
   */
  readonly logRepeatWindowMs?: number;
}

/**
 * The whole-number options of {@link NatsTransportOptions} with the least value each may take:
 * anything else is refused with `INVALID` when the transport is made.
 */
const WHOLE_NUMBER_OPTIONS: Readonly<Record<string, number>> = {
  maxBatch: 1,
  heartbeatMs: 1,
  nodeTimeoutMs: 1,
  maxNodes: 1,
  maxPresenceBytes: 1,
  helloReplyIntervalMs: 0,
  maxMessageBytes: 1,
  maxNameLength: 1,
  logRepeatWindowMs: 0,
  partitions: 1,
  channelMaxAgeMs: 0,
  channelMaxMessages: 1,
  channelMaxBytes: 1,
  duplicateWindowMs: 0,
  deadLetterMaxMessages: 1,
  deadLetterMaxBytes: 1,
  deadLetterMaxAgeMs: 0,
  deadLetterMaxPending: 1,
  deadLetterBodyBytes: 0,
};

/** Refuses a whole-number option out of its range with `INVALID` naming it. */
export function checkOptions(options: NatsTransportOptions): void {
  for (const [name, least] of Object.entries(WHOLE_NUMBER_OPTIONS)) {
    const value = (options as unknown as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < least) {
      throw new KindlingError(
        'INVALID',
        `nats.${name} must be a whole number ≥ ${least}, got ${messageOf(value, 40)}`,
        { details: { [name]: value } },
      );
    }
  }
}
