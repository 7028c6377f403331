import { KindlingError, messageOf } from '../../common/errors.js';
import { EMPTY_META, type EventEnvelope } from '../../events/core/event-envelope.js';
import { BATCH_HEAD, MODE_HEADS, MODE_HEADS_EXTRAS, RUN_HEAD } from './wire-header.js';

/** The optional fields of a version-2 envelope, present only when they differ from their default. */
interface Extras {
  /** id, when it is not `${source}-${sequence}` */
  i?: string;
  /** source, when it has a line break */
  o?: string;
  /** time, when it is not a non-negative integer */
  t?: number;
  /** name, when the subject does not carry it as it is */
  n?: string;
  /** path (default `''`) */
  p?: string;
  /** meta (default `{}`) */
  m?: Record<string, unknown>;
  /** trace.requestID (default: the id) */
  r?: string;
  /** trace.parentID */
  q?: string;
  /** trace.caller */
  c?: string;
  /** groups */
  g?: readonly string[];
  /** servedSlots (local preference) */
  h?: readonly string[];
  /** system and kind, when they are not the name split at its first dot */
  s?: string;
  k?: string;
  /** the trace context (`traceparent`, `tracestate`) of the publish, when telemetry is on */
  x?: Readonly<Record<string, string>>;
}

function hasKeys(value: object): boolean {
  for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) return true;
  return false;
}

/**
 * The sequence number of an id the bus made (`${source}-${sequence}`), sent as a bare number; `-1`
 * when the id has another form (then it is sent as text).
 */
