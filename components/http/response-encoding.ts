import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { describeThrown, escapeInvisible, quote, show } from 'kindling';

/** A function's result turned into plain data that can be written without running its code again. */
export interface EncodedResponse {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  /** Undefined for no body. */
  readonly payload: Buffer | undefined;
}

/** Why a function's result cannot be sent: a phrase for the log (`returned ...`). */
export class ResultError extends Error {}

/** `value instanceof type`, or false where asking throws (a proxy whose getPrototypeOf trap throws). */
export function isInstance<T>(value: unknown, type: abstract new (...args: never[]) => T): value is T {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

const SHAPE = 'an http function returns { status?, headers?, body? }';
/** What a log line quotes of a thrown value, at most. */
export const FAULT_CHARS = 300;
// Framing is ours: a function's own content-length or transfer-encoding could desynchronise the connection.
const FRAMING = new Set(['content-length', 'transfer-encoding']);

/**
 * Reads a function's result once — `status`, `headers` and `body`, whatever getters, proxies,
 * BigInts, cycles or nesting it holds — into an {@link EncodedResponse}. Anything that cannot be
 * sent throws a {@link ResultError} saying what; nothing the result does escapes as another error.
 */
export function encodeResult(result: unknown): EncodedResponse {
  try {
    return encode(result);
  } catch (error) {
    if (isInstance(error, ResultError)) throw error;
    throw new ResultError(`returned a result that cannot be read: ${describeThrown(error, FAULT_CHARS)}`);
  }
}

function encode(result: unknown): EncodedResponse {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    throw new ResultError(
      `returned ${result === null ? 'null' : Array.isArray(result) ? 'an array' : typeof result}; ${SHAPE}`,
    );
  }
  const keys = Reflect.ownKeys(result);
  const extra = keys
    .filter((key) => key !== 'status' && key !== 'headers' && key !== 'body')
    .map((key) => escapeInvisible(String(key), 40));
  if (extra.length > 0)
    throw new ResultError(
      `returned unknown keys ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}; ${SHAPE}`,
    );
  const { status, headers, body } = result as { status?: unknown; headers?: unknown; body?: unknown };
  const headerList = encodeHeaders(headers);
  let payload: Buffer | undefined;
  let type: string | undefined;
  if (body === undefined) {
    payload = undefined;
  } else if (typeof body === 'string') {
    payload = Buffer.from(body, 'utf8');
    type = 'text/plain; charset=utf-8';
  } else if (body instanceof Uint8Array) {
    payload = Buffer.from(body);
    type = 'application/octet-stream';
  } else {
    payload = Buffer.from(toJson(body), 'utf8');
    type = 'application/json; charset=utf-8';
  }
  if (
    status !== undefined &&
    !(typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 599)
  ) {
    throw new ResultError(`returned status ${show(status, 40)}, not an HTTP status (an integer from 200 to 599)`);
  }
  if (type !== undefined && headerList['content-type'] === undefined) headerList['content-type'] = type;
  if (payload !== undefined) headerList['content-length'] = payload.length;
  return { status: status ?? (payload === undefined ? 204 : 200), headers: headerList, payload };
}

function encodeHeaders(headers: unknown): OutgoingHttpHeaders {
  const list: OutgoingHttpHeaders = Object.create(null) as OutgoingHttpHeaders;
  if (headers === undefined) return list;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers))
    throw new ResultError('returned headers that are not an object');
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    const shown = quote(rawName, 40);
    try {
      validateHeaderName(name);
    } catch {
      throw new ResultError(
        `returned header name ${shown}, which is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_\`|~ only)`,
      );
    }
    if (FRAMING.has(name)) continue;
    const values = Array.isArray(value) ? (value as unknown[]) : [value];
    for (const item of values) {
      if (!(typeof item === 'string' || (typeof item === 'number' && Number.isFinite(item)))) {
        throw new ResultError(
          `returned header ${shown} with ${item === undefined ? 'an undefined' : item === null ? 'a null' : `a ${typeof item}`} value; a header value is a string, a finite number or an array of them`,
        );
      }
      try {
        validateHeaderValue(name, String(item));
      } catch {
        throw new ResultError(
          `returned header ${shown} with a value that holds characters HTTP does not allow (such as CR or LF)`,
        );
      }
    }
    list[name] = Array.isArray(value) ? values.map(String) : typeof value === 'number' ? value : String(value);
  }
  return list;
}

function toJson(body: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    const message = describeThrown(error, FAULT_CHARS);
    if (isInstance(error, RangeError) && /call stack/i.test(message))
      throw new ResultError('returned a body nested too deeply to encode as JSON');
    if (/BigInt/i.test(message)) throw new ResultError('returned a body holding a BigInt, which JSON cannot encode');
    if (/circular/i.test(message))
      throw new ResultError('returned a body with a circular reference, which JSON cannot encode');
    throw new ResultError(`returned a body that cannot be encoded as JSON: ${message}`);
  }
  if (text === undefined)
    throw new ResultError(
      `returned a ${typeof body} as its body, which JSON cannot encode; a body is a string, a Uint8Array or a JSON value`,
    );
  return text;
}

/**
 * Sends an encoded response (the body left out for HEAD). Throws only what node:http throws for a
 * socket that is gone.
 */
export function sendEncoded(response: ServerResponse, method: string, encoded: EncodedResponse): void {
  response.writeHead(encoded.status, encoded.headers);
  response.end(method === 'HEAD' ? undefined : encoded.payload);
}

/**
 * Answers `{ "error": message }` with `status`, unless an answer has already begun or the socket is
 * gone (then the connection is cut, the only signal left). `close` ends the connection after the
 * answer (for a request whose body was not read). Never throws.
 */
export function sendError(response: ServerResponse, status: number, message: string, close = false): void {
  try {
    if (response.headersSent || response.writableEnded) {
      if (!response.writableEnded) response.destroy();
      return;
    }
    if (response.destroyed || response.socket === null || response.socket.destroyed) return;
    const text = JSON.stringify({ error: message });
    const headers: OutgoingHttpHeaders = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    };
    if (close) headers['connection'] = 'close';
    response.writeHead(status, headers);
    response.end(text);
  } catch {
    response.destroy();
  }
}
