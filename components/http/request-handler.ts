import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HTTPMethod } from 'find-my-way';
import type { HttpRequestSpan, HttpTelemetry, LogThrottle, Logger } from 'kindling';
import { KindlingError, describeThrown, escapeInvisible, httpTelemetry, withinTimeLimit } from 'kindling';
import type { HttpRequest } from './http-types.js';
import type { LiveServer } from './live-server.js';
import { isBadTarget, parseQuery, parseRequestTarget } from './request-target.js';
import { FAULT_CHARS, ResultError, encodeResult, isInstance, sendEncoded, sendError } from './response-encoding.js';
import type { RouteStore } from './route-table.js';

/** Options of a {@link RequestHandler}. */
export interface RequestHandlerOptions {
  readonly logger: Logger;
  /** Log lines of request faults, a few per minute and kind of fault. */
  readonly storms: LogThrottle;
  /** Finds and calls the committed function an endpoint names. */
  readonly functions: {
    get(id: string): unknown;
    call(id: string, input: unknown, context?: Record<string, unknown>): Promise<unknown>;
  };
}

/**
 * A request that cannot be served: the status, the log's reason, and what the client is told (the
 * reason by default; false when the client is gone and nothing can be told).
 */
class RequestError extends Error {
  readonly answer: string | undefined;

  constructor(
    readonly status: number,
    message: string,
    answer?: string | false,
  ) {
    super(message);
    this.answer = answer === false ? undefined : (answer ?? message);
  }
}

/**
 * Serves the requests of the http services: decodes the target (without `new URL`), routes it,
 * reads the body within the service's limit, calls the endpoint's function within its time limit
 * and encodes what it returns. Whatever goes wrong — a malformed request, a function that throws or
 * returns something that cannot be sent, a client that goes away — is answered (4xx for the
 * client's fault, 5xx for the server's, nothing when the socket is gone) and logged naming the
 * endpoint and function, or the service; nothing escapes as an unhandled error.
 */
export class RequestHandler {
  /** Server spans and metrics, when an OpenTelemetry SDK is registered (docs/telemetry.md). */
  private readonly otel: HttpTelemetry | undefined = httpTelemetry();

  constructor(private readonly options: RequestHandlerOptions) {}

  /** Serves one request. Never rejects. */
  handle(live: LiveServer, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (this.otel === undefined) return this.handleNow(live, request, response, undefined);
    const span = this.otel.request(request.method ?? 'GET', request.url ?? '/', request.headers);
    return span.run(() => this.handleNow(live, request, response, span));
  }

  private async handleNow(
    live: LiveServer,
    request: IncomingMessage,
    response: ServerResponse,
    span: HttpRequestSpan | undefined,
  ): Promise<void> {
    // A reset connection emits 'error' on these; unheard, it would be an uncaught exception.
    request.on('error', () => undefined);
    response.on('error', () => undefined);
    const route: { store?: RouteStore; readonly span: HttpRequestSpan | undefined } = { span };
    try {
      await this.serve(live, request, response, route);
      span?.end(response.statusCode);
    } catch (error) {
      // Anything but a RequestError is a fault of this component, not of the request or the function.
      const failure = isInstance(error, RequestError)
        ? error
        : new RequestError(
            500,
            `internal error while serving ${escapeInvisible(request.method ?? '?', 20)} ${escapeInvisible(request.url ?? '', 200)}: ${describeThrown(error, FAULT_CHARS)}`,
            'internal error',
          );
      const level =
        failure.answer === undefined || failure.status === 404 ? 'info' : failure.status < 500 ? 'warn' : 'error';
      this.log(live, route.store, {
        status: failure.status,
        level,
        message: `${failure.message}; ${failure.answer === undefined ? 'no answer possible' : `answered ${failure.status}`}`,
      });
      if (failure.answer !== undefined) sendError(response, failure.status, failure.answer, !request.complete);
      span?.end(failure.status, failure.message);
    }
  }

