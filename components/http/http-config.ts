import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsString, Matches, Max, Min } from 'class-validator';
import { Describe, messageOf, quote } from 'kindling';
import type { ConfigValidationResult } from 'kindling';

/** The HTTP methods an `http.endpoint` may declare. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/** One of {@link HTTP_METHODS}. */
export type HttpMethodName = (typeof HTTP_METHODS)[number];

/** A pattern that matches one of `words` in any case (what JSON Schema can say of a case-insensitive enum). */
function anyCase(words: readonly string[]): string {
  const letters = (word: string): string =>
    [...word].map((c) => (c.toLowerCase() === c.toUpperCase() ? c : `[${c.toUpperCase()}${c.toLowerCase()}]`)).join('');
  return `^(?:${words.map(letters).join('|')})$`;
}

/** The host a service listens on when its address names none. */
export const DEFAULT_HOST = '127.0.0.1';

const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/;

/** A listen address split into host and port. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port`, `:port` (host 127.0.0.1) or `[v6]:port`. Port 0 picks a free port. Throws
 * an `Error` saying what is expected.
 */
export function parseListenAddress(addr: string): ListenAddress {
  const match = ADDRESS.exec(addr);
  const port = Number(match?.[3]);
  if (match === null || !Number.isInteger(port) || port > 65_535) {
    throw new Error(
      `${quote(addr)} is not a listen address: write "host:port" or ":port", such as "127.0.0.1:8080" (port 0 picks a free one)`,
    );
  }
  const host = match[1] ?? (match[2] === undefined || match[2] === '' ? DEFAULT_HOST : match[2]);
  return { host, port };
}

/** `http://host:port` for a host and port (brackets around IPv6 hosts). */
export function formatUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Data of an `http.service` entry: one listening server, and what one client may hold of it. */
@Describe('An HTTP server: where it listens, and what one client may hold of it.')
export class HttpServiceConfig {
  @Describe('Where to listen: `host:port` or `:port` (host 127.0.0.1); port 0 picks a free port.')
  @IsString()
  addr = ':0';

  @Describe('Largest request body accepted, in bytes (default 1 MiB); larger ones get 413.')
  @IsInt()
  @Min(0)
  bodyLimit = 1_048_576;

  @Describe('Longest request target (path and query), in characters (default 8 KiB); longer ones get 414.')
  @IsInt()
  @Min(1)
  maxUrlLength = 8_192;

  @Describe('Largest request head (request line and headers), in bytes (default 16 KiB); larger ones get 431.')
  @IsInt()
  @Min(1_024)
  @Max(1_048_576)
  maxHeaderBytes = 16_384;

  @Describe('Most request headers (default 100); more get 431.')
  @IsInt()
  @Min(1)
  @Max(10_000)
  maxHeaders = 100;

  @Describe('Time a client has to send the request head, in ms (default 10 000); past it the request gets 408.')
  @IsInt()
  @Min(1)
  headersTimeoutMs = 10_000;

  @Describe(
    'Time a client has to send the whole request, body included, in ms (default 30 000); past it the request gets 408.',
  )
  @IsInt()
  @Min(1)
  requestTimeoutMs = 30_000;

  @Describe('How long an idle keep-alive connection stays open, in ms (default 5 000).')
  @IsInt()
  @Min(1)
  keepAliveTimeoutMs = 5_000;

  @Describe('Most open connections (default 1 024); a connection past it is closed at once.')
  @IsInt()
  @Min(1)
  maxConnections = 1_024;

  validate(): ConfigValidationResult {
    try {
      parseListenAddress(this.addr);
    } catch (error) {
      return { path: 'addr', message: messageOf(error) };
    }
    if (this.headersTimeoutMs > this.requestTimeoutMs) {
      return {
        path: 'headersTimeoutMs',
        message: `headersTimeoutMs (${this.headersTimeoutMs}) must not exceed requestTimeoutMs (${this.requestTimeoutMs}): the head is part of the request`,
      };
    }
    return undefined;
  }
}

/** Data of an `http.router` entry: a group of endpoints under a path prefix of one service. */
@Describe('A group of endpoints under a path prefix of one http.service.')
export class HttpRouterConfig {
  @Describe('The `http.service` entry (`name` in the same namespace, or `namespace:name`).')
  @IsString()
  @IsNotEmpty()
  server!: string;

  @Describe('Path prefix of every endpoint of the router (`/api`); empty for none.')
  @IsString()
  @Matches(/^(\/[^\s?#]*)?$/, { message: 'prefix must be empty or a path that starts with "/" (such as "/api")' })
  prefix = '';
}

/** Data of an `http.endpoint` entry: one route that calls one function. */
@Describe('One route of an http.router that calls one function.')
export class HttpEndpointConfig {
  @Describe('The `http.router` entry (`name` in the same namespace, or `namespace:name`).')
  @IsString()
  @IsNotEmpty()
  router!: string;

  @Describe('The HTTP method (any case).', {
    type: 'string',
    anyOf: [{ enum: [...HTTP_METHODS] }, { pattern: anyCase(HTTP_METHODS) }],
  })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toUpperCase() : value))
  @IsIn(HTTP_METHODS, { message: `method must be one of ${HTTP_METHODS.join(', ')}` })
  method: HttpMethodName = 'GET';

  @Describe("The path under the router's prefix; `:name` segments become `params.name`, a final `*` matches the rest.")
  @IsString()
  @Matches(/^\/[^\s?#]*$/, { message: 'path must start with "/" and have no spaces, "?" or "#"' })
  path!: string;

  @Describe('The function entry called for each request (`name` in the same namespace, or `namespace:name`).')
  @IsString()
  @IsNotEmpty()
  func!: string;

  @Describe("Limit for the function's answer, in ms (default 30 000); past it the request gets 504.")
  @IsInt()
  @Min(1)
  @Max(3_600_000)
  timeoutMs = 30_000;
}
