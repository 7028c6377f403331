// The one wire form of a channel message, shared by the in-process and JetStream channels: a JSON
// body `{ v: 1, data, key, source, time }` and string headers for the context (meta, trace, ids).
import { randomUUID } from 'node:crypto';
import { KindlingError, messageOf } from '../../common/errors.js';
import type { ChannelMessage, ChannelPending, ChannelSendOptions } from '../core/channels.js';

/** Header names: W3C trace context under its own names, the rest under `Kindling-`. */
export const H = {
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  meta: 'Kindling-Meta',
  requestID: 'Kindling-Request-Id',
  parentID: 'Kindling-Parent-Id',
  caller: 'Kindling-Caller',
  /** The message id of a re-driven message (its transport id is a new one). */
  id: 'Kindling-Id',
  /** A re-driven message is for this group only; the others skip it. */
  onlyGroup: 'Kindling-Only-Group',
} as const;

/** The context headers a dead letter keeps, so that a re-drive sends them again. */
export const CONTEXT_HEADERS: readonly string[] = [
  H.traceparent,
  H.tracestate,
  H.meta,
  H.requestID,
  H.parentID,
  H.caller,
];

/** The largest encoded `meta` of a message, in bytes. */
export const MAX_META_BYTES = 16 * 1024;
const MAX_HEADER_TEXT = 512;

/** A message ready to store: its id, key, body and context headers. */
export interface EncodedChannelMessage {
  readonly id: string;
  readonly key: string | undefined;
  readonly body: string;
  readonly headers: Record<string, string>;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Whether `value` is a W3C `traceparent` a receiver may continue (version ff and zero ids are not). */
export function isTraceparent(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 256) return false;
  const m = TRACEPARENT.exec(value);
  if (m === null) return false;
  const [, version, traceId, parentId] = m;
  if (version === 'ff' || /^0+$/.test(traceId as string) || /^0+$/.test(parentId as string)) return false;
  // Version 00 has exactly four fields; a later version may add some after a dash.
  return version !== '00' || m[5] === undefined;
}

/** Whether `value` is a `tracestate` that can travel as one header line. */
export function isTracestate(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_HEADER_TEXT && /^[\x20-\x7e]*$/.test(value);
}

/** JSON with every character past ASCII escaped: the text is one header line, safe on any wire. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function headerText(value: unknown, what: string, channel: string): string {
  if (typeof value !== 'string' || value.length > MAX_HEADER_TEXT || !/^[\x20-\x7e]*$/.test(value)) {
    throw new KindlingError(
      'INVALID',
      `the ${what} of a message for channel ${channel} must be printable ASCII of at most ${MAX_HEADER_TEXT} characters`,
      { details: { channel } },
    );
  }
  return value;
}

/**
 * Encodes a message for `channel`: `INVALID` for a payload JSON cannot carry, a `meta` that is no
 * plain object or is too large, or a malformed explicit trace context.
 */
export function encodeChannelMessage(
  channel: string,
  payload: unknown,
  options: ChannelSendOptions,
  source: string,
): EncodedChannelMessage {
  checkChannel(channel);
  const { key, parentCtx } = options;
  if (key !== undefined && (typeof key !== 'string' || key === '')) {
    throw new KindlingError('INVALID', `the key of a message for channel ${channel} must be a non-empty string`, {
      details: { channel },
    });
  }
  if (options.id !== undefined && (typeof options.id !== 'string' || options.id === '')) {
    throw new KindlingError('INVALID', `the id of a message for channel ${channel} must be a non-empty string`, {
      details: { channel },
    });
  }
  const id = options.id ?? randomUUID();
  let body: string;
  try {
    body = JSON.stringify({ v: 1, data: payload, key, source, time: Date.now() });
  } catch (error) {
    throw new KindlingError('INVALID', `the message for channel ${channel} cannot be encoded: ${messageOf(error)}`, {
      cause: error,
      details: { channel },
    });
  }
  const headers: Record<string, string> = {};
  if (options.meta !== undefined && !isPlainObject(options.meta)) {
    throw new KindlingError('INVALID', `the meta of a message for channel ${channel} must be a plain object`, {
      details: { channel },
    });
  }
  const meta = parentCtx === undefined ? options.meta : { ...parentCtx.meta, ...options.meta };
  if (meta !== undefined && Object.keys(meta).length > 0) {
    let text: string;
    try {
      text = asciiJson(meta);
    } catch (error) {
      throw new KindlingError(
        'INVALID',
        `the meta of a message for channel ${channel} cannot be encoded: ${messageOf(error)}`,
        {
          cause: error,
          details: { channel },
        },
      );
    }
    if (text.length > MAX_META_BYTES) {
      throw new KindlingError(
        'INVALID',
        `the meta of a message for channel ${channel} is ${text.length} bytes encoded; at most ${MAX_META_BYTES}`,
        { details: { channel, bytes: text.length } },
      );
    }
    headers[H.meta] = text;
  }
  let traceparent: string | undefined;
  let tracestate: string | undefined;
  if (options.traceparent !== undefined) {
    if (!isTraceparent(options.traceparent)) {
      throw new KindlingError(
        'INVALID',
        `the traceparent of a message for channel ${channel} is not a W3C trace context (00-<32 hex>-<16 hex>-<2 hex>)`,
        { details: { channel } },
      );
    }
    traceparent = options.traceparent;
    if (options.tracestate !== undefined) tracestate = headerText(options.tracestate, 'tracestate', channel);
  } else if (parentCtx !== undefined) {
    // The parent's own trace context, else the one it carries in its meta (as Moleculer apps often do).
    const fromParent = parentCtx.traceparent ?? parentCtx.meta['traceparent'];
    if (isTraceparent(fromParent)) {
      traceparent = fromParent;
      const state = parentCtx.traceparent === undefined ? parentCtx.meta['tracestate'] : parentCtx.tracestate;
      if (isTracestate(state) && state !== '') tracestate = state;
    }
  }
  if (options.traceparent === undefined && options.tracestate !== undefined) {
    throw new KindlingError('INVALID', `a tracestate for channel ${channel} needs a traceparent`, {
      details: { channel },
    });
  }
  if (traceparent !== undefined) headers[H.traceparent] = traceparent;
  if (tracestate !== undefined) headers[H.tracestate] = tracestate;
  if (parentCtx !== undefined) {
    headers[H.parentID] = headerText(parentCtx.id, 'parent id', channel);
    if (parentCtx.requestID !== undefined)
      headers[H.requestID] = headerText(parentCtx.requestID, 'request id', channel);
    const caller = parentCtx.service?.fullName ?? parentCtx.group;
    if (caller !== undefined) headers[H.caller] = headerText(caller, 'caller', channel);
  }
  return { id, key, body, headers };
}

