import type { Msg } from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';
import type { LogThrottle } from '../../common/logger.js';
import type { EventEnvelope } from '../../events/core/event-envelope.js';
import type { TransportReceiver } from '../../events/core/transport.js';
import type { JetStreamChannels } from './durable-channels.js';
import { badNodeID, isNodeID } from './presence.js';
import { EnvelopeDecoder } from './wire-format.js';
import { traceContextOf } from './wire-decoder.js';

/** What {@link Inbound} reads with and reports to. */
export interface InboundInit {
  readonly storms: LogThrottle;
  /** A received message larger than this many bytes is undecodable. */
  readonly maxMessageBytes: number;
  /** A received event whose name is longer than this is undecodable. */
  readonly maxNameLength: number;
  /** At most this many undecodable messages are being dead-lettered at once; the rest are counted. */
  readonly deadLetterMaxPending: number;
  /** The bus, once connected (it hears `$transporter.undecodable`). */
  readonly receiver: () => TransportReceiver | undefined;
  /** The durable channels, when connected with JetStream (they hold the dead-letter stream). */
  readonly channels: () => JetStreamChannels | undefined;
}

/** The counters of {@link Inbound}. */
export interface InboundStats {
  readonly undecodable: number;
  readonly deadLettersPending: number;
  readonly deadLettersSkipped: number;
}

/**
 * Reads received event messages, which are data from peers: a message (one envelope or a batch)
 * that cannot be decoded, is too large, or carries a name too long or a source outside the node id
 * grammar is refused whole, counted, and dead-lettered (a flood is counted, not queued).
 */
export class Inbound {
  /** Reads received messages, reusing what a run of them from one node about one name shares. */
  private readonly decoder = new EnvelopeDecoder();
  /** The last envelope source that passed the node id grammar: sources come in runs. */
  private goodSource = '';
  private undecodableCount = 0;
  private deadLettersPending = 0;
  private deadLettersSkipped = 0;

  constructor(private readonly init: InboundInit) {}

  stats(): InboundStats {
    return {
      undecodable: this.undecodableCount,
      deadLettersPending: this.deadLettersPending,
      deadLettersSkipped: this.deadLettersSkipped,
    };
  }

  /**
   * Decodes a message (one envelope or a batch); an undecodable one is dead-lettered whole and
   * `undefined` returned. `name` is the event name the subject carries when the subscription's
   * subject is a literal name (no need to read the subject then); otherwise it is read from the
   * subject after `base`.
   */
  decode(msg: Msg, base: string, name: string | undefined): EventEnvelope[] | undefined {
    const data = msg.data;
    try {
      if (data.length > this.init.maxMessageBytes) {
        throw new KindlingError(
          'INVALID',
          `undecodable event envelope: ${data.length} bytes is more than maxMessageBytes (${this.init.maxMessageBytes})`,
        );
      }
      const envelopes = this.decoder.decodeAll(data, name ?? msg.subject.slice(base.length));
      for (const envelope of envelopes) this.check(envelope);
      // A message of one event may carry its trace context in NATS headers only (another publisher).
      const headers = msg.headers;
      if (headers !== undefined && envelopes.length === 1) return this.withHeaderTrace(envelopes, headers);
      return envelopes;
    } catch (error) {
      this.deadLetter(msg.subject, data, messageOf(error, 1000));
      return undefined;
    }
  }

  /**
   * Counts an undecodable message and dead-letters it with its reason (when JetStream is there and
   * fewer than `deadLetterMaxPending` are being written: a flood is counted, not queued).
   */
  deadLetter(subject: string, data: Uint8Array, reason: string): void {
    const { storms, deadLetterMaxPending } = this.init;
    this.undecodableCount++;
    storms.warn('undecodable', `refused an undecodable message on ${subject}: ${reason}`, { subject });
    this.init.receiver()?.internal('$transporter.undecodable', { subject, reason });
    const store = this.init.channels();
    if (store === undefined) return;
    if (this.deadLettersPending >= deadLetterMaxPending) {
      this.deadLettersSkipped++;
      storms.warn(
        'dead-letter-skipped',
        `an undecodable message on ${subject} was not dead-lettered: ${deadLetterMaxPending} are being written already (deadLetterMaxPending)`,
      );
      return;
    }
    this.deadLettersPending++;
    store.deadLetterUndecodable(subject, data, reason).then(
      () => this.deadLettersPending--,
      (error: unknown) => {
        this.deadLettersPending--;
        storms.error(
          'dead-letter-failed',
          `could not dead-letter an undecodable message from ${subject}: ${messageOf(error)}`,
        );
      },
    );
  }

  /** The envelope of a one-event message with the `traceparent`/`tracestate` of its headers, when it has none of its own. */
  private withHeaderTrace(envelopes: EventEnvelope[], headers: NonNullable<Msg['headers']>): EventEnvelope[] {
    const envelope = envelopes[0] as EventEnvelope;
    if (envelope.traceContext !== undefined) return envelopes;
    const traceparent = headers.get('traceparent');
    if (traceparent === '') return envelopes;
    const tracestate = headers.get('tracestate');
    const traceContext = traceContextOf(tracestate === '' ? { traceparent } : { traceparent, tracestate });
    return traceContext === undefined ? envelopes : [{ ...envelope, traceContext }];
  }

  /** What the wire format leaves to the transport: names and sources a peer cannot use to bloat or forge. */
  private check(envelope: EventEnvelope): void {
    if (envelope.name.length > this.init.maxNameLength) {
      throw new KindlingError(
        'INVALID',
        `undecodable event envelope: a name of ${envelope.name.length} characters is longer than maxNameLength (${this.init.maxNameLength})`,
      );
    }
    const source = envelope.source;
    if (source === this.goodSource) return;
    if (!isNodeID(source)) throw badNodeID(source, 'undecodable event envelope: field source');
    this.goodSource = source;
  }
}