function sequenceOf(id: string, source: string): number {
  const start = source.length + 1;
  const length = id.length - start;
  if (length < 1 || length > 15 || id.charCodeAt(source.length) !== 45 || !id.startsWith(source)) return -1;
  if (id.charCodeAt(start) === 48) return -1; // a leading zero would not survive the round trip
  let value = 0;
  for (let i = start; i < id.length; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Whether `system`/`kind` are what {@link splitEventName} gives for `name` (then they are not sent). */
function derived(name: string, system: string, kind: string): boolean {
  if (system.includes('.')) return false;
  if (kind === '') return name === system;
  return (
    name.length === system.length + 1 + kind.length &&
    name.startsWith(system) &&
    name.charCodeAt(system.length) === 46 &&
    name.endsWith(kind)
  );
}

function extrasOf(envelope: EventEnvelope, nameInSubject: boolean): Extras | undefined {
  let extras: Extras | undefined;
  if (!nameInSubject) (extras ??= {}).n = envelope.name;
  if (envelope.path !== '') (extras ??= {}).p = envelope.path;
  const meta = envelope.meta;
  if (meta !== EMPTY_META && hasKeys(meta)) (extras ??= {}).m = meta;
  const trace = envelope.trace;
  if (trace.requestID !== envelope.id) (extras ??= {}).r = trace.requestID;
  if (trace.parentID !== undefined) (extras ??= {}).q = trace.parentID;
  if (trace.caller !== undefined) (extras ??= {}).c = trace.caller;
  if (envelope.groups !== undefined) (extras ??= {}).g = envelope.groups;
  if (envelope.servedSlots !== undefined) (extras ??= {}).h = envelope.servedSlots;
  if (envelope.traceContext !== undefined) (extras ??= {}).x = envelope.traceContext;
  if (!derived(envelope.name, envelope.system, envelope.kind)) {
    extras ??= {};
    extras.s = envelope.system;
    extras.k = envelope.kind;
  }
  return extras;
}

/**
 * Encodes an envelope for the wire, once (version 2): a header line, an optional extras line, then
 * the data as JSON, so that the receiver parses as JSON only the payload (and the extras when there
 * are any):
 *
 * ```
 * 2 <mode>[+] <id> <time> <source>\n[<extras JSON>\n]<data JSON>
 * ```
 *
 * `mode` is `e` emit, `b` broadcast, `l` broadcastLocal, followed by `+` when an extras line follows;
 * `id` is the bare sequence number of an id `${source}-${n}` (as the bus makes them), or `-` with
 * the id in the extras; `source` is the rest of the line (in the extras, and empty here, when it has
 * a line break). The extras object carries only what differs from its default: `i` id, `o` source,
 * `n` name, `p` path, `m` meta, `r` requestID, `q` parentID, `c` caller, `g` groups, `h` served slots, `s`/`k` system
 * and kind when they are not the name split at its first dot, `x` the W3C trace context
 * (`{ traceparent, tracestate }`, each event of a batch its own). The data is absent when `undefined`.
 * The name is left out when `nameInSubject` says the subject carries it unescaped after the
 * `<prefix>.emit.` / `<prefix>.bcast.` base (the receiver reads it from there). Data travels as JSON
 * (no line breaks): a `Date` becomes its ISO text (a broker event's `timestamp` is revived). Throws
 * `INVALID` for data JSON cannot encode (a cycle, a BigInt).
 *
 * @example
 * nc.publish(subject, encodeEnvelope(envelope));
 */
export function encodeEnvelope(envelope: EventEnvelope, nameInSubject = false): Uint8Array {
  // Buffer.from takes a slice of Node's pool: several times cheaper than TextEncoder for small texts.
  return Buffer.from(envelopeText(envelope, nameInSubject), 'utf8');
}

/**
 * Encodes several envelopes of one subject as one message (a batch): a line `2* <count>`, then each
 * envelope as {@link encodeEnvelope} writes it followed by a line break (an envelope without data
 * ends in an empty line). The transport sends consecutive events of one subject this way; every
 * envelope keeps its own header, so ids, times, meta and groups travel per event. Throws `INVALID`
 * as {@link encodeEnvelope} does.
 *
 * @example
 * nc.publish(subject, encodeEnvelopes([first, second], true));
 */
export function encodeEnvelopes(envelopes: readonly EventEnvelope[], nameInSubject = false): Uint8Array {
  return batchBytes(envelopes.map((envelope) => envelopeText(envelope, nameInSubject)));
}

/** @internal One message of envelope texts ({@link envelopeText}): the text itself when alone, else a batch. */
export function batchBytes(texts: readonly string[]): Uint8Array {
  if (texts.length === 1) return Buffer.from(texts[0] as string, 'utf8');
  return Buffer.from(`${BATCH_HEAD}${texts.length}\n${texts.join('\n')}\n`, 'utf8');
}

/**
 * @internal The text {@link envelopeText} writes for an envelope whose optional fields all have
 * their defaults (no path, meta, groups or trace of its own; system and kind split from the name;
 * the name carried by the subject), built from its parts without the envelope: the transport's fast
 * path for a plain `emit`/`broadcast`. `sequence` is a positive safe integer, `time` a non-negative
 * one, `source` has no line break; the caller sees to that. Throws `INVALID` as `envelopeText` does.
 */
// eslint-disable-next-line @typescript-eslint/max-params -- the fast path of every plain emit: no options object per event
export function plainEnvelopeText(
  eventType: 'emit' | 'broadcast',
  name: string,
  sequence: number,
  time: number,
  source: string,
  data: unknown,
): string {
  return plainText(eventType, sequence, time, source, dataJSON(name, data));
}

/** @internal {@link plainEnvelopeText} of data already encoded ({@link dataJSON}). */
// eslint-disable-next-line @typescript-eslint/max-params -- the fast path of every plain emit: no options object per event
export function plainText(
  eventType: 'emit' | 'broadcast',
  sequence: number,
  time: number,
  source: string,
  json: string | undefined,
): string {
  return MODE_HEADS[eventType] + sequence + ' ' + time + ' ' + source + '\n' + (json ?? '');
}

/**
 * @internal The data of event `name` as JSON, or `undefined` for data JSON leaves out (undefined, a
 * function): the envelope then has no data. Throws `INVALID` for data JSON cannot encode.
 */
export function dataJSON(name: string, data: unknown): string | undefined {
  try {
    return JSON.stringify(data);
  } catch (error) {
    throw unencodable(name, error);
  }
}

/** @internal What {@link keptData} returns for data it does not keep: the caller encodes it now ({@link dataJSON}). */
export const UNKEPT: unique symbol = Symbol('unkept');

/**
 * @internal What {@link keptData} tells of its last call, read right after it: the UTF-16 units the
 * JSON of the data it kept takes without escapes (numbers counted at their longest, 24) and at most
 * with them; for data it did not keep, the shallow copy it made (`undefined` if none), which is to be
 * encoded instead of the data so that no getter is read twice.
 */
export const kept: { chars: number; most: number; copy: object | undefined } = { chars: 0, most: 0, copy: undefined };

const OBJECT_PROTOTYPE = Object.prototype;

/**
 * @internal A snapshot of event `name`'s data that `JSON.stringify` encodes later, as one array with
 * the other events of its run, to the same text it would give now: a string, a finite or other
 * number, a boolean or `null` as it is (immutable), a plain object whose own enumerable values are
 * all of those (or `undefined`) as a shallow copy, its getters read now. Anything else (nested
 * objects, arrays, class instances, dates, functions, BigInts) is {@link UNKEPT}: the caller encodes
 * it now with {@link dataJSON} (its shallow copy if one was made: {@link kept}), as JSON.stringify per event costs several times more than one
 * stringify of the run. {@link kept} tells its size. Throws `INVALID` when reading the data throws.
 */
export function keptData(name: string, data: unknown): unknown {
  kept.copy = undefined;
  switch (typeof data) {
    case 'string':
      kept.chars = data.length + 2;
      kept.most = 6 * data.length + 2;
      return data;
    case 'number':
      kept.chars = kept.most = 24;
      return data;
    case 'boolean':
      kept.chars = kept.most = 5;
      return data;
    case 'object':
      break;
    default:
      return UNKEPT;
  }
  if (data === null) {
    kept.chars = kept.most = 4;
    return data;
  }
  let copy: Record<string, unknown>;
  try {
    const prototype: unknown = Object.getPrototypeOf(data);
    if (prototype !== OBJECT_PROTOTYPE && prototype !== null) return UNKEPT;
    copy = { ...data };
  } catch (error) {
    throw unencodable(name, error);
  }
  // `{"key":value,...}`: the braces, and per field its quoted key, a colon and a comma.
  let chars = 2;
  let text = 0;
  for (const key in copy) {
    const value = copy[key];
    switch (typeof value) {
      case 'string':
        chars += key.length + value.length + 6;
        text += key.length + value.length;
        break;
      case 'number':
        chars += key.length + 28;
        text += key.length;
        break;
      case 'boolean':
        chars += key.length + 9;
        text += key.length;
        break;
      case 'undefined':
        break;
      default:
        if (value !== null) {
          kept.copy = copy;
          return UNKEPT;
        }
        chars += key.length + 8;
        text += key.length;
    }
  }
  // An escape takes at most 6 units for 1 (`\u001f`).
  kept.chars = chars;
  kept.most = chars + 5 * text;
  return copy;
}

/**
 * @internal The header line of a plain run ({@link plainRunText}), up to and including its line break.
 */
// eslint-disable-next-line @typescript-eslint/max-params -- once per batch on the fast path: no options object
export function plainRunHead(
  eventType: 'emit' | 'broadcast',
  count: number,
  first: number,
  times: string,
  source: string,
): string {
  return RUN_HEAD + count + (eventType === 'emit' ? ' e ' : ' b ') + first + ' ' + times + ' ' + source + '\n';
}

/**
 * @internal The text of a plain run: two or more plain events of one subject and mode from one
 * source, with consecutive sequence numbers from `first`, whose optional fields all have their
 * defaults (what {@link plainEnvelopeText} would write one by one). `times` is the time of the
 * first event, followed by `,<index>:<time>` for each event (by its index in the run) whose time
 * differs from the one before. `jsons` is their data JSON (none `undefined`), which the run carries
 * as one JSON array after the header line, so that the receiver parses it once:
 *
 * ```
 * 2= <count> <mode> <first> <times> <source>\n[<data>,<data>,...]
 * ```
 *
 * `jsons` is used up (its first and last texts change): the text is joined in one pass.
 */
// eslint-disable-next-line @typescript-eslint/max-params -- once per batch on the fast path: no options object
export function plainRunText(
  eventType: 'emit' | 'broadcast',
  first: number,
  times: string,
  source: string,
  jsons: string[],
): string {
  const last = jsons.length - 1;
  jsons[0] = plainRunHead(eventType, jsons.length, first, times, source) + '[' + jsons[0];
  jsons[last] += ']';
  return jsons.join(',');
}

function unencodable(name: string, error: unknown): KindlingError {
  return new KindlingError('INVALID', `event ${name} cannot be encoded for the wire: ${messageOf(error)}`, {
    cause: error,
    details: { event: name },
  });
}

/** @internal The text of {@link encodeEnvelope}, before it becomes bytes (the transport joins several). */
export function envelopeText(envelope: EventEnvelope, nameInSubject: boolean): string {
  try {
    let extras = extrasOf(envelope, nameInSubject);
    const data = JSON.stringify(envelope.data) as string | undefined;
    let source = envelope.source;
    const sequence = sequenceOf(envelope.id, source);
    if (sequence < 0) (extras ??= {}).i = envelope.id;
    let time = envelope.time;
    if (!Number.isSafeInteger(time) || time < 0) {
      (extras ??= {}).t = time;
      time = 0;
    }
    if (source.includes('\n') || source.includes('\r')) {
      (extras ??= {}).o = source;
      source = '';
    }
    return (
      (extras === undefined ? MODE_HEADS[envelope.eventType] : MODE_HEADS_EXTRAS[envelope.eventType]) +
      (sequence < 0 ? '-' : String(sequence)) +
      ' ' +
      time +
      ' ' +
      source +
      '\n' +
      (extras === undefined ? '' : JSON.stringify(extras) + '\n') +
      (data ?? '')
    );
  } catch (error) {
    throw unencodable(envelope.name, error);
  }
}
