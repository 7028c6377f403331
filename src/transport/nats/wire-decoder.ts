import { KindlingError, messageOf } from '../../common/errors.js';
import { SequenceIds } from '../../common/sequence-ids.js';
import { show } from '../../common/visible-text.js';
import { EMPTY_META, type DeliveryMode, type EventEnvelope } from '../../events/core/event-envelope.js';
import { BATCH_HEAD, LEGACY_VERSION, MODES, RUN_HEAD, WIRE_VERSION } from './wire-header.js';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** At most this many characters of a peer's text are quoted in a reason (a reason is logged and stored). */
const QUOTE_CHARS = 64;

function fail(reason: string): never {
  throw new KindlingError('INVALID', `undecodable event envelope: ${reason}`, { details: { reason } });
}

function str(value: unknown, field: string): string {
  if (typeof value !== 'string') fail(`field ${field} must be a string`);
  return value;
}

function optionalStr(value: unknown, field: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') fail(`field ${field} must be a string`);
  return value;
}

function checkGroups(groups: unknown, field = 'groups'): readonly string[] | undefined {
  if (groups === undefined) return undefined;
  if (!Array.isArray(groups)) fail(`field ${field} must be a list of strings`);
  for (let i = 0; i < groups.length; i++)
    if (typeof groups[i] !== 'string') fail(`field ${field} must be a list of strings`);
  return groups as readonly string[];
}

function splitName(name: string): [string, string] {
  const dot = name.indexOf('.');
  return dot < 0 ? [name, ''] : [name.slice(0, dot), name.slice(dot + 1)];
}

/** The data of a broker event: its `timestamp` is a `Date`, which JSON carried as text. */
function reviveBrokerData(data: unknown): unknown {
  if (typeof data === 'object' && data !== null && typeof (data as { timestamp?: unknown }).timestamp === 'string') {
    return { ...data, timestamp: new Date((data as { timestamp: string }).timestamp) };
  }
  return data;
}

/** The data of an event of `system`, as its publisher handed it over ({@link reviveBrokerData}). */
function revive(system: string, data: unknown): unknown {
  return system === 'broker' ? reviveBrokerData(data) : data;
}

/** A non-negative decimal integer of `text[start, end)`, or -1. */
function decimal(text: string, start: number, end: number): number {
  if (end <= start || end - start > 16) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function parseJSON(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    fail(`the ${what} is not JSON (${messageOf(error)})`);
  }
}

/** Where reading a text has got to. */
interface Cursor {
  at: number;
}

/** What the previous message had: most messages of a subscription repeat it. */
interface RunCache {
  source: string;
  /** The ids of the source's events: `${source}-${sequence}`. */
  ids: SequenceIds;
  name: string;
  system: string;
  kind: string;
}

/** The source at the end of a header line, from `from` to `lineEnd`: the last one again when it repeats. */
function sourceOfLine(text: string, from: number, lineEnd: number, last: RunCache): string {
  if (lineEnd - from === last.source.length && text.startsWith(last.source, from)) return last.source;
  const source = text.slice(from, lineEnd);
  last.source = source;
  last.ids = new SequenceIds(`${source}-`);
  return source;
}

/**
 * Reads wire envelopes ({@link decodeEnvelope}, {@link decodeEnvelopes}) and remembers the source
 * and split name of the last one it read: messages come in runs from one node about one name, so a
 * decoder kept for a subscription reuses them instead of slicing and splitting again. One decoder
 * holds no other state; every call is complete in itself.
 *
 * @example
 * const decoder = new EnvelopeDecoder();
 * for (const envelope of decoder.decodeAll(msg.data, name)) deliver(envelope);
 */
export class EnvelopeDecoder {
  private readonly last: RunCache = { source: '', ids: new SequenceIds('-'), name: '', system: '', kind: '' };

  /** Decodes a message that holds one envelope; see {@link decodeEnvelope}. */
  decode(bytes: Uint8Array, subjectName?: string): EventEnvelope {
    const text = utf8(bytes);
    if (isBatch(text) || isRun(text)) fail('a batch of envelopes (decodeEnvelopes reads it)');
    return this.decodeSingle(text, subjectName);
  }

