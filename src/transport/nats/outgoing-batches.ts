import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from 'nats';
import { KindlingError, messageOf } from '../../common/errors.js';
import type { LogThrottle } from '../../common/logger.js';
import { SENT } from '../../events/core/transport.js';
import type { NatsLink } from './nats-link.js';
import { UNKEPT, batchBytes, dataJSON, kept, keptData, plainRunHead, plainRunText, plainText } from './wire-format.js';

/** Consecutive events of one subject, waiting for the end of the turn to leave as one message. */
interface Batch {
  readonly subject: string;
  readonly texts: string[];
  chars: number;
  /** The trace context of its first event that has one, for the message's headers (each event carries its own too). */
  trace?: Readonly<Record<string, string>> | undefined;
}

/** NATS headers of a trace context (`traceparent`, `tracestate`). */
function traceHeaders(trace: Readonly<Record<string, string>>): MsgHdrs {
  const h = natsHeaders();
  for (const key in trace) h.set(key, trace[key] as string);
  return h;
}

/**
 * Consecutive plain events of one subject from this node (see `NatsTransport.sendPlain`) with
 * consecutive sequence numbers: they leave as one run ({@link plainRunText}), whose header line is
 * written once and whose data the receiver parses as one JSON array. Their data is kept as
 * snapshots ({@link keptData}) that one `JSON.stringify` encodes at flush, until an event whose data
 * must be encoded at once joins: then every event's data is JSON text (`encoded`).
 */
interface Run {
  readonly subject: string;
  readonly eventType: 'emit' | 'broadcast';
  readonly first: number;
  readonly firstTime: number;
  /** The time of the last event. */
  time: number;
  /** `[index, time, ...]` of each event whose time differs from the one before, if any does. */
  changes: number[] | undefined;
  /** The data of each event: JSON texts (none `undefined`) when `encoded`, else snapshots. */
  readonly items: unknown[];
  encoded: boolean;
  /**
   * UTF-16 units of the run's text, at most (header line included); of snapshots an estimate
   * (their escapes not counted), checked when the run is encoded.
   */
  chars: number;
}

/**
 * Encodes the snapshots of a run ({@link keptData}) as the JSON texts `JSON.stringify` gives each,
 * and counts its units exactly; `head` is what its header line may take.
 */
function encodeRun(run: Run, head: number): void {
  const items = run.items;
  let chars = head + (run.changes === undefined ? 0 : 20 * run.changes.length);
  for (let i = 0; i < items.length; i++) {
    const json = JSON.stringify(items[i]);
    items[i] = json;
    chars += json.length + 1;
  }
  run.encoded = true;
  run.chars = chars;
}

/**
 * A batch stays under this many UTF-16 units (32 events of 128 bytes fit several times over): with
 * events larger than that, the per-message cost NATS saves is already small. An event larger than
 * this travels alone.
 */
