import { telemetry } from './telemetry.js';

/** The span of one HTTP server request (see {@link httpTelemetry}). */
export interface HttpRequestSpan {
  /** Runs `fn` with the request's span as the active one: what it calls (a function, an emit) continues the trace. */
  run<T>(fn: () => T): T;
  /** The route template the request matched (`/users/:id`): `http.route`, and the span's name. */
  matched(route: string): void;
  /** Ends the span with the status answered (a 5xx marks it failed) and records the request's duration. */
  end(status: number, error?: string): void;
}

/** Server spans of HTTP requests, for an HTTP component (see {@link httpTelemetry}). */
export interface HttpTelemetry {
  /** Starts the server span of a request, continuing the caller's `traceparent` header when it sent one. */
  request(method: string, target: string, headers: Readonly<Record<string, unknown>>): HttpRequestSpan;
}

/**
 * Spans and the `http.server.request.duration` metric of HTTP server requests, when an
 * OpenTelemetry SDK is registered (docs/telemetry.md); `undefined` otherwise. Ask once, when the
 * server is made.
 *
 * @example
 * const http = httpTelemetry();
 * const span = http?.request(req.method ?? 'GET', req.url ?? '/', req.headers);
 */
export function httpTelemetry(): HttpTelemetry | undefined {
  const otel = telemetry();
  if (otel === undefined) return undefined;
  return { request: (method, target, headers) => otel.httpRequest(method, target, headers) };
}