  /** Decodes a message of one envelope or a batch; see {@link decodeEnvelopes}. */
  decodeAll(bytes: Uint8Array, subjectName?: string): EventEnvelope[] {
    const text = utf8(bytes);
    if (isRun(text)) return this.decodeRun(text, subjectName);
    return isBatch(text) ? this.decodeBatch(text, subjectName) : [this.decodeSingle(text, subjectName)];
  }

  /** A plain run: `2= <count> <mode> <first> <time> <source>` and the data of each event as one JSON array. */
  private decodeRun(text: string, subjectName: string | undefined): EventEnvelope[] {
    const last = this.last;
    const lineEnd = text.indexOf('\n');
    const s1 = text.indexOf(' ', RUN_HEAD.length);
    const s2 = s1 < 0 ? -1 : text.indexOf(' ', s1 + 1);
    const s3 = s2 < 0 ? -1 : text.indexOf(' ', s2 + 1);
    const s4 = s3 < 0 ? -1 : text.indexOf(' ', s3 + 1);
    if (lineEnd < 0 || s4 < 0 || s4 > lineEnd)
      fail(
        `the run line ${show(text.slice(0, lineEnd < 0 ? 24 : lineEnd), QUOTE_CHARS)} is not "2= <count> <mode> <first> <time> <source>"`,
      );
    const count = decimal(text, RUN_HEAD.length, s1);
    if (count < 2) fail(`run count ${show(text.slice(RUN_HEAD.length, s1), QUOTE_CHARS)} is not a number above 1`);
    const mode = s2 === s1 + 2 ? text.charCodeAt(s1 + 1) : 0;
    const eventType: DeliveryMode | undefined = mode === 101 ? 'emit' : mode === 98 ? 'broadcast' : undefined; // e b
    if (eventType === undefined) fail(`delivery mode ${show(text.slice(s1 + 1, s2), QUOTE_CHARS)} is unknown`);
    const first = decimal(text, s2 + 1, s3);
    if (first < 0 || first > Number.MAX_SAFE_INTEGER - (count - 1))
      fail(`first sequence number ${show(text.slice(s2 + 1, s3), QUOTE_CHARS)} is not a number`);
    // "<time>[,<index>:<time>...]": the time of the first event, then each change by index.
    let comma = text.indexOf(',', s3 + 1);
    if (comma > s4) comma = -1;
    let time = decimal(text, s3 + 1, comma < 0 ? s4 : comma);
    if (time < 0) fail(`time ${show(text.slice(s3 + 1, s4), QUOTE_CHARS)} is not a number`);
    const changes = comma < 0 ? undefined : runTimes(text, comma, s4, count);
    if (subjectName === undefined) fail('the name is neither in the message nor in its subject');
    const source = sourceOfLine(text, s4 + 1, lineEnd, last);
    if (text.charCodeAt(lineEnd + 1) !== 91) fail('the data of a run is not a JSON array'); // "["
    const datas = parseJSON(text.slice(lineEnd + 1), 'data');
    if (!Array.isArray(datas) || datas.length !== count)
      fail(`the data of a run is not a JSON array of the ${count} events the run line announces`);
    if (subjectName !== last.name) {
      last.name = subjectName;
      [last.system, last.kind] = splitName(subjectName);
    }
    const { ids, system, kind } = last;
    const broker = system === 'broker';
    const envelopes: EventEnvelope[] = [];
    let change = 0;
    for (let i = 0; i < count; i++) {
      if (changes !== undefined && changes[change] === i) {
        time = changes[change + 1] as number;
        change += 2;
      }
      const id = ids.idOf(first + i);
      envelopes.push({
        id,
        name: subjectName,
        system,
        kind,
        path: '',
        data: broker ? reviveBrokerData(datas[i]) : datas[i],
        meta: EMPTY_META,
        time,
        trace: { requestID: id, parentID: undefined, caller: undefined },
        source,
        eventType,
        groups: undefined,
      });
    }
    return envelopes;
  }

