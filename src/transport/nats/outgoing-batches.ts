import type { NatsConnection } from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';
import type { LogThrottle } from '../../common/logger.js';
import { SENT } from '../../events/core/transport.js';
import type { NatsLink } from './nats-link.js';
import { batchBytes } from './wire-format.js';

/** Consecutive events of one subject, waiting for the end of the turn to leave as one message. */
interface Batch {
  readonly subject: string;
  readonly texts: string[];
  chars: number;
}

/**
 * A batch stays under this many UTF-16 units: a text under 4 KiB is encoded into Node's shared
 * buffer pool where a larger one allocates its own, and with events this large the per-message cost
 * NATS saves is already small. An event larger than this travels alone.
 */
const BATCH_CHARS = 4000;

/** What {@link OutgoingBatches} sends over and reports to. */
export interface OutgoingBatchesInit {
  readonly link: NatsLink;
  /** Where lost batches are logged. */
  readonly storms: LogThrottle;
  /** At most this many events per batch (1: one message per event). */
  readonly maxBatch: number;
}

/**
 * The outgoing side of the transport: encoded events of one subject join a batch that leaves at the
 * end of the turn (or when another subject is sent), as one NATS message; a confirmed send waits
 * for one server round trip shared by every confirmed send of its turn.
 */
export class OutgoingBatches {
  private readonly link: NatsLink;
  private readonly storms: LogThrottle;
  private readonly maxBatch: number;
  /** The UTF-16 units a batch may hold: {@link BATCH_CHARS}, less when the server's payload limit is lower. */
  private batchChars = BATCH_CHARS;
  private batch: Batch | undefined;
  private flushQueued = false;
  private confirming: Promise<void> | undefined;
  /** Why a batch was lost since the last confirmation (which then fails, so that it is retried). */
  private lostSince: string | undefined;
  private readonly flushTask = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  constructor(init: OutgoingBatchesInit) {
    this.link = init.link;
    this.storms = init.storms;
    this.maxBatch = init.maxBatch;
  }

  /** Fits batches to the server's `max_payload`. */
  fitTo(maxPayload: number | undefined): void {
    // At most 3 UTF-8 bytes per UTF-16 unit, plus the batch line and line breaks: never over max_payload.
    this.batchChars = Math.max(0, Math.min(BATCH_CHARS, Math.floor((maxPayload ?? 1_048_576) / 3) - 64));
  }

  /** Adds an encoded envelope to its subject's batch (or publishes it alone); see `NatsTransport.send`. */
  enqueue(nc: NatsConnection, subject: string, text: string, confirm: boolean): Promise<void> {
    try {
      const batch = this.batch;
      if (
        batch !== undefined &&
        batch.subject === subject &&
        batch.texts.length < this.maxBatch &&
        batch.chars + text.length <= this.batchChars
      ) {
        batch.texts.push(text);
        batch.chars += text.length;
      } else {
        if (batch !== undefined) this.flush();
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
          new KindlingError(
            'INVALID',
            `an event on ${subject} is larger than the NATS server accepts (max_payload ${String(maxPayload)} bytes)`,
            {
              cause: error,
              details: { subject, maxPayload },
            },
          ),
        );
      }
      return Promise.reject(error instanceof KindlingError ? error : this.link.unavailable(messageOf(error), error));
    }
    return confirm ? this.confirm() : SENT;
  }

  /** Publishes the waiting batch (a failure loses it: it was fire-and-forget, so it is logged). */
  flush(): void {
    const batch = this.batch;
    if (batch === undefined) return;
    this.batch = undefined;
    try {
      const nc = this.link.connection;
      if (nc === undefined) throw new Error('the transport disconnected');
      nc.publish(batch.subject, batchBytes(batch.texts));
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
      const nc = this.link.connection;
      if (nc === undefined || !this.link.connected) throw this.link.unavailable('NATS disconnected before confirming');
      this.flush();
      const lost = this.lostSince;
      this.lostSince = undefined;
      if (lost !== undefined) throw this.link.unavailable(lost);
      return nc.flush().catch((error: unknown) => {
        throw this.link.unavailable(`NATS did not confirm: ${messageOf(error)}`, error);
      });
    });
    return this.confirming;
  }
}
