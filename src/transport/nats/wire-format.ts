import { KindlingError } from '../../common/errors.js';
import { EMPTY_META, type DeliveryMode, type EventEnvelope } from '../../events/event-envelope.js';

/** The version of the wire envelope this build writes (it still reads version 1). */
export const WIRE_VERSION = 2;
/** The first, object-shaped version; read for nodes not yet upgraded, never written. */
const LEGACY_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const MODES: readonly DeliveryMode[] = ['emit', 'broadcast', 'broadcastLocal'];
const MODE_CODES: Readonly<Record<DeliveryMode, number>> = { emit: 0, broadcast: 1, broadcastLocal: 2 };

/** The optional fields of a version-2 envelope, present only when they differ from their default. */
interface Extras {
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
  /** system and kind, when they are not the name split at its first dot */
  s?: string;
  k?: string;
}

function hasKeys(value: object): boolean {
  for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) return true;
  return false;
}

/** Whether `system`/`kind` are what {@link splitEventName} gives for `name` (then they are not sent). */
function derived(name: string, system: string, kind: string): boolean {
  if (system.includes('.')) return false;
  if (kind === '') return name === system;
  return name.length === system.length + 1 + kind.length && name.startsWith(system) && name.charCodeAt(system.length) === 46 && name.endsWith(kind);
}

function extrasOf(envelope: EventEnvelope): Extras | undefined {
  let extras: Extras | undefined;
  if (envelope.path !== '') (extras ??= {}).p = envelope.path;
  const meta = envelope.meta;
  if (meta !== EMPTY_META && hasKeys(meta)) (extras ??= {}).m = meta as Record<string, unknown>;
  const trace = envelope.trace;
  if (trace.requestID !== envelope.id) (extras ??= {}).r = trace.requestID;
  if (trace.parentID !== undefined) (extras ??= {}).q = trace.parentID;
  if (trace.caller !== undefined) (extras ??= {}).c = trace.caller;
  if (envelope.groups !== undefined) (extras ??= {}).g = envelope.groups;
  if (!derived(envelope.name, envelope.system, envelope.kind)) {
    extras ??= {};
    extras.s = envelope.system;
    extras.k = envelope.kind;
  }
  return extras;
}

/**
 * Encodes an envelope for the wire, once, as one compact JSON array (version 2):
 * `[2, mode, id, name, source, time, extras, data]` — mode `0` emit, `1` broadcast, `2`
 * broadcastLocal; `extras` is `0` or an object with only the fields that differ from their default
 * (`p` path, `m` meta, `r` requestID, `q` parentID, `c` caller, `g` groups, `s`/`k` system and kind
 * when they are not the name split at its first dot); `data` is last and absent when `undefined`.
 * Data travels as JSON: a `Date` becomes its ISO text (a broker event's `timestamp` is revived).
 * Throws `INVALID` for data JSON cannot encode (a cycle, a BigInt).
 *
 * @example
 * nc.publish(subject, encodeEnvelope(envelope));
 */
export function encodeEnvelope(envelope: EventEnvelope): Uint8Array {
  let text: string;
  try {
    const extras = extrasOf(envelope);
    const data = JSON.stringify(envelope.data) as string | undefined;
    text =
      '[2,' +
      MODE_CODES[envelope.eventType] +
      ',' +
      JSON.stringify(envelope.id) +
      ',' +
      JSON.stringify(envelope.name) +
      ',' +
      JSON.stringify(envelope.source) +
      ',' +
      envelope.time +
      ',' +
      (extras === undefined ? '0' : JSON.stringify(extras)) +
      (data === undefined ? ']' : ',' + data + ']');
  } catch (error) {
    throw new KindlingError('INVALID', `event ${envelope.name} cannot be encoded for the wire: ${(error as Error).message}`, {
      cause: error,
      details: { event: envelope.name },
    });
  }
  return encoder.encode(text);
}

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

function checkGroups(groups: unknown): readonly string[] | undefined {
  if (groups === undefined) return undefined;
  if (!Array.isArray(groups)) fail('field groups must be a list of strings');
  for (let i = 0; i < groups.length; i++) if (typeof groups[i] !== 'string') fail('field groups must be a list of strings');
  return groups as readonly string[];
}

