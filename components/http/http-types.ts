import type { IncomingHttpHeaders } from 'node:http';

/**
 * What a function called by an `http.endpoint` receives as its input.
 *
 * `body` is the parsed JSON for a JSON content type, a string for `text/*` and form bodies, a
 * `Uint8Array` otherwise, and `undefined` when the request has none.
 */
export interface HttpRequest {
  readonly method: string;
  /** The path as requested, without the query string. */
  readonly path: string;
  /** Values of the route's `:name` segments (and `*` for a wildcard). */
  readonly params: Readonly<Record<string, string>>;
  /** The query string; a key given more than once becomes an array. */
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

/**
 * What a function called by an `http.endpoint` returns (or resolves to).
 *
 * `status` defaults to 200 (204 without a body). A string body is sent as `text/plain`, a
 * `Uint8Array` as `application/octet-stream`, anything else as JSON, unless `headers` sets
 * `content-type`.
 */
export interface HttpResponse {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string | number | readonly string[]>>;
  readonly body?: unknown;
}

/** A function an `http.endpoint` can call. */
export type HttpHandler = (
  request: HttpRequest,
  context: { readonly id: string; readonly endpoint: string },
) => HttpResponse | Promise<HttpResponse>;

/** One listening `http.service`. */
export interface HttpServerAddress {
  /** The `http.service` entry id. */
  readonly id: string;
  readonly host: string;
  /** The actual port (the one picked when the entry asked for port 0). */
  readonly port: number;
  readonly url: string;
}

/** The listening servers of the committed registry state. */
export interface HttpServers {
  /** Every listening service, sorted by id. */
  addresses(): HttpServerAddress[];
  /** The listening service with this entry id. */
  address(id: string): HttpServerAddress | undefined;
}
/** Token of the boot's {@link HttpServers}, bound by the `http` component. */
export const HttpServers: unique symbol = Symbol.for('kindling.HttpServers');