/** Reads a header map the way both implementations hand it over. */
export type HeaderGet = (name: string) => string | undefined;

/** A decoded message, or why it could not be. */
export type Decoded =
  { readonly ok: true; readonly message: ChannelMessage } | { readonly ok: false; readonly error: string };

/**
 * Decodes a stored message for a handler of `group`. A body of another version or shape, or a meta
 * header that is no JSON object, cannot be (the message is dead-lettered); a malformed trace context
 * is left out, as W3C says a receiver does.
 */
export function decodeChannelMessage(delivery: {
  readonly channel: string;
  readonly group: string;
  readonly text: string;
  readonly get: HeaderGet;
  readonly id: string;
  readonly attempt: number;
}): Decoded {
  const { channel, group, text, get, id, attempt } = delivery;
  let raw: { v?: unknown; data?: unknown; key?: unknown; source?: unknown; time?: unknown };
  let meta: Record<string, unknown> = {};
  try {
    raw = JSON.parse(text) as typeof raw;
    if (!isPlainObject(raw)) throw new Error('the body is no JSON object');
    if (raw.v !== 1) throw new Error(`format version ${messageOf(raw.v, 64)} is not supported`);
    const metaText = get(H.meta);
    if (metaText !== undefined) {
      const parsed = JSON.parse(metaText) as unknown;
      if (!isPlainObject(parsed)) throw new Error(`the ${H.meta} header is no JSON object`);
      meta = parsed;
    }
  } catch (error) {
    return { ok: false, error: `undecodable message: ${messageOf(error)}` };
  }
  const traceparent = get(H.traceparent);
  const tracestate = get(H.tracestate);
  const okTrace = isTraceparent(traceparent);
  const text_ = (name: string): string | undefined => {
    const value = get(name);
    return value !== undefined && value !== '' && value.length <= MAX_HEADER_TEXT ? value : undefined;
  };
  return {
    ok: true,
    message: {
      channel,
      data: raw.data,
      id,
      key: typeof raw.key === 'string' ? raw.key : undefined,
      attempt,
      source: typeof raw.source === 'string' ? raw.source : '',
      group,
      meta,
      traceparent: okTrace ? traceparent : undefined,
      tracestate: okTrace && isTracestate(tracestate) && tracestate !== '' ? tracestate : undefined,
      requestID: text_(H.requestID) ?? id,
      parentID: text_(H.parentID),
      caller: text_(H.caller),
      time: typeof raw.time === 'number' && Number.isFinite(raw.time) ? raw.time : 0,
    },
  };
}

/** The order of `Channels.pendingCounts`: by channel, then group (code units, not the locale). */
export function byChannelAndGroup(a: ChannelPending, b: ChannelPending): number {
  if (a.channel !== b.channel) return a.channel < b.channel ? -1 : 1;
  return a.group < b.group ? -1 : a.group > b.group ? 1 : 0;
}

/** `INVALID` unless `channel` is a non-empty string. */
export function checkChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || channel === '')
    throw new KindlingError('INVALID', 'a channel name must be a non-empty string');
}

/** `INVALID` unless the subscription options are usable. */
export function checkSubscribeOptions(
  channel: string,
  options: { group?: unknown; handler?: unknown; maxInFlight?: unknown; maxRetries?: unknown; ackWaitMs?: unknown },
): void {
  checkChannel(channel);
  if (typeof options?.group !== 'string' || options.group === '') {
    throw new KindlingError('INVALID', `a subscription to channel ${channel} needs a group`, { details: { channel } });
  }
  if (typeof options.handler !== 'function') {
    throw new KindlingError(
      'INVALID',
      `the subscription of group ${options.group} to channel ${channel} needs a handler function`,
      {
        details: { channel, group: options.group },
      },
    );
  }
  for (const [name, min] of [
    ['maxInFlight', 1],
    ['maxRetries', 0],
    ['ackWaitMs', 1],
  ] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < min)) {
      throw new KindlingError(
        'INVALID',
        `${name} of group ${options.group} on channel ${channel} must be an integer ≥ ${min}, got ${typeof value === 'number' ? value : typeof value}`,
        { details: { channel, group: options.group, [name]: value } },
      );
    }
  }
}

/** The wait before retry `attempt + 1` (attempt from 1): doubled each time up to 60 s, or the function's. */
export function retryDelay(backoff: number | ((attempt: number) => number) | undefined, attempt: number): number {
  const b = backoff ?? 1000;
  if (typeof b === 'function') {
    const ms = b(attempt);
    return typeof ms === 'number' && Number.isFinite(ms) ? Math.max(0, ms) : 0;
  }
  return Math.min(b * 2 ** (attempt - 1), 60_000);
}