function splitName(name: string): [string, string] {
  const dot = name.indexOf('.');
  return dot < 0 ? [name, ''] : [name.slice(0, dot), name.slice(dot + 1)];
}

/** A broker event's `timestamp` is a `Date`, which JSON carried as text. */
function revive(system: string, data: unknown): unknown {
  if (system === 'broker' && typeof data === 'object' && data !== null && typeof (data as { timestamp?: unknown }).timestamp === 'string') {
    return { ...(data as object), timestamp: new Date((data as { timestamp: string }).timestamp) };
  }
  return data;
}

function decodeCompact(r: unknown[]): EventEnvelope {
  if (r[0] !== WIRE_VERSION) fail(`format version ${JSON.stringify(r[0])} is not supported (this node reads ${WIRE_VERSION} and ${LEGACY_VERSION})`);
  const eventType = MODES[r[1] as number];
  if (eventType === undefined) fail(`delivery mode ${JSON.stringify(r[1])} is unknown`);
  const id = r[2];
  const name = r[3];
  const source = r[4];
  const time = r[5];
  if (typeof id !== 'string') fail('field id must be a string');
  if (typeof name !== 'string') fail('field name must be a string');
  if (typeof source !== 'string') fail('field source must be a string');
  if (typeof time !== 'number') fail('field time must be a number');
  const x = r[6];
  if (x === 0) {
    const [system, kind] = splitName(name);
    return {
      id,
      name,
      system,
      kind,
      path: '',
      data: revive(system, r[7]),
      meta: EMPTY_META,
      time,
      trace: { requestID: id, parentID: undefined, caller: undefined },
      source,
      eventType,
      groups: undefined,
    };
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail('the extras field must be 0 or an object');
  const e = x as Record<string, unknown>;
  let system = optionalStr(e['s'], 'system');
  let kind = optionalStr(e['k'], 'kind');
  if (system === undefined || kind === undefined) [system, kind] = splitName(name);
  const meta = e['m'];
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) fail('field meta must be an object');
  return {
    id,
    name,
    system,
    kind,
    path: optionalStr(e['p'], 'path') ?? '',
    data: revive(system, r[7]),
    meta: (meta as Record<string, unknown> | undefined) ?? EMPTY_META,
    time,
    trace: { requestID: optionalStr(e['r'], 'requestID') ?? id, parentID: optionalStr(e['q'], 'parentID'), caller: optionalStr(e['c'], 'caller') },
    source,
    eventType,
    groups: checkGroups(e['g']),
  };
}

/** Version 1: `{ v: 1, id, name, system, kind, path, data, meta, time, trace, source, eventType, groups }`. */
function decodeLegacy(r: Record<string, unknown>): EventEnvelope {
  if (r['v'] !== LEGACY_VERSION) fail(`format version ${JSON.stringify(r['v'])} is not supported (this node reads ${WIRE_VERSION} and ${LEGACY_VERSION})`);
  const eventType = str(r['eventType'], 'eventType');
  if (!(MODES as readonly string[]).includes(eventType)) fail(`eventType ${eventType} is unknown`);
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
 * Decodes a wire envelope: version 2 (the compact array {@link encodeEnvelope} writes) or version 1
 * (the object earlier nodes wrote). Throws `INVALID` naming the reason (not UTF-8, not JSON, an
 * unknown version or mode, a field of the wrong type); the transport sends such a message to the
 * dead-letter stream. Only the fields the bus routes on are checked; `data` is the sender's business.
 *
 * @example
 * const envelope = decodeEnvelope(msg.data);
 */
export function decodeEnvelope(bytes: Uint8Array): EventEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    fail(`not UTF-8 JSON (${(error as Error).message})`);
  }
  if (Array.isArray(raw)) return decodeCompact(raw);
  if (typeof raw !== 'object' || raw === null) fail('not a JSON array or object');
  return decodeLegacy(raw as Record<string, unknown>);
}