  private decodeBatch(text: string, subjectName: string | undefined): EventEnvelope[] {
    const lineEnd = text.indexOf('\n');
    const count = lineEnd < 0 ? -1 : decimal(text, BATCH_HEAD.length, lineEnd);
    if (count < 1)
      fail(`the batch line ${show(text.slice(0, lineEnd < 0 ? 24 : lineEnd), QUOTE_CHARS)} is not "2* <count>"`);
    const envelopes: EventEnvelope[] = [];
    const cursor: Cursor = { at: lineEnd + 1 };
    for (let i = 0; i < count; i++) {
      try {
        const at = cursor.at;
        if (at >= text.length) fail(`the batch ends after ${i} envelope(s)`);
        if (text.charCodeAt(at) !== 50 || text.charCodeAt(at + 1) !== 32)
          fail('not a version-2 envelope ("2 <mode> ...")');
        envelopes.push(this.decodeText(text, cursor, true, subjectName));
      } catch (error) {
        fail(`envelope ${i + 1} of ${count}: ${reasonOf(error)}`);
      }
    }
    if (cursor.at !== text.length) fail(`more text after the ${count} envelope(s) the batch announces`);
    return envelopes;
  }

  private decodeSingle(text: string, subjectName: string | undefined): EventEnvelope {
    if (text.charCodeAt(0) === 50 && text.charCodeAt(1) === 32)
      return this.decodeText(text, { at: 0 }, false, subjectName); // "2 "
    if (text.charCodeAt(0) === 123) {
      // "{": version 1
      const raw = parseJSON(text, 'message');
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('not a JSON object');
      return decodeLegacy(raw as Record<string, unknown>);
    }
    const version = /^(\d+) /.exec(text.slice(0, 12));
    if (version !== null)
      fail(`format version ${version[1]} is not supported (this node reads ${WIRE_VERSION} and ${LEGACY_VERSION})`);
    fail('not a kindling event envelope (neither "2 <mode> ..." nor a version-1 JSON object)');
  }

