import { KindlingError } from '../../common/errors.js';
import type { DeliveryMode, EventEnvelope } from '../../events/event-envelope.js';

/** The version of the wire envelope this build writes and reads. */
export const WIRE_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const MODES: ReadonlySet<string> = new Set(['emit', 'broadcast', 'broadcastLocal']);

/**
 * Encodes an envelope for the wire: JSON with a format version `v`, the id, name, system, kind,
 * path, data, meta, time, trace context, the sender node (`source`), delivery mode and groups.
 * Data travels as JSON: a `Date` becomes its ISO text (a broker event's `timestamp` is revived).
 * Throws `INVALID` for data JSON cannot encode (a cycle, a BigInt).
 *
 * @example
 * nc.publish(subject, encodeEnvelope(envelope));
 */
export function encodeEnvelope(envelope: EventEnvelope): Uint8Array {
  let text: string;
  try {
    text = JSON.stringify({
      v: WIRE_VERSION,
      id: envelope.id,
      name: envelope.name,
      system: envelope.system,
      kind: envelope.kind,
      path: envelope.path,
      data: envelope.data,
      meta: envelope.meta,
      time: envelope.time,
      trace: envelope.trace,
      source: envelope.source,
      eventType: envelope.eventType,
      groups: envelope.groups,
    });
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

/**
 * Decodes a wire envelope. Throws `INVALID` naming the reason (not UTF-8, not JSON, an unknown
 * version, a missing field); the transport sends such a message to the dead-letter stream.
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
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('not a JSON object');
  const r = raw as Record<string, unknown>;
  if (r['v'] !== WIRE_VERSION) fail(`format version ${JSON.stringify(r['v'])} is not supported (this node reads ${WIRE_VERSION})`);
  const eventType = str(r['eventType'], 'eventType');
  if (!MODES.has(eventType)) fail(`eventType ${eventType} is unknown`);
  const trace = (typeof r['trace'] === 'object' && r['trace'] !== null ? r['trace'] : {}) as Record<string, unknown>;
  const groups = r['groups'];
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) fail('field groups must be a list of strings');
  const name = str(r['name'], 'name');
  const system = str(r['system'], 'system');
  let data = r['data'];
  if (system === 'broker' && typeof data === 'object' && data !== null && typeof (data as { timestamp?: unknown }).timestamp === 'string') {
    data = { ...(data as object), timestamp: new Date((data as { timestamp: string }).timestamp) };
  }
  const id = str(r['id'], 'id');
  return {
    id,
    name,
    system,
    kind: str(r['kind'], 'kind'),
    path: typeof r['path'] === 'string' ? r['path'] : '',
    data,
    meta: (typeof r['meta'] === 'object' && r['meta'] !== null ? r['meta'] : {}) as Record<string, unknown>,
    time: typeof r['time'] === 'number' ? r['time'] : 0,
    trace: {
      requestID: typeof trace['requestID'] === 'string' ? trace['requestID'] : id,
      parentID: typeof trace['parentID'] === 'string' ? trace['parentID'] : undefined,
      caller: typeof trace['caller'] === 'string' ? trace['caller'] : undefined,
    },
    source: str(r['source'], 'source'),
    eventType: eventType as DeliveryMode,
    groups: groups as readonly string[] | undefined,
  };
}