  /** Serves a request; throws a RequestError for one that cannot be served. */
  private async serve(
    live: LiveServer,
    request: IncomingMessage,
    response: ServerResponse,
    route: { store?: RouteStore; readonly span: HttpRequestSpan | undefined },
  ): Promise<void> {
    const table = live.table;
    if (table === undefined) throw new RequestError(503, 'the server is starting');
    const limits = live.limits;
    const raw = request.url ?? '/';
    if (raw.length > limits.maxUrlLength)
      throw new RequestError(414, `the request target is longer than maxUrlLength (${limits.maxUrlLength} characters)`);
    if (request.rawHeaders.length / 2 > limits.maxHeaders)
      throw new RequestError(431, `the request has more than maxHeaders (${limits.maxHeaders}) headers`);
    const target = parseRequestTarget(raw);
    if (isBadTarget(target)) throw new RequestError(400, `${target.problem}: ${escapeInvisible(raw, 200)}`);
    const method = (request.method ?? 'GET').toUpperCase();
    // A GET route answers HEAD too (headers, no body), unless a HEAD route of its own is declared.
    const found =
      table.find(method as HTTPMethod, target.path) ?? (method === 'HEAD' ? table.find('GET', target.path) : null);
    if (found === null) throw new RequestError(404, `no route for ${method} ${escapeInvisible(target.path, 200)}`);
    const store = found.store;
    route.store = store;
    route.span?.matched(store.route);
    const body = await readBody(request, limits.bodyLimit);
    const input: HttpRequest = {
      method,
      path: target.path,
      params: Object.fromEntries(
        Object.entries(found.params).filter((pair): pair is [string, string] => pair[1] !== undefined),
      ),
      query: parseQuery(target.query),
      headers: request.headers,
      body,
    };
    if (this.options.functions.get(store.funcId) === undefined) {
      throw new RequestError(
        502,
        `function ${store.funcId} is not loaded`,
        `function ${store.funcId} is not available`,
      );
    }
    const result = await this.call(store, input);
    let encoded;
    try {
      encoded = encodeResult(result);
    } catch (error) {
      throw new RequestError(
        500,
        `function ${store.funcId} ${isInstance(error, ResultError) ? error.message : describeThrown(error, FAULT_CHARS)}`,
        'internal error',
      );
    }
    if (response.destroyed) throw new RequestError(499, 'the client closed the connection before the answer', false);
    sendEncoded(response, method, encoded);
  }

  /** Calls the endpoint's function within its time limit; a throw becomes a RequestError. */
  private async call(store: RouteStore, input: HttpRequest): Promise<unknown> {
    // Compared by identity: asking what a thrown value is may run its code (a proxy's traps).
    const timeout = new KindlingError('TIMEOUT', `did not answer within timeoutMs (${store.timeoutMs} ms)`);
    try {
      return await withinTimeLimit(
        this.options.functions.call(store.funcId, input, { endpoint: store.endpointId }),
        store.timeoutMs,
        () => timeout,
      );
    } catch (error) {
      if (error === timeout)
        throw new RequestError(
          504,
          `function ${store.funcId} ${timeout.message}`,
          'the function did not answer in time',
        );
      const status = statusOf(error);
      if (status !== undefined && status < 500)
        throw new RequestError(
          status,
          `function ${store.funcId} refused the request: ${describeThrown(error, FAULT_CHARS)}`,
          messageOfError(error),
        );
      throw new RequestError(
        status ?? 500,
        `function ${store.funcId} failed: ${describeThrown(error, FAULT_CHARS)}`,
        'internal error',
      );
    }
  }

  private log(
    live: LiveServer,
    store: RouteStore | undefined,
    {
      status,
      level,
      message,
    }: { readonly status: number; readonly level: 'info' | 'warn' | 'error'; readonly message: string },
  ): void {
    const where = store === undefined ? `http.service ${live.id}` : `endpoint ${store.endpointId}`;
    // One key per place and status, not per message: a client sending ever new bad targets cannot
    // flood the log either.
    const key = `${store?.endpointId ?? live.id}:${status}`;
    this.options.storms.log(
      level,
      key,
      `${where}: ${message}`,
      store === undefined ? { service: live.id } : { endpoint: store.endpointId, function: store.funcId },
    );
  }
}

/** Reads the body within `limit` bytes and decodes it by its content type. */
async function readBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) throw new RequestError(413, `the request body is larger than bodyLimit (${limit} bytes)`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new RequestError(413, `the request body is larger than bodyLimit (${limit} bytes)`);
      chunks.push(chunk);
    }
  } catch (error) {
    if (isInstance(error, RequestError)) throw error;
    throw new RequestError(
      499,
      `the client closed the connection before the request body was complete (${describeThrown(error, FAULT_CHARS)})`,
      false,
    );
  }
  if (size === 0) return undefined;
  const raw = Buffer.concat(chunks);
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (error) {
      throw new RequestError(
        400,
        `the request body is not valid JSON: ${describeThrown(error, FAULT_CHARS).replace(/^SyntaxError: /, '')}`,
      );
    }
  }
  if (type.startsWith('text/') || type === 'application/x-www-form-urlencoded' || type === '')
    return raw.toString('utf8');
  return new Uint8Array(raw);
}

/** The 4xx or 5xx status a thrown error carries (`status` or `statusCode`), if any. */
function statusOf(error: unknown): number | undefined {
  try {
    const carrier = error as { status?: unknown; statusCode?: unknown } | undefined;
    const status = carrier?.status ?? carrier?.statusCode;
    return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599
      ? status
      : undefined;
  } catch {
    return undefined;
  }
}

/** The message of an error a function threw on purpose (for its 4xx answer). */
function messageOfError(error: unknown): string {
  try {
    const message = (error as { message?: unknown }).message;
    return typeof message === 'string' ? message : describeThrown(error, FAULT_CHARS);
  } catch {
    return describeThrown(error, FAULT_CHARS);
  }
}