  /**
   * Decodes the envelope that starts at `cursor.at`: the rest of the text when alone, up to the line
   * break after its data (or its empty data line) inside a batch; leaves `cursor.at` where it ended
   * (inside a batch: where the next one starts).
   */
  private decodeText(text: string, cursor: Cursor, inBatch: boolean, subjectName: string | undefined): EventEnvelope {
    const start = cursor.at;
    const last = this.last;
    // "2 <mode>[+] <id> <time> <source>\n"
    const lineEnd = text.indexOf('\n', start);
    if (lineEnd < 0) fail('no header line');
    const s1 = text.indexOf(' ', start + 2);
    const s2 = s1 < 0 ? -1 : text.indexOf(' ', s1 + 1);
    const s3 = s2 < 0 ? -1 : text.indexOf(' ', s2 + 1);
    if (s3 < 0 || s3 > lineEnd) fail('the header line is not "2 <mode> <id> <time> <source>"');
    const mode = text.charCodeAt(start + 2);
    const eventType: DeliveryMode | undefined =
      mode === 101 ? 'emit' : mode === 98 ? 'broadcast' : mode === 108 ? 'broadcastLocal' : undefined; // e b l
    const withExtras = s1 === start + 4 && text.charCodeAt(start + 3) === 43; // '+'
    if (eventType === undefined || (s1 !== start + 3 && !withExtras))
      fail(`delivery mode ${show(text.slice(start + 2, s1), QUOTE_CHARS)} is unknown`);
    const sequence = decimal(text, s1 + 1, s2);
    if (sequence < 0 && !(s2 === s1 + 2 && text.charCodeAt(s1 + 1) === 45))
      fail(`id ${show(text.slice(s1 + 1, s2), QUOTE_CHARS)} is neither a sequence number nor "-"`);
    const time = decimal(text, s2 + 1, s3);
    if (time < 0) fail(`time ${show(text.slice(s2 + 1, s3), QUOTE_CHARS)} is not a number`);
    // Messages come in runs from one node about one name: the last source and split name are reused.
    let source = sourceOfLine(text, s3 + 1, lineEnd, last);
    let dataStart = lineEnd + 1;
    let e: Record<string, unknown> | undefined;
    if (withExtras) {
      const extrasEnd = text.indexOf('\n', dataStart);
      if (extrasEnd < 0) fail('the extras line is missing');
      const x = parseJSON(text.slice(dataStart, extrasEnd), 'extras line');
      if (typeof x !== 'object' || x === null || Array.isArray(x)) fail('the extras line is not a JSON object');
      e = x as Record<string, unknown>;
      dataStart = extrasEnd + 1;
    }
    const dataEnd = inBatch ? text.indexOf('\n', dataStart) : text.length;
    if (dataEnd < 0) fail('the batch ends inside an envelope');
    cursor.at = inBatch ? dataEnd + 1 : dataEnd;
    const data = dataStart < dataEnd ? parseJSON(text.slice(dataStart, dataEnd), 'data') : undefined;
    if (e === undefined) {
      if (subjectName === undefined) fail('the name is neither in the message nor in its subject');
      if (sequence < 0) fail('field id is missing');
      const id = last.ids.prefix + text.slice(s1 + 1, s2);
      if (subjectName !== last.name) {
        last.name = subjectName;
        [last.system, last.kind] = splitName(subjectName);
      }
      const system = last.system;
      const kind = last.kind;
      return {
        id,
        name: subjectName,
        system,
        kind,
        path: '',
        data: revive(system, data),
        meta: EMPTY_META,
        time,
        trace: { requestID: id, parentID: undefined, caller: undefined },
        source,
        eventType,
        groups: undefined,
      };
    }
    source = optionalStr(e['o'], 'source') ?? source;
    const id = sequence < 0 ? str(e['i'], 'id') : `${source}-${text.slice(s1 + 1, s2)}`;
    const name = optionalStr(e['n'], 'name') ?? subjectName;
    if (name === undefined) fail('the name is neither in the message nor in its subject');
    let system = optionalStr(e['s'], 'system');
    let kind = optionalStr(e['k'], 'kind');
    if (system === undefined || kind === undefined) [system, kind] = splitName(name);
    const meta = e['m'];
    if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta)))
      fail('field meta must be an object');
    return {
      id,
      name,
      system,
      kind,
      path: optionalStr(e['p'], 'path') ?? '',
      data: revive(system, data),
      meta: (meta as Record<string, unknown> | undefined) ?? EMPTY_META,
      time: typeof e['t'] === 'number' ? e['t'] : time,
      trace: {
        requestID: optionalStr(e['r'], 'requestID') ?? id,
        parentID: optionalStr(e['q'], 'parentID'),
        caller: optionalStr(e['c'], 'caller'),
      },
      source,
      eventType,
      groups: checkGroups(e['g']),
      servedSlots: checkGroups(e['h'], 'servedSlots'),
      ...(e['x'] === undefined ? {} : { traceContext: traceContextOf(e['x']) }),
    };
  }
}

/** At most this many fields of at most this many characters each in a trace context: more is left out. */
const TRACE_FIELDS = 8;
const TRACE_CHARS = 512;

/**
 * The trace context of the extras (`x`): string fields, `traceparent` among them, of bounded size.
 * Anything else is left out (`undefined`): a peer's malformed context is not continued, and the
 * event is still delivered.
 */
export function traceContextOf(value: unknown): Readonly<Record<string, string>> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const fields = Object.entries(value as Record<string, unknown>);
  if (fields.length > TRACE_FIELDS) return undefined;
  const context: Record<string, string> = {};
  for (const [key, field] of fields) {
    if (typeof field !== 'string' || field.length > TRACE_CHARS || key.length > 64) return undefined;
    context[key] = field;
  }
  return typeof context['traceparent'] === 'string' ? Object.freeze(context) : undefined;
}

/**
 * The time changes of a run's time field, `,<index>:<time>` each from `text[comma]` to `end`, as
 * `[index, time, index, time, ...]`; the indices rise and stay within the run's `count` events.
 */
function runTimes(text: string, comma: number, end: number, count: number): number[] {
  const changes: number[] = [];
  let at = comma;
  let previous = 0;
  while (at < end) {
    const colon = text.indexOf(':', at + 1);
    let next = text.indexOf(',', at + 1);
    if (next < 0 || next > end) next = end;
    const index = colon < 0 || colon > next ? -1 : decimal(text, at + 1, colon);
    const time = index < 0 ? -1 : decimal(text, colon + 1, next);
    if (index <= previous || index >= count || time < 0)
      fail(
        `the time change ${show(text.slice(at + 1, next), QUOTE_CHARS)} is not "<index>:<time>" with a rising index within the run`,
      );
    changes.push(index, time);
    previous = index;
    at = next;
  }
  return changes;
}