const BATCH_CHARS = 16_000;

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
  /** The message waiting for the end of the turn: a batch of envelope texts or a run (never both). */
  private batch: Batch | undefined;
  private run: Run | undefined;
  /** This node's id, which heads a run (set on connect; it has no line break). */
  source = '';
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
  // eslint-disable-next-line @typescript-eslint/max-params -- once per event: no options object
  enqueue(
    nc: NatsConnection,
    subject: string,
    text: string,
    confirm: boolean,
    trace?: Readonly<Record<string, string>>,
  ): Promise<void> {
    try {
      const run = this.run;
      if (run !== undefined && run.subject === subject) this.runToBatch(run);
      const batch = this.batch;
      if (
        batch !== undefined &&
        batch.subject === subject &&
        batch.texts.length < this.maxBatch &&
        batch.chars + text.length <= this.batchChars
      ) {
        batch.texts.push(text);
        batch.chars += text.length;
        if (trace !== undefined) batch.trace ??= trace;
      } else {
        if (batch !== undefined || this.run !== undefined) this.flush();
        if (this.maxBatch === 1 || text.length > this.batchChars) {
          // Alone: published now, so that a refusal (too large for the server) reaches the caller.
          nc.publish(subject, batchBytes([text]), trace === undefined ? undefined : { headers: traceHeaders(trace) });
        } else {
          this.batch = { subject, texts: [text], chars: text.length, trace };
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

  /**
   * Adds a plain event (`NatsTransport.sendPlain`) to the run of its subject, or starts one;
   * fire-and-forget like {@link enqueue} without `confirm`. Its data is kept as a snapshot when it
   * can be ({@link keptData}), else encoded now (`INVALID` when JSON cannot encode it). What cannot
   * join a run (no data, too large, `maxBatch` 1, a gap in the sequence numbers, a batch of envelope
   * texts of the same subject waiting) goes as an envelope text through {@link enqueue}.
   */
  // eslint-disable-next-line @typescript-eslint/max-params -- the fast path of every plain emit: no options object per event
  enqueuePlain(
    nc: NatsConnection,
    subject: string,
    eventType: 'emit' | 'broadcast',
    sequence: number,
    time: number,
    name: string,
    data: unknown,
  ): Promise<void> {
    let item: unknown = UNKEPT;
    let json: string | undefined;
    let size = 0;
    try {
      let source = data;
      if (this.maxBatch > 1) {
        item = keptData(name, data);
        if (item === UNKEPT) {
          source = kept.copy ?? data;
          kept.copy = undefined;
        } else if (kept.most > this.batchChars) {
          // Too large to be sure of fitting a batch: encoded now, from the snapshot (getters read once).
          source = item;
          item = UNKEPT;
        } else size = kept.chars;
      }
      if (item === UNKEPT) {
        json = dataJSON(name, source);
        item = json;
        size = json === undefined ? 0 : json.length;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const encoded = json !== undefined;
    if (item !== undefined && this.maxBatch > 1 && size <= this.batchChars) {
      const run = this.run;
      if (run !== undefined && run.subject === subject) {
        const items = run.items;
        const change = run.time === time ? 0 : 40;
        if (items.length < this.maxBatch && run.chars + 1 + size + change <= this.batchChars) {
          if (run.first + items.length === sequence) {
            if (change !== 0) {
              (run.changes ??= []).push(items.length, time);
              run.time = time;
              run.chars += change;
            }
            if (run.encoded) items.push(encoded ? item : JSON.stringify(item));
            else {
              if (encoded) encodeRun(run, this.source.length + 64);
              items.push(item);
            }
            run.chars += size + 1;
            return SENT;
          }
          // A gap in the sequence numbers: enqueue turns the run into envelope texts, which this joins.
        } else return this.startRun(subject, eventType, sequence, time, item, encoded, size);
      } else if (this.batch?.subject !== subject || this.batch.texts.length >= this.maxBatch) {
        return this.startRun(subject, eventType, sequence, time, item, encoded, size);
      }
    }
    if (!encoded && item !== undefined) json = JSON.stringify(item);
    return this.enqueue(nc, subject, plainText(eventType, sequence, time, this.source, json), false);
  }

  /** Publishes the waiting batch or run (a failure loses it: it was fire-and-forget, so it is logged). */
  flush(): void {
    const run = this.run;
    if (run !== undefined) {
      this.run = undefined;
      const items = run.items;
      const count = items.length;
      if (count === 1) {
        const json = run.encoded ? (items[0] as string) : JSON.stringify(items[0]);
        this.publish(run.subject, 1, plainText(run.eventType, run.first, run.firstTime, this.source, json));
        return;
      }
      let times = String(run.firstTime);
      const changes = run.changes;
      if (changes !== undefined)
        for (let i = 0; i < changes.length; i += 2) times += `,${changes[i]}:${changes[i + 1]}`;
      if (run.encoded) {
        this.publish(run.subject, count, plainRunText(run.eventType, run.first, times, this.source, items as string[]));
        return;
      }
      const json = JSON.stringify(items);
      const head = plainRunHead(run.eventType, count, run.first, times, this.source);
      if (head.length + json.length > this.batchChars) {
        // Escapes made the snapshots longer than estimated: the events leave in smaller batches.
        encodeRun(run, this.source.length + 64);
        this.runToBatch(run);
        this.flush();
        return;
      }
      this.publish(run.subject, count, head + json);
      return;
    }
    const batch = this.batch;
    if (batch === undefined) return;
    this.batch = undefined;
    this.publish(batch.subject, batch.texts.length, batch.texts, batch.trace);
  }

  /** Sends what is waiting, and starts a run with this event. */
  // eslint-disable-next-line @typescript-eslint/max-params -- the fast path of every plain emit: no options object per event
  private startRun(
    subject: string,
    eventType: 'emit' | 'broadcast',
    sequence: number,
    time: number,
    item: unknown,
    encoded: boolean,
    size: number,
  ): Promise<void> {
    if (this.run !== undefined || this.batch !== undefined) this.flush();
    // The header line: at most 64 units besides the source (ASCII, as node ids are).
    const chars = size + this.source.length + 64;
    this.run = {
      subject,
      eventType,
      first: sequence,
      firstTime: time,
      time,
      changes: undefined,
      items: [item],
      encoded,
      chars,
    };
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushTask);
    }
    return SENT;
  }

  /**
   * Turns the waiting run into a batch of envelope texts, so that an event that cannot join a run
   * still leaves in the same message (what does not fit leaves now).
   */
  private runToBatch(run: Run): void {
    this.run = undefined;
    if (!run.encoded) encodeRun(run, this.source.length + 64);
    const { subject, eventType, first, changes } = run;
    const jsons = run.items as string[];
    let time = run.firstTime;
    let change = 0;
    let batch: Batch = { subject, texts: [], chars: 0 };
    for (let i = 0; i < jsons.length; i++) {
      if (changes !== undefined && changes[change] === i) {
        time = changes[change + 1] as number;
        change += 2;
      }
      const text = plainText(eventType, first + i, time, this.source, jsons[i]);
      if (batch.texts.length > 0 && batch.chars + text.length > this.batchChars) {
        this.batch = batch;
        this.flush();
        batch = { subject, texts: [], chars: 0 };
      }
      batch.texts.push(text);
      batch.chars += text.length;
    }
    this.batch = batch;
  }

  /** Publishes one message: a text, or envelope texts as a batch ({@link batchBytes}). */
  private publish(
    subject: string,
    count: number,
    message: string | readonly string[],
    trace?: Readonly<Record<string, string>>,
  ): void {
    try {
      const nc = this.link.connection;
      if (nc === undefined) throw new Error('the transport disconnected');
      nc.publish(
        subject,
        typeof message === 'string' ? Buffer.from(message, 'utf8') : batchBytes(message),
        trace === undefined ? undefined : { headers: traceHeaders(trace) },
      );
    } catch (error) {
      const reason = `${count} event(s) on ${subject} were not sent: ${messageOf(error)}`;
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