/** Version 1: `{ v: 1, id, name, system, kind, path, data, meta, time, trace, source, eventType, groups }`. */
function decodeLegacy(r: Record<string, unknown>): EventEnvelope {
  if (r['v'] !== LEGACY_VERSION)
    fail(
      `format version ${show(r['v'], QUOTE_CHARS)} is not supported (this node reads ${WIRE_VERSION} and ${LEGACY_VERSION})`,
    );
  const eventType = str(r['eventType'], 'eventType');
  if (!(MODES as readonly string[]).includes(eventType)) fail(`eventType ${show(eventType, QUOTE_CHARS)} is unknown`);
  const trace = (typeof r['trace'] === 'object' && r['trace'] !== null ? r['trace'] : {}) as Record<string, unknown>;
  const groups = checkGroups(r['groups']);
  const name = str(r['name'], 'name');
  const system = str(r['system'], 'system');
  const id = str(r['id'], 'id');
  return {
    id,
    name,
    system,
    kind: str(r['kind'], 'kind'),
    path: typeof r['path'] === 'string' ? r['path'] : '',
    data: revive(system, r['data']),
    meta: (typeof r['meta'] === 'object' && r['meta'] !== null ? r['meta'] : EMPTY_META) as Record<string, unknown>,
    time: typeof r['time'] === 'number' ? r['time'] : 0,
    trace: {
      requestID: typeof trace['requestID'] === 'string' ? trace['requestID'] : id,
      parentID: typeof trace['parentID'] === 'string' ? trace['parentID'] : undefined,
      caller: typeof trace['caller'] === 'string' ? trace['caller'] : undefined,
    },
    source: str(r['source'], 'source'),
    eventType: eventType as DeliveryMode,
    groups,
  };
}

/**
 * Decodes a wire envelope: version 2 (the header line {@link encodeEnvelope} writes) or version 1
 * (the JSON object earlier nodes wrote). `subjectName` is the name as the message's subject carries
 * it (the subject after `<prefix>.emit.` / `<prefix>.bcast.`), used when the message leaves the name
 * out. Throws `INVALID` naming the reason (not UTF-8, an unknown format or version, a malformed
 * header, data or extras that are not JSON, a field of the wrong type, no name, a batch, which
 * {@link decodeEnvelopes} reads); the transport sends such a message to the dead-letter stream. Only
 * the fields the bus routes on are checked; `data` is the sender's business. A receiver of many
 * messages keeps an {@link EnvelopeDecoder} instead.
 *
 * @example
 * const envelope = decodeEnvelope(msg.data, msg.subject.slice(`${prefix}.emit.`.length));
 */
export function decodeEnvelope(bytes: Uint8Array, subjectName?: string): EventEnvelope {
  return new EnvelopeDecoder().decode(bytes, subjectName);
}

/**
 * Decodes a message: one envelope as {@link decodeEnvelope} does, or every envelope of a batch
 * ({@link encodeEnvelopes}) or of a run of plain events (`2= <count> <mode> <first> <times>
 * <source>` and their data as one JSON array, which the transport writes), in order. A batch is all or nothing: one bad envelope refuses the whole
 * message with `INVALID`, naming its place (`envelope 3 of 8: ...`).
 *
 * @example
 * for (const envelope of decodeEnvelopes(msg.data, name)) deliver(envelope);
 */
export function decodeEnvelopes(bytes: Uint8Array, subjectName?: string): EventEnvelope[] {
  return new EnvelopeDecoder().decodeAll(bytes, subjectName);
}

function utf8(bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch (error) {
    fail(`not UTF-8 (${messageOf(error)})`);
  }
}

function isBatch(text: string): boolean {
  return text.startsWith(BATCH_HEAD);
}

function isRun(text: string): boolean {
  return text.startsWith(RUN_HEAD);
}

function reasonOf(error: unknown): string {
  const reason = error instanceof KindlingError ? error.details['reason'] : undefined;
  return typeof reason === 'string' ? reason : messageOf(error);
}
